// `yiwang serve --role gateway` as a child process in front of a real three-node JetStream
// cluster on loopback: the sensors' contract of the single process (tokens, per-event
// rejections, binary and JSON) with acks that mean "in the log on a quorum"; a device token put
// into the cluster's directory works at a running gateway within a second and its revocation
// closes the open connection; the log's loss answered "unavailable" by the deadline while the
// gateway keeps answering; and a stream leader killed mid-stream loses no acked event.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/split.h"
#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "tests/log/cluster_fixture.h"
#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"
#include "tools/client/ws_client.h"
#include "yiwang/v1/log.pb.h"

namespace yiwang {
namespace {

using client::WsClient;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;

constexpr const char* kStream = ingest::kEventsStream;  // the stream a gateway publishes into

class GatewayTest : public test::ClusterRolesTest {
 protected:
  void SetUp() override {
    test::ClusterRolesTest::SetUp();
    if (HasFatalFailure()) return;
    token_ = PutDeviceToken("fleet", "cq-");
  }
  void TearDown() override {
    for (auto& g : gateways_)
      if (HasFailure()) std::cerr << "---- gateway log ----\n" << g->Log() << "----\n";
  }

  // Starts a gateway process on the cluster; its index in gateways_.
  size_t StartGateway() {
    client::ServerProcess::Options options;
    options.binary = test::ServerBinary();
    options.work_dir = dir_.path().string();
    auto& g = gateways_.emplace_back(std::make_unique<client::ServerProcess>(options));
    const std::string urls = fmt::format("{}", fmt::join(cluster_->urls(), ","));
    const Status s = g->Start(dir_.Sub(fmt::format("gw{}", gateways_.size())),
                              {"--role", "gateway", "--nats", urls});
    EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << g->Log();
    return gateways_.size() - 1;
  }

  Status Connect(WsClient& ws, size_t gateway, const std::string& token) {
    return ws.Connect("127.0.0.1", gateways_[gateway]->port(), "/ws/sensors", token);
  }

