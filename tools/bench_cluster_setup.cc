#include "tools/bench_cluster_setup.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "ingest/log_routing.h"
#include "ingest/token_directory.h"
#include "store/event_store.h"
#include "store/log/retry.h"
#include "tools/bench_run.h"
#include "tools/bench_server.h"
#include "tools/client/http.h"
#include "tools/client/load_frames.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::tools::bench {

namespace {

// A new cluster places three replicas only once every node has joined; the first stream or
// bucket may be refused (Unavailable) for a few seconds until then.
constexpr std::chrono::seconds kElectionTimeout{60};
constexpr std::chrono::milliseconds kRetryInterval{200};
// A gateway reads the token directory before it is ready; on a loaded machine that is slow.
constexpr std::chrono::seconds kGatewayReadyTimeout{60};

// Runs `attempt` until it returns anything but Unavailable, or kElectionTimeout passed.
template <typename Attempt>
Status RetryWhileUnavailable(Attempt attempt) {
  return log::RetryWhileUnavailable(attempt, kElectionTimeout, kRetryInterval);
}

// A device token's secret: 128 random bits in hex. The directory keeps only its hash.
std::string NewSecret() {
  std::random_device rd;
  std::string out = "ywd_bench_";
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", rd());
  return out;
}

}  // namespace

BenchCluster::BenchCluster(std::string gateway_log_level)
    : gateway_log_level_(std::move(gateway_log_level)), dir_("yiwang-bench-cluster-") {}

BenchCluster::~BenchCluster() {
  StopGateways();
  log_.reset();  // before the servers it talks to
}

Status BenchCluster::Start() {
  if (!dir_.status().ok()) return dir_.status();
  cluster_ = std::make_unique<client::NatsCluster>(dir_.path().string());
  if (Status s = cluster_->Start(); !s.ok()) return s;
  log::ConnectOptions connect;
  connect.urls = cluster_->urls();
  connect.name = "yiwang-bench";
  Status st;
  log_ = log::JetStreamLog::Connect(connect, Logger("bench-log"), &st);
  if (!log_) return st;
  if (Status s =
          RetryWhileUnavailable([&] { return log_->EnsureStream(ingest::EventsStreamSpec()); });
      !s.ok())
    return Status::Unavailable("the events stream: " + s.ToString());

  // The record a device token of the single process would have, for the load's devices.
  std::unique_ptr<ingest::TokenDirectory> tokens;
  if (Status s = RetryWhileUnavailable([&] {
        Status open;
        tokens = ingest::TokenDirectory::Open(log_.get(), {}, Logger("bench-tokens"), &open);
        return open;
      });
      !tokens)
    return Status::Unavailable("the token directory: " + s.ToString());
  yiwang::v1::TokenRecord record;
  record.set_name(kTokenName);
  record.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
  record.set_device_prefix(client::kLoadDevicePrefix);
  device_token_ = NewSecret();
  if (Status s = RetryWhileUnavailable(
          [&] { return tokens->Put(store::TokenHash(device_token_), record); });
      !s.ok())
    return Status::Unavailable("the device token: " + s.ToString());
  return Status::Ok();
}

Status BenchCluster::StartGateways(int count) {
  // The load client invents its device ids, run after run: no bound on new ones.
  const std::string config = dir_.Sub("gateway-config.json");
  if (!(std::ofstream(config) << R"({"ingest":{"maxNewDevicesPerHour":0}})" << '\n'))
    return Status::IOError("cannot write " + config);
  const std::string urls = fmt::format("{}", fmt::join(cluster_->urls(), ","));
  while (static_cast<int>(gateways_.size()) > count) {
    const client::ExitStatus exit = gateways_.back()->Stop(SIGTERM);
    gateways_.pop_back();
    if (!exit.ok())
      return Status::Unavailable(
          fmt::format("gateway {} ended with {}", gateways_.size() + 1, exit.ToString()));
  }
  while (static_cast<int>(gateways_.size()) < count) {
    client::ServerProcess::Options options;
    // Each its own work dir: a ServerProcess names its ready file and log by its own count.
    options.work_dir = dir_.Sub(fmt::format("gw{}-run", gateways_.size() + 1));
    std::filesystem::create_directories(options.work_dir);
    options.parent_death_signal = SIGTERM;  // a dying bench stops its gateways cleanly
    auto& g = gateways_.emplace_back(std::make_unique<client::ServerProcess>(options));
    const std::string data = dir_.Sub(fmt::format("gw{}", gateways_.size()));
    if (Status s = g->Start(data,
                            {"--role", "gateway", "--nats", urls, "--log-level",
                             gateway_log_level_, "--config", config},
                            kGatewayReadyTimeout);
        !s.ok())
      return Status::Unavailable(fmt::format("gateway {}: {}\n{}", gateways_.size(),
                                             s.ToString(), g->Log()));
  }
  return Status::Ok();
}

std::string BenchCluster::StopGateways() {
  std::string problems;
  for (size_t i = 0; i < gateways_.size(); ++i) {
    if (!gateways_[i]->running()) continue;
    const client::ExitStatus exit = gateways_[i]->Stop(SIGTERM);
    if (!exit.ok()) problems += fmt::format("gateway {} ended with {}; ", i + 1, exit.ToString());
  }
  gateways_.clear();
  return problems;
}

std::vector<client::Endpoint> BenchCluster::gateway_endpoints() const {
  std::vector<client::Endpoint> out;
  for (const auto& g : gateways_) out.push_back(g->endpoint());
  return out;
}

std::vector<pid_t> BenchCluster::gateway_pids() const {
  std::vector<pid_t> out;
  for (const auto& g : gateways_) out.push_back(g->pid());
  return out;
}

std::vector<pid_t> BenchCluster::nats_pids() const {
  std::vector<pid_t> out;
  if (!cluster_) return out;
  for (int i = 0; i < cluster_->size(); ++i) out.push_back(cluster_->pid(i));
  return out;
}

BenchCluster::CatchUp BenchCluster::MeasureCatchUp() {
  CatchUp out;
  std::string leader;
  if (Status s = log_->StreamState(ingest::kEventsStream, &out.log_messages, &leader); !s.ok()) {
    out.error = "stream state: " + s.ToString();
    return out;
  }
  client::ServerProcess::Options options;
  options.work_dir = dir_.Sub("core-run");
  std::filesystem::create_directories(options.work_dir);
  client::ServerProcess core(options);
  const std::string urls = fmt::format("{}", fmt::join(cluster_->urls(), ","));
  const auto t0 = std::chrono::steady_clock::now();
  Status s = core.Start(dir_.Sub("core"),
                        {"--role", "core", "--nats", urls, "--log-level", gateway_log_level_},
                        std::chrono::minutes(10));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    out.error = fmt::format("the core: {}\n{}", s.ToString(), core.Log());
    return out;
  }
  client::HttpResponse health;
  s = client::HttpCall(core.endpoint(), client::JsonRequest("GET", "/healthz"), &health);
  const size_t at = health.body.find("\"events\":");
  if (!s.ok() || health.status != 200 || at == std::string::npos)
    out.error = "the core's /healthz: " + (s.ok() ? health.body : s.ToString());
  else
    out.events = std::stoull(health.body.substr(at + 9));
  if (const client::ExitStatus exit = core.Stop(); !exit.ok() && out.error.empty())
    out.error = "the core ended with " + exit.ToString();
  return out;
}

}  // namespace yiwang::tools::bench
