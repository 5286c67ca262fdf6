// `yiwang bench ingest`: sensor-ingest throughput and ack latency of a real server, read
// against two baselines measured in the same run.
//
// One scenario = N connections, B events per frame, W frames in flight per connection, at the
// highest rate acks allow or at a fixed total rate. For each scenario the bench:
//
//   1. store_alone: opens a fresh EventStore in-process and drives it from N logical producers
//      (W requests of B events each in flight) on a small thread pool, as the server's I/O
//      threads do: the same group commit, WriteBatch and fsync, with no network and no decoding.
//   2. ws_echo: starts an in-process Beast WebSocket server with no storage that answers every
//      frame with an ack-sized frame, and drives it with the same client and settings.
//   3. ingest: spawns `yiwang serve` (this binary) on a fresh data dir and 127.0.0.1:0,
//      provisions a device token through the admin API (tools/bench_server.h), and drives
//      /ws/sensors with the same client. Server CPU comes from /proc/<pid>/stat, events per
//      fsync from its /metrics.
//
// The load client is tools/client/load_connection.h, a load run tools/bench_run.h (against the
// server: tools/bench_ingest_run.h), the baselines tools/bench_store_alone.h and
// tools/bench_echo.h.
//
// Before each scenario a probe times 300 small appends + fdatasync in the temp dir, and the
// ingest run reports the CPU time other processes took during its window: the disk and the
// cores are shared with whatever else runs on the machine, so read the results next to those.
//
// Each load run connects every connection, warms up, then measures for a fixed window: acks
// received inside the window count towards events/s, and each one adds one latency sample
// (frame sent -> its ack read; with --rate, from the frame's scheduled send time so that a
// stalled server is not hidden by the client sending less: no coordinated omission). Quantiles
// are exact (nearest rank over every sample). Every ack must report all B events accepted;
// anything else, and every failed connection, counts as an error.
//
// Output: one JSON line per scenario on stdout; progress on stderr.
//
// Threading: the main thread drives the phases and takes the snapshots at the window's edges.
// The load client runs on its own io_context (--client-threads threads, one strand per
// connection); the echo server on another; store_alone's producers on a thread pool, each on
// its own strand. Per-connection statistics are touched only on that connection's strand and
// read by the main thread after the client's threads are joined.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/bench_echo.h"
#include "tools/bench_ingest_run.h"
#include "tools/bench_run.h"
#include "tools/bench_server.h"
#include "tools/bench_store_alone.h"
#include "tools/commands.h"
#include "tools/json_line.h"

