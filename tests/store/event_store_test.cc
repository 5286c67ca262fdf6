// EventStore against a real RocksDB in a fresh temp dir per test: group commit, idempotency
// (duplicate vs replay), out-of-order gap fill, device state, paging, recovery, tokens and the
// writer's drain on stop.

#include "store/event_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/events.h"
#include "tests/support/temp_dir.h"

namespace yiwang::store {
namespace {

using test::GasEvent;
using test::HealthEvent;
using test::ManholeEvent;
using test::Stored;
using yiwang::v1::DeviceState;
using yiwang::v1::SensorEvent;
using yiwang::v1::StoredEvent;

// Tables of a layer above, as their owners declare them (store/tables.h).
constexpr Table kTestIndex{"test_index", TableAccess::kScans};
constexpr Table kTestRecords{"test_records", TableAccess::kPointLookups};
constexpr Table kTestBlobs{"test_blobs", TableAccess::kLargeValues};

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(StoreOptions opts = {}) {
    opts.data_dir = dir_.Sub("db");
    if (opts.tables.empty()) opts.tables = {&kTestIndex, &kTestRecords, &kTestBlobs};
    metrics_ = std::make_unique<Metrics>();
    Status s;
    store_ = EventStore::Open(opts, test::NullLogger(), metrics_.get(), &s);
    ASSERT_TRUE(store_) << s.ToString();
  }
  void Close() { store_.reset(); }

  // Submits one request (from the log message at `log_position`, if not 0) and waits for its
  // outcomes.
  std::vector<Outcome> Submit(std::vector<StoredEvent> events, uint64_t log_position = 0) {
    std::promise<std::vector<Outcome>> p;
    auto f = p.get_future();
    IngestRequest req;
    req.events = std::move(events);
    req.log_position = log_position;
    req.done = [&p](std::vector<Outcome> o) { p.set_value(std::move(o)); };
    store_->SubmitIngest(std::move(req));
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    return f.get();
  }
  Outcome SubmitOne(const SensorEvent& e) {
    auto o = Submit({Stored(e)});
    EXPECT_EQ(o.size(), 1u);
    return o.empty() ? Outcome::kStopped : o[0];
  }

  std::vector<StoredEvent> ScanAll() {
    std::vector<StoredEvent> all, page;
    uint64_t from = 1;
    for (;;) {
      Status s = store_->ScanEvents(from, 100, &page);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (page.empty()) break;
      from = page.back().arrival_id() + 1;
      all.insert(all.end(), page.begin(), page.end());
    }
    return all;
  }

  std::vector<uint64_t> Seqs(const std::vector<StoredEvent>& events) {
    std::vector<uint64_t> out;
    for (const auto& e : events) out.push_back(e.event().seq());
    return out;
  }

  uint64_t CounterValue(const std::string& name) { return metrics_->GetCounter(name, "").Value(); }

  test::TempDir dir_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, CreatedOnFirstOpenOnly) {
  EXPECT_TRUE(store_->created());
  EXPECT_EQ(store_->EventCount(), 0u);
  Close();
  Open();
  EXPECT_FALSE(store_->created());
}

// A cluster core's position in the log is committed with the events it applies: it survives a
// reopen, moves with a request of duplicates only, and never moves back.
TEST_F(EventStoreTest, KeepsTheLogPositionWithTheEvents) {
  EXPECT_EQ(store_->LogPosition(), 0u);
  EXPECT_EQ(Submit({Stored(GasEvent("d1", 1)), Stored(GasEvent("d1", 2))}, 5),
            std::vector<Outcome>(2, Outcome::kAccepted));
  EXPECT_EQ(store_->LogPosition(), 5u);
  Close();
  Open();
  EXPECT_EQ(store_->LogPosition(), 5u);
  EXPECT_EQ(Submit({Stored(GasEvent("d1", 2))}, 7), std::vector<Outcome>{Outcome::kDuplicate});
  EXPECT_EQ(store_->LogPosition(), 7u) << "a message of resends is applied too";
  EXPECT_EQ(Submit({Stored(GasEvent("d1", 3))}, 6), std::vector<Outcome>{Outcome::kAccepted});
  EXPECT_EQ(store_->LogPosition(), 7u) << "never back";
  EXPECT_EQ(Submit({Stored(GasEvent("d1", 4))}), std::vector<Outcome>{Outcome::kAccepted});
  Close();
  Open();
  EXPECT_EQ(store_->LogPosition(), 7u);
  EXPECT_EQ(store_->EventCount(), 4u);
}

TEST_F(EventStoreTest, AcceptsAndAssignsArrivalIdsInOrder) {
  auto o =
      Submit({Stored(GasEvent("d1", 1)), Stored(GasEvent("d2", 1)), Stored(GasEvent("d1", 2))});
  EXPECT_EQ(o, std::vector<Outcome>(3, Outcome::kAccepted));
  EXPECT_EQ(store_->EventCount(), 3u);
  auto all = ScanAll();
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].arrival_id(), i + 1);
  EXPECT_EQ(all[0].event().device_id(), "d1");
  EXPECT_EQ(all[1].event().device_id(), "d2");
  EXPECT_EQ(all[2].event().seq(), 2u);
  EXPECT_EQ(all[0].token_name(), "test-token");
  EXPECT_EQ(all[0].received_at().seconds(), test::kNowSeconds);
  EXPECT_EQ(all[0].flags_size(), 0);
}

