#pragma once
// Names and JSON pieces the case API's files share (web/case_api.cc, web/case_queries.cc,
// web/case_commands.cc): private to them.
//
// Thread safety: pure functions.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dispatcher/case_machine.h"
#include "dispatcher/sla.h"
#include "web/http_util.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::web::internal {

// The value `name` stands for in `table` (API name, value), or nullopt.
template <typename T, size_t N>
std::optional<T> FindByName(const std::pair<std::string_view, T> (&table)[N],
                            std::string_view name) {
  for (const auto& [n, value] : table)
    if (n == name) return value;
  return std::nullopt;
}

// A case source by its API name: sensor, citizen, patrol, hotline.
inline std::optional<yiwang::v1::Source> ParseSource(std::string_view name) {
  static constexpr std::pair<std::string_view, yiwang::v1::Source> kNames[] = {
      {"sensor", yiwang::v1::SOURCE_SENSOR},
      {"citizen", yiwang::v1::SOURCE_CITIZEN},
      {"patrol", yiwang::v1::SOURCE_PATROL},
      {"hotline", yiwang::v1::SOURCE_HOTLINE}};
  return FindByName(kNames, name);
}

// A JSON array of action names, e.g. ["accept","reject"].
inline std::string ActionList(const std::vector<yiwang::v1::CaseAction>& actions) {
  std::string out = "[";
  for (size_t i = 0; i < actions.size(); ++i) {
    if (i) out += ',';
    out += JsonEscape(dispatcher::ActionName(actions[i]));
  }
  return out + "]";
}

}  // namespace yiwang::web::internal
