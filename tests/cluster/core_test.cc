// `yiwang serve --role core` as a child process on a real three-node cluster: it applies the
// sensor events the gateways put into the log into its own store, exactly once (a copy of a
// message the log holds twice is dropped by (deviceId, seq)), is ready once caught up, and,
// killed with SIGKILL while it applies a stream of events, resumes after what it committed:
// afterwards its store holds every acked event once and its position is the log's end.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <boost/json.hpp>

#include "base/file.h"
#include "base/metrics.h"
#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "tests/log/cluster_fixture.h"
#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"
#include "tools/client/ws_client.h"
#include "tools/stored_events.h"
#include "yiwang/v1/log.pb.h"

namespace yiwang {
namespace {

using client::WsClient;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;

class CoreTest : public test::ClusterRolesTest {
 protected:
  void SetUp() override {
    test::ClusterRolesTest::SetUp();
    if (HasFatalFailure()) return;
    PutDeviceToken("fleet", "cq-", token_);
  }
  void TearDown() override {
    if (!HasFailure()) return;
    for (auto* p : {gateway_.get(), core_.get()})
      if (p) std::cerr << "---- log ----\n" << p->Log() << "----\n";
  }

  std::string Urls() const { return fmt::format("{}", fmt::join(cluster_->urls(), ",")); }