  // Every event in the stream, by "device/seq", with its number of copies.
  std::map<std::string, int> EventsInTheLog() {
    uint64_t last = 0;
    std::string leader;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (!log_->StreamState(kStream, &last, &leader).ok() && SteadyClock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::map<std::string, int> copies;
    for (uint64_t seq = 1; seq <= last; ++seq) {
      log::LogMessage m;
      Status s;
      while ((s = log_->Read(kStream, seq, &m)).code() == Status::Code::kUnavailable &&
             SteadyClock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      EXPECT_TRUE(s.ok()) << "#" << seq << ": " << s.ToString();
      yiwang::v1::LogEvents events;
      EXPECT_TRUE(events.ParseFromString(m.data));
      for (const auto& e : events.events())
        ++copies[fmt::format("{}/{}", e.event().device_id(), e.event().seq())];
    }
    return copies;
  }

  std::string token_;
  std::vector<std::unique_ptr<client::ServerProcess>> gateways_;
};

IngestBatch Batch(const std::string& id, const std::string& device, uint64_t first_seq, int n) {
  IngestBatch b;
  b.set_batch_id(id);
  for (int i = 0; i < n; ++i) *b.add_events() = test::GasEvent(device, first_seq + i);
  return b;
}

// The single process's contract, through a gateway: accepted events are in the log (once);
// an invalid event is rejected alone; JSON and protobuf frames alike; a resend of an acked frame
// is answered duplicates; a bad token is refused at the upgrade.
TEST_F(GatewayTest, AcksWhatTheLogHoldsWithTheSensorsContract) {
  const size_t gw = StartGateway();
  ASSERT_FALSE(HasFailure());
  WsClient ws;
  ASSERT_TRUE(Connect(ws, gw, token_).ok());
  std::set<std::string> acked;
  for (int f = 0; f < 10; ++f) {
    IngestBatch b = Batch(fmt::format("f{}", f), fmt::format("cq-500103-{}", f % 3),
                          static_cast<uint64_t>(f * 20 + 1), 20);
    if (f == 4) b.mutable_events(7)->set_device_id("other-1");  // outside the token's prefix
    ASSERT_TRUE(ws.SendBatch(b, /*binary=*/f % 2 == 0).ok());
    IngestAck ack;
    ASSERT_TRUE(ws.ReadAck(&ack).ok());
    EXPECT_EQ(ack.batch_id(), b.batch_id());
    EXPECT_EQ(ack.error(), "") << ack.message();
    if (f == 4) {
      ASSERT_EQ(ack.rejected_size(), 1);
      EXPECT_EQ(ack.rejected(0).index(), 7u);
      EXPECT_EQ(ack.rejected(0).reason(), "prefix_not_allowed");
    }
    EXPECT_EQ(ack.accepted(), f == 4 ? 19u : 20u);
    for (const auto& e : b.events())
      if (e.device_id().starts_with("cq-"))
        acked.insert(fmt::format("{}/{}", e.device_id(), e.seq()));
  }
  IngestAck again;
  ASSERT_TRUE(ws.SendBatch(Batch("f9", "cq-500103-0", 181, 20), true).ok());
  ASSERT_TRUE(ws.ReadAck(&again).ok());
  EXPECT_EQ(again.duplicates(), 20u) << "the same frame resent: JetStream dropped it";

  const auto copies = EventsInTheLog();
  EXPECT_EQ(copies.size(), acked.size());
  for (const auto& key : acked) {
    auto it = copies.find(key);
    ASSERT_NE(it, copies.end()) << "acked, not in the log: " << key;
    EXPECT_EQ(it->second, 1) << key;
  }
  WsClient stranger;
  EXPECT_FALSE(Connect(stranger, gw, "ywd_nobody").ok());
  EXPECT_EQ(stranger.http_status(), 401);
  const auto health = test::HttpGet(gateways_[gw]->port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find(R"("role":"gateway")"), std::string::npos) << health.body;
}

// A token written into the cluster's directory works at a running gateway within a second; its
// revocation closes the connection that uses it (1008) within a second, and new upgrades with
// it are refused.
TEST_F(GatewayTest, TokensWrittenAnywhereReachTheGatewayWithinASecond) {
  const size_t gw = StartGateway();
  ASSERT_FALSE(HasFailure());
  const std::string fresh = PutDeviceToken("late", "cq-");
  const auto put_at = SteadyClock::now();
  WsClient ws;
  while (!Connect(ws, gw, fresh).ok() && SteadyClock::now() - put_at < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto usable_after = SteadyClock::now() - put_at;
  ASSERT_TRUE(ws.connected()) << "a new token never worked";
  EXPECT_LT(usable_after, std::chrono::seconds(1));

  PutDeviceToken("late", "cq-", fresh, /*revoked=*/true);
  const auto revoked_at = SteadyClock::now();
  IngestAck ack;
  Status s;
  while ((s = ws.PollAck(&ack, std::chrono::milliseconds(100))).code() == Status::Code::kBusy &&
         SteadyClock::now() - revoked_at < std::chrono::seconds(5)) {
  }
  const auto closed_after = SteadyClock::now() - revoked_at;
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ws.close_code(), 1008);
  EXPECT_LT(closed_after, std::chrono::seconds(2));
  WsClient again;
  EXPECT_FALSE(Connect(again, gw, fresh).ok());
  EXPECT_EQ(again.http_status(), 401);
  std::cerr << "token usable after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(usable_after).count()
            << " ms; revoked connection closed after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(closed_after).count()
            << " ms\n";
}

// Every nats-server killed: a frame is answered "unavailable" by the publish deadline (5 s),
// nothing acked, and the gateway keeps answering other requests meanwhile (its I/O threads
// never wait for the log). The servers back, the same connection's resend is stored.
TEST_F(GatewayTest, WithoutTheLogFramesAreAnsweredUnavailableAndItResumesByItself) {
  const size_t gw = StartGateway();
  ASSERT_FALSE(HasFailure());
  WsClient ws;
  ASSERT_TRUE(Connect(ws, gw, token_).ok());
  for (int i = 0; i < cluster_->size(); ++i) cluster_->Kill(i);
  const auto t0 = SteadyClock::now();
  const IngestBatch b = Batch("lost", "cq-500105-1", 1, 10);
  ASSERT_TRUE(ws.SendBatch(b, true).ok());
  const auto health = test::HttpGet(gateways_[gw]->port(), "/healthz");
  EXPECT_EQ(health.status, 200) << "answered while the frame waits for the log";
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(2));
  IngestAck ack;
  ASSERT_TRUE(ws.ReadAck(&ack).ok());
  EXPECT_EQ(ack.error(), "unavailable") << ack.ShortDebugString();
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::seconds(8));

