// `yiwang bench cluster`: sensor ingest through cluster mode's gateways on this machine, beside
// the single process in the same run (issue 15; docs/benchmarks.md, "Cluster mode").
//
// For each scenario (100-event frames from 20 connections x 4 in flight; 1-event frames from
// 200 connections x 1 in flight) the bench measures, with the load client of `bench ingest`
// (tools/bench_run.h):
//
//   1. the single process: `yiwang serve --no-dispatcher` spawned as `bench ingest` spawns it
//      (tools/bench_ingest_run.h): events/s, ack latency, its CPU per event;
//   2. then, on a three-node nats cluster it starts in a fresh temp dir with the events stream
//      and a device token in place (tools/bench_cluster_setup.h), 1 gateway and then 2
//      (`serve --role gateway`), the load's connections spread over them: events/s, ack
//      latency, CPU per event of each gateway and of the nats-servers together, and how many
//      events the gateways packed into one log message.
//
// CPU figures are utime + stime (/proc/PID/stat) over the measured window divided by the events
// acked in it. Every process shares this machine's cores, so the figures say what each role
// costs, not what a cluster of separate machines would do.
//
// Output: one JSON line per run on stdout, progress and, at the end, a table of every run on
// stderr. Exit code 1 if any run had an error or acked no event (`make test` runs a short form).
//
// Threading: the main thread drives the phases and takes the snapshots at the window's edges;
// RunLoad runs the load client on its own threads.

#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/bench_cluster_report.h"
#include "tools/bench_cluster_setup.h"
#include "tools/bench_ingest_run.h"
#include "tools/bench_run.h"
#include "tools/client/metrics_scrape.h"
#include "tools/client/nats_cluster.h"
#include "tools/commands.h"
#include "tools/json_line.h"

