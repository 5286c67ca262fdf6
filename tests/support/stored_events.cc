#include "tests/support/stored_events.h"

#include <vector>

namespace yiwang::test {

StoredCounts CountStoredEvents(const store::EventStore& store) {
  StoredCounts out;
  uint64_t next_id = 1;
  std::vector<yiwang::v1::StoredEvent> page;
  for (;;) {
    if (Status s = store.ScanEvents(next_id, 20000, &page); !s.ok()) {
      out.error = "scan: " + s.ToString();
      return out;
    }
    if (page.empty()) break;
    for (const auto& e : page) {
      if (e.arrival_id() != next_id) {
        out.error = "hole or reordering in arrival ids at " + std::to_string(next_id);
        return out;
      }
      ++next_id;
      ++out.total;
      ++out.by_device[e.event().device_id()][e.event().seq()];
    }
  }
  return out;
}

}  // namespace yiwang::test
