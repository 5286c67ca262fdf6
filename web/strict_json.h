#pragma once
// ParseStrictJson: Boost.JSON's parse that also refuses an object naming a key twice.
//
// boost::json::parse keeps the last of duplicate keys, so {"role":"leader","role":"admin"}
// reads as an admin while a proxy, a log or an audit that keeps the first (or a check made on
// one copy) sees a leader. RFC 8259 leaves the meaning of duplicates open; requests to this
// server must not have any. One pass: the same parser and value stack boost::json::parse uses,
// with a set of the keys seen per open object (short keys are not even allocated).
//
// Thread safety: a pure function.

#include <string>
#include <string_view>

#include <boost/json/error.hpp>
#include <boost/json/value.hpp>

namespace yiwang::web {

// Parses `text` (one JSON value, whitespace around it allowed) into *out with Boost.JSON's
// default options. On a duplicate key, *duplicate_key is set to it (the first one met, at any
// depth) and the result is an error; on a syntax error *duplicate_key is left empty.
boost::json::error_code ParseStrictJson(std::string_view text, boost::json::value* out,
                                        std::string* duplicate_key);

}  // namespace yiwang::web
