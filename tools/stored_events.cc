#include "tools/stored_events.h"

#include <vector>

namespace yiwang::tools {
namespace {
constexpr size_t kScanPage = 20000;  // events read per ScanEvents call
}  // namespace

Status ForEachStoredEvent(
    const store::EventStore& store,
    const std::function<void(const std::string& device_id, uint64_t seq)>& visit, uint64_t* total) {
  *total = 0;
  uint64_t next_id = 1;
  std::vector<yiwang::v1::StoredEvent> page;
  for (;;) {
    if (Status s = store.ScanEvents(next_id, kScanPage, &page); !s.ok())
      return Status::IOError("scan: " + s.ToString());
    if (page.empty()) return Status::Ok();
    for (const auto& e : page) {
      if (e.arrival_id() != next_id)
        return Status::Corruption("hole or reordering in arrival ids at " +
                                  std::to_string(next_id));
      ++next_id;
      ++*total;
      visit(e.event().device_id(), e.event().seq());
    }
  }
}

StoredCounts CountStoredEvents(const store::EventStore& store) {
  StoredCounts out;
  const Status s = ForEachStoredEvent(
      store, [&out](const std::string& device, uint64_t seq) { ++out.by_device[device][seq]; },
      &out.total);
  if (!s.ok()) out.error = s.message();
  return out;
}

}  // namespace yiwang::tools
