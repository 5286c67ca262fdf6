#pragma once
// Counting what a store holds, for the durability tests (crash, fault): every stored event's
// (deviceId, seq), scanned in arrival order.

#include <cstdint>
#include <map>
#include <string>

#include "store/event_store.h"

namespace yiwang::test {

struct StoredCounts {
  std::map<std::string, std::map<uint64_t, int>> by_device;  // device -> seq -> times stored
  uint64_t total = 0;
  std::string error;  // non-empty: a read failed, or arrival ids were not 1..N without holes
};

// Scans every event of `store` (the server must be stopped).
StoredCounts CountStoredEvents(const store::EventStore& store);

}  // namespace yiwang::test
