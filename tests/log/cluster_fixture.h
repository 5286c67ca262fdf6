#pragma once
// LogClusterTest: the fixture of the cluster tests: a fresh three-node JetStream cluster on
// loopback for each test (tools/client/nats_cluster.h), a client connected to it, and the
// waits and retries that a cluster still electing its leaders needs.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "store/log/jetstream.h"
#include "store/log/retry.h"
#include "tests/support/temp_dir.h"
#include "tools/client/nats_cluster.h"

namespace yiwang::test {

inline std::shared_ptr<spdlog::logger> LogTestLogger() {
  if (auto l = spdlog::get("log-test")) return l;
  return spdlog::stderr_color_mt("log-test");
}

class LogClusterTest : public ::testing::Test {
 protected:
  using SteadyClock = std::chrono::steady_clock;

  void SetUp() override {
    cluster_ = std::make_unique<client::NatsCluster>(dir_.path().string());
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
    auto l = log::JetStreamLog::Connect(opts, LogTestLogger(), &s);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return l;
  }

  // Creates the stream, retrying while the new cluster cannot place three replicas yet (its
  // nodes still joining: Unavailable) for up to 30 s. False (and a test failure) if it could not.
  bool Ensure(const log::StreamSpec& spec) {
    const Status s = log::RetryWhileUnavailable([&] { return log_->EnsureStream(spec); },
                                                std::chrono::seconds(30));
    EXPECT_TRUE(s.ok()) << spec.name << ": " << s.ToString();
    return s.ok();
  }

  // The leader of `stream` once one is elected (up to 30 s); -1 if none.
  int LeaderOf(const std::string& stream) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < deadline) {
      uint64_t last = 0;
      std::string leader;
      if (log_->StreamState(stream, &last, &leader).ok() && !leader.empty())
        return cluster_->IndexOf(leader);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

  // Opens a token directory on `log`, retrying while the new cluster cannot place the bucket's
  // three replicas yet (Unavailable) for up to 30 s.
  std::unique_ptr<ingest::TokenDirectory> OpenDirectory(
      log::JetStreamLog* log, ingest::TokenDirectory::Options options = {}) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    Status s;
    for (;;) {
      auto d = ingest::TokenDirectory::Open(log, options, LogTestLogger(), &s);
      if (d || s.code() != Status::Code::kUnavailable || SteadyClock::now() > deadline) {
        EXPECT_TRUE(s.ok()) << s.ToString();
        return d;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  // Writes the record of bearer token `token` until acknowledged, again on Unavailable (a
  // leader being elected), for up to 60 s.
  static Status PutTokenUntilAcked(ingest::TokenDirectory* d, const std::string& token,
                                   const yiwang::v1::TokenRecord& record) {
    return log::RetryWhileUnavailable([&] { return d->Put(store::TokenHash(token), record); },
                                      std::chrono::seconds(60), std::chrono::milliseconds(50));
  }

  TempDir dir_;
  std::unique_ptr<client::NatsCluster> cluster_;
  std::unique_ptr<log::JetStreamLog> log_;
};

// The fixture of the tests of `serve`'s cluster roles: the cluster above with what `cluster
// init` puts in place (the events stream, the token bucket) and a directory to write tokens.
class ClusterRolesTest : public LogClusterTest {
 protected:
  void SetUp() override {
    LogClusterTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Ensure(ingest::EventsStreamSpec()));
    tokens_ = OpenDirectory(log_.get());
    ASSERT_TRUE(tokens_);
  }

  // Writes a device token for devices starting with `prefix` into the cluster's bucket and
  // returns its secret (`secret`, or a new one); `revoked` writes its revocation instead.
  std::string PutDeviceToken(const std::string& name, const std::string& prefix,
                             const std::string& secret = {}, bool revoked = false) {
    const std::string token = secret.empty() ? "ywd_test_" + name + std::to_string(++minted_)
                                             : secret;
    yiwang::v1::TokenRecord record;
    record.set_name(name);
    record.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
    record.set_device_prefix(prefix);
    record.set_revoked(revoked);
    const Status s = PutTokenUntilAcked(tokens_.get(), token, record);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return token;
  }

  std::unique_ptr<ingest::TokenDirectory> tokens_;
  int minted_ = 0;
};

}  // namespace yiwang::test
