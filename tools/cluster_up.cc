// `yiwang cluster up` (`make cluster`): a whole cluster on loopback, for a newcomer, as `make run`
// is the single process: three nats-servers, `cluster init`, gateways and cores as child
// processes of this one (their logs in DIR), a device token made at the first core for the demo
// fleet, and the fleet itself over every gateway. Run again on the same DIR, it starts the same
// cluster again (the log, the cores' stores and the demo users' passwords are kept).

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/file.h"
#include "tools/client/nats_cluster.h"
#include "tools/client/provision.h"
#include "tools/client/server_process.h"
#include "tools/cluster.h"
#include "tools/sim.h"

namespace yiwang::tools {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_up_stop{false};
void OnUpSignal(int) { g_up_stop.store(true); }

using Servers = std::vector<std::unique_ptr<client::ServerProcess>>;

// Starts `count` servers of `role` on DIR/<role><i>, with `args`; false (said why) if one
// did not become ready.
bool StartRole(const ClusterUpOptions& o, const std::string& role, int count,
               const std::vector<std::string>& args, Servers* out) {
  for (int i = 1; i <= count; ++i) {
    // Each server's ready file and log (server-1.log) in a folder of its own.
    client::ServerProcess::Options options;
    options.work_dir = fmt::format("{}/logs/{}{}", o.dir, role, i);
    fs::create_directories(options.work_dir);
    auto& p = out->emplace_back(std::make_unique<client::ServerProcess>(options));
    const std::string data = fmt::format("{}/{}{}", o.dir, role, i);
    // The cores' demo users get the first core's passwords (each core keeps its own accounts
    // until commands travel in the log).
    if (role == "core" && i > 1 && !fs::exists(data + "/demo-users.txt")) {
      fs::create_directories(data);
      fs::copy_file(o.dir + "/core1/demo-users.txt", data + "/demo-users.txt");
    }
    if (Status s = p->Start(data, args, std::chrono::seconds(120)); !s.ok()) {
      std::cerr << fmt::format("{} {}: {}\n{}\n", role, i, s.ToString(), p->Log());
      return false;
    }
  }
  return true;
}

std::string Urls(const Servers& servers) {
  std::vector<std::string> urls;
  for (const auto& s : servers) urls.push_back(fmt::format("http://127.0.0.1:{}", s->port()));
  return fmt::format("{}", fmt::join(urls, ","));
}

void PrintBanner(const ClusterUpOptions& o, const client::NatsCluster& nats,
                 const Servers& gateways, const Servers& cores) {
  std::cout << "\nYiwang cluster on loopback (docs/cluster.md):\n";
  std::cout << fmt::format("  log        {} (3 nats-servers, R3)\n", fmt::join(nats.urls(), " "));
  for (size_t i = 0; i < gateways.size(); ++i)
    std::cout << fmt::format("  gateway {}  ws://127.0.0.1:{}/ws/sensors\n", i + 1,
                             gateways[i]->port());
  for (size_t i = 0; i < cores.size(); ++i)
    std::cout << fmt::format("  core {}     http://127.0.0.1:{}/  (console, API)\n", i + 1,
                             cores[i]->port());
  std::cout << fmt::format("  admin token (every core): {}/admin.token; logs in {}/logs/\n",
                           o.dir, o.dir);
  std::cout << "  demo users (each core; role, name, password):\n";
  std::ifstream users(o.dir + "/core1/demo-users.txt");
  for (std::string name, password; users >> name >> password;)
    std::cout << fmt::format("    {:<13} {}\n", name, password);
  std::cout << fmt::format("  the demo fleet: {} devices over the gateways. Ctrl-C stops all.\n\n",
                           o.devices);
}

// The demo fleet's device token, made at the first core (a new one each run).
bool FleetToken(const ClusterUpOptions& o, const Servers& cores, std::string* token) {
  std::string admin;
  if (!ReadFirstLine(o.dir + "/admin.token", &admin).ok()) {
    std::cerr << o.dir << "/admin.token is missing: run `yiwang cluster init "
              << "--rotate-admin-token --admin-token-out " << o.dir << "/admin.token ...`\n";
    return false;
  }
  const Status s = client::ProvisionDeviceToken(
      cores[0]->endpoint(), admin, client::UniqueTokenName("demo-fleet"), "sim-", token);
  if (!s.ok()) std::cerr << "the demo fleet's device token: " << s.ToString() << "\n";
  return s.ok();
}

}  // namespace

int RunClusterUp(const ClusterUpOptions& o) {
  fs::create_directories(o.dir + "/nats");
  client::NatsCluster nats(o.dir + "/nats");
  if (Status s = nats.Start(); !s.ok()) {
    std::cerr << "nats-servers: " << s.ToString() << "\n";
    return 1;
  }
  const std::string urls = fmt::format("{}", fmt::join(nats.urls(), ","));
  if (int rc = RunClusterInit({.nats = urls, .admin_token_out = o.dir + "/admin.token"}); rc != 0)
    return rc;
  Servers gateways, cores;
  const std::vector<std::string> common = {"--nats", urls, "--log-level", o.log_level};
  std::vector<std::string> gateway_args = {"--role", "gateway"}, core_args = {"--role", "core",
                                                                                "--demo"};
  gateway_args.insert(gateway_args.end(), common.begin(), common.end());
  core_args.insert(core_args.end(), common.begin(), common.end());
  if (!StartRole(o, "gateway", o.gateways, gateway_args, &gateways) ||
      !StartRole(o, "core", o.cores, core_args, &cores))
    return 1;
  SimOptions sim;
  if (!FleetToken(o, cores, &sim.token)) return 1;
  sim.url = Urls(gateways);
  sim.devices = o.devices;
  sim.log_level = "warn";
  PrintBanner(o, nats, gateways, cores);

  std::signal(SIGINT, OnUpSignal);
  std::signal(SIGTERM, OnUpSignal);
  std::thread fleet([&sim] { RunSim(sim, g_up_stop); });
  while (!g_up_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  fleet.join();
  for (auto& g : gateways) g->Stop();
  for (auto& c : cores) c->Stop();
  std::cout << "stopped\n";
  return 0;
}

}  // namespace yiwang::tools
