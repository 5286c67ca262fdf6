#pragma once
// Text helpers the citizen API's files share (web/citizen_reports.cc, web/citizen_tracking.cc):
// private to them.

#include <cctype>
#include <string>
#include <string_view>

namespace yiwang::web::internal {

// The message of a free-text field that is not text (base/text.h IsText).
inline constexpr char kNotText[] =
    "not text: invalid UTF-8, a control character other than tab and line breaks, or a "
    "noncharacter (U+FFFE, U+FFFF, ...)";

// `s` without leading and trailing ASCII whitespace (what citizens type in a form).
inline std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace yiwang::web::internal
