// `yiwang sim`: a simulated sensor fleet across Chongqing, talking to /ws/sensors like real
// gateways do. This file runs it: options, the device token, the gateway threads, a summary
// every ten seconds, the stop. The fleet (which devices, where) is tools/sim_fleet.h, their
// readings tools/sim_readings.h, the delivery tools/sim_gateway.h.

#include "tools/sim.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/file.h"
#include "base/split.h"
#include "tools/client/endpoint.h"
#include "tools/client/provision.h"
#include "tools/commands.h"
#include "tools/sim_fleet.h"
#include "tools/sim_gateway.h"

namespace yiwang::tools {

namespace {

using namespace sim;  // the simulator's parts (tools/sim_*.h)

// Exit codes of RunSim.
constexpr int kExitOk = 0;
constexpr int kExitNeverConnected = 1;  // no gateway ever got through (server down, wrong URL)
constexpr int kExitUsage = 2;           // bad options or unreadable token file
constexpr int kExitTokenRefused = 3;    // the device (or admin) token was refused

// Option bounds.
constexpr int kMaxDevices = 1000000;
constexpr int kMaxGateways = 1000;  // one thread each
constexpr double kMaxIntervalS = 86400;

constexpr milliseconds kHaltGrace{1500};  // after the gateways' drain: abandon what is pending
constexpr std::chrono::seconds kSummaryEvery{10};

// Resolves the device token from the options. Returns kExitOk or the exit code to give up with.
int ObtainToken(const SimOptions& o, const client::Endpoint& server, const std::atomic<bool>& stop,
                spdlog::logger& log, std::string* token) {
  const int sources = !o.token.empty() + !o.token_file.empty() + !o.admin_token_file.empty();
  if (sources != 1) {
    log.error(sources == 0 ? "no device token: give --token, --token-file or --admin-token-file"
                           : "give only one of --token, --token-file, --admin-token-file");
    return kExitUsage;
  }
  if (!o.token.empty()) {
    *token = o.token;
    return kExitOk;
  }
  if (!o.token_file.empty()) {
    if (ReadFirstLine(o.token_file, token).ok()) return kExitOk;
    log.error("cannot read a token from {}", o.token_file);
    return kExitUsage;
  }
  std::string admin;
  if (!ReadFirstLine(o.admin_token_file, &admin).ok()) {
    log.error("cannot read a token from {}", o.admin_token_file);
    return kExitUsage;
  }
  // The server may still be starting: retry unreachable for up to connect_timeout_s.
  const auto give_up = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                std::chrono::duration<double>(o.connect_timeout_s));
  milliseconds backoff = kBackoffMin;
  for (int attempt = 1;; ++attempt) {
    // Token names are unique on the server: each run names its own.
    const std::string name = client::UniqueTokenName("sim");
    Status s = client::ProvisionDeviceToken(server, admin, name, "sim-", token);
    if (s.ok()) {
      log.info("provisioned a device token (name \"{}\", prefix \"sim-\")", name);
      return kExitOk;
    }
    if (s.code() != Status::Code::kIOError) {
      log.error("provisioning a device token: {}", s.message());
      return kExitTokenRefused;
    }
    if (attempt == 1) log.warn("provisioning a device token: {}; retrying", s.message());
    const auto wake = SteadyClock::now() + backoff;
    if (o.connect_timeout_s > 0 && wake >= give_up) {
      log.error("cannot reach {} to provision a device token: {}", server.HostHeader(),
                s.message());
      return kExitNeverConnected;
    }
    while (SteadyClock::now() < wake) {
      if (stop.load()) return kExitNeverConnected;
      std::this_thread::sleep_for(kIdleSlice);
    }
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

std::shared_ptr<spdlog::logger> SimLogger() {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto l = spdlog::get("sim")) return l;
  return spdlog::stderr_color_mt("sim");
}

std::string Summary(const Stats& s) {
  return fmt::format(
      "sent {} (resent {}), accepted {}, duplicates {}, rejected {}, unacked {}, reconnects {}",
      s.sent.load(), s.resent.load(), s.accepted.load(), s.duplicates.load(), s.rejected.load(),
      s.unacked(), s.reconnects.load());
}

SteadyClock::duration Seconds(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
}

// Checks the options and picks the districts. kExitOk, or the exit code to give up with.
int CheckOptions(const SimOptions& o, spdlog::logger& log, std::vector<District>* districts,
                 bool* all_districts) {
  if (o.devices < 1 || o.devices > kMaxDevices || o.gateways < 1 || o.gateways > kMaxGateways ||
      !(o.interval_s > 0) || !(o.rate >= 0) || !(o.duration_s >= 0) || !(o.anomaly_scale >= 0) ||
      !(o.connect_timeout_s >= 0)) {
    log.error(
        "want 1 <= --devices <= {}, 1 <= --gateways <= {}, --interval-s > 0 and --rate, "
        "--duration-s, --anomaly-scale, --connect-timeout-s >= 0",
        kMaxDevices, kMaxGateways);
    return kExitUsage;
  }
  std::vector<std::string> unplaced;
  const std::vector<District> all = AllDistricts(&unplaced);
  for (const auto& code : unplaced)
    log.warn("district {} has no known centre: no devices there", code);
  std::string error;
  if (!ParseDistricts(o.districts, all, districts, &error)) {
    log.error("{}", error);
    return kExitUsage;
  }
  *all_districts = districts->size() == all.size();
  return kExitOk;
}

// Logs what the fleet is.
void DescribeFleet(const SimOptions& o, const std::vector<Device>& fleet,
                   const std::vector<District>& districts, bool all_districts, int gateways,
                   double interval_s, double per_device_events, spdlog::logger& log) {
  std::array<int, 3> kinds{0, 0, 0};
  for (const Device& d : fleet) ++kinds[static_cast<int>(d.kind)];
  std::string names;
  if (all_districts) {
    names = "all of Chongqing";
  } else {
    for (const District& d : districts) names += (names.empty() ? "" : " ") + d.name;
  }
  log.info(
      "{} devices ({} manhole covers, {} septic tanks, {} ancient trees) in {} districts ({}), "
      "{} gateways to {}, every {:.2f} s each, ~{:.1f} events/s, {} frames, seed {}",
      o.devices, kinds[static_cast<int>(Kind::kCover)], kinds[static_cast<int>(Kind::kSeptic)],
      kinds[static_cast<int>(Kind::kTree)], districts.size(), names, gateways, o.url, interval_s,
      o.devices * per_device_events / interval_s, o.json ? "JSON" : "protobuf", o.seed);
}

// Until the duration passes, `stop` rises, the token is refused or no gateway ever connects;
// logs a summary every kSummaryEvery. Returns kExitOk or the exit code to end with.
int Supervise(const SimOptions& o, const Shared& shared, int gateways,
              const std::atomic<bool>& stop, spdlog::logger& log) {
  const Stats& stats = shared.stats;
  const auto start = shared.clock.steady_start;
  auto next_summary = start + kSummaryEvery;
  uint64_t last_accepted = 0;
  for (;;) {
    std::this_thread::sleep_for(kIdleSlice);
    const auto now = SteadyClock::now();
    if (stop.load()) return kExitOk;
    if (o.duration_s > 0 && now - start >= Seconds(o.duration_s)) return kExitOk;
    if (stats.token_refused.load()) return kExitTokenRefused;
    if (o.connect_timeout_s > 0 && !stats.ever_connected.load() &&
        now - start >= Seconds(o.connect_timeout_s)) {
      log.error("no gateway could connect to {} within {} s: giving up", o.url,
                o.connect_timeout_s);
      return kExitOk;  // kExitNeverConnected, from ever_connected, at the end
    }
    if (now >= next_summary) {
      const uint64_t accepted = stats.accepted.load();
      log.info("{}; {}/{} gateways up; {:.1f} accepted/s", Summary(stats), stats.connected.load(),
               gateways,
               static_cast<double>(accepted - last_accepted) /
                   std::chrono::duration<double>(kSummaryEvery).count());
      last_accepted = accepted;
      next_summary += kSummaryEvery;
    }
  }
}

}  // namespace

int RunSim(const SimOptions& o, const std::atomic<bool>& stop) {
  auto log = SimLogger();
  if (!o.log_level.empty()) log->set_level(spdlog::level::from_str(o.log_level));
  std::vector<District> districts;
  bool all_districts = false;
  if (int rc = CheckOptions(o, *log, &districts, &all_districts); rc != kExitOk) return rc;
  auto shared = std::make_unique<Shared>();
  for (const std::string& url : SplitList(o.url)) {
    client::Endpoint& server = shared->servers.emplace_back();
    if (!client::ParseUrl(url, &server).ok()) {
      log->error("--url wants http://HOST:PORT[,http://HOST:PORT...], got '{}'", o.url);
      return kExitUsage;
    }
  }
  if (shared->servers.empty()) {
    log->error("--url is empty");
    return kExitUsage;
  }
  if (int rc = ObtainToken(o, shared->servers[0], stop, *log, &shared->token); rc != kExitOk)
    return rc;

  // With --rate the interval follows from it: `rate` counts every event, health reports too.
  const double per_device_events = 1.0 + 1.0 / kHealthEveryReports;
  const double interval_s = o.rate > 0 ? o.devices * per_device_events / o.rate : o.interval_s;
  if (interval_s > kMaxIntervalS) {
    log->error("each device would report every {:.0f} s; at most {:.0f} s is supported", interval_s,
               kMaxIntervalS);
    return kExitUsage;
  }
  shared->binary = !o.json;
  shared->clock = {.steady_start = SteadyClock::now(),
                   .sys_start = SysClock::now(),
                   .interval = Seconds(interval_s),
                   .anomaly_scale = o.anomaly_scale};
  shared->log = log;

  std::vector<Device> fleet = MakeFleet(o.devices, districts, o.seed, shared->clock.steady_start,
                                        shared->clock.interval);
  const int gateways = std::min(o.gateways, o.devices);
  DescribeFleet(o, fleet, districts, all_districts, gateways, interval_s, per_device_events, *log);
  std::vector<std::vector<Device>> parts(gateways);
  for (size_t i = 0; i < fleet.size(); ++i) parts[i % gateways].push_back(std::move(fleet[i]));
  std::vector<std::unique_ptr<Gateway>> gws;
  std::vector<std::thread> threads;
  for (int g = 0; g < gateways; ++g) {
    gws.push_back(std::make_unique<Gateway>(g, std::move(parts[g]), shared.get()));
    threads.emplace_back([gw = gws.back().get()] { gw->Run(); });
  }

  int rc = Supervise(o, *shared, gateways, stop, *log);

  // Stop: gateways flush what they hold for up to a second, then everything is abandoned.
  shared->finish.store(true);
  const auto halt_at = SteadyClock::now() + kHaltGrace;
  while (SteadyClock::now() < halt_at &&
         !std::all_of(gws.begin(), gws.end(), [](const auto& g) { return g->done(); }))
    std::this_thread::sleep_for(milliseconds(10));
  shared->halt.store(true);
  for (auto& t : threads) t.join();

  const Stats& stats = shared->stats;
  if (rc == kExitOk && !stats.ever_connected.load()) rc = kExitNeverConnected;
  const double elapsed =
      std::chrono::duration<double>(SteadyClock::now() - shared->clock.steady_start).count();
  log->info("finished after {:.1f} s: generated {}, {}, flagged {}, dropped {}, frames {}{}",
            elapsed, stats.generated.load(), Summary(stats), stats.flagged.load(),
            stats.dropped.load(), stats.frames.load(),
            rc == kExitOk ? "" : fmt::format(" (exit {})", rc));
  return rc;
}

namespace {
// SIGINT/SIGTERM of `yiwang sim` (lock-free, so safe to set from a signal handler).
std::atomic<bool> g_sim_stop{false};
void OnSimSignal(int) { g_sim_stop.store(true); }
}  // namespace

CLI::App* AddSimCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<SimOptions>();
  auto* s = app.add_subcommand("sim", "Run a simulated sensor fleet against a server");
  s->add_option("--url", opts->url,
                "Server URL (a ready file's content works); a cluster's gateways: URL,URL,... "
                "(each connection starts at one and moves to the next when it fails)")
      ->capture_default_str();
  s->add_option("--token", opts->token, "Device token (its prefix must cover \"sim-\")");
  s->add_option("--token-file", opts->token_file, "Read the device token from this file");
  s->add_option("--admin-token-file", opts->admin_token_file,
                "Provision a device token (prefix \"sim-\") with the admin token in this file");
  s->add_option("--devices", opts->devices, "Simulated devices")->capture_default_str();
  s->add_option("--rate", opts->rate, "Total events/s (0: every device reports each interval)")
      ->capture_default_str();
  s->add_option("--interval-s", opts->interval_s, "Reporting interval per device when rate is 0")
      ->capture_default_str();
  s->add_option("--duration-s", opts->duration_s,
                "Stop after this many seconds (0: run until "
                "SIGINT/SIGTERM)")
      ->capture_default_str();
  s->add_option("--seed", opts->seed, "Seed of places, baselines and anomalies")
      ->capture_default_str();
  s->add_option("--districts", opts->districts,
                "\"core\" (nine central districts), \"all\" (38), or codes \"500105,500106\"")
      ->capture_default_str();
  s->add_option("--gateways", opts->gateways, "WebSocket connections the devices share")
      ->capture_default_str();
  s->add_flag("--json", opts->json, "Send JSON text frames instead of binary protobuf");
  s->add_option("--anomaly-scale", opts->anomaly_scale,
                "Multiplies anomaly rates (gas episodes, covers, leaning trees); 0: none")
      ->capture_default_str();
  s->add_option("--connect-timeout-s", opts->connect_timeout_s,
                "Give up (exit 1) if no gateway connects within this time; 0: keep trying")
      ->capture_default_str();
  s->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  s->callback([opts, exit_code] {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    struct sigaction sa {};
    sa.sa_handler = OnSimSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    *exit_code = RunSim(*opts, g_sim_stop);
  });
  return s;
}

}  // namespace yiwang::tools