namespace yiwang::tools {
namespace {

using namespace bench;  // the benchmarks' shared plumbing (tools/bench_run.h, ...)

struct Scenario {
  const char* name;
  int connections;
  int batch;
  int inflight;
};

// As `bench ingest --all` names them: what a gateway of sensors sends (many events a frame,
// pipelined), and single sensors that wait for each ack.
constexpr std::array<Scenario, 2> kScenarios = {{
    {"gateways_100_events_max", 20, 100, 4},
    {"sensors_1_event_max", 200, 1, 1},
}};

struct ClusterBenchOptions {
  std::vector<std::string> scenarios = {kScenarios[0].name, kScenarios[1].name};
  std::vector<int> gateways = {1, 2};  // each count, in this order
  bool single = true;                  // also the single process
  bool catch_up = true;                // then an empty core applies the whole log
  LoadSettings load;                   // the window, warm-up and client threads
  std::string server_log_level = kDefaultServerLogLevel;
};

void Progress(const std::string& scenario, const std::string& what) {
  fmt::print(stderr, "bench cluster [{}]: {}\n", scenario, what);
}

// A run of `sc` through `gateways` gateways (0: the single process), not measured yet.
ClusterRun NewRun(const ClusterBenchOptions& options, const Scenario& sc, int gateways) {
  ClusterRun r;
  r.scenario = sc.name;
  r.gateways = gateways;
  r.load = options.load;
  r.load.connections = sc.connections;
  r.load.batch = sc.batch;
  r.load.inflight = sc.inflight;
  r.load.rate = 0;
  return r;
}

// Prints the run's JSON line at once (a long bench shows its figures as it goes).
void Emit(const ClusterRun& r) {
  fmt::print("{}\n", ClusterRunJson(r));
  std::fflush(stdout);
  if (r.failed())
    Progress(r.scenario, r.run.errors > 0 ? "errors: " + r.run.first_error : "no event acked");
}

// The single process, without the dispatcher: what a gateway replaces is its ingest.
ClusterRun RunSingle(const ClusterBenchOptions& options, const Scenario& sc,
                     const std::string& tag) {
  BenchServerOptions server;
  server.log_level = options.server_log_level;
  server.extra_args.push_back("--no-dispatcher");
  ClusterRun r = NewRun(options, sc, 0);
  Status st;
  IngestResult ingest = RunIngest(server, r.load, tag, &st);
  r.run = std::move(ingest.run);
  if (!st.ok()) AddError(&r.run, "the single process: " + st.ToString());
  r.server_cpu_s = ingest.server_cpu_s;
  r.events_per_fsync = ingest.events_per_fsync;
  return r;
}

// What the cluster's processes had spent at one edge of the window.
struct ClusterSnapshot {
  std::vector<std::optional<double>> gateway_cpu_s;
  std::vector<std::optional<double>> gateway_events;    // packed into log messages
  std::vector<std::optional<double>> gateway_messages;  // log messages sent
  std::optional<double> nats_cpu_s;
};

ClusterSnapshot TakeSnapshot(const BenchCluster& cluster) {
  ClusterSnapshot s;
  for (pid_t pid : cluster.gateway_pids()) s.gateway_cpu_s.push_back(ProcessCpuSeconds(pid));
  for (const client::Endpoint& gateway : cluster.gateway_endpoints()) {
    client::MetricsScrape metrics;
    const bool ok = client::ScrapeMetrics(gateway, &metrics).ok();
    s.gateway_events.push_back(ok ? metrics.Get("yiwang_gateway_events_per_message_sum")
                                  : std::nullopt);
    s.gateway_messages.push_back(ok ? metrics.Get("yiwang_gateway_events_per_message_count")
                                    : std::nullopt);
  }
  s.nats_cpu_s = 0.0;
  for (pid_t pid : cluster.nats_pids()) {
    const std::optional<double> cpu = ProcessCpuSeconds(pid);
    s.nats_cpu_s = cpu && s.nats_cpu_s ? std::optional<double>(*s.nats_cpu_s + *cpu)
                                       : std::nullopt;
  }
  return s;
}

std::optional<double> Delta(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

// The load spread over the running gateways.
ClusterRun RunGateways(const ClusterBenchOptions& options, const BenchCluster& cluster,
                       const Scenario& sc, const std::string& tag) {
  std::vector<LoadTarget> targets;
  for (const client::Endpoint& gateway : cluster.gateway_endpoints())
    targets.push_back({.host = gateway.host,
                       .port = gateway.port,
                       .token = cluster.device_token(),
                       .run_tag = tag});
  ClusterRun r = NewRun(options, sc, static_cast<int>(targets.size()));
  ClusterSnapshot s0, s1;
  r.run = RunLoad(targets, r.load, [&] { s0 = TakeSnapshot(cluster); },
                  [&] { s1 = TakeSnapshot(cluster); });
  double messages = 0;
  bool have_messages = true;
  for (size_t i = 0; i < targets.size(); ++i) {
    r.gateway_cpu_s.push_back(Delta(s0.gateway_cpu_s[i], s1.gateway_cpu_s[i]));
    r.gateway_events.push_back(Delta(s0.gateway_events[i], s1.gateway_events[i]));
    const std::optional<double> m = Delta(s0.gateway_messages[i], s1.gateway_messages[i]);
    have_messages = have_messages && m;
    messages += m.value_or(0);
  }
  if (have_messages) r.log_messages = messages;
  r.nats_cpu_s = Delta(s0.nats_cpu_s, s1.nats_cpu_s);
  return r;
}

// Every scenario through `count` gateways (started as needed) on the running cluster.
void RunCluster(const ClusterBenchOptions& options, const std::vector<Scenario>& scenarios,
                BenchCluster& cluster, int count, const std::string& tag,
                std::vector<ClusterRun>* runs) {
  const std::string setup = fmt::format("{} gateway(s)", count);
  if (Status s = cluster.StartGateways(count); !s.ok()) {
    for (const Scenario& sc : scenarios) {
      ClusterRun r = NewRun(options, sc, count);
      AddError(&r.run, "starting the gateways: " + s.ToString());
      runs->push_back(r);
      Emit(r);
    }
    return;
  }
  for (size_t i = 0; i < scenarios.size(); ++i) {
    Progress(scenarios[i].name, setup);
    runs->push_back(RunGateways(options, cluster, scenarios[i],
                                fmt::format("{}g{}s{}", tag, count, i)));
    Emit(runs->back());
  }
}

// An empty core applies everything the runs put into the log (the gateways stopped: nothing
// else on the machine); prints its JSON line and a line of the table. False on an error.
bool ReportCatchUp(BenchCluster& cluster) {
  fmt::print(stderr, "bench cluster: an empty core catches up with the log\n");
  const BenchCluster::CatchUp c = cluster.MeasureCatchUp();
  const double rate = c.seconds > 0 ? static_cast<double>(c.events) / c.seconds : 0;
  fmt::print("{}\n", JsonLine()
                         .Str("bench", "cluster")
                         .Str("scenario", "core_catch_up")
                         .Int("log_messages", static_cast<int64_t>(c.log_messages))
                         .Int("events", static_cast<int64_t>(c.events))
                         .Num("seconds", c.seconds, 2)
                         .Num("events_per_s", rate, 0)
                         .Str("error", c.error)
                         .Finish());
  std::fflush(stdout);
  fmt::print(stderr,
             "core catch-up: {} events in {} log messages applied in {:.1f} s from an empty data "
             "dir (with the dispatcher, start-up included): {:.0f} events/s{}\n",
             c.events, c.log_messages, c.seconds, rate, c.error.empty() ? "" : ": " + c.error);
  return c.error.empty() && c.events > 0;
}

int RunClusterBench(const ClusterBenchOptions& options) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  // Before the single-process runs: a missing nats-server would waste them.
  if (::access(client::NatsServerBinary().c_str(), X_OK) != 0) {
    fmt::print(stderr, "bench cluster: {} is missing: run tools/setup.sh\n",
               client::NatsServerBinary());
    return 1;
  }
  std::vector<Scenario> scenarios;
  for (const Scenario& sc : kScenarios)
    for (const std::string& name : options.scenarios)
      if (name == sc.name) scenarios.push_back(sc);
  const std::string tag = RunTag();
  std::vector<ClusterRun> runs;
  bool failed = false;
  if (options.single) {
    for (size_t i = 0; i < scenarios.size(); ++i) {
      Progress(scenarios[i].name, "single process (serve --no-dispatcher)");
      runs.push_back(RunSingle(options, scenarios[i], fmt::format("{}p{}", tag, i)));
      Emit(runs.back());
    }
  }
  if (!options.gateways.empty()) {
    // Started after the single process's runs, so that idle nats-servers do not share its
    // window; one cluster for every gateway count (the stream grows; a fresh one per count
    // would add its start-up and elections to the run, and nothing to the figures).
    fmt::print(stderr, "bench cluster: starting 3 nats-servers\n");
    BenchCluster cluster(options.server_log_level);
    if (Status s = cluster.Start(); !s.ok()) {
      fmt::print(stderr, "bench cluster: the cluster: {}\n", s.ToString());
      failed = true;
    } else {
      for (int count : options.gateways)
        RunCluster(options, scenarios, cluster, count, tag, &runs);
      if (std::string problems = cluster.StopGateways(); !problems.empty()) {
        fmt::print(stderr, "bench cluster: {}\n", problems);
        failed = true;
      }
      if (options.catch_up && !ReportCatchUp(cluster)) failed = true;
    }
  }
  fmt::print(stderr, "\n{}", ClusterTable(runs));
  for (const ClusterRun& r : runs) failed = failed || r.failed();
  return failed ? 1 : 0;
}

}  // namespace

void AddBenchClusterCommand(CLI::App* bench, int* exit_code) {
  auto o = std::make_shared<ClusterBenchOptions>();
  auto* cmd = bench->add_subcommand(
      "cluster",
      "Sensor ingest through 1 and 2 cluster gateways before 3 nats-servers, beside the single "
      "process, on this machine; see docs/benchmarks.md");
  std::vector<std::string> names;
  for (const Scenario& sc : kScenarios) names.push_back(sc.name);
  cmd->add_option("--scenario", o->scenarios, "Scenarios to run, in the built-in order")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  cmd->add_option("--gateways", o->gateways, "Gateway counts to run, in this order")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  cmd->add_flag("!--no-single", o->single, "Skip the single-process runs");
  cmd->add_flag("!--no-catch-up", o->catch_up,
                "Skip the catch-up of an empty core with the whole log at the end");
  cmd->add_option("--duration-s", o->load.duration_s, "Measured window of each run, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--warmup-s", o->load.warmup_s, "Warm-up before each window, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--client-threads", o->load.client_threads, "I/O threads of the load client")
      ->check(CLI::Range(1, kMaxClientThreads))
      ->capture_default_str();
  cmd->add_option("--server-log-level", o->server_log_level,
                  "Log level of the spawned servers and gateways")
      ->capture_default_str();
  cmd->callback([o, exit_code] { *exit_code = RunClusterBench(*o); });
}

}  // namespace yiwang::tools