TEST_F(EventStoreTest, EmptyRequestCompletes) {
  EXPECT_TRUE(Submit({}).empty());
  EXPECT_EQ(store_->EventCount(), 0u);
}

// Many producers at once: every done runs exactly once with one outcome per event, everything
// is stored once, and the writer carries more than one event per fsync (group commit).
TEST_F(EventStoreTest, GroupCommitUnderConcurrentProducers) {
  constexpr int kThreads = 8, kRequests = 150, kPerRequest = 4;
  std::atomic<int> done_calls{0}, bad{0};
  std::vector<std::unique_ptr<std::atomic<int>>> calls_per_request;
  for (int i = 0; i < kThreads * kRequests; ++i)
    calls_per_request.push_back(std::make_unique<std::atomic<int>>(0));
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      const std::string dev = "gc-" + std::to_string(t);
      for (int r = 0; r < kRequests; ++r) {
        IngestRequest req;
        for (int k = 0; k < kPerRequest; ++k)
          req.events.push_back(
              Stored(GasEvent(dev, static_cast<uint64_t>(r * kPerRequest + k + 1))));
        std::atomic<int>* mine = calls_per_request[t * kRequests + r].get();
        req.done = [&, mine](std::vector<Outcome> o) {
          mine->fetch_add(1);
          done_calls.fetch_add(1);
          if (o != std::vector<Outcome>(kPerRequest, Outcome::kAccepted)) bad.fetch_add(1);
        };
        store_->SubmitIngest(std::move(req));
      }
    });
  }
  for (auto& p : producers) p.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done_calls.load() < kThreads * kRequests && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  store_->StopWriter();  // after this no done can still be running

  constexpr uint64_t kTotal = kThreads * kRequests * kPerRequest;
  EXPECT_EQ(done_calls.load(), kThreads * kRequests);
  for (auto& c : calls_per_request) ASSERT_EQ(c->load(), 1);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(store_->EventCount(), kTotal);

  const uint64_t fsyncs = CounterValue("yiwang_store_fsyncs_total");
  const uint64_t commits = CounterValue("yiwang_store_commits_total");
  EXPECT_EQ(CounterValue("yiwang_store_events_written_total"), kTotal);
  EXPECT_EQ(fsyncs, commits);
  EXPECT_GE(fsyncs, 1u);
  // Group commit: far fewer fsyncs than requests (each request alone would be one fsync).
  EXPECT_LT(fsyncs, static_cast<uint64_t>(kThreads * kRequests) / 2)
      << "events per fsync: " << static_cast<double>(kTotal) / static_cast<double>(fsyncs);
  Histogram& per_fsync = metrics_->GetHistogram("yiwang_store_events_per_fsync", "", {});
  EXPECT_EQ(per_fsync.Snap().count, fsyncs);
  EXPECT_GT(per_fsync.Snap().sum / static_cast<double>(fsyncs), static_cast<double>(kPerRequest));

  // Each (device, seq) once; arrival ids 1..N; per device, arrival order is seq order.
  auto all = ScanAll();
  ASSERT_EQ(all.size(), kTotal);
  std::map<std::string, uint64_t> last_seq;
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].arrival_id(), i + 1);
    uint64_t& last = last_seq[all[i].event().device_id()];
    ASSERT_EQ(all[i].event().seq(), last + 1) << all[i].event().device_id();
    last = all[i].event().seq();
    ASSERT_EQ(all[i].flags_size(), 0);
  }
  EXPECT_EQ(last_seq.size(), static_cast<size_t>(kThreads));
}

TEST_F(EventStoreTest, DuplicateIsAcknowledgedAndStoredOnce) {
  const SensorEvent e = GasEvent("dup-1", 7, 12.5);
  EXPECT_EQ(SubmitOne(e), Outcome::kAccepted);
  EXPECT_EQ(SubmitOne(e), Outcome::kDuplicate);
  // A duplicate received at another time by another token is still the same event.
  StoredEvent again = Stored(e, test::kNowSeconds + 99);
  again.set_token_name("other");
  EXPECT_EQ(Submit({again}), std::vector<Outcome>{Outcome::kDuplicate});
  EXPECT_EQ(store_->EventCount(), 1u);
  EXPECT_EQ(ScanAll().size(), 1u);
  DeviceState st;
  ASSERT_TRUE(store_->GetDevice("dup-1", &st).ok());
  EXPECT_EQ(st.event_count(), 1u);
  EXPECT_EQ(st.last_seen().seconds(), test::kNowSeconds);
}

