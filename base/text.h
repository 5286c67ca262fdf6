#pragma once
// Text helpers every layer shares: UTF-8 (RFC 3629), hex, numbers, header values. Pure
// functions, no allocation beyond their results.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace yiwang {

// --- UTF-8 (RFC 3629: shortest form, no surrogates, at most U+10FFFF) ---
// The length of the well-formed UTF-8 sequence starting at s[i], or 0 if none starts there.
// REQUIRES: i < s.size().
size_t Utf8SequenceAt(std::string_view s, size_t i);
// True if all of `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);
// `s` with every byte that does not belong to a well-formed sequence replaced by U+FFFD.
std::string ValidUtf8(std::string_view s);
// The number of code points of `s`, or nullopt if `s` is not well-formed UTF-8.
std::optional<size_t> Utf8Length(std::string_view s);
// True if `s` holds a C0 control character or DEL.
bool HasControlChars(std::string_view s);

// --- text people write (descriptions, notes, comments, contacts, names) ---
// Whether text may hold code point `cp`: the one decision behind the validation of every
// free-text field and behind what the encoders replace. XML 1.0's Char production (tab, LF,
// CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF) less what it discourages and no one
// types: DEL and the C1 controls (U+007F..U+009F) and the noncharacters (U+FDD0..U+FDEF and
// the last two code points of every plane). Text that passes is valid in every format the
// server writes (XML, JSON, HTML).
bool IsTextCodePoint(char32_t cp);
// True if `s` is well-formed UTF-8 and every code point of it IsTextCodePoint.
bool IsText(std::string_view s);
// `s` with every byte outside a well-formed UTF-8 sequence, and every code point that is not
// IsTextCodePoint, replaced by U+FFFD: what an encoder writes of text that never passed IsText
// (stored before the check, or echoed from a request).
std::string TextOnly(std::string_view s);

// --- ASCII ---
std::string AsciiLower(std::string_view s);
// Lower-case hex of `bytes` ("\x01\xab" -> "01ab").
std::string Hex(std::string_view bytes);
// The bytes of hex text (either case, an even number of hex digits and nothing else: no sign,
// no space, no "0x"), or nullopt. Unhex(Hex(b)) == b.
std::optional<std::string> Unhex(std::string_view hex);

// --- numbers ---
// The whole of `s` as a finite double (std::from_chars: no spaces, no "+", no hex floats), or
// nullopt.
std::optional<double> ParseDouble(std::string_view s);

// --- HTTP header values ---
// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive, as
// RFC 7235 says), or nullopt if the header is absent, of another scheme, or empty.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace yiwang