namespace yiwang::tools {
namespace {

using namespace bench;  // the benchmarks' shared plumbing (tools/bench_run.h, ...)

// The scenarios of --all and their targets (for a 2-core machine; docs/benchmarks.md).
constexpr int kSmallFrameConnections = 200;
constexpr int kSmallFrameBatch = 1;
constexpr int kSmallFrameInflight = 1;  // a sensor waits for its ack before the next reading
constexpr double kSmallFrameTargetEventsPerS = 20000;
constexpr double kSmallFrameTargetAckP99Ms = 10;
constexpr int kGatewayConnections = 20;
constexpr int kGatewayBatch = 100;
constexpr int kGatewayInflight = 4;  // a gateway pipelines its buffered readings
constexpr double kGatewayTargetEventsPerS = 150000;
constexpr double kTargetRatioVsStore = 0.5;

struct IngestBenchOptions {
  LoadSettings load;
  bool all = false;        // run the target scenarios instead of the one given by the options
  bool baselines = true;   // also measure store_alone and ws_echo
  std::string server_url;  // drive this server instead of spawning one
  int server_pid = 0;      // with server_url: report its CPU time
  std::string token;       // with server_url: device token covering "bench-"
  std::string admin_token_file;  // with server_url: provision the device token with this
  std::string server_log_level = kDefaultServerLogLevel;
  // Also run each scenario against a server with --no-dispatcher and report the ratio (the
  // dispatcher's cost on ingest: judging every event and writing alarm states).
  bool dispatcher_baseline = false;
  bool no_dispatcher = false;  // the spawned server runs with --no-dispatcher
};

struct Scenario {
  std::string name;
  LoadSettings load;
  // Targets; unset ones are not checked.
  std::optional<double> target_events_per_s;
  std::optional<double> target_ack_p99_ms;
  std::optional<double> target_ratio_vs_store;
};

// The spawned server, or the one at options.server_url, as BenchServer takes it.
BenchServerOptions ServerOptions(const IngestBenchOptions& options) {
  BenchServerOptions server;
  server.server_url = options.server_url;
  server.server_pid = options.server_pid;
  server.admin_token_file = options.admin_token_file;
  server.device_token = options.token;
  server.log_level = options.server_log_level;
  if (options.no_dispatcher) server.extra_args.push_back("--no-dispatcher");
  return server;
}

struct ScenarioResult {
  std::optional<LatencySummary> fdatasync;
  IngestResult ingest;
  std::optional<IngestResult> no_dispatcher;  // the same load, server with --no-dispatcher
  std::optional<StoreAloneResult> store;
  std::optional<RunResult> echo;
};

std::optional<double> Ratio(double a, std::optional<double> b) {
  if (!b || *b <= 0) return std::nullopt;
  return a / *b;
}

// CPU time that neither the bench nor the server (if any) used during the window: other
// tenants of the machine. Unknown without the server's CPU time.
std::optional<double> OtherCpu(const RunResult& run, std::optional<double> server_cpu_s) {
  if (!run.machine_cpu_s || !server_cpu_s) return std::nullopt;
  return std::max(0.0, *run.machine_cpu_s - run.process_cpu_s - *server_cpu_s);
}
std::optional<double> OtherCpu(const RunResult& run) { return OtherCpu(run, 0.0); }

std::string ScenarioJson(const Scenario& sc, const ScenarioResult& r) {
  const RunResult& run = r.ingest.run;
  const LoadSettings& s = sc.load;
  std::optional<double> store_eps, echo_fps;
  if (r.store) store_eps = r.store->run.events_per_s();
  if (r.echo) echo_fps = r.echo->frames_per_s();
  const std::optional<double> ratio_store = Ratio(run.events_per_s(), store_eps);

  std::optional<bool> meets;
  auto check = [&](bool ok) { meets = meets.value_or(true) && ok; };
  if (sc.target_events_per_s) {
    // At a fixed rate the window counts the acks read inside it, so up to the frames in flight
    // at each edge fall on either side: 19,993 events/s at 20,000 offered is keeping up.
    const double edge = s.rate > 0 && run.window_s > 0
                            ? static_cast<double>(s.connections) * s.batch * s.inflight /
                                  run.window_s
                            : 0.0;
    check(run.events_per_s() >= *sc.target_events_per_s - edge);
  }
  if (sc.target_ack_p99_ms) check(run.latency.p99_ms <= *sc.target_ack_p99_ms);
  if (sc.target_ratio_vs_store) check(ratio_store && *ratio_store >= *sc.target_ratio_vs_store);
  if (meets) check(run.errors == 0);

  JsonLine j;
  j.Str("bench", "ingest")
      .Str("scenario", sc.name)
      .Int("connections", s.connections)
      .Int("batch", s.batch)
      .Int("inflight", s.inflight)
      .Num("rate", s.rate > 0 ? std::optional<double>(s.rate) : std::nullopt, 0)
      .Str("encoding", s.json_frames ? "json" : "protobuf")
      .Int("cores", std::thread::hardware_concurrency())
      .Num("duration_s", run.window_s, 3)
      .Num("events_per_s", run.events_per_s(), 0)
      .Num("frames_per_s", run.frames_per_s(), 0)
      .Num("ack_p50_ms", run.latency.p50_ms, 3)
      .Num("ack_p99_ms", run.latency.p99_ms, 3)
      .Num("ack_p999_ms", run.latency.p999_ms, 3)
      .Num("ack_max_ms", run.latency.max_ms, 3)
      .Num("events_per_fsync", r.ingest.events_per_fsync, 1)
      .Num("fsyncs_per_s", r.ingest.fsyncs_per_s, 0)
      .Num("server_cpu_s", r.ingest.server_cpu_s, 2)
      .Num("client_cpu_s", run.process_cpu_s, 2)
      .Num("other_cpu_s", OtherCpu(run, r.ingest.server_cpu_s), 2)
      .Int("errors", static_cast<int64_t>(run.errors));
  if (run.errors > 0) j.Str("first_error", run.first_error);
  j.Num("baseline_store_events_per_s", store_eps, 0)
      .Num("baseline_store_events_per_fsync",
           r.store ? r.store->events_per_fsync : std::nullopt, 1)
      .Num("baseline_store_p99_ms",
           r.store ? std::optional<double>(r.store->run.latency.p99_ms) : std::nullopt, 3)
      .Num("baseline_store_other_cpu_s", r.store ? OtherCpu(r.store->run) : std::nullopt, 2)
      .Num("baseline_ws_echo_frames_per_s", echo_fps, 0)
      .Num("baseline_ws_echo_p99_ms",
           r.echo ? std::optional<double>(r.echo->latency.p99_ms) : std::nullopt, 3)
      .Num("baseline_ws_echo_other_cpu_s", r.echo ? OtherCpu(*r.echo) : std::nullopt, 2)
      .Num("disk_fdatasync_p50_ms",
           r.fdatasync ? std::optional<double>(r.fdatasync->p50_ms) : std::nullopt, 3)
      .Num("disk_fdatasync_p99_ms",
           r.fdatasync ? std::optional<double>(r.fdatasync->p99_ms) : std::nullopt, 3)
      .Num("baseline_no_dispatcher_events_per_s",
           r.no_dispatcher ? std::optional<double>(r.no_dispatcher->run.events_per_s())
                           : std::nullopt, 0)
      .Num("baseline_no_dispatcher_p99_ms",
           r.no_dispatcher ? std::optional<double>(r.no_dispatcher->run.latency.p99_ms)
                           : std::nullopt, 3)
      .Num("ratio_vs_no_dispatcher",
           r.no_dispatcher ? Ratio(run.events_per_s(), r.no_dispatcher->run.events_per_s())
                           : std::nullopt, 3)
      .Num("ratio_vs_store", ratio_store, 3)
      .Num("ratio_vs_ws_echo", Ratio(run.frames_per_s(), echo_fps), 3)
      .Num("target_events_per_s", sc.target_events_per_s, 0)
      .Num("target_ack_p99_ms", sc.target_ack_p99_ms, 1)
      .Num("target_ratio_vs_store", sc.target_ratio_vs_store, 2)
      .Bool("meets_targets", meets);
  return j.Finish();
}

std::vector<Scenario> AllScenarios(const LoadSettings& base) {
  std::vector<Scenario> out;
  LoadSettings small = base;
  small.connections = kSmallFrameConnections;
  small.batch = kSmallFrameBatch;
  small.inflight = kSmallFrameInflight;
  small.rate = 0;
  // Single-reading sensors as fast as acks come back: the events/s target. Its p99 is printed
  // but not judged: with each connection sending as soon as its ack arrives, the latency is
  // the 200 frames in flight divided by the throughput (Little's law), whatever the target.
  out.push_back({"sensors_1_event_max", small, kSmallFrameTargetEventsPerS, std::nullopt,
                 std::nullopt});
  // The same fleet at exactly the target rate: the ack latency target at the target load.
  small.rate = kSmallFrameTargetEventsPerS;
  out.push_back({"sensors_1_event_at_target_rate", small, kSmallFrameTargetEventsPerS,
                 kSmallFrameTargetAckP99Ms, std::nullopt});
  LoadSettings gateways = base;
  gateways.connections = kGatewayConnections;
  gateways.batch = kGatewayBatch;
  gateways.inflight = kGatewayInflight;
  gateways.rate = 0;
  out.push_back({"gateways_100_events_max", gateways, kGatewayTargetEventsPerS, std::nullopt,
                 kTargetRatioVsStore});
  return out;
}

void Progress(const std::string& scenario, const std::string& what) {
  fmt::print(stderr, "bench ingest [{}]: {}\n", scenario, what);
}

// store_alone ignores the rate, so scenarios that differ only in rate share one measurement:
// (connections, batch, inflight) -> result.
using StoreAloneCache = std::vector<std::pair<std::tuple<int, int, int>, StoreAloneResult>>;

// The baselines of one scenario (store_alone, from *cache if measured already; ws_echo) into
// *r. False if one failed (said on stderr).
bool RunBaselines(const Scenario& sc, const std::string& tag, StoreAloneCache* cache,
                  ScenarioResult* r) {
  bool ok = true;
  Status st;
  const auto key = std::make_tuple(sc.load.connections, sc.load.batch, sc.load.inflight);
  auto cached =
      std::find_if(cache->begin(), cache->end(), [&](const auto& e) { return e.first == key; });
  if (cached != cache->end()) {
    r->store = cached->second;
  } else {
    Progress(sc.name, "baseline store_alone");
    StoreAloneResult store = RunStoreAlone(sc.load, tag, &st);
    if (!st.ok()) {
      Progress(sc.name, "store_alone failed: " + st.ToString());
      ok = false;
    } else {
      r->store = store;
      cache->emplace_back(key, store);
    }
  }
  Progress(sc.name, "baseline ws_echo");
  RunResult echo = RunWsEcho(sc.load, tag, &st);
  if (!st.ok()) {
    Progress(sc.name, "ws_echo failed: " + st.ToString());
    ok = false;
  } else {
    r->echo = echo;
  }
  return ok;
}

// One scenario: the disk probe, the baselines, the ingest run (and the --no-dispatcher one);
// prints its JSON line unless the ingest run failed. Returns the exit code it earns (0 or 1).
int RunScenario(const IngestBenchOptions& options, const Scenario& sc, const std::string& tag,
                StoreAloneCache* cache) {
  int exit_code = 0;
  ScenarioResult r;
  Status st;
  Progress(sc.name, "disk fdatasync probe");
  LatencySummary fdatasync = ProbeFdatasync(&st);
  if (st.ok()) {
    r.fdatasync = fdatasync;
  } else {
    Progress(sc.name, "fdatasync probe failed: " + st.ToString());
  }
  if (options.baselines && !RunBaselines(sc, tag, cache, &r)) exit_code = 1;
  Progress(sc.name, options.server_url.empty() ? "ingest (spawned server)"
                                               : "ingest (" + options.server_url + ")");
  r.ingest = RunIngest(ServerOptions(options), sc.load, tag, &st);
  if (!st.ok()) {
    Progress(sc.name, "ingest failed: " + st.ToString());
    return 1;
  }
  if (options.dispatcher_baseline && options.server_url.empty()) {
    Progress(sc.name, "baseline ingest with --no-dispatcher");
    IngestBenchOptions off = options;
    off.no_dispatcher = true;
    IngestResult base = RunIngest(ServerOptions(off), sc.load, tag + "n", &st);
    if (st.ok()) {
      r.no_dispatcher = base;
    } else {
      Progress(sc.name, "no-dispatcher baseline failed: " + st.ToString());
      exit_code = 1;
    }
  }
  fmt::print("{}\n", ScenarioJson(sc, r));
  std::fflush(stdout);
  return exit_code;
}

int RunIngestBench(const IngestBenchOptions& options) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  if (!options.server_url.empty() && options.token.empty() && options.admin_token_file.empty()) {
    fmt::print(stderr, "bench ingest: --server-url needs --token or --admin-token-file\n");
    return 2;
  }
  std::vector<Scenario> scenarios;
  if (options.all) {
    scenarios = AllScenarios(options.load);
  } else {
    const LoadSettings& s = options.load;
    scenarios.push_back({fmt::format("c{}_b{}_w{}_{}", s.connections, s.batch, s.inflight,
                                     s.rate > 0 ? fmt::format("r{:.0f}", s.rate) : "max"),
                         s, std::nullopt, std::nullopt, std::nullopt});
  }
  const std::string run_tag = RunTag();
  StoreAloneCache store_cache;
  int exit_code = 0;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    if (RunScenario(options, scenarios[i], fmt::format("{}{}", run_tag, i), &store_cache) != 0)
      exit_code = 1;
  }
  return exit_code;
}

}  // namespace