TEST_F(EventStoreTest, ReplayWithADifferentPayloadIsRefused) {
  EXPECT_EQ(SubmitOne(GasEvent("rp-1", 3, 10)), Outcome::kAccepted);
  EXPECT_EQ(SubmitOne(GasEvent("rp-1", 3, 11)), Outcome::kReplay);
  EXPECT_EQ(SubmitOne(HealthEvent("rp-1", 3)), Outcome::kReplay);
  SensorEvent moved = GasEvent("rp-1", 3, 10);
  moved.mutable_location()->set_lat(30);
  EXPECT_EQ(SubmitOne(moved), Outcome::kReplay);
  auto all = ScanAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_DOUBLE_EQ(all[0].event().septic_tank_gas().ch4_percent_lel(), 10);
  DeviceState st;
  ASSERT_TRUE(store_->GetDevice("rp-1", &st).ok());
  EXPECT_DOUBLE_EQ(st.septic_tank_gas().ch4_percent_lel(), 10);
  EXPECT_EQ(st.event_count(), 1u);
}

TEST_F(EventStoreTest, DuplicatesAndReplaysWithinOneCommit) {
  const SensorEvent a = GasEvent("one-commit", 1, 1);
  const SensorEvent a_replay = GasEvent("one-commit", 1, 2);
  const SensorEvent b = GasEvent("one-commit", 2, 3);
  auto o = Submit({Stored(a), Stored(a), Stored(a_replay), Stored(b), Stored(b)});
  EXPECT_EQ(o, (std::vector<Outcome>{Outcome::kAccepted, Outcome::kDuplicate, Outcome::kReplay,
                                     Outcome::kAccepted, Outcome::kDuplicate}));
  EXPECT_EQ(store_->EventCount(), 2u);
  EXPECT_EQ(Seqs(ScanAll()), (std::vector<uint64_t>{1, 2}));
}

// Two requests queued back to back usually share one commit; the outcomes must not depend on
// whether they do.
TEST_F(EventStoreTest, DuplicatesAcrossQueuedRequests) {
  std::vector<std::promise<std::vector<Outcome>>> ps(20);
  for (size_t i = 0; i < ps.size(); ++i) {
    IngestRequest req;
    req.events.push_back(Stored(GasEvent("queued", 1 + i / 2)));  // each event sent twice
    req.done = [&ps, i](std::vector<Outcome> o) { ps[i].set_value(std::move(o)); };
    store_->SubmitIngest(std::move(req));
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    auto o = ps[i].get_future().get();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0], i % 2 == 0 ? Outcome::kAccepted : Outcome::kDuplicate) << i;
  }
  EXPECT_EQ(store_->EventCount(), 10u);
}

TEST_F(EventStoreTest, OutOfOrderGapFillIsStoredAndFlagged) {
  EXPECT_EQ(SubmitOne(GasEvent("gap", 1, 1)), Outcome::kAccepted);
  EXPECT_EQ(SubmitOne(GasEvent("gap", 3, 3)), Outcome::kAccepted);
  EXPECT_EQ(SubmitOne(GasEvent("gap", 2, 2)), Outcome::kAccepted);
  EXPECT_EQ(SubmitOne(GasEvent("gap", 2, 2)), Outcome::kDuplicate);
  EXPECT_EQ(SubmitOne(GasEvent("gap", 2, 9)), Outcome::kReplay);
  auto all = ScanAll();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].flags_size(), 0);
  EXPECT_EQ(all[1].flags_size(), 0);
  ASSERT_EQ(all[2].flags_size(), 1);
  EXPECT_EQ(all[2].flags(0), yiwang::v1::EVENT_FLAG_OUT_OF_ORDER);
  EXPECT_EQ(all[2].event().seq(), 2u);
  // The late event does not move the device's "latest" state back in time.
  DeviceState st;
  ASSERT_TRUE(store_->GetDevice("gap", &st).ok());
  EXPECT_EQ(st.last_seq(), 3u);
  EXPECT_DOUBLE_EQ(st.septic_tank_gas().ch4_percent_lel(), 3);
  EXPECT_EQ(st.event_count(), 3u);
  // And paging sees the gap filled, in seq order.
  std::vector<StoredEvent> page;
  uint64_t next = 0;
  ASSERT_TRUE(store_->ListDeviceEvents("gap", 0, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{3, 2, 1}));
}

TEST_F(EventStoreTest, OutOfOrderWithinOneCommit) {
  auto o =
      Submit({Stored(GasEvent("ooo", 5)), Stored(GasEvent("ooo", 4)), Stored(GasEvent("ooo", 6))});
  EXPECT_EQ(o, std::vector<Outcome>(3, Outcome::kAccepted));
  auto all = ScanAll();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].flags_size(), 1);
  DeviceState st;
  ASSERT_TRUE(store_->GetDevice("ooo", &st).ok());
  EXPECT_EQ(st.last_seq(), 6u);
}

