// Crash test: the durability contract under SIGKILL (docs/reliability.md: an ack means the
// event is durable; a (deviceId, seq) already stored is a duplicate and stored once).
//
// Load threads (one connection each, distinct devices, frames of 50 events, alternating
// protobuf and JSON) log every event whose ack they received (accepted or duplicate). Some
// frames deliberately resend events already acked: those must come back as duplicates, never
// accepted (accepted would mean an acked event had been lost). The server is SIGKILLed at
// seeded-random moments under load and restarted on a fresh port with the same data dir; the
// clients reconnect and resend whatever was not acked. Finally the server stops and the test
// opens the data dir itself with store::EventStore and scans every stored event:
//   - every acked (deviceId, seq) is stored exactly once, nothing is stored twice;
//   - after the final flush every sent event was acked, so stored == sent;
//   - arrival ids are 1..N without holes; each device's state matches its events;
//   - the dispatcher, killed with the server, never opened two cases for one (asset, alarm
//     type), and `yiwang audit verify` replays every case's journal to the stored case.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "dispatcher/tables.h"
#include "store/event_store.h"
#include "store/tables.h"
#include "tests/support/ack_ledger.h"
#include "tests/support/events.h"
#include "tests/support/test_server.h"
#include "tools/client/ws_client.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang {
namespace {

using Clock = std::chrono::steady_clock;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;
using yiwang::v1::SensorEvent;

constexpr int kThreads = 4;
constexpr int kDevicesPerThread = 8;
constexpr int kEventsPerFrame = 50;
// SIGKILL cycles: 10 in `make test`; `make crashtest` sets YIWANG_CRASH_CYCLES=200.
int KillCycles() {
  const char* v = std::getenv("YIWANG_CRASH_CYCLES");
  const int n = v ? std::atoi(v) : 0;
  return n > 0 ? n : 10;
}
constexpr uint64_t kSeed = 20240501;

// What one load thread knows about its devices' events.
enum class State : uint8_t { kUnsent = 0, kSentUnacked, kAcked };

struct Shared {
  std::atomic<uint16_t> port{0};   // 0 while the server is down
  std::atomic<bool> stop{false};   // stop making new events; flush and exit
  std::atomic<bool> abort{false};  // the test gave up: exit now
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> unacked_at_failure{0};  // events in flight when a connection died
  std::mutex mu;                                // guards failures
  std::vector<std::string> failures;
  void Fail(std::string what) {
    std::lock_guard lock(mu);
    if (failures.size() < 20) failures.push_back(std::move(what));
  }
  bool Failed() {
    std::lock_guard lock(mu);
    return !failures.empty();
  }
  std::string FirstFailure() {
    std::lock_guard lock(mu);
    return failures.empty() ? std::string() : failures[0];
  }
};

class LoadThread {
 public:
  LoadThread(int id, Shared* shared, std::string token, int64_t observed_base)
      : id_(id),
        shared_(shared),
        token_(std::move(token)),
        observed_base_(observed_base),
        rng_(kSeed + static_cast<uint64_t>(id)),
        binary_(id % 2 == 0) {
    for (int d = 0; d < kDevicesPerThread; ++d) {
      devices_.push_back("crash-t" + std::to_string(id) + "-d" + std::to_string(d));
      states_.emplace_back(1, State::kUnsent);  // index 0 unused: seqs start at 1
    }
  }

  void Run() {
    while (!shared_->abort.load()) {
      if (shared_->stop.load() && outstanding_.empty()) break;
      if (!client_ && !Reconnect()) continue;
      const bool resend = !acked_.empty() && rng_() % 8 == 0;
      if (!(resend ? ResendFrame() : NormalFrame())) {
        client_.reset();  // the server went away: reconnect, resend what is outstanding
        shared_->reconnects.fetch_add(1);
      }
    }
    if (client_) client_->Close();
  }

  const std::vector<std::string>& devices() const { return devices_; }
  // seq -> state, per device (index as devices()).
  const std::vector<std::vector<State>>& states() const { return states_; }

 private:
  struct Ref {
    int device;
    uint64_t seq;
  };

  SensorEvent Event(Ref r) const {
    return test::DeterministicEvent(devices_[r.device], r.seq,
                                    observed_base_ + static_cast<int64_t>(r.seq % 3600));
  }

