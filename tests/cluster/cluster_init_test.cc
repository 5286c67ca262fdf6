// `yiwang cluster init` as a child process on a fresh three-node cluster: it creates the events
// stream and the token bucket and writes a bootstrap admin token that the bucket knows; run
// again it changes nothing and says so; --rotate-admin-token mints a new token and revokes the
// old one; a stream that exists with other settings is refused, not changed.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/file.h"
#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "tests/log/cluster_fixture.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"

namespace yiwang {
namespace {

class ClusterInitTest : public test::LogClusterTest {
 protected:
  // Runs `yiwang cluster init --nats URLS args...`; its exit status, its output in *output.
  client::ExitStatus Init(const std::vector<std::string>& args, std::string* output) {
    std::vector<std::string> all = {"cluster", "init", "--nats",
                                    fmt::format("{}", fmt::join(cluster_->urls(), ","))};
    all.insert(all.end(), args.begin(), args.end());
    return client::RunToExit(test::ServerBinary(), all, std::chrono::seconds(90), output);
  }

  // The record the cluster's token bucket holds for bearer token `token`.
  Status Lookup(const std::string& token, yiwang::v1::TokenRecord* record) {
    auto tokens = OpenDirectory(log_.get());
    if (!tokens || !tokens->WaitReady(std::chrono::seconds(10)))
      return Status::Unavailable("token directory");
    return tokens->Lookup(token, record);
  }
};

TEST_F(ClusterInitTest, CreatesOnceThenChangesNothingAndRotatesOnRequest) {
  const std::string out = dir_.Sub("admin.token");
  std::string output;
  client::ExitStatus st = Init({"--admin-token-out", out}, &output);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << output;
  EXPECT_NE(output.find("stream YW_EVENTS: created"), std::string::npos) << output;
  std::string first;
  ASSERT_TRUE(ReadFirstLine(out, &first).ok());
  EXPECT_TRUE(first.starts_with("ywa_")) << first;
  yiwang::v1::TokenRecord record;
  ASSERT_TRUE(Lookup(first, &record).ok());
  EXPECT_EQ(record.kind(), yiwang::v1::TOKEN_KIND_ADMIN);
  EXPECT_FALSE(record.revoked());
  uint64_t last = 0;
  std::string leader;
  EXPECT_TRUE(log_->StreamState(ingest::kEventsStream, &last, &leader).ok());

  st = Init({"--admin-token-out", out}, &output);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << output;
  EXPECT_NE(output.find("stream YW_EVENTS: unchanged"), std::string::npos) << output;
  EXPECT_NE(output.find("nothing changed"), std::string::npos) << output;
  std::string again;
  ASSERT_TRUE(ReadFirstLine(out, &again).ok());
  EXPECT_EQ(again, first) << "the file is left alone";

  st = Init({"--admin-token-out", out, "--rotate-admin-token"}, &output);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << output;
  std::string rotated;
  ASSERT_TRUE(ReadFirstLine(out, &rotated).ok());
  EXPECT_NE(rotated, first);
  ASSERT_TRUE(Lookup(rotated, &record).ok());
  EXPECT_FALSE(record.revoked());
  ASSERT_TRUE(Lookup(first, &record).ok());
  EXPECT_TRUE(record.revoked()) << "the rotated token is revoked";

  st = Init({"--replicas", "1"}, &output);
  EXPECT_FALSE(st.ok()) << "a stream with other settings is refused:\n" << output;
  EXPECT_NE(output.find("other settings"), std::string::npos) << output;
}

}  // namespace
}  // namespace yiwang