TEST_F(EventStoreTest, DeviceStateKeepsTheLatestReadingOfEachKind) {
  DeviceState st;
  EXPECT_EQ(store_->GetDevice("mh-1", &st).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->GetDevice("", &st).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->GetDevice(std::string(65, 'x'), &st).code(), Status::Code::kNotFound);

  ASSERT_EQ(Submit({Stored(ManholeEvent("mh-1", 1, 2.0, test::kNowSeconds - 30),
                           test::kNowSeconds - 20)}),
            std::vector<Outcome>{Outcome::kAccepted});
  SensorEvent health = HealthEvent("mh-1", 2, 55, test::kNowSeconds - 10);
  health.mutable_location()->set_lat(29.6);
  ASSERT_EQ(Submit({Stored(health, test::kNowSeconds - 5)}),
            std::vector<Outcome>{Outcome::kAccepted});

  ASSERT_TRUE(store_->GetDevice("mh-1", &st).ok());
  EXPECT_EQ(st.device_id(), "mh-1");
  EXPECT_EQ(st.last_seq(), 2u);
  EXPECT_EQ(st.event_count(), 2u);
  EXPECT_EQ(st.last_seen().seconds(), test::kNowSeconds - 5);
  EXPECT_EQ(st.last_observed().seconds(), test::kNowSeconds - 10);
  EXPECT_DOUBLE_EQ(st.location().lat(), 29.6);
  EXPECT_DOUBLE_EQ(st.manhole_cover().tilt_deg(), 2.0);  // kept from seq 1
  EXPECT_DOUBLE_EQ(st.device_health().battery_pct(), 55);
  EXPECT_EQ(st.kind(), "manholeCover");  // health events do not change the kind

  ASSERT_EQ(SubmitOne(ManholeEvent("mh-1", 3, 40.0)), Outcome::kAccepted);
  ASSERT_TRUE(store_->GetDevice("mh-1", &st).ok());
  EXPECT_DOUBLE_EQ(st.manhole_cover().tilt_deg(), 40.0);
  EXPECT_DOUBLE_EQ(st.device_health().battery_pct(), 55);
  // last_seen is the newest receipt time, not the last event's.
  ASSERT_EQ(Submit({Stored(GasEvent("mh-1", 4), test::kNowSeconds - 1000)}),
            std::vector<Outcome>{Outcome::kAccepted});
  ASSERT_TRUE(store_->GetDevice("mh-1", &st).ok());
  EXPECT_EQ(st.last_seen().seconds(), test::kNowSeconds);
  EXPECT_EQ(st.kind(), "septicTankGas");
}

TEST_F(EventStoreTest, ListDeviceEventsPagesNewestFirstWithACursor) {
  std::vector<StoredEvent> batch;
  for (uint64_t s = 1; s <= 25; ++s) {
    batch.push_back(Stored(GasEvent("dev-1", s, static_cast<double>(s))));
    // Neighbours by name: "dev-1" is a prefix of "dev-10", "dev-" of both.
    batch.push_back(Stored(GasEvent("dev-10", s)));
    if (s <= 3) batch.push_back(Stored(GasEvent("dev-", s)));
  }
  ASSERT_EQ(Submit(std::move(batch)).size(), 53u);

  std::vector<StoredEvent> page;
  uint64_t next = 99;
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 0, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}));
  EXPECT_EQ(next, 16u);
  for (const auto& e : page) {
    EXPECT_EQ(e.event().device_id(), "dev-1");
    EXPECT_DOUBLE_EQ(e.event().septic_tank_gas().ch4_percent_lel(),
                     static_cast<double>(e.event().seq()));
  }
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", next, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{15, 14, 13, 12, 11, 10, 9, 8, 7, 6}));
  EXPECT_EQ(next, 6u);
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", next, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(next, 0u);

  // A page that ends exactly on the last event has no cursor.
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 11, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(next, 0u);
  // before is exclusive; beyond the newest returns from the newest.
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 2, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{1}));
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 1, 10, &page, &next).ok());
  EXPECT_TRUE(page.empty());
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 1000, 2, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{25, 24}));
  // Prefix isolation by device name.
  ASSERT_TRUE(store_->ListDeviceEvents("dev-", 0, 100, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{3, 2, 1}));
  ASSERT_TRUE(store_->ListDeviceEvents("dev-10", 0, 100, &page, &next).ok());
  EXPECT_EQ(page.size(), 25u);
  for (const auto& e : page) EXPECT_EQ(e.event().device_id(), "dev-10");
  ASSERT_TRUE(store_->ListDeviceEvents("dev-2", 0, 100, &page, &next).ok());
  EXPECT_TRUE(page.empty());
  EXPECT_EQ(next, 0u);
  ASSERT_TRUE(store_->ListDeviceEvents("dev-1", 0, 0, &page, &next).ok());
  EXPECT_TRUE(page.empty());
}

TEST_F(EventStoreTest, ListDeviceEventsWithTheLargestSeq) {
  ASSERT_EQ(SubmitOne(GasEvent("big", UINT64_MAX)), Outcome::kAccepted);
  ASSERT_EQ(SubmitOne(GasEvent("big", UINT64_MAX - 1)), Outcome::kAccepted);
  std::vector<StoredEvent> page;
  uint64_t next = 0;
  ASSERT_TRUE(store_->ListDeviceEvents("big", 0, 1, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{UINT64_MAX}));
  EXPECT_EQ(next, UINT64_MAX);
  ASSERT_TRUE(store_->ListDeviceEvents("big", next, 1, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{UINT64_MAX - 1}));
  EXPECT_EQ(next, 0u);
}