  bool Reconnect() {
    const uint16_t port = shared_->port.load();
    if (port == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return false;
    }
    auto c = std::make_unique<client::WsClient>();
    c->set_read_timeout(std::chrono::seconds(10));
    c->set_connect_timeout(std::chrono::seconds(5));
    c->set_write_timeout(std::chrono::seconds(10));
    c->set_stop_flag(&shared_->abort);  // a failed test does not wait for timeouts
    if (!c->Connect("127.0.0.1", port, "/ws/sensors", token_).ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return false;
    }
    client_ = std::move(c);
    return true;
  }

  // Sends `refs` as one frame and reads the ack. False if the connection failed.
  bool Exchange(const std::vector<Ref>& refs, IngestAck* ack) {
    IngestBatch b;
    b.set_batch_id("t" + std::to_string(id_) + "-" + std::to_string(frame_no_++));
    for (const Ref& r : refs) *b.add_events() = Event(r);
    if (!client_->SendBatch(b, binary_).ok()) return false;
    if (!client_->ReadAck(ack).ok()) return false;
    shared_->frames.fetch_add(1);
    if (ack->batch_id() != b.batch_id() && ack->error().empty()) {
      shared_->Fail("ack for " + ack->batch_id() + " answers frame " + b.batch_id());
    }
    return true;
  }

  // Outstanding events first (resends after a crash), then new ones, plus sometimes a few
  // events already acked (their count must show up as duplicates).
  bool NormalFrame() {
    std::vector<Ref> refs;
    while (!outstanding_.empty() && refs.size() < kEventsPerFrame) {
      refs.push_back(outstanding_.back());
      outstanding_.pop_back();
    }
    if (!shared_->stop.load()) {
      while (refs.size() < kEventsPerFrame) {
        const int d = static_cast<int>(next_device_++ % kDevicesPerThread);
        const uint64_t seq = states_[d].size();
        states_[d].push_back(State::kSentUnacked);
        refs.push_back({d, seq});
      }
    }
    size_t known_acked = 0;
    if (!acked_.empty() && rng_() % 4 == 0) {
      for (int i = 0; i < 3; ++i) refs.push_back(acked_[rng_() % acked_.size()]);
      known_acked = 3;
    }
    IngestAck ack;
    const bool ok = Exchange(refs, &ack);
    const size_t fresh = refs.size() - known_acked;  // the events whose fate this frame decides
    if (!ok) {
      for (size_t i = 0; i < fresh; ++i) outstanding_.push_back(refs[i]);
      shared_->unacked_at_failure.fetch_add(fresh);
      return false;
    }
    if (!ack.error().empty()) {
      if (ack.error() != "shutting_down" && ack.error() != "overloaded" &&
          ack.error() != "storage_full")
        shared_->Fail("frame error " + ack.error() + ": " + ack.message());
      for (size_t i = 0; i < fresh; ++i) outstanding_.push_back(refs[i]);
      return true;
    }
    std::vector<bool> rejected(refs.size(), false);
    for (const auto& r : ack.rejected()) {
      if (r.index() >= refs.size()) {
        shared_->Fail("rejection index out of range");
        continue;
      }
      rejected[r.index()] = true;
      if (r.reason() != "shutting_down" && r.reason() != "overloaded" &&
          r.reason() != "storage_full") {
        shared_->Fail("event " + devices_[refs[r.index()].device] + "/" +
                      std::to_string(refs[r.index()].seq) + " rejected: " + r.reason());
      }
    }
    if (ack.accepted() + ack.duplicates() + static_cast<uint32_t>(ack.rejected_size()) !=
        refs.size())
      shared_->Fail("ack counts do not add up: " + ack.ShortDebugString());
    if (ack.accepted() > refs.size() - known_acked)
      shared_->Fail("an already acked event was accepted again (lost after its ack): " +
                    ack.ShortDebugString());
    for (size_t i = 0; i < fresh; ++i) {
      if (rejected[i]) {
        outstanding_.push_back(refs[i]);
      } else {
        MarkAcked(refs[i]);
      }
    }
    return true;
  }

