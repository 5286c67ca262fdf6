// The token directory of cluster mode (ingest/token_directory.h) and the key-value buckets under
// it (store/log/kv.h, kv_watch.h) on a real three-node NATS JetStream cluster on loopback: a
// token written through one connection reaches a directory watching through another within a
// second, a revocation too (and fires the callback), a directory opened later knows every record
// once ready, and the watch carries on after the bucket's leader is killed.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/text.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "store/log/jetstream.h"
#include "store/log/kv.h"
#include "tests/log/cluster_fixture.h"

namespace yiwang {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using yiwang::v1::TokenRecord;

constexpr char kStream[] = "KV_YW_TOKENS";

TokenRecord DeviceToken(const std::string& name, bool revoked = false) {
  TokenRecord r;
  r.set_name(name);
  r.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
  r.set_device_prefix(name + "-");
  r.set_revoked(revoked);
  return r;
}

std::string Secret(int i) { return fmt::format("secret-token-{:04}", i); }

// Polls `done` every 2 ms for up to `limit`; how long it took, or nullopt if it never held.
template <typename F>
std::optional<milliseconds> TimeUntil(F done, milliseconds limit) {
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < limit) {
    if (done()) return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    std::this_thread::sleep_for(milliseconds(2));
  }
  return std::nullopt;
}

// Writes through the fixture's connection (log_), watches through a second one.
class TokenDirectoryTest : public test::LogClusterTest {
 protected:
  void SetUp() override {
    test::LogClusterTest::SetUp();
    if (HasFatalFailure()) return;
    reader_log_ = Connect();
    ASSERT_NE(reader_log_, nullptr);
  }

  std::unique_ptr<log::JetStreamLog> reader_log_;
};

// A token created through one connection is found by a directory watching through another
// within a second; its revocation is seen within a second too, and fires on_change with the
// revoked record (what makes a gateway close the token's connections).
TEST_F(TokenDirectoryTest, ACreationAndARevocationReachAnotherDirectoryWithinASecond) {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> changes;  // (hash, revoked or dropped)
  auto writer = OpenDirectory(log_.get());
  ASSERT_NE(writer, nullptr);
  auto reader = OpenDirectory(reader_log_.get(),
                     {.on_change = [&](const std::string& hash, const TokenRecord* r) {
                       std::lock_guard lock(mu);
                       changes.emplace_back(hash, r == nullptr || r->revoked());
                     }});
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WaitReady(milliseconds(5000))) << "an empty bucket is caught up at once";
  TokenRecord got;
  EXPECT_EQ(reader->Lookup(Secret(1), &got).code(), Status::Code::kNotFound);

  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(1), DeviceToken("cam")).ok());
  const auto created = TimeUntil([&] { return reader->Lookup(Secret(1), &got).ok(); },
                                 milliseconds(1000));
  ASSERT_TRUE(created) << "the creation did not reach the other directory within 1 s";
  EXPECT_EQ(got.name(), "cam");
  EXPECT_FALSE(got.revoked());

  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(1), DeviceToken("cam", true)).ok());
  const std::string hash = store::TokenHash(Secret(1));
  const auto revoked = TimeUntil(
      [&] {
        std::lock_guard lock(mu);
        return !changes.empty() && changes.back() == std::make_pair(hash, true);
      },
      milliseconds(1000));
  ASSERT_TRUE(revoked) << "the revocation did not fire on_change within 1 s";
  ASSERT_TRUE(reader->Lookup(Secret(1), &got).ok());
  EXPECT_TRUE(got.revoked()) << "on_change runs after the map holds the record";
  EXPECT_EQ(reader->Lookup("another secret", &got).code(), Status::Code::kNotFound);
  std::cerr << "token directory: creation seen after " << created->count()
            << " ms, revocation after " << revoked->count() << " ms\n";
}

// A directory opened after the writes knows all of them once WaitReady returns: 300 records, one
// of them revoked, one deleted, and one value that does not parse (logged and left out).
TEST_F(TokenDirectoryTest, ADirectoryOpenedLaterKnowsEveryRecordOnceReady) {
  auto writer = OpenDirectory(log_.get());
  ASSERT_NE(writer, nullptr);
  constexpr int kTokens = 300;
  for (int i = 0; i < kTokens; ++i) {
    const TokenRecord record = DeviceToken(fmt::format("d{}", i), /*revoked=*/i == 7);
    ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(i), record).ok());
  }
  log::KeyValue kv(log_.get());
  ASSERT_TRUE(kv.Delete("YW_TOKENS", Hex(store::TokenHash(Secret(8)))).ok());
  ASSERT_TRUE(kv.Put("YW_TOKENS", Hex(store::TokenHash(Secret(9))), "\xff\xff not a record",
                     nullptr)
                  .ok());
  std::string value;
  EXPECT_EQ(kv.Get("YW_TOKENS", Hex(store::TokenHash(Secret(8))), &value).code(),
            Status::Code::kNotFound);

  const auto t0 = Clock::now();
  auto reader = OpenDirectory(reader_log_.get());
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WaitReady(milliseconds(10000)));
  const auto ready_ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  EXPECT_EQ(reader->size(), static_cast<size_t>(kTokens - 2)) << "all but the deleted and the bad";
  for (int i = 0; i < kTokens; ++i) {
    TokenRecord got;
    const Status s = reader->Lookup(Secret(i), &got);
    if (i == 8 || i == 9) {
      EXPECT_EQ(s.code(), Status::Code::kNotFound) << i;
      continue;
    }
    ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
    EXPECT_EQ(got.name(), fmt::format("d{}", i));
    EXPECT_EQ(got.revoked(), i == 7) << i;
  }
  std::cerr << "token directory: " << kTokens << " records ready after " << ready_ms << " ms\n";
}

