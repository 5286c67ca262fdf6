#include "web/strict_json.h"

#include <unordered_set>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace yiwang::web {

namespace json = boost::json;

namespace {

// The handler of boost::json::parser (a value_stack fed by every event) plus the keys of each
// open object.
class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string duplicate;  // the key met twice, once found

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    // The sets of closed objects are kept for reuse (cleared) by the next object that deep.
    if (depth_ == keys_.size()) keys_.emplace_back();
    else keys_[depth_].clear();
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    --depth_;
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_[depth_ - 1].insert(key_).second) {
      duplicate = std::move(key_);
      ec = json::error::syntax;  // stops the parser; the caller reads `duplicate`
      return false;
    }
    key_.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;  // [depth]: keys of the open object
  size_t depth_ = 0;
  std::string key_;  // the key being read (it may come in parts)
};

}  // namespace

json::error_code ParseStrictJson(std::string_view text, json::value* out,
                                 std::string* duplicate_key) {
  duplicate_key->clear();
  json::basic_parser<StrictHandler> p(json::parse_options{});
  p.handler().st.reset();
  json::error_code ec;
  const size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) {
    *duplicate_key = std::move(p.handler().duplicate);
    return ec;
  }
  *out = p.handler().st.release();
  return ec;
}

}  // namespace yiwang::web