TEST_F(EventStoreTest, ReopenKeepsEverythingAndContinuesArrivalIds) {
  for (uint64_t s = 1; s <= 5; ++s)
    ASSERT_EQ(SubmitOne(GasEvent("keep", s, 1.0 * s)), Outcome::kAccepted);
  ASSERT_EQ(SubmitOne(GasEvent("other", 1)), Outcome::kAccepted);
  yiwang::v1::TokenRecord rec;
  rec.set_name("gw-1");
  rec.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
  rec.set_device_prefix("keep");
  ASSERT_TRUE(store_->PutToken("ywd_secret", rec).ok());
  ASSERT_TRUE(store_->PutMeta("answer", "42").ok());

  Close();
  Open();
  EXPECT_FALSE(store_->created());
  EXPECT_EQ(store_->EventCount(), 6u);
  DeviceState st;
  ASSERT_TRUE(store_->GetDevice("keep", &st).ok());
  EXPECT_EQ(st.last_seq(), 5u);
  EXPECT_EQ(st.event_count(), 5u);
  EXPECT_DOUBLE_EQ(st.septic_tank_gas().ch4_percent_lel(), 5.0);
  std::vector<StoredEvent> page;
  uint64_t next = 0;
  ASSERT_TRUE(store_->ListDeviceEvents("keep", 0, 10, &page, &next).ok());
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{5, 4, 3, 2, 1}));
  yiwang::v1::TokenRecord got;
  ASSERT_TRUE(store_->LookupToken("ywd_secret", &got).ok());
  EXPECT_EQ(got.name(), "gw-1");
  EXPECT_EQ(got.device_prefix(), "keep");
  std::string meta;
  ASSERT_TRUE(store_->GetMeta("answer", &meta).ok());
  EXPECT_EQ(meta, "42");

  // Idempotency survives the restart (the device cache is cold: marks come from disk).
  EXPECT_EQ(SubmitOne(GasEvent("keep", 3, 3.0)), Outcome::kDuplicate);
  EXPECT_EQ(SubmitOne(GasEvent("keep", 3, 4.0)), Outcome::kReplay);
  // New events continue the arrival ids and the device's count.
  ASSERT_EQ(SubmitOne(GasEvent("keep", 6)), Outcome::kAccepted);
  auto all = ScanAll();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all.back().arrival_id(), 7u);
  EXPECT_EQ(all.back().event().seq(), 6u);
  ASSERT_TRUE(store_->GetDevice("keep", &st).ok());
  EXPECT_EQ(st.event_count(), 6u);
  EXPECT_EQ(store_->EventCount(), 7u);
}