  // A frame of events acked before: every one must be a duplicate.
  bool ResendFrame() {
    std::vector<Ref> refs;
    for (int i = 0; i < 20; ++i) refs.push_back(acked_[rng_() % acked_.size()]);
    IngestAck ack;
    if (!Exchange(refs, &ack)) return false;
    if (!ack.error().empty() || ack.rejected_size() > 0) {
      // Refused (e.g. shutting_down): no information, but no loss either.
      for (const auto& r : ack.rejected())
        if (r.reason() != "shutting_down" && r.reason() != "overloaded")
          shared_->Fail("resend rejected: " + r.reason());
    }
    if (ack.accepted() != 0)
      shared_->Fail("resend of acked events accepted " + std::to_string(ack.accepted()) +
                    " of them: acked events were lost (" + ack.ShortDebugString() + ")");
    else if (ack.error().empty() && ack.rejected_size() == 0 && ack.duplicates() != refs.size())
      shared_->Fail("resend: duplicates " + std::to_string(ack.duplicates()) + " of " +
                    std::to_string(refs.size()));
    return true;
  }

  void MarkAcked(Ref r) {
    State& s = states_[r.device][r.seq];
    if (s != State::kAcked) {
      s = State::kAcked;
      acked_.push_back(r);
      shared_->acked.fetch_add(1);
    }
  }

  const int id_;
  Shared* const shared_;
  const std::string token_;
  const int64_t observed_base_;
  std::mt19937_64 rng_;
  const bool binary_;
  std::vector<std::string> devices_;
  std::vector<std::vector<State>> states_;
  std::vector<Ref> outstanding_;  // sent, not acked: resend after reconnecting
  std::vector<Ref> acked_;        // for deliberate resends
  std::unique_ptr<client::WsClient> client_;
  uint64_t frame_no_ = 0;
  uint64_t next_device_ = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  // The load threads end first; then the server is killed (its log printed if the test
  // failed) with server_.
  void TearDown() override {
    shared_.abort = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

  bool WaitForAcks(uint64_t more, std::chrono::milliseconds timeout) {
    const uint64_t target = shared_.acked.load() + more;
    const auto deadline = Clock::now() + timeout;
    while (shared_.acked.load() < target && Clock::now() < deadline && !shared_.Failed())
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return shared_.acked.load() >= target;
  }

  test::TestServer server_;
  Shared shared_;
  std::vector<std::thread> threads_;
};

TEST_F(CrashTest, AckedEventsSurviveSigkillExactlyOnce) {
  const auto t_start = Clock::now();
  const std::string data_dir = server_.DataDir();
  const Status started = server_.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  const std::string token = server_.DeviceToken("crash-load", "crash-");
  ASSERT_FALSE(token.empty());

  std::vector<std::unique_ptr<LoadThread>> load;
  const int64_t observed_base = test::WallSeconds() - 7200;
  for (int t = 0; t < kThreads; ++t)
    load.push_back(std::make_unique<LoadThread>(t, &shared_, token, observed_base));
  shared_.port = server_.port();
  for (auto& l : load) threads_.emplace_back([p = l.get()] { p->Run(); });

  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int> pause_ms(150, 600);
  std::vector<uint64_t> acked_at_kill;
  const int kill_cycles = KillCycles();
  std::vector<double> restart_ms;
  for (int cycle = 0; cycle < kill_cycles; ++cycle) {
    // Under load: some acks flowed since the restart, then a random extra moment.
    ASSERT_TRUE(WaitForAcks(2000, std::chrono::seconds(20)))
        << "no progress in cycle " << cycle << ": " << shared_.FirstFailure();
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    acked_at_kill.push_back(shared_.acked.load());
    shared_.port = 0;
    client::ExitStatus st = server_.process().Kill();
    ASSERT_EQ(st.signal, SIGKILL) << st.ToString();
    const auto restart_at = Clock::now();
    const Status restarted = server_.process().Start(data_dir);
    ASSERT_TRUE(restarted.ok()) << "restart " << cycle << ": " << restarted.ToString();
    restart_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - restart_at).count());
    shared_.port = server_.port();
  }
  ASSERT_TRUE(WaitForAcks(2000, std::chrono::seconds(20)));
  // Stop making events; the threads resend everything not acked, then close.
  shared_.stop = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  client::ExitStatus st = server_.process().Stop(SIGTERM);
  EXPECT_TRUE(st.exited && st.code == 0) << st.ToString();

  for (const auto& f : shared_.failures) ADD_FAILURE() << f;

  // Open the data dir ourselves and count every stored (device, seq).
  test::StoredEvents stored = test::ReadStoredEvents(data_dir);
  ASSERT_TRUE(stored.store && stored.counts.error.empty());
  auto& store = stored.store;
  const uint64_t total = stored.counts.total;

