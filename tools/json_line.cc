#include "tools/json_line.h"

#include <cmath>

#include <fmt/format.h>

namespace yiwang::tools {

JsonLine& JsonLine::Str(std::string_view key, std::string_view value) {
  Key(key);
  out_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out_ += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out_ += c;
    }
  }
  out_ += '"';
  return *this;
}

JsonLine& JsonLine::Int(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::Num(std::string_view key, std::optional<double> value, int decimals) {
  Key(key);
  out_ += value && std::isfinite(*value) ? fmt::format("{:.{}f}", *value, decimals) : "null";
  return *this;
}

JsonLine& JsonLine::Bool(std::string_view key, std::optional<bool> value) {
  Key(key);
  out_ += value ? (*value ? "true" : "false") : "null";
  return *this;
}

JsonLine& JsonLine::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_ += json;
  return *this;
}

void JsonLine::Key(std::string_view key) {
  out_ += out_.size() > 1 ? "," : "";
  out_ += fmt::format("\"{}\":", key);
}

}  // namespace yiwang::tools