TEST_F(EventStoreTest, ScanEventsFromAndLimit) {
  for (uint64_t s = 1; s <= 10; ++s) ASSERT_EQ(SubmitOne(GasEvent("scan", s)), Outcome::kAccepted);
  std::vector<StoredEvent> out;
  ASSERT_TRUE(store_->ScanEvents(4, 3, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].arrival_id(), 4u);
  EXPECT_EQ(out[2].arrival_id(), 6u);
  ASSERT_TRUE(store_->ScanEvents(0, 100, &out).ok());
  EXPECT_EQ(out.size(), 10u);
  ASSERT_TRUE(store_->ScanEvents(11, 100, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(EventStoreTest, TokensAreStoredByHashOnly) {
  const std::string token = "ywd_ThisIsTheSecretBearerTokenValue0123456789abc";
  yiwang::v1::TokenRecord rec;
  rec.set_name("gateway-7");
  rec.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
  rec.set_device_prefix("cq-");
  ASSERT_TRUE(store_->PutToken(token, rec).ok());

  yiwang::v1::TokenRecord got;
  ASSERT_TRUE(store_->LookupToken(token, &got).ok());
  EXPECT_EQ(got.name(), "gateway-7");
  EXPECT_EQ(got.kind(), yiwang::v1::TOKEN_KIND_DEVICE);
  EXPECT_EQ(got.device_prefix(), "cq-");
  EXPECT_FALSE(got.revoked());
  EXPECT_EQ(store_->LookupToken("ywd_unknown", &got).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->LookupToken(token.substr(0, token.size() - 1), &got).code(),
            Status::Code::kNotFound);

  rec.set_revoked(true);
  ASSERT_TRUE(store_->PutToken(token, rec).ok());
  ASSERT_TRUE(store_->LookupToken(token, &got).ok());
  EXPECT_TRUE(got.revoked());

  const std::string h = TokenHash(token);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_NE(h, token);
  EXPECT_EQ(h, TokenHash(token));
  EXPECT_NE(h, TokenHash(token + "x"));
  EXPECT_EQ(h.find(token), std::string::npos);
  // SHA-256("abc"), FIPS 180-2 test vector.
  const std::string abc = TokenHash("abc");
  static const char kAbc[] =
      "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
      "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad";
  EXPECT_EQ(abc, std::string(kAbc, 32));

  // The token itself is in no file of the database (WAL, SST, MANIFEST, ...).
  Close();
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str().find(token), std::string::npos) << "token found in " << f.path();
  }
}

TEST_F(EventStoreTest, MetaRoundTrip) {
  std::string v;
  EXPECT_EQ(store_->GetMeta("nope", &v).code(), Status::Code::kNotFound);
  ASSERT_TRUE(store_->PutMeta("k", std::string("bin\0ary", 7)).ok());
  ASSERT_TRUE(store_->GetMeta("k", &v).ok());
  EXPECT_EQ(v, std::string("bin\0ary", 7));
}

TEST_F(EventStoreTest, StopWriterDrainsQueuedRequestsThenRefuses) {
  constexpr int kRequests = 300;
  std::atomic<int> accepted{0}, other{0}, calls{0};
  for (int r = 0; r < kRequests; ++r) {
    IngestRequest req;
    for (int k = 0; k < 10; ++k)
      req.events.push_back(
          Stored(GasEvent("drain-" + std::to_string(k), static_cast<uint64_t>(r + 1))));
    req.done = [&](std::vector<Outcome> o) {
      calls.fetch_add(1);
      for (Outcome x : o) (x == Outcome::kAccepted ? accepted : other).fetch_add(1);
    };
    store_->SubmitIngest(std::move(req));
  }
  store_->StopWriter();  // returns only after every queued request completed
  EXPECT_EQ(calls.load(), kRequests);
  EXPECT_EQ(accepted.load(), kRequests * 10);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(store_->EventCount(), static_cast<uint64_t>(kRequests * 10));

  // After the stop: refused at once, on the caller's thread, nothing stored.
  std::vector<Outcome> refused;
  IngestRequest late;
  late.events.push_back(Stored(GasEvent("late", 1)));
  late.events.push_back(Stored(GasEvent("late", 2)));
  late.done = [&](std::vector<Outcome> o) { refused = std::move(o); };
  store_->SubmitIngest(std::move(late));
  EXPECT_EQ(refused, std::vector<Outcome>(2, Outcome::kStopped));
  store_->StopWriter();  // idempotent
  EXPECT_EQ(store_->EventCount(), static_cast<uint64_t>(kRequests * 10));
  DeviceState st;
  EXPECT_EQ(store_->GetDevice("late", &st).code(), Status::Code::kNotFound);
  // Reads still work after the writer stopped.
  ASSERT_TRUE(store_->GetDevice("drain-3", &st).ok());
  EXPECT_EQ(st.last_seq(), static_cast<uint64_t>(kRequests));
}

// With a tiny queue some submissions are refused as overloaded; whatever the timing, each
// request completes once, refused events are not stored and accepted ones are.
TEST_F(EventStoreTest, OverloadRefusesWithoutStoring) {
  Close();
  StoreOptions opts;
  opts.max_queued_events = 8;
  Open(opts);
  std::mutex mu;
  std::map<uint64_t, Outcome> outcome_by_seq;
  std::atomic<int> calls{0};
  constexpr int kRequests = 400;
  for (int r = 0; r < kRequests; ++r) {
    IngestRequest req;
    for (int k = 0; k < 4; ++k)
      req.events.push_back(Stored(GasEvent("busy", static_cast<uint64_t>(r * 4 + k + 1))));
    req.done = [&, r](std::vector<Outcome> o) {
      std::lock_guard lock(mu);
      for (int k = 0; k < 4; ++k) outcome_by_seq[static_cast<uint64_t>(r * 4 + k + 1)] = o[k];
      calls.fetch_add(1);
    };
    store_->SubmitIngest(std::move(req));
  }
  store_->StopWriter();
  EXPECT_EQ(calls.load(), kRequests);
  std::set<uint64_t> accepted;
  for (auto [seq, o] : outcome_by_seq) {
    EXPECT_TRUE(o == Outcome::kAccepted || o == Outcome::kOverloaded || o == Outcome::kReplay ||
                o == Outcome::kDuplicate)
        << OutcomeName(o);
    if (o == Outcome::kAccepted) accepted.insert(seq);
  }
  std::set<uint64_t> stored;
  for (const auto& e : ScanAll()) stored.insert(e.event().seq());
  EXPECT_EQ(stored, accepted);
  EXPECT_FALSE(accepted.empty());
}

TEST_F(EventStoreTest, CommitObserverSeesEachCommittedEventOnce) {
  Close();
  StoreOptions opts;
  opts.data_dir = dir_.Sub("db2");
  metrics_ = std::make_unique<Metrics>();
  Status s;
  store_ = EventStore::Open(opts, test::NullLogger(), metrics_.get(), &s);
  ASSERT_TRUE(store_);
  std::vector<std::pair<std::string, uint64_t>> seen;
  store_->AddCommitObserver([&](const std::vector<const StoredEvent*>& events) {
    for (const auto* e : events) seen.emplace_back(e->event().device_id(), e->event().seq());
  });
  Submit({Stored(GasEvent("obs", 1)), Stored(GasEvent("obs", 1)), Stored(GasEvent("obs", 2))});
  Submit({Stored(GasEvent("obs", 2)), Stored(GasEvent("obs", 2, 99))});
  store_->StopWriter();
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, uint64_t>>{{"obs", 1}, {"obs", 2}}));
}

