#pragma once
// The durability tests' last word: a stopped server's store read back and matched against what
// the clients were told (their ack ledgers). An acked event must be stored exactly once;
// nothing the clients never sent may be stored.
//
// Thread safety: test thread only; the server must be stopped.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "store/event_store.h"
#include "tools/stored_events.h"

namespace yiwang::test {

// What a client knows of one device's events: acked[seq] for every seq it sent (index 0 unused),
// true if an ack said the event is stored (accepted, or a duplicate of a stored one).
struct DeviceLedger {
  std::string device;
  std::vector<bool> acked;
};

// A stopped server's store, open, with every stored event counted by (deviceId, seq).
struct StoredEvents {
  std::unique_ptr<Metrics> metrics;          // the store's registry: outlives it
  std::unique_ptr<store::EventStore> store;  // null if it did not open
  tools::StoredCounts counts;
};

// Opens the data dir and counts its events (tools/stored_events.h). Test failures if the store
// does not open, the scan fails or its count differs from the store's EventCount().
StoredEvents ReadStoredEvents(const std::string& data_dir);

struct LedgerTally {
  uint64_t sent = 0;            // events in the ledgers
  uint64_t acked = 0;           // of them, acked
  uint64_t lost = 0;            // acked and not stored
  uint64_t twice = 0;           // stored more than once
  uint64_t unacked_stored = 0;  // not acked and stored
  uint64_t unsent_stored = 0;   // stored under a seq the ledger never sent
};

// Matches the ledgers' devices against `counts` (a device of the ledgers that nothing was
// stored for is added to counts->by_device, empty). Adds a test failure for each of the first
// five events lost, the first five stored twice, every event stored that was never sent, and,
// unless `unacked_may_be_stored`, the first five stored without an ack. The caller checks the
// tally's totals.
LedgerTally CheckLedgers(const std::vector<DeviceLedger>& ledgers, bool unacked_may_be_stored,
                         tools::StoredCounts* counts);

}  // namespace yiwang::test
