#include "tests/support/ack_ledger.h"

#include <gtest/gtest.h>

#include "tests/support/events.h"

namespace yiwang::test {

namespace {
constexpr uint64_t kReportedPerKind = 5;
}  // namespace

StoredEvents ReadStoredEvents(const std::string& data_dir) {
  StoredEvents out;
  out.metrics = std::make_unique<Metrics>();
  store::StoreOptions opts;
  opts.data_dir = data_dir;
  Status s;
  out.store = store::EventStore::Open(opts, NullLogger(), out.metrics.get(), &s);
  EXPECT_TRUE(out.store) << s.ToString();
  if (!out.store) return out;
  out.counts = tools::CountStoredEvents(*out.store);
  EXPECT_TRUE(out.counts.error.empty()) << out.counts.error;
  EXPECT_EQ(out.counts.total, out.store->EventCount());
  return out;
}

LedgerTally CheckLedgers(const std::vector<DeviceLedger>& ledgers, bool unacked_may_be_stored,
                         tools::StoredCounts* counts) {
  LedgerTally t;
  for (const DeviceLedger& l : ledgers) {
    const std::string& dev = l.device;
    auto& stored = counts->by_device[dev];
    for (uint64_t seq = 1; seq < l.acked.size(); ++seq) {
      ++t.sent;
      const auto it = stored.find(seq);
      const int n = it == stored.end() ? 0 : it->second;
      if (l.acked[seq]) {
        ++t.acked;
        if (n == 0 && t.lost++ < kReportedPerKind)
          ADD_FAILURE() << "acked event lost: " << dev << "/" << seq;
      } else if (n > 0 && t.unacked_stored++ < kReportedPerKind && !unacked_may_be_stored) {
        ADD_FAILURE() << "stored but never acked: " << dev << "/" << seq;
      }
      if (n > 1 && t.twice++ < kReportedPerKind)
        ADD_FAILURE() << dev << "/" << seq << " stored " << n << " times";
    }
    for (const auto& [seq, n] : stored) {
      if (seq == 0 || seq >= l.acked.size()) {
        ++t.unsent_stored;
        ADD_FAILURE() << "stored but never sent: " << dev << "/" << seq;
      }
    }
  }
  return t;
}

}  // namespace yiwang::test
