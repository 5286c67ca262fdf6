// The replicated log (store/log/jetstream.h) on a real three-node NATS JetStream cluster on
// loopback (tools/client/nats_cluster.h): what cluster mode will build on. A PubAck means
// stored on a quorum (with `sync_interval: always`, fsynced); a resend of an acked Msg-Id is a
// duplicate, not a second copy; killing the stream's leader mid-stream loses no acked message and
// stores none twice; a node killed and restarted catches up, so that the cluster survives the
// next leader's loss too.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "store/log/jetstream.h"
#include "store/log/publisher.h"
#include "tests/log/cluster_fixture.h"

namespace yiwang {
namespace {

using Clock = std::chrono::steady_clock;

class JetStreamLogTest : public test::LogClusterTest {
 protected:
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

  // Publishes the i-th message of a run on `subject_prefix` (one of `devices` devices, each its
  // own district subject) until acknowledged; its Msg-Id is recorded in *acked.
  Status PublishNth(const std::string& subject_prefix, int i, int devices,
                    std::set<std::string>* acked) {
    const std::string id = fmt::format("dev-{}/{}", i % devices, i);
    log::PubAck ack;
    const Status s = PublishUntilAcked(fmt::format("{}.{}", subject_prefix, 500100 + i % devices),
                                       id, "payload of " + id, &ack);
    if (s.ok()) acked->insert(id);
    return s;
  }

