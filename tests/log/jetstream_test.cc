// The replicated log (store/log/jetstream.h) on a real three-node NATS JetStream cluster on
// loopback (tests/support/nats_cluster.h): what cluster mode will build on. A PubAck means
// stored on a quorum (with `sync_interval: always`, fsynced); a resend of an acked Msg-Id is a
// duplicate, not a second copy; killing the stream's leader mid-stream loses no acked message and
// stores none twice; a node killed and restarted catches up, so that the cluster survives the
// next leader's loss too.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "store/log/jetstream.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/temp_dir.h"

namespace yiwang {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> TestLogger() {
  static auto l = spdlog::stderr_color_mt("log-test");
  return l;
}

class JetStreamLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<test::NatsCluster>(dir_.path().string());
    const Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    log_ = Connect();
    ASSERT_NE(log_, nullptr);
  }

  std::unique_ptr<log::JetStreamLog> Connect() {
    log::ConnectOptions opts;
    opts.urls = cluster_->urls();
    opts.timeout = std::chrono::milliseconds(2000);
    Status s;
    auto l = log::JetStreamLog::Connect(opts, TestLogger(), &s);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return l;
  }

  // Publishes until acknowledged, resending with the same Msg-Id on Unavailable (as a gateway
  // does), for at most 60 s.
  Status PublishUntilAcked(const std::string& subject, const std::string& id,
                           const std::string& data, log::PubAck* ack) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    Status s;
    do {
      s = log_->Publish(subject, id, data, ack);
      if (s.code() != Status::Code::kUnavailable) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (Clock::now() < deadline);
    return s;
  }

  // The leader of `stream` once one is elected (up to 30 s); -1 if none.
  int LeaderOf(const std::string& stream) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      uint64_t last = 0;
      std::string leader;
      if (log_->StreamState(stream, &last, &leader).ok() && !leader.empty())
        return cluster_->IndexOf(leader);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

  // Every message of `stream` by its Msg-Id, read 1..last; fails the test on a gap or an
  // unreadable message.
  std::map<std::string, int> Census(const std::string& stream, uint64_t* last) {
    std::string leader;
    Status s;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (!(s = log_->StreamState(stream, last, &leader)).ok() && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::map<std::string, int> copies;
    for (uint64_t seq = 1; seq <= *last; ++seq) {
      log::LogMessage m;
      s = log_->Read(stream, seq, &m);
      EXPECT_TRUE(s.ok()) << "#" << seq << ": " << s.ToString();
      if (!s.ok()) break;
      EXPECT_EQ(m.data, "payload of " + m.msg_id) << "#" << seq;
      ++copies[m.msg_id];
    }
    return copies;
  }

  test::TempDir dir_;
  std::unique_ptr<test::NatsCluster> cluster_;
  std::unique_ptr<log::JetStreamLog> log_;
};

TEST_F(JetStreamLogTest, AResendOfAnAckedMessageIsADuplicateNotASecondCopy) {
  const log::StreamSpec spec{.name = "YW_T1", .subjects = {"yw.t1.>"}};
  ASSERT_TRUE(log_->EnsureStream(spec).ok());
  ASSERT_TRUE(log_->EnsureStream(spec).ok()) << "a second EnsureStream changes nothing";
  log::StreamSpec other = spec;
  other.replicas = 1;
  const Status differs = log_->EnsureStream(other);
  EXPECT_EQ(differs.code(), Status::Code::kInvalidArgument) << differs.ToString();

  log::PubAck ack;
  ASSERT_TRUE(PublishUntilAcked("yw.t1.500103", "dev-1/1", "payload of dev-1/1", &ack).ok());
  EXPECT_EQ(ack.sequence, 1u);
  EXPECT_FALSE(ack.duplicate);
  ASSERT_TRUE(log_->Publish("yw.t1.500103", "dev-1/1", "payload of dev-1/1", &ack).ok());
  EXPECT_TRUE(ack.duplicate);
  EXPECT_EQ(ack.sequence, 1u) << "the duplicate names the first copy";
  ASSERT_TRUE(log_->Publish("yw.t1.500105", "dev-2/1", "payload of dev-2/1", &ack).ok());
  EXPECT_EQ(ack.sequence, 2u);

  log::LogMessage m;
  ASSERT_TRUE(log_->Read("YW_T1", 1, &m).ok());
  EXPECT_EQ(m.subject, "yw.t1.500103");
  EXPECT_EQ(m.msg_id, "dev-1/1");
  EXPECT_EQ(m.data, "payload of dev-1/1");
  EXPECT_EQ(log_->Read("YW_T1", 3, &m).code(), Status::Code::kNotFound);
  uint64_t last = 0;
  std::string leader;
  ASSERT_TRUE(log_->StreamState("YW_T1", &last, &leader).ok());
  EXPECT_EQ(last, 2u);
  EXPECT_GE(cluster_->IndexOf(leader), 0) << leader;
}

TEST_F(JetStreamLogTest, KillingTheLeaderMidStreamLosesNoAckedMessageAndStoresNoneTwice) {
  const std::string stream = "YW_T2";
  ASSERT_TRUE(log_->EnsureStream({.name = stream, .subjects = {"yw.t2.>"}}).ok());
  constexpr int kMessages = 1500;
  std::set<std::string> acked;
  int first_leader = -1, second_leader = -1;
  for (int i = 0; i < kMessages; ++i) {
    if (i == 400) {  // kill -9 the leader mid-stream
      first_leader = LeaderOf(stream);
      ASSERT_GE(first_leader, 0);
      cluster_->Kill(first_leader);
    }
    if (i == 800) {  // the killed node comes back and must catch up
      ASSERT_TRUE(cluster_->Restart(first_leader).ok());
    }
    if (i == 1100) {  // then the new leader dies: the restarted node is needed for a quorum
      second_leader = LeaderOf(stream);
      ASSERT_GE(second_leader, 0);
      ASSERT_NE(second_leader, first_leader) << "the killed node cannot lead while down";
      cluster_->Kill(second_leader);
    }
    const std::string id = fmt::format("dev-{}/{}", i % 7, i);
    log::PubAck ack;
    const Status s = PublishUntilAcked(fmt::format("yw.t2.{}", 500100 + i % 7), id,
                                       "payload of " + id, &ack);
    ASSERT_TRUE(s.ok()) << "message " << i << ": " << s.ToString();
    acked.insert(id);
  }
  uint64_t last = 0;
  const std::map<std::string, int> copies = Census(stream, &last);
  EXPECT_EQ(last, static_cast<uint64_t>(kMessages)) << "no gap, no second copy";
  for (const std::string& id : acked) {
    auto it = copies.find(id);
    ASSERT_NE(it, copies.end()) << "acked and lost: " << id;
    EXPECT_EQ(it->second, 1) << "stored twice: " << id;
  }
  EXPECT_EQ(copies.size(), acked.size()) << "a message nobody published";
}

}  // namespace
}  // namespace yiwang