  for (int i = 0; i < cluster_->size(); ++i) ASSERT_TRUE(cluster_->Restart(i).ok());
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  do {
    ASSERT_TRUE(ws.SendBatch(b, true).ok());
    ASSERT_TRUE(ws.ReadAck(&ack).ok());
  } while (!ack.error().empty() && SteadyClock::now() < deadline);
  EXPECT_EQ(ack.error(), "");
  EXPECT_EQ(ack.accepted() + ack.duplicates(), 10u);
  EXPECT_EQ(EventsInTheLog().size(), 10u);
}

// Sensors stream through two gateways; the stream's leader is killed mid-stream, then one
// gateway. The sensors resend what was not acked, the killed gateway's on the other one:
// afterwards every acked event is in the log (a resend packed with other events may be there
// twice: the core's (deviceId, seq) check drops it), and nothing is there that was not sent.
TEST_F(GatewayTest, LeaderAndGatewayKilledMidStreamLoseNoAckedEvent) {
  StartGateway();
  StartGateway();
  ASSERT_FALSE(HasFailure());
  constexpr int kSensors = 6, kFrames = 120, kPerFrame = 10;
  std::atomic<int> frames_done{0};
  std::mutex mu;
  std::set<std::string> acked, sent;
  int unavailable = 0, reconnects = 0;
  auto sensor = [&](int k) {
    WsClient ws;
    ws.set_read_timeout(std::chrono::seconds(20));
    size_t gw = static_cast<size_t>(k) % 2;
    const std::string device = fmt::format("cq-50010{}-{}", k % 3 + 3, k);
    for (int f = 0; f < kFrames;) {
      if (!ws.connected()) {
        if (!Connect(ws, gw, token_).ok()) {
          gw = 1 - gw;  // the other gateway
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
      }
      const IngestBatch b = Batch(fmt::format("s{}f{}", k, f), device,
                                  static_cast<uint64_t>(f * kPerFrame + 1), kPerFrame);
      {
        std::lock_guard lock(mu);
        for (const auto& e : b.events()) sent.insert(fmt::format("{}/{}", device, e.seq()));
      }
      IngestAck ack;
      if (!ws.SendBatch(b, true).ok() || !ws.ReadAck(&ack).ok()) {
        std::lock_guard lock(mu);
        ++reconnects;
        gw = 1 - gw;
        continue;  // resend the same frame through the other gateway
      }
      if (!ack.error().empty()) {
        ASSERT_EQ(ack.error(), "unavailable") << ack.ShortDebugString();
        std::lock_guard lock(mu);
        ++unavailable;
        continue;  // resend
      }
      ASSERT_EQ(ack.accepted() + ack.duplicates(), static_cast<uint32_t>(kPerFrame));
      {
        std::lock_guard lock(mu);
        for (const auto& e : b.events()) acked.insert(fmt::format("{}/{}", device, e.seq()));
      }
      ++f;
      ++frames_done;
    }
  };
  std::vector<std::thread> sensors;
  for (int k = 0; k < kSensors; ++k) sensors.emplace_back(sensor, k);
  while (frames_done.load() < kSensors * kFrames / 4)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int leader = LeaderOf(kStream);
  ASSERT_GE(leader, 0);
  cluster_->Kill(leader);
  while (frames_done.load() < kSensors * kFrames / 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  gateways_[1]->Kill();
  ASSERT_TRUE(cluster_->Restart(leader).ok());
  for (auto& t : sensors) t.join();

  EXPECT_EQ(acked.size(), static_cast<size_t>(kSensors * kFrames * kPerFrame));
  const auto copies = EventsInTheLog();
  int twice = 0;
  for (const auto& key : acked) {
    auto it = copies.find(key);
    ASSERT_NE(it, copies.end()) << "acked, not in the log: " << key;
    twice += it->second > 1;
  }
  for (const auto& [key, n] : copies) EXPECT_TRUE(sent.contains(key)) << "never sent: " << key;
  std::cerr << acked.size() << " events acked through a leader kill and a gateway kill; "
            << unavailable << " frames answered unavailable, " << reconnects
            << " connections lost; " << twice << " events in the log twice (resends)\n";
}

}  // namespace
}  // namespace yiwang