  // After the final flush every event sent was acked: it is stored exactly once.
  std::vector<test::DeviceLedger> ledgers;
  for (const auto& l : load) {
    for (size_t d = 0; d < l->devices().size(); ++d) {
      const auto& states = l->states()[d];
      test::DeviceLedger& ledger = ledgers.emplace_back();
      ledger.device = l->devices()[d];
      ledger.acked.resize(states.size());
      for (uint64_t seq = 1; seq < states.size(); ++seq) {
        ledger.acked[seq] = states[seq] == State::kAcked;
        if (!ledger.acked[seq])
          ADD_FAILURE() << "event never acked after the final flush: " << ledger.device << "/"
                        << seq;
      }
    }
  }
  const test::LedgerTally tally =
      test::CheckLedgers(ledgers, /*unacked_may_be_stored=*/true, &stored.counts);
  for (const test::DeviceLedger& ledger : ledgers) {
    // The device state was written in the same batches as its events.
    yiwang::v1::DeviceState ds;
    ASSERT_TRUE(store->GetDevice(ledger.device, &ds).ok()) << ledger.device;
    EXPECT_EQ(ds.last_seq(), ledger.acked.size() - 1) << ledger.device;
    EXPECT_EQ(ds.event_count(), stored.counts.by_device[ledger.device].size()) << ledger.device;
  }
  const uint64_t sent = tally.sent;
  EXPECT_EQ(tally.lost, 0u);
  EXPECT_EQ(tally.twice, 0u);
  EXPECT_EQ(tally.unsent_stored, 0u);
  EXPECT_EQ(tally.acked, sent);
  EXPECT_EQ(total, sent);
  // Nothing stored for devices the load never used (CheckLedgers added each of its devices).
  EXPECT_EQ(stored.counts.by_device.size(), static_cast<size_t>(kThreads * kDevicesPerThread));
  // Every kill happened under load.
  for (size_t i = 1; i < acked_at_kill.size(); ++i)
    EXPECT_GT(acked_at_kill[i], acked_at_kill[i - 1]);

  // The dispatcher ran through the same kills: the events' alarms became cases (crash devices
  // name no district, so they wait for the command centre), never two open cases for one
  // (asset, alarm type), and every case's journal replays to the stored case.
  std::map<std::pair<std::string, std::string>, int> open_alarm_cases;
  uint64_t cases = 0;
  ASSERT_TRUE(store
                  ->Scan(dispatcher::tables::kCases, "", "", false,
                         [&](std::string_view, std::string_view v) {
                           yiwang::v1::Case c;
                           EXPECT_TRUE(c.ParseFromArray(v.data(), static_cast<int>(v.size())));
                           ++cases;
                           if (c.state() != yiwang::v1::CASE_STATE_CLOSED &&
                               c.state() != yiwang::v1::CASE_STATE_REJECTED)
                             ++open_alarm_cases[{c.asset_id(), c.alarm_type()}];
                           return true;
                         })
                  .ok());
  EXPECT_GT(cases, 0u) << "the load's tilted covers and gas readings raise alarms";
  for (const auto& [key, n] : open_alarm_cases)
    EXPECT_EQ(n, 1) << "open cases for " << key.first << " / " << key.second;
  store.reset();
  std::string audit_output;
  const client::ExitStatus audit = client::RunToExit(
      test::ServerBinary(), {"audit", "verify", "--data-dir", data_dir}, std::chrono::seconds(300),
      &audit_output);
  EXPECT_TRUE(audit.ok()) << audit.ToString() << ": " << audit_output;

  const double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  std::sort(restart_ms.begin(), restart_ms.end());
  std::cerr << "[ info ] restart to ready (process start, recovery, ready file): median "
            << restart_ms[restart_ms.size() / 2] << " ms, max " << restart_ms.back() << " ms\n";
  std::cerr << "[ info ] " << cases << " cases filed by the dispatcher, " << kill_cycles << " SIGKILLs, " << sent << " events sent, " << total
            << " stored, " << shared_.frames.load() << " frames, " << shared_.reconnects.load()
            << " reconnects, " << shared_.unacked_at_failure.load()
            << " events in flight at a connection loss, " << secs << " s\n";
}

}  // namespace
}  // namespace yiwang
