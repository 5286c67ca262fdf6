#pragma once
// Reading back what a store holds, to check it against a client's ack ledger: every stored
// event's (deviceId, seq), scanned in arrival order. Used by the durability tests (crash, fault,
// power loss) and by `yiwang bench soak`. Depends on store/ only (library yiwang_stored_events).

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/status.h"
#include "store/event_store.h"

namespace yiwang::tools {

// Calls visit(deviceId, seq) for every stored event, in arrival order, and counts them in
// *total. Returns an error if a read failed or the arrival ids were not 1..N without holes
// (the events visited until then were visited). The server must be stopped.
[[nodiscard]] Status ForEachStoredEvent(
    const store::EventStore& store,
    const std::function<void(const std::string& device_id, uint64_t seq)>& visit, uint64_t* total);

struct StoredCounts {
  std::map<std::string, std::map<uint64_t, int>> by_device;  // device -> seq -> times stored
  uint64_t total = 0;
  std::string error;  // non-empty: a read failed, or arrival ids were not 1..N without holes
};

// Every event of `store` counted by (deviceId, seq) (ForEachStoredEvent). Holds one map entry
// per stored event: for test-sized stores; a long run's check streams instead.
StoredCounts CountStoredEvents(const store::EventStore& store);

}  // namespace yiwang::tools