// An observer removed is never called again, so its owner (the dispatcher) may be destroyed
// before the store (ASan caught the writer calling a destroyed dispatcher's observer).
TEST_F(EventStoreTest, RemovedCommitObserverIsNotCalledAgain) {
  std::vector<uint64_t> first, second;
  const uint64_t a = store_->AddCommitObserver([&](const std::vector<const StoredEvent*>& events) {
    for (const auto* e : events) first.push_back(e->event().seq());
  });
  store_->AddCommitObserver([&](const std::vector<const StoredEvent*>& events) {
    for (const auto* e : events) second.push_back(e->event().seq());
  });
  SubmitOne(GasEvent("obs", 1));
  store_->RemoveCommitObserver(a);
  SubmitOne(GasEvent("obs", 2));
  store_->StopWriter();
  EXPECT_EQ(first, (std::vector<uint64_t>{1}));
  EXPECT_EQ(second, (std::vector<uint64_t>{1, 2}));
}

// StoreOptions::memtable_budget_bytes bounds all memtables together: with 64 MiB per column
// family and no budget, the ~16 MiB written here would stay in memtables (no flush is due);
// with a 4 MiB budget RocksDB flushes early and the memtables shrink under it.
TEST_F(EventStoreTest, MemtablesStayWithinTheBudget) {
  Close();
  StoreOptions opts;
  opts.memtable_budget_bytes = 4u << 20;
  Open(opts);
  auto memtable_bytes = [&] {
    const std::string text = metrics_->RenderPrometheus();  // runs the store's scrape hook
    const std::string key = "\nyiwang_store_rocksdb_memtable_bytes ";
    const size_t at = text.find(key);
    return at == std::string::npos ? ~uint64_t{0} : std::stoull(text.substr(at + key.size()));
  };
  const std::string pad(100, 'x');  // longer keys: ~16 MiB of memtables in 40,000 events
  uint64_t seq = 0;
  for (int r = 0; r < 40; ++r) {
    std::vector<StoredEvent> batch;
    for (int k = 0; k < 1000; ++k) {
      SensorEvent e = GasEvent("budget-" + std::to_string(k % 50), ++seq);
      e.set_device_id(e.device_id() + pad);
      batch.push_back(Stored(e));
    }
    for (Outcome o : Submit(std::move(batch))) ASSERT_EQ(o, Outcome::kAccepted);
  }
  // Flushes run in the background: wait for them, not for a time.
  uint64_t bytes = memtable_bytes();
  for (int i = 0; i < 300 && bytes > (8u << 20); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bytes = memtable_bytes();
  }
  EXPECT_LE(bytes, 8u << 20) << "memtables hold " << bytes << " bytes with a 4 MiB budget";
}

TEST_F(EventStoreTest, FingerprintIsDeterministicAndCoversTheEvent) {
  const SensorEvent a = GasEvent("fp", 1, 5);
  EXPECT_EQ(EventFingerprint(a), EventFingerprint(GasEvent("fp", 1, 5)));
  EXPECT_NE(EventFingerprint(a), EventFingerprint(GasEvent("fp", 1, 6)));
  EXPECT_NE(EventFingerprint(a), EventFingerprint(GasEvent("fp", 2, 5)));
  EXPECT_NE(EventFingerprint(a), EventFingerprint(GasEvent("fp", 1, 5, test::kNowSeconds)));
}

// PrepareIngest hashes the event's bytes inside the StoredEvent's instead of serialising the
// event a second time: the marks it writes must carry the same fingerprint EventFingerprint
// gives (marks stored before this change are compared with new resends), for every payload,
// for long events (a multi-byte length), and for events carrying fields this build does not
// know (kept and serialised by protobuf).
TEST(PrepareIngestTest, FingerprintsEqualEventFingerprint) {
  std::vector<SensorEvent> events = {GasEvent("p-gas", 1, 5), HealthEvent("p-health", 2),
                                     ManholeEvent("p-cover", 3, 12.5)};
  SensorEvent long_id = GasEvent(std::string(300, 'x'), 4);
  events.push_back(long_id);
  SensorEvent unknown = GasEvent("p-unknown", 5);
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(999, 42);
  events.push_back(unknown);
  events.emplace_back();  // empty: no field set at all

  IngestRequest req;
  for (const auto& e : events) {
    StoredEvent se = Stored(e);
    se.add_flags(yiwang::v1::EVENT_FLAG_FUTURE_OBSERVED_AT);
    req.events.push_back(std::move(se));
  }
  PrepareIngest(&req);
  ASSERT_EQ(req.fingerprints.size(), events.size());
  ASSERT_EQ(req.serialized.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(req.fingerprints[i], EventFingerprint(events[i])) << "event " << i;
    StoredEvent back;
    ASSERT_TRUE(back.ParseFromString(req.serialized[i]));
    EXPECT_EQ(back.SerializeAsString(), req.events[i].SerializeAsString());
  }
}

TEST(OutcomeTest, Names) {
  EXPECT_STREQ(OutcomeName(Outcome::kAccepted), "accepted");
  EXPECT_STREQ(OutcomeName(Outcome::kDuplicate), "duplicate");
  EXPECT_STREQ(OutcomeName(Outcome::kReplay), "replay");
  EXPECT_STREQ(OutcomeName(Outcome::kStorageFull), "storage_full");
  EXPECT_STREQ(OutcomeName(Outcome::kOverloaded), "overloaded");
  EXPECT_STREQ(OutcomeName(Outcome::kStopped), "stopped");
  EXPECT_STREQ(OutcomeName(Outcome::kUnavailable), "unavailable");
}