// The bucket's leader is killed (kill -9): a token written after the kill (again while the
// bucket elects a new leader) still reaches the directory, whose watch recovers by itself. The
// bucket is ensured idempotently; one asked for with other replicas is refused.
TEST_F(TokenDirectoryTest, TheWatchCarriesOnAfterTheBucketLeaderIsKilled) {
  auto writer = OpenDirectory(log_.get());
  ASSERT_NE(writer, nullptr);
  log::KeyValue kv(log_.get());
  EXPECT_TRUE(kv.EnsureBucket("YW_TOKENS", 3).ok()) << "a second EnsureBucket changes nothing";
  const Status other = kv.EnsureBucket("YW_TOKENS", 1);
  EXPECT_EQ(other.code(), Status::Code::kInvalidArgument) << other.ToString();

  auto reader = OpenDirectory(reader_log_.get());
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WaitReady(milliseconds(5000)));
  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(1), DeviceToken("before")).ok());
  TokenRecord got;
  ASSERT_TRUE(TimeUntil([&] { return reader->Lookup(Secret(1), &got).ok(); }, milliseconds(1000)));

  const int leader = LeaderOf(kStream);
  ASSERT_GE(leader, 0);
  cluster_->Kill(leader);
  const auto killed_at = Clock::now();
  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(2), DeviceToken("after")).ok());
  const auto acked_at = Clock::now();
  const auto seen = TimeUntil([&] { return reader->Lookup(Secret(2), &got).ok(); },
                              std::chrono::seconds(20));
  ASSERT_TRUE(seen) << "the watch did not recover within 20 s of the write";
  const auto since_kill = std::chrono::duration_cast<milliseconds>(Clock::now() - killed_at);
  // The write is acked once a new leader is elected (4 to 8 s here); the watch, if its consumer
  // was on the killed node (not always: see the next test), is recreated a heartbeat or two
  // later.
  EXPECT_LT(*seen, milliseconds(5000));
  EXPECT_EQ(got.name(), "after");

  // And later writes arrive within a second again.
  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(3), DeviceToken("later")).ok());
  const auto later = TimeUntil([&] { return reader->Lookup(Secret(3), &got).ok(); },
                               milliseconds(1000));
  EXPECT_TRUE(later) << "a write after the recovery took longer than 1 s";
  std::cerr << "token directory through a leader kill: write acked "
            << std::chrono::duration_cast<milliseconds>(acked_at - killed_at).count()
            << " ms after the kill, seen " << since_kill.count() << " ms after the kill ("
            << seen->count() << " ms after its ack); next write seen after "
            << (later ? later->count() : -1) << " ms\n";
}

// Every server is killed and restarted, so the watch's consumer (kept in memory on one of them)
// is gone for certain: the watch recreates it from where it was, and a write made once the
// cluster is back reaches it within a few seconds (nats.c's default heartbeat, 5 s with two
// missed, took 10 to 20 s). What was written before is not delivered twice, nor lost.
TEST_F(TokenDirectoryTest, TheWatchRecoversWhenEveryServerRestarts) {
  auto writer = OpenDirectory(log_.get());
  ASSERT_NE(writer, nullptr);
  std::atomic<int> changes{0};
  auto reader = OpenDirectory(reader_log_.get(), {.on_change = [&](const std::string&,
                                                          const TokenRecord*) { ++changes; }});
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WaitReady(milliseconds(5000)));
  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(1), DeviceToken("before")).ok());
  TokenRecord got;
  ASSERT_TRUE(TimeUntil([&] { return reader->Lookup(Secret(1), &got).ok(); }, milliseconds(1000)));

  for (int i = 0; i < cluster_->size(); ++i) cluster_->Kill(i);
  for (int i = 0; i < cluster_->size(); ++i) ASSERT_TRUE(cluster_->Restart(i).ok());
  const auto restarted_at = Clock::now();
  ASSERT_TRUE(PutTokenUntilAcked(writer.get(), Secret(2), DeviceToken("after")).ok());
  const auto acked_at = Clock::now();
  const auto seen = TimeUntil([&] { return reader->Lookup(Secret(2), &got).ok(); },
                              std::chrono::seconds(30));
  ASSERT_TRUE(seen) << "the watch did not recover within 30 s of the write";
  EXPECT_LT(*seen, milliseconds(5000));
  EXPECT_EQ(changes.load(), 2) << "each write delivered once";
  std::cerr << "token directory through a restart of every server: write acked "
            << std::chrono::duration_cast<milliseconds>(acked_at - restarted_at).count()
            << " ms after the restart, seen " << seen->count() << " ms after its ack\n";
}

// Destroying a directory returns promptly even with every server gone.
TEST_F(TokenDirectoryTest, StoppingTheWatchIsPromptWithTheClusterDown) {
  auto reader = OpenDirectory(reader_log_.get());
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->WaitReady(milliseconds(5000)));
  for (int i = 0; i < cluster_->size(); ++i) cluster_->Kill(i);
  std::this_thread::sleep_for(milliseconds(500));
  const auto t0 = Clock::now();
  reader.reset();
  EXPECT_LT(Clock::now() - t0, milliseconds(500));
}

}  // namespace
}  // namespace yiwang
