#pragma once
// Splitting a list given on a command line ("nats://a:4222,nats://b:4222", "500103,500105").

#include <string>
#include <string_view>
#include <vector>

namespace yiwang {

// The non-empty items of `list` between `sep`s, as written (no trimming).
inline std::vector<std::string> SplitList(std::string_view list, char sep = ',') {
  std::vector<std::string> items;
  while (!list.empty()) {
    const size_t end = list.find(sep);
    const std::string_view item = list.substr(0, end);
    if (!item.empty()) items.emplace_back(item);
    if (end == std::string_view::npos) break;
    list.remove_prefix(end + 1);
  }
  return items;
}

}  // namespace yiwang