  std::unique_ptr<client::ServerProcess> Process() {
    client::ServerProcess::Options options;
    options.binary = test::ServerBinary();
    options.work_dir = dir_.path().string();
    return std::make_unique<client::ServerProcess>(options);
  }
  void StartGateway() {
    gateway_ = Process();
    const Status s = gateway_->Start(dir_.Sub("gw"), {"--role", "gateway", "--nats", Urls()});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Starts (or restarts) the core on its data dir; returns once it is ready (caught up).
  void StartCore() {
    if (!core_) core_ = Process();
    const Status s = core_->Start(core_dir_, {"--role", "core", "--nats", Urls()},
                                  std::chrono::seconds(60));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Sends `frames` frames of `per_frame` events of device `device` through the gateway, from
  // seq `first`, resending on "unavailable"; the acked (device/seq) go into *acked.
  void Stream(const std::string& device, uint64_t first, int frames, int per_frame,
              std::set<std::string>* acked, std::mutex* mu) {
    WsClient ws;
    ASSERT_TRUE(ws.Connect("127.0.0.1", gateway_->port(), "/ws/sensors", token_).ok());
    for (int f = 0; f < frames;) {
      IngestBatch b;
      for (int i = 0; i < per_frame; ++i)
        *b.add_events() = test::GasEvent(device, first + static_cast<uint64_t>(f * per_frame + i));
      IngestAck ack;
      ASSERT_TRUE(ws.SendBatch(b, true).ok());
      ASSERT_TRUE(ws.ReadAck(&ack).ok());
      if (!ack.error().empty()) continue;
      ASSERT_EQ(ack.accepted() + ack.duplicates(), static_cast<uint32_t>(per_frame));
      std::lock_guard lock(*mu);
      for (const auto& e : b.events()) acked->insert(fmt::format("{}/{}", device, e.seq()));
      ++f;
    }
  }

  // Stops the core and checks its store: every acked event exactly once, nothing else, and its
  // position the log's last sequence.
  void ExpectCoreHoldsEachOnce(const std::set<std::string>& acked) {
    uint64_t last = 0;
    std::string leader;
    ASSERT_TRUE(log_->StreamState(ingest::kEventsStream, &last, &leader).ok());
    // Wait until the core applied the whole log (its position in /metrics).
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    const std::string gauge = fmt::format("yiwang_core_log_position {}\n", last);
    while (test::HttpGet(core_->port(), "/metrics").body.find(gauge) == std::string::npos &&
           SteadyClock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(core_->Stop().ok());
    Metrics metrics;
    store::StoreOptions options;
    options.data_dir = core_dir_;
    Status s;
    auto store = store::EventStore::Open(options, test::NullLogger(), &metrics, &s);
    ASSERT_TRUE(store) << s.ToString();
    EXPECT_EQ(store->LogPosition(), last);
    const tools::StoredCounts counts = tools::CountStoredEvents(*store);
    ASSERT_EQ(counts.error, "");
    size_t stored = 0;
    for (const auto& [device, seqs] : counts.by_device)
      for (const auto& [seq, times] : seqs) {
        const std::string key = fmt::format("{}/{}", device, seq);
        EXPECT_EQ(times, 1) << key << " stored " << times << " times";
        EXPECT_TRUE(acked.contains(key)) << key << " was never acked";
        ++stored;
      }
    EXPECT_EQ(stored, acked.size()) << "every acked event at the core";
  }

  const std::string token_ = "ywd_core_test_fleet";
  std::unique_ptr<client::ServerProcess> gateway_, core_;
  const std::string core_dir_ = dir_.Sub("core");
};

// Events acked through a gateway before and after the core starts, and a copy of a message the
// log holds twice (a resend packed otherwise, as a gateway may store it): each once at the core.
TEST_F(CoreTest, AppliesTheLogExactlyOnce) {
  StartGateway();
  std::set<std::string> acked;
  std::mutex mu;
  Stream("cq-500103-1", 1, 20, 25, &acked, &mu);  // before the core exists: its history
  StartCore();
  Stream("cq-500105-2", 1, 20, 25, &acked, &mu);  // while it runs
  // The first 30 events of device 1 again, in one message of a Msg-Id of its own.
  yiwang::v1::LogEvents again;
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    auto* e = again.add_events();
    *e->mutable_event() = test::GasEvent("cq-500103-1", seq);
    e->set_token_name("fleet");
  }
  log::PubAck ack;
  ASSERT_TRUE(log_->Publish("yw.ev.d.500103", "a-resend-packed-otherwise",
                            again.SerializeAsString(), &ack)
                  .ok());
  EXPECT_FALSE(ack.duplicate);
  ExpectCoreHoldsEachOnce(acked);
}

// The core is killed (SIGKILL) three times while sensors stream through the gateway and
// restarted each time on its data dir: it resumes after what it committed, so its store ends
// with every acked event once.
TEST_F(CoreTest, KilledWhileApplyingItResumesAfterWhatItCommitted) {
  StartGateway();
  StartCore();
  std::set<std::string> acked;
  std::mutex mu;
  std::vector<std::thread> sensors;
  for (int k = 0; k < 4; ++k)
    sensors.emplace_back([&, k] {
      Stream(fmt::format("cq-50010{}-{}", k + 1, k), 1, 150, 20, &acked, &mu);
    });
  for (int kill = 0; kill < 3; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    core_->Kill();
    StartCore();
  }
  for (auto& t : sensors) t.join();
  ExpectCoreHoldsEachOnce(acked);
  std::cerr << acked.size() << " events acked while the core was killed 3 times\n";
}

// The admin token of `cluster init` works at a core; a device token made there works at the
// gateway within a second, and its revocation at the core closes the gateway's connection that
// uses it and refuses new ones.
TEST_F(CoreTest, ADeviceTokenMadeAtACoreWorksAtTheGateway) {
  const std::string admin_file = dir_.Sub("admin.token");
  std::string output;
  const client::ExitStatus init = client::RunToExit(
      test::ServerBinary(), {"cluster", "init", "--nats", Urls(), "--admin-token-out", admin_file},
      std::chrono::seconds(90), &output);
  ASSERT_TRUE(init.ok()) << output;
  std::string admin;
  ASSERT_TRUE(ReadFirstLine(admin_file, &admin).ok());
  StartGateway();
  StartCore();

  const test::HttpReply made =
      test::HttpPost(core_->port(), "/api/v1/admin/device-tokens", admin,
                     R"({"name":"made-at-core","devicePrefix":"cq-"})");
  ASSERT_EQ(made.status, 201) << made.body;
  const auto made_at = SteadyClock::now();
  const std::string token = boost::json::parse(made.body).at("token").as_string().c_str();
  const std::string id = boost::json::parse(made.body).at("id").as_string().c_str();
  WsClient ws;
  while (!ws.Connect("127.0.0.1", gateway_->port(), "/ws/sensors", token).ok() &&
         SteadyClock::now() - made_at < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(ws.connected()) << "the token never worked at the gateway";
  EXPECT_LT(SteadyClock::now() - made_at, std::chrono::seconds(1));
  IngestBatch b;
  *b.add_events() = test::GasEvent("cq-500103-9", 1);
  IngestAck ack;
  ASSERT_TRUE(ws.SendBatch(b, true).ok());
  ASSERT_TRUE(ws.ReadAck(&ack).ok());
  EXPECT_EQ(ack.accepted(), 1u) << ack.ShortDebugString();
  const test::HttpReply listed = test::HttpGet(core_->port(), "/api/v1/admin/device-tokens", admin);
  EXPECT_NE(listed.body.find("made-at-core"), std::string::npos) << listed.body;

  const test::HttpReply revoked = test::Http(
      core_->port(), "DELETE", "/api/v1/admin/device-tokens/" + id,
      {{"Authorization", "Bearer " + admin}});
  EXPECT_EQ(revoked.status, 204) << revoked.body;
  Status s;
  const auto revoked_at = SteadyClock::now();
  while ((s = ws.PollAck(&ack, std::chrono::milliseconds(100))).code() == Status::Code::kBusy &&
         SteadyClock::now() - revoked_at < std::chrono::seconds(5)) {
  }
  EXPECT_EQ(ws.close_code(), 1008);
  EXPECT_LT(SteadyClock::now() - revoked_at, std::chrono::seconds(2));
  WsClient again;
  EXPECT_FALSE(again.Connect("127.0.0.1", gateway_->port(), "/ws/sensors", token).ok());
  EXPECT_EQ(again.http_status(), 401);
}

}  // namespace
}  // namespace yiwang
