#include "tests/support/test_server.h"

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>

#include "tools/client/metrics_scrape.h"
#include "tools/client/provision.h"

#ifndef YIWANG_BINARY
#error "YIWANG_BINARY must be the path of the yiwang executable"
#endif

namespace yiwang::test {

std::string ServerBinary() {
  const char* env = std::getenv("YIWANG_TEST_BINARY");
  return env && *env ? std::string(env) : std::string(YIWANG_BINARY);
}

namespace {

client::ServerProcess::Options ProcessOptions(const TempDir& work) {
  client::ServerProcess::Options options;
  options.binary = ServerBinary();
  options.work_dir = work.path().string();
  return options;
}

}  // namespace

TestServer::TestServer() : process_(ProcessOptions(work_)) {}

TestServer::~TestServer() {
  if (::testing::Test::HasFailure() && !Log().empty()) PrintLog();
}

void TestServer::PrintLog() const {
  std::cerr << "---- server log ----\n" << Log() << "--------------------\n";
}

Status TestServer::Start(const std::vector<std::string>& args, const std::string& data_dir) {
  if (Status s = process_.Start(data_dir.empty() ? DataDir() : data_dir, args); !s.ok())
    return Status::Unavailable(s.ToString() + "\n" + Log());
  if (Status s = process_.ReadAdminToken(&admin_); !s.ok()) return s;
  if (!admin_.starts_with("ywa_")) return Status::InvalidArgument("admin token " + admin_);
  return Status::Ok();
}

std::vector<std::string> TestServer::Config(const std::string& config_json) const {
  const std::string path = work_.Sub("config.json");
  std::ofstream(path) << config_json;
  return {"--config", path};
}

std::string TestServer::DeviceToken(const std::string& name, const std::string& prefix,
                                    const std::vector<std::string>& districts, std::string* id) {
  std::string token;
  const Status s = client::ProvisionDeviceToken(process_.endpoint(), admin_, name, prefix, &token,
                                                districts, id);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(token.starts_with("ywd_")) << token;
  return s.ok() && token.starts_with("ywd_") ? token : std::string();
}

double TestServer::Metric(const std::string& series, bool must_answer) const {
  client::MetricsScrape metrics;
  const Status s = client::ScrapeMetrics(process_.endpoint(), &metrics);
  if (!s.ok()) {
    if (must_answer) ADD_FAILURE() << "/metrics: " << s.ToString();
    return -1;
  }
  return metrics.Get(series).value_or(-1);
}

}  // namespace yiwang::test