  // Every message of `stream` by its Msg-Id, read 1..last; fails the test on a gap or an
  // unreadable message.
  // A deposed leader just resumed from a pause may answer for a moment with its old state (a
  // stale read: fewer messages, never other ones), so the census first waits up to 30 s for the
  // stream to show `expected` messages; a stream that never does fails below.
  std::map<std::string, int> Census(const std::string& stream, uint64_t expected,
                                    uint64_t* last) {
    std::string leader;
    Status s;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while ((!(s = log_->StreamState(stream, last, &leader)).ok() || *last < expected) &&
           Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::map<std::string, int> copies;
    for (uint64_t seq = 1; seq <= *last; ++seq) {
      log::LogMessage m;
      // Again while the cluster is still electing after the test's kills (Unavailable).
      while ((s = log_->Read(stream, seq, &m)).code() == Status::Code::kUnavailable &&
             Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      EXPECT_TRUE(s.ok()) << "#" << seq << ": " << s.ToString();
      if (!s.ok()) break;
      EXPECT_EQ(m.data, "payload of " + m.msg_id) << "#" << seq;
      ++copies[m.msg_id];
    }
    return copies;
  }

  // The stream holds exactly `expected` messages (no gap, no second copy): each acked one once
  // and nothing else.
  void ExpectEachStoredOnce(const std::string& stream, const std::set<std::string>& acked,
                            uint64_t expected) {
    uint64_t last = 0;
    const std::map<std::string, int> copies = Census(stream, expected, &last);
    EXPECT_EQ(last, expected) << "no gap, no second copy";
    for (const std::string& id : acked) {
      auto it = copies.find(id);
      ASSERT_NE(it, copies.end()) << "acked and lost: " << id;
      EXPECT_EQ(it->second, 1) << "stored twice: " << id;
    }
    EXPECT_EQ(copies.size(), acked.size()) << "a message nobody published";
  }

};

TEST_F(JetStreamLogTest, AResendOfAnAckedMessageIsADuplicateNotASecondCopy) {
  const log::StreamSpec spec{.name = "YW_T1", .subjects = {"yw.t1.>"}};
  ASSERT_TRUE(Ensure(spec));
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
  ASSERT_TRUE(Ensure({.name = stream, .subjects = {"yw.t2.>"}}));
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
    const Status s = PublishNth("yw.t2", i, 7, &acked);
    ASSERT_TRUE(s.ok()) << "message " << i << ": " << s.ToString();
  }
  ExpectEachStoredOnce(stream, acked, kMessages);
}

// The stream leader paused (SIGSTOP) for longer than any timeout while messages keep coming,
// then resumed: a new leader takes over, the paused one rejoins as a follower, and every acked
// message is stored exactly once.
TEST_F(JetStreamLogTest, PausingTheLeaderLosesNoAckedMessageAndStoresNoneTwice) {
  const std::string stream = "YW_T5";
  ASSERT_TRUE(Ensure({.name = stream, .subjects = {"yw.t5.>"}}));
  constexpr int kMessages = 900;
  std::set<std::string> acked;
  int paused = -1;
  Clock::time_point paused_at;
  for (int i = 0; i < kMessages; ++i) {
    if (i == 300) {
      paused = LeaderOf(stream);
      ASSERT_GE(paused, 0);
      cluster_->Pause(paused);
      paused_at = Clock::now();
    }
    // Resumed once the others have carried on without it for 8 s (beyond the client's 2 s
    // request timeout and the servers' election timeouts), or after the last message.
    if (paused >= 0 && Clock::now() - paused_at > std::chrono::seconds(8)) {
      cluster_->Resume(paused);
      paused = -1;
    }
    const Status s = PublishNth("yw.t5", i, 5, &acked);
    ASSERT_TRUE(s.ok()) << "message " << i << ": " << s.ToString();
  }
  if (paused >= 0) cluster_->Resume(paused);
  ExpectEachStoredOnce(stream, acked, kMessages);
}

// Four producers submit 2,000 messages through the publisher while the stream's leader is
// killed and later restarted; a message answered Unavailable is submitted again (a sensor
// resends an unacked frame). Every submission gets exactly one answer, and every message
// acknowledged is stored exactly once.
TEST_F(JetStreamLogTest, PublisherAnswersEveryMessageOnceThroughALeaderLoss) {
  const std::string stream = "YW_T3";
  ASSERT_TRUE(Ensure({.name = stream, .subjects = {"yw.t3.>"}}));
  log::LogPublisher publisher(log_.get(), {.threads = 8, .max_pending = 256});
  constexpr int kProducers = 4, kPerProducer = 500;
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> acked;
  std::map<std::string, int> answers;
  int unavailable = 0, busy = 0;
  std::atomic<int> resubmitters{0};  // threads resubmitting an unavailable message
  auto submit = [&](const std::string& id, auto& self) -> void {
    for (;;) {
      const Status s = publisher.Submit(
          "yw.t3." + id.substr(0, id.find('/')), id, "payload of " + id,
          [&, id](const Status& st, const log::PubAck&) {
            bool again = false;
            {
              std::lock_guard lock(mu);
              ++answers[id];
              if (st.ok()) acked.insert(id);
              else if (st.code() == Status::Code::kUnavailable) ++unavailable, again = true;
              else ADD_FAILURE() << id << ": " << st.ToString();
            }
            cv.notify_all();
            if (again) {
              ++resubmitters;
              std::thread([id, &self, &resubmitters] {
                self(id, self);
                --resubmitters;
              }).detach();
            }
          });
      if (s.ok()) return;
      ASSERT_EQ(s.code(), Status::Code::kBusy) << s.ToString();
      {
        std::lock_guard lock(mu);
        ++busy;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) submit(fmt::format("dev-{}/{}", p, i), submit);
    });
  auto wait_acked = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(120), [&] { return acked.size() >= n; });
  };
  ASSERT_TRUE(wait_acked(500));
  const int leader = LeaderOf(stream);
  ASSERT_GE(leader, 0);
  cluster_->Kill(leader);
  ASSERT_TRUE(wait_acked(1200));
  ASSERT_TRUE(cluster_->Restart(leader).ok());
  for (auto& t : producers) t.join();
  ASSERT_TRUE(wait_acked(kProducers * kPerProducer)) << acked.size() << " acked";
  while (resubmitters.load() > 0 || publisher.pending() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

  std::lock_guard lock(mu);  // no answer is pending any more; for the reads of acked
  EXPECT_EQ(acked.size(), static_cast<size_t>(kProducers * kPerProducer));
  ExpectEachStoredOnce(stream, acked, kProducers * kPerProducer);
  std::cerr << "publisher through a leader loss: " << acked.size() << " acked, " << unavailable
            << " answered unavailable and resubmitted, " << busy << " refused as busy\n";
}

// With no server reachable, a full queue is refused at once and every queued message is
// answered Unavailable by its deadline: the caller is never blocked.
TEST_F(JetStreamLogTest, PublisherRefusesWhenFullAndAnswersByTheDeadlineWithoutTheLog) {
  ASSERT_TRUE(Ensure({.name = "YW_T4", .subjects = {"yw.t4.>"}}));
  for (int i = 0; i < cluster_->size(); ++i) cluster_->Kill(i);
  log::LogPublisher publisher(log_.get(), {.threads = 2,
                                           .max_pending = 4,
                                           .deadline = std::chrono::milliseconds(1500),
                                           .retry_wait = std::chrono::milliseconds(50)});
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> answers;
  const auto t0 = Clock::now();
  for (int i = 0; i < 4; ++i) {
    const Status s = publisher.Submit("yw.t4.x", fmt::format("m{}", i), "payload",
                                      [&](const Status& st, const log::PubAck&) {
                                        std::lock_guard lock(mu);
                                        answers.push_back(st);
                                        cv.notify_all();
                                      });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const Status full =
      publisher.Submit("yw.t4.x", "m4", "payload", [](const Status&, const log::PubAck&) {
        ADD_FAILURE() << "a refused message must not be answered";
      });
  EXPECT_EQ(full.code(), Status::Code::kBusy);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500)) << "Submit blocked";
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answers.size() == 4; }));
  for (const Status& s : answers) EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  // Each deadline counts from Submit: all four are answered soon after 1.5 s.
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(4500));
}

// Destroying the publisher answers what it had accepted first: nothing is dropped unanswered.
TEST_F(JetStreamLogTest, PublisherAnswersEverythingQueuedBeforeItStops) {
  ASSERT_TRUE(Ensure({.name = "YW_T6", .subjects = {"yw.t6.>"}}));
  std::atomic<int> ok{0}, failed{0};
  {
    log::LogPublisher publisher(log_.get(), {.threads = 2, .max_pending = 64});
    for (int i = 0; i < 50; ++i) {
      const Status s = publisher.Submit(
          "yw.t6.x", fmt::format("m{}", i), "payload",
          [&](const Status& st, const log::PubAck&) { (st.ok() ? ok : failed)++; });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }  // the destructor runs with most of the 50 still queued
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(failed.load(), 0);
  uint64_t last = 0;
  std::string leader;
  ASSERT_TRUE(log_->StreamState("YW_T6", &last, &leader).ok());
  EXPECT_EQ(last, 50u);
}

}  // namespace
}  // namespace yiwang