CLI::App* AddBenchCommand(CLI::App& app, int* exit_code) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print one JSON line per scenario");
  bench->require_subcommand(1);
  AddBenchDispatchCommand(bench, exit_code);
  AddBenchSoakCommand(bench, exit_code);
  AddBenchClusterCommand(bench, exit_code);

  auto opts = std::make_shared<IngestBenchOptions>();
  LoadSettings& load = opts->load;
  auto* ingest = bench->add_subcommand(
      "ingest",
      "Sensor ingest over WebSocket against a spawned server, with same-run baselines "
      "(store alone, WebSocket echo); see docs/benchmarks.md");
  ingest->add_option("--connections", load.connections, "WebSocket connections")
      ->check(CLI::Range(1, kMaxConnections))
      ->capture_default_str();
  ingest->add_option("--batch", load.batch, "Events per frame")
      ->check(CLI::Range(1, kMaxBatch))
      ->capture_default_str();
  ingest->add_option("--inflight", load.inflight, "Frames in flight (sent, not acked) per connection")
      ->check(CLI::Range(1, kMaxInflight))
      ->capture_default_str();
  ingest->add_option("--rate", load.rate, "Total events/s (0: as fast as acks come back)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  ingest->add_option("--duration-s", load.duration_s, "Measured window, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  ingest->add_option("--warmup-s", load.warmup_s, "Warm-up before the window, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  ingest->add_flag("--json-frames", load.json_frames,
                   "Send text frames (canonical JSON) instead of binary protobuf");
  ingest->add_option("--client-threads", load.client_threads, "I/O threads of the load client")
      ->check(CLI::Range(1, kMaxClientThreads))
      ->capture_default_str();
  ingest->add_flag("--all", opts->all,
                   "Run the target scenarios (200 x 1 event at max and at 20,000 events/s; "
                   "20 x 100 events); keeps --duration-s, --warmup-s, --json-frames, "
                   "--client-threads");
  ingest->add_flag("!--no-baselines", opts->baselines, "Skip the store_alone and ws_echo runs");
  ingest->add_flag("--dispatcher-baseline", opts->dispatcher_baseline,
                   "Also run each scenario against a server with --no-dispatcher (ratio)");
  auto* url = ingest->add_option("--server-url", opts->server_url,
                                 "Drive this running server (http://HOST:PORT) instead of "
                                 "spawning one");
  ingest->add_option("--server-pid", opts->server_pid,
                     "With --server-url: its process id, to report its CPU time")
      ->needs(url);
  ingest->add_option("--token", opts->token, "With --server-url: device token covering bench-")
      ->needs(url);
  ingest->add_option("--admin-token-file", opts->admin_token_file,
                     "With --server-url: provision a device token with this admin token")
      ->needs(url);
  ingest->add_option("--server-log-level", opts->server_log_level,
                     "Log level of the spawned server")
      ->capture_default_str();
  ingest->callback([opts, exit_code] { *exit_code = RunIngestBench(*opts); });
  return bench;
}

}  // namespace yiwang::tools