TEST(EventStoreOpenTest, FailsCleanlyOnAnUnusableDataDir) {
  test::TempDir dir;
  {
    std::ofstream f(dir.Sub("file"));
    f << "not a directory";
  }
  StoreOptions opts;
  opts.data_dir = dir.Sub("file");
  Metrics metrics;
  Status s;
  auto store = EventStore::Open(opts, test::NullLogger(), &metrics, &s);
  EXPECT_EQ(store, nullptr);
  EXPECT_FALSE(s.ok());
}

TEST(EventStoreOpenTest, SecondOpenOfTheSameDirIsRefused) {
  test::TempDir dir;
  StoreOptions opts;
  opts.data_dir = dir.Sub("db");
  Metrics m1, m2;
  Status s;
  auto first = EventStore::Open(opts, test::NullLogger(), &m1, &s);
  ASSERT_TRUE(first) << s.ToString();
  auto second = EventStore::Open(opts, test::NullLogger(), &m2, &s);
  EXPECT_EQ(second, nullptr);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace yiwang::store

namespace yiwang::store {
namespace {

TEST_F(EventStoreTest, TableWritesAreAtomicAndScansRespectBounds) {
  WriteSet ws;
  for (const char* k : {"a/1", "a/2", "a/3", "b/1"}) ws.Put(kTestIndex, k, k);
  ws.Put(kTestRecords, "case-1", "v1");
  ASSERT_TRUE(store_->Write(ws).ok());

  std::string v;
  ASSERT_TRUE(store_->Get(kTestRecords, "case-1", &v).ok());
  EXPECT_EQ(v, "v1");
  EXPECT_EQ(store_->Get(kTestRecords, "a/1", &v).code(), Status::Code::kNotFound);  // per table

  auto scan = [&](std::string_view b, std::string_view e, bool reverse) {
    std::vector<std::string> keys;
    EXPECT_TRUE(store_->Scan(kTestIndex, b, e, reverse, [&](auto k, auto) {
                         keys.emplace_back(k);
                         return true;
                       }).ok());
    return keys;
  };
  EXPECT_EQ(scan("a/", "a0", false), (std::vector<std::string>{"a/1", "a/2", "a/3"}));
  EXPECT_EQ(scan("a/", "a0", true), (std::vector<std::string>{"a/3", "a/2", "a/1"}));
  EXPECT_EQ(scan("a/2", "", false), (std::vector<std::string>{"a/2", "a/3", "b/1"}));
  EXPECT_EQ(scan("", "", true), (std::vector<std::string>{"b/1", "a/3", "a/2", "a/1"}));
  EXPECT_EQ(scan("a/2", "a/3", true), (std::vector<std::string>{"a/2"}));

  // Deletes and puts of one set apply together, and survive a reopen.
  WriteSet move;
  move.Delete(kTestIndex, "a/1");
  move.Put(kTestIndex, "c/1", "x");
  ASSERT_TRUE(store_->Write(move).ok());
  store_.reset();
  Open();
  EXPECT_EQ(scan("", "", false), (std::vector<std::string>{"a/2", "a/3", "b/1", "c/1"}));
  EXPECT_EQ(store_->Get(kTestIndex, "a/1", &v).code(), Status::Code::kNotFound);
}

// A table that is neither declared nor on disk is refused, not written elsewhere; one on disk
// that the opener did not declare is opened anyway (any tool can open any data dir).
TEST_F(EventStoreTest, TablesAreDeclaredByTheirOwnersAndFoundOnDisk) {
  constexpr Table kUnknown{"unknown_table", TableAccess::kScans};
  WriteSet ws;
  ws.Put(kUnknown, "k", "v");
  EXPECT_EQ(store_->Write(ws).code(), Status::Code::kInvalidArgument);
  std::string v;
  EXPECT_EQ(store_->Get(kUnknown, "k", &v).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(store_->HasTable(kUnknown));

  WriteSet put;
  put.Put(kTestRecords, "r", "1");
  ASSERT_TRUE(store_->Write(put).ok());
  store_.reset();
  StoreOptions only_index;
  only_index.tables = {&kTestIndex};
  Open(only_index);
  EXPECT_TRUE(store_->HasTable(kTestRecords));  // on disk, found by name
  ASSERT_TRUE(store_->Get(Table{"test_records"}, "r", &v).ok());
  EXPECT_EQ(v, "1");
}

TEST_F(EventStoreTest, LargeBlobsRoundTrip) {
  std::string photo(3u << 20, '\0');
  for (size_t i = 0; i < photo.size(); ++i) photo[i] = static_cast<char>(i * 131 + (i >> 9));
  WriteSet ws;
  ws.Put(kTestBlobs, "photo-1", photo);
  ASSERT_TRUE(store_->Write(ws).ok());
  store_.reset();
  Open();
  std::string v;
  ASSERT_TRUE(store_->Get(kTestBlobs, "photo-1", &v).ok());
  EXPECT_EQ(v, photo);
}

}  // namespace
}  // namespace yiwang::store
