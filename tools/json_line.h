#pragma once
// JsonLine: one flat JSON object built key by key, keys in insertion order: the benchmarks'
// output lines (one per scenario or interval, read by scripts and docs/benchmarks.md).
// Unset or non-finite numbers print as null.
//
// Thread safety: a value; one thread builds it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yiwang::tools {

class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value);
  JsonLine& Int(std::string_view key, int64_t value);
  JsonLine& Num(std::string_view key, std::optional<double> value, int decimals);
  JsonLine& Bool(std::string_view key, std::optional<bool> value);
  // `json` as the value, verbatim (an array, say). REQUIRES: `json` is valid JSON.
  JsonLine& Raw(std::string_view key, std::string_view json);
  // The object, closed.
  std::string Finish() const { return out_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string out_ = "{";
};

}  // namespace yiwang::tools
