// `yiwang bench soak`: the long run (docs/benchmarks.md, "Soak"). A real server (spawned from
// this binary, or the one at --server-url) takes a fixed rate of sensor events from many
// connections while operators watch the live feed; then a burst of several times the rate;
// then the base rate again. The run reports, interval by interval, what the client sent and
// got acked, the ack latency, the server's RSS and RocksDB's write-stall state; at the end it
// stops the server and checks the store against the client's ack ledger: every acked event
// stored exactly once.
//
// Phases (times from the moment every connection is up):
//   steady    --duration-s at --rate events/s (default 30 min at 10,000/s)
//   burst     --burst-s at --burst-factor x the rate (default 60 s at 10x)
//   recovery  --recovery-s at the base rate again (default 120 s)
// then sending stops, the frames in flight are acked, the subscribers close and the server
// gets SIGTERM (it must exit 0); the data dir is opened with store::EventStore and every stored
// event is matched against the ledger (tools/soak_ledger.h).
//
// The sensors are client::LoadConnection (tools/client/load_connection.h, the client of
// `bench ingest`): one device per connection with --batch 1, seq one higher each frame, a
// frame due every connections/rate seconds from a random phase. A connection keeps up to
// --inflight frames unacked; when the server is slower than the schedule the frames due pile
// up in the client (the backlog: what a sensor buffers) and are sent as soon as the window
// allows. Latency runs from the frame's due time, so a server that pushes back shows up as
// latency, not as fewer samples. Every --alarm-every-th connection sends CH4 episodes that trip
// the dispatcher's septic-tank rule, so the live feed carries real alarms and cases.
//
// The subscribers (tools/soak_subscribers.h) sign in as operators and watch /ws/live.
//
// Output (tools/soak_report.h): one line per interval on stderr (a table), one JSON line per
// interval and one JSON summary line on stdout. Exit 0 when nothing acked was lost or stored
// twice, nothing refused was stored, no ack was malformed, the server exited 0 and its RSS
// stayed under --max-rss-mib; else 1. 2 for bad options.
//
// Threading: the main thread drives the phases, samples every interval and runs the final
// check. Sensor connections and subscribers share one io_context (--client-threads threads),
// one strand each. The ledger is per connection (touched only on that connection's strand, read
// by the main thread after the client threads are joined); the interval counters are atomics.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/bench_run.h"
#include "tools/bench_server.h"
#include "tools/client/metrics_scrape.h"
#include "tools/client/server_process.h"
#include "tools/commands.h"
#include "tools/json_line.h"
#include "tools/soak_ledger.h"
#include "tools/soak_report.h"
#include "tools/soak_subscribers.h"

namespace yiwang::tools {
namespace {

using namespace bench;  // the benchmarks' shared plumbing (tools/bench_run.h, ...)
namespace net = boost::asio;
using tcp = net::ip::tcp;

// --- defaults -------------------------------------------------------------------------------

constexpr int kSoakConnections = 2000;
constexpr int kConnectWave = 500;  // sensors connecting at once (see the per-address cap)
constexpr double kSoakRate = 10000;         // events/s
constexpr double kSoakDurationS = 30 * 60;  // the steady phase
constexpr double kSoakBurstFactor = 10;
constexpr double kSoakBurstS = 60;
constexpr double kSoakRecoveryS = 120;
constexpr double kSoakIntervalS = 10;
constexpr int kSoakSubscribers = 50;
// Frames a sensor may have unacked. 2,000 x 256 is more than the server's write queue
// (200,000 events): a burst reaches the server's limits, not only the client's window.
constexpr int kSoakInflight = 256;
constexpr int kSoakAlarmEvery = 100;
constexpr double kSoakMaxRssMib = 2048;
constexpr std::chrono::seconds kSoakDrainTimeout{120};  // acks of the frames in flight
constexpr std::chrono::seconds kSubscriberStopTimeout{5};

struct SoakOptions {
  LoadSettings load;
  double duration_s = kSoakDurationS;
  double burst_factor = kSoakBurstFactor;
  double burst_s = kSoakBurstS;
  double recovery_s = kSoakRecoveryS;
  double interval_s = kSoakIntervalS;
  int subscribers = kSoakSubscribers;
  double max_rss_mib = kSoakMaxRssMib;
  std::string server_url;
  int server_pid = 0;
  std::string admin_token_file;
  std::string server_log_level = kDefaultServerLogLevel;
};

void Progress(const std::string& what) { fmt::print(stderr, "bench soak: {}\n", what); }

std::optional<double> RssMib(pid_t pid) {
  const std::optional<uint64_t> kib = client::ResidentKib(pid);
  if (!kib) return std::nullopt;
  return static_cast<double>(*kib) / 1024.0;
}

// Raises this process's open-file limit to its hard limit (children inherit it): 2,000 sensor
// connections and 50 subscribers need more than the usual 1,024 on both ends. False (and
// says why) if that is still too few.
bool RaiseFileLimit(const SoakOptions& o) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  const uint64_t fds_needed = static_cast<uint64_t>(o.load.connections + o.subscribers) + 256;
  if (rl.rlim_cur >= fds_needed) return true;
  fmt::print(stderr,
             "bench soak: the open-file limit is {} (hard {}); {} connections need "
             "about {}: raise it (ulimit -Hn)\n",
             rl.rlim_cur, rl.rlim_max, o.load.connections + o.subscribers, fds_needed);
  return false;
}

// The client side of the run: the subscribers and the sensors on one io_context, the ledger
// and the counters they fill.
//
// Thread safety: the main thread owns it; the connections run on `threads`.
struct SoakClient {
  explicit SoakClient(const SoakOptions& o)
      : ioc(o.load.client_threads), ledger(o.load.connections, o.load.batch, &counters) {
    control.observer = &ledger;
  }

  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  LiveCounters live;
  std::unique_ptr<LiveFeedAudience> audience;
  SoakCounters counters;
  SoakLedger ledger;
  RunControl control;
  std::vector<std::shared_ptr<client::LoadConnection>> conns;
  int sensors_failed = 0;
};

// Subscribers first (they watch from the start), then the sensors, in waves: all sensors come
// from one address here, and the server closes connections of one address beyond its cap of
// those still in their HTTP phase (1,024 by default).
void ConnectClient(const SoakOptions& o, const LoadTarget& target, tcp::endpoint endpoint,
                   const std::vector<std::string>& cookies, SoakClient* c) {
  c->work.emplace(c->ioc.get_executor());
  for (int i = 0; i < o.load.client_threads; ++i) c->threads.emplace_back([c] { c->ioc.run(); });
  c->audience = std::make_unique<LiveFeedAudience>(
      c->ioc, endpoint, fmt::format("{}:{}", target.host, target.port), cookies, &c->live);
  Progress(fmt::format("connecting {} sensors", o.load.connections));
  const int n = o.load.connections;
  for (int i = 0; i < n; ++i) {
    c->conns.push_back(
        std::make_shared<client::LoadConnection>(c->ioc, target, o.load, i, &c->control));
    c->conns.back()->Start(endpoint);
    if ((i + 1) % kConnectWave == 0 || i + 1 == n)
      WaitFor([&] { return c->control.connected.load() + c->control.finished.load() >= i + 1; },
              client::kConnectTimeout);
  }
  c->sensors_failed = c->control.finished.load();
  Progress(fmt::format("{} sensors connected, {} failed; {} subscribers connected",
                       c->control.connected.load(), c->sensors_failed, c->live.connected.load()));
}

struct Phase {
  const char* name;
  double seconds;
  double scale;  // of the base rate
};

// Steady, burst and recovery: sleeps to each interval's end and samples it (a table row on
// stderr, a JSON line on stdout). Returns the samples.
std::vector<IntervalSample> RunPhases(const SoakOptions& o, const BenchServer& server,
                                      SoakClient* c) {
  const Phase phases[] = {{"steady", o.duration_s, 1.0},
                          {"burst", o.burst_s, o.burst_factor},
                          {"recovery", o.recovery_s, 1.0}};
  const int64_t t0 = SteadyNowNs();
  c->control.burst_scale = o.burst_factor;
  c->control.burst_end_ns = t0 + static_cast<int64_t>((o.duration_s + o.burst_s) * 1e9);
  c->control.burst_start_ns = t0 + static_cast<int64_t>(o.duration_s * 1e9);
  // Events due so far by the schedule, to within a frame per connection: what was sent before
  // t0 (while the others connected), then the rate of each phase.
  double offered = static_cast<double>(c->counters.events_sent.load());
  int64_t last_ns = t0;
  uint64_t last_accepted = 0, last_live = 0;
  std::vector<IntervalSample> samples;
  PrintIntervalHeader();
  double phase_end_s = 0;
  for (const Phase& phase : phases) {
    const double phase_start_s = phase_end_s;
    phase_end_s += phase.seconds;
    if (phase.seconds <= 0) continue;
    while (true) {
      const double now_s = static_cast<double>(SteadyNowNs() - t0) / 1e9;
      if (now_s >= phase_end_s - 1e-3) break;
      // Intervals end on multiples of interval_s from the phase's start, and at its end.
      const double k = std::floor((now_s - phase_start_s) / o.interval_s) + 1;
      const double next_s = std::min(phase_end_s, phase_start_s + k * o.interval_s);
      std::this_thread::sleep_for(Millis(next_s - now_s));
      const int64_t t = SteadyNowNs();
      offered += o.load.rate * phase.scale * static_cast<double>(t - last_ns) / 1e9;
      IntervalSample s;
      s.elapsed_s = static_cast<double>(t - t0) / 1e9;
      s.phase = phase.name;
      s.offered = static_cast<uint64_t>(offered);
      s.sent = c->counters.events_sent.load();
      s.accepted = c->counters.events_accepted.load();
      s.refused = c->counters.events_refused.load();
      s.events_per_s = static_cast<double>(s.accepted - last_accepted) /
                       (static_cast<double>(t - last_ns) / 1e9);
      s.latency = c->counters.latency.TakeSnapshot();
      client::MetricsScrape metrics;
      const bool scraped = client::ScrapeMetrics(server.endpoint(), &metrics).ok();
      SampleServer(server.pid(), scraped ? &metrics : nullptr, &s);
      s.live_total = c->live.messages.load();
      s.live_messages = s.live_total - last_live;
      s.live_cases = c->live.cases.load();
      s.live_alarms = c->live.alarms.load();
      s.subscribers_connected = c->live.connected.load();
      s.subscribers_dropped = c->live.dropped.load();
      s.conn_failures = c->counters.conn_failures.load();
      last_ns = t;
      last_accepted = s.accepted;
      last_live = s.live_total;
      PrintIntervalLine(s);
      fmt::print("{}\n", IntervalJson(s));
      std::fflush(stdout);
      samples.push_back(std::move(s));
    }
  }
  return samples;
}

// What the end of the run found, besides the interval samples.
struct SoakEnd {
  int stuck = 0;  // sensor connections whose frames in flight were never all acked
  std::optional<double> rss_start, rss_end, stall_end, overloaded_server;
  std::string server_exit = "not ours";
  std::optional<LedgerCheck> check;
};

// Stops sending; the frames in flight (and the backlog the window holds) are acked; the
// subscribers close; the server's last figures are read; the client threads end.
void DrainClient(const BenchServer& server, SoakClient* c, SoakEnd* end) {
  Progress("stopping: waiting for the acks of frames in flight");
  c->control.stop_sending = true;
  for (auto& conn : c->conns) conn->Stop();
  const int n = static_cast<int>(c->conns.size());
  if (!WaitFor([&] { return c->control.finished.load() >= n; },
               std::chrono::duration_cast<std::chrono::milliseconds>(kSoakDrainTimeout)))
    end->stuck = n - c->control.finished.load();
  c->audience->Stop();
  WaitFor([&] { return c->audience->stopped(); },
          std::chrono::duration_cast<std::chrono::milliseconds>(kSubscriberStopTimeout));
  end->rss_end = RssMib(server.pid());
  client::MetricsScrape metrics;
  if (client::ScrapeMetrics(server.endpoint(), &metrics).ok()) {
    end->stall_end = metrics.Get("yiwang_store_rocksdb_stall_micros_total");
    end->overloaded_server =
        metrics.Get("yiwang_ingest_rejected_total", {{"reason", "overloaded"}});
  }
  c->work.reset();
  c->ioc.stop();
  for (auto& t : c->threads) t.join();
}

// The server stops (SIGTERM, it must exit 0); its store is checked against the ledger.
void StopServerAndCheck(const std::string& run_tag, const SoakLedger& ledger, BenchServer* server,
                        SoakEnd* end) {
  if (!server->spawned()) return;
  Progress("stopping the server (SIGTERM)");
  const std::optional<client::ExitStatus> exit = server->Stop();
  end->server_exit = exit && exit->ok() ? "0" : exit ? exit->ToString() : "unknown";
  Progress("checking the store against the ack ledger");
  end->check = CheckStore(server->data_dir(), run_tag, ledger);
}

int64_t Count(const std::atomic<uint64_t>& v) { return static_cast<int64_t>(v.load()); }

std::optional<double> PerHour(std::optional<double> per_s) {
  if (!per_s) return std::nullopt;
  return *per_s * 3600;
}

// The summary's settings and the client's counts.
void AddRunFields(const SoakOptions& o, const SoakClient& c, const SoakEnd& end, JsonLine* j) {
  j->Str("bench", "soak")
      .Str("type", "summary")
      .Int("connections", o.load.connections)
      .Int("batch", o.load.batch)
      .Int("inflight", o.load.inflight)
      .Num("rate", o.load.rate, 0)
      .Num("steady_s", o.duration_s, 0)
      .Num("burst_factor", o.burst_factor, 1)
      .Num("burst_s", o.burst_s, 0)
      .Num("recovery_s", o.recovery_s, 0)
      .Int("subscribers", o.subscribers)
      .Int("sensors_failed_to_connect", c.sensors_failed)
      .Int("cores", std::thread::hardware_concurrency())
      .Int("events_sent", Count(c.counters.events_sent))
      .Int("events_acked", Count(c.counters.events_accepted))
      .Int("events_refused", Count(c.counters.events_refused))
      .Int("refused_overloaded", Count(c.counters.refused_overloaded))
      .Num("server_rejected_overloaded", end.overloaded_server, 0)
      .Int("bad_acks", Count(c.counters.bad_acks))
      .Int("connection_failures", Count(c.counters.conn_failures))
      .Int("connections_stuck_at_end", end.stuck);
}

// The server's memory over the run.
void AddMemoryFields(const SoakEnd& end, const IntervalFigures& f, JsonLine* j) {
  j->Num("rss_start_mib", end.rss_start, 1)
      .Num("rss_max_mib", f.rss_max, 1)
      .Num("rss_end_mib", end.rss_end, 1)
      .Num("rss_steady_first_mib", f.rss_steady_first, 1)
      .Num("rss_steady_last_mib", f.rss_steady_last, 1)
      .Num("rss_steady_growth_mib",
           f.rss_steady_first && f.rss_steady_last
               ? std::optional<double>(*f.rss_steady_last - *f.rss_steady_first)
               : std::nullopt,
           1)
      .Num("rss_steady_slope_mib_per_hour", PerHour(f.slope), 1)
      .Num("rss_rest_steady_slope_mib_per_hour", PerHour(f.rest_slope), 1)
      .Num("rss_steady_second_half_slope_mib_per_hour", PerHour(f.late_slope), 1)
      .Num("rss_rest_steady_second_half_slope_mib_per_hour", PerHour(f.late_rest_slope), 1)
      .Num("rocksdb_memtable_max_mib", f.memtable_max, 1)
      .Num("rocksdb_block_cache_max_mib", f.block_cache_max, 1)
      .Num("rocksdb_table_readers_max_mib", f.table_readers_max, 1)
      .Num("heap_free_max_mib", f.heap_free_max, 1)
      .Num("rss_before_burst_mib", f.rss_before_burst, 1)
      .Num("rss_max_burst_mib", f.rss_max_burst, 1);
}

// The burst, the live feed, the server's exit and the store check.
void AddOutcomeFields(const SoakOptions& o, const SoakClient& c, const SoakEnd& end,
                      const IntervalFigures& f, JsonLine* j) {
  std::string outcome;
  if (o.burst_s > 0 && o.burst_factor > 0) {
    const bool pushed_back = f.burst_sent + static_cast<uint64_t>(o.load.rate) < f.burst_offered;
    outcome = pushed_back && f.burst_refused > 0 ? "back-pressure and refusal"
              : pushed_back                      ? "back-pressure"
              : f.burst_refused > 0              ? "refusal"
                                                 : "absorbed";
  }
  j->Str("burst_outcome", outcome)
      .Int("burst_offered", static_cast<int64_t>(f.burst_offered))
      .Int("burst_sent", static_cast<int64_t>(f.burst_sent))
      .Int("burst_acked", static_cast<int64_t>(f.burst_acked))
      .Int("burst_refused", static_cast<int64_t>(f.burst_refused))
      .Int("backlog_max", static_cast<int64_t>(f.backlog_max))
      .Num("queued_events_max_burst", f.queued_max_burst, 0)
      .Num("recovered_after_s", f.recovered_after_s, 0)
      .Num("rocksdb_stall_micros", end.stall_end, 0)
      .Int("live_messages", Count(c.live.messages))
      .Int("live_cases", Count(c.live.cases))
      .Int("live_alarms", Count(c.live.alarms))
      .Int("live_ticks", Count(c.live.ticks))
      .Int("live_resyncs", Count(c.live.resyncs))
      .Int("subscribers_dropped", Count(c.live.dropped))
      .Int("subscriber_connect_failures", Count(c.live.connect_failures))
      .Str("server_exit", end.server_exit);
  if (const auto& check = end.check) {
    j->Int("events_checked", static_cast<int64_t>(check->events_checked))
        .Int("acked_checked", static_cast<int64_t>(check->acked))
        .Int("lost", static_cast<int64_t>(check->lost))
        .Int("duplicated", static_cast<int64_t>(check->duplicated))
        .Int("refused_but_stored", static_cast<int64_t>(check->refused_but_stored))
        .Int("unacked_stored", static_cast<int64_t>(check->unacked_stored))
        .Int("stored_unsent", static_cast<int64_t>(check->stored_unsent))
        .Int("foreign_events", static_cast<int64_t>(check->foreign));
    if (!check->error.empty()) j->Str("check_error", check->error);
  }
}

// The summary line; sets *ok to the run's verdict: nothing acked lost or stored twice, nothing
// refused or unsent stored, no malformed ack, every sensor connected and drained, the server's
// RSS under --max-rss-mib and its exit 0.
std::string SummaryJson(const SoakOptions& o, const SoakClient& c, const SoakEnd& end,
                        const IntervalFigures& f, bool* ok) {
  const bool rss_ok = !f.rss_max || *f.rss_max <= o.max_rss_mib;
  const bool check_ok = !end.check || end.check->ok();
  *ok = check_ok && rss_ok && c.sensors_failed == 0 && c.counters.bad_acks.load() == 0 &&
        end.stuck == 0 && (end.server_exit == "0" || end.server_exit == "not ours");
  JsonLine j;
  AddRunFields(o, c, end, &j);
  AddMemoryFields(end, f, &j);
  AddOutcomeFields(o, c, end, f, &j);
  j.Bool("ok", *ok).Raw("ack_p99_ms_series", f.p99_series);
  return j.Finish();
}

int RunSoak(const SoakOptions& o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  if (!o.server_url.empty() && o.admin_token_file.empty()) {
    fmt::print(stderr, "bench soak: --server-url needs --admin-token-file\n");
    return 2;
  }
  if (!RaiseFileLimit(o)) return 2;

  BenchServer server;
  BenchServerOptions server_options;
  server_options.server_url = o.server_url;
  server_options.server_pid = o.server_pid;
  server_options.admin_token_file = o.admin_token_file;
  server_options.need_admin = true;  // the operators are created with it
  server_options.log_level = o.server_log_level;
  if (o.server_url.empty()) Progress("starting the server");
  if (Status s = server.Start(server_options); !s.ok()) {
    Progress(s.ToString());
    return s.code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  const LoadTarget target{.host = server.endpoint().host,
                          .port = server.endpoint().port,
                          .token = server.device_token(),
                          .run_tag = RunTag()};
  std::vector<std::string> cookies;
  if (o.subscribers > 0) {
    Progress(fmt::format("signing in {} operators", o.subscribers));
    if (Status s = SignInOperators(server.endpoint(), server.admin_token(), target.run_tag,
                                   o.subscribers, &cookies);
        !s.ok()) {
      Progress("operators: " + s.ToString());
      return 1;
    }
  }
  boost::system::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(target.host, ec), target.port);
  if (ec) {
    Progress("bad host " + target.host);
    return 2;
  }

  SoakClient client(o);
  ConnectClient(o, target, endpoint, cookies, &client);
  SoakEnd end;
  end.rss_start = RssMib(server.pid());
  const std::vector<IntervalSample> samples = RunPhases(o, server, &client);
  DrainClient(server, &client, &end);
  StopServerAndCheck(target.run_tag, client.ledger, &server, &end);

  bool ok = false;
  const IntervalFigures figures =
      SummarizeIntervals(samples, o.duration_s + o.burst_s, o.load.rate);
  fmt::print("{}\n", SummaryJson(o, client, end, figures, &ok));
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

void AddBenchSoakCommand(CLI::App* bench, int* exit_code) {
  auto o = std::make_shared<SoakOptions>();
  o->load.connections = kSoakConnections;
  o->load.rate = kSoakRate;
  o->load.inflight = kSoakInflight;
  o->load.alarm_every = kSoakAlarmEvery;
  auto* soak = bench->add_subcommand(
      "soak",
      "Long run against a real server: fixed rate from many sensors, live-feed subscribers, a "
      "burst, then the store checked against the ack ledger; see docs/benchmarks.md");
  soak->add_option("--connections", o->load.connections, "Sensor connections")
      ->check(CLI::Range(1, kMaxConnections))
      ->capture_default_str();
  soak->add_option("--rate", o->load.rate, "Base rate, events/s (all connections together)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--batch", o->load.batch, "Events per frame (one device each)")
      ->check(CLI::Range(1, kMaxBatch))
      ->capture_default_str();
  soak->add_option("--inflight", o->load.inflight, "Frames a connection may have unacked")
      ->check(CLI::Range(1, kMaxInflight))
      ->capture_default_str();
  soak->add_option("--duration-s", o->duration_s, "Steady phase at the base rate, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--burst-factor", o->burst_factor, "Burst rate = this x the base rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--burst-s", o->burst_s, "Burst length, seconds (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--recovery-s", o->recovery_s, "Base rate after the burst, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--interval-s", o->interval_s, "Seconds between report lines")
      ->check(CLI::Range(0.5, 3600.0))
      ->capture_default_str();
  soak->add_option("--subscribers", o->subscribers, "Live-feed subscribers (operators)")
      ->check(CLI::Range(0, kMaxSubscribers))
      ->capture_default_str();
  soak->add_option("--alarm-every", o->load.alarm_every,
                   "Every Nth connection sends CH4 alarm episodes (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--client-threads", o->load.client_threads, "I/O threads of the client")
      ->check(CLI::Range(1, kMaxClientThreads))
      ->capture_default_str();
  soak->add_option("--max-rss-mib", o->max_rss_mib, "Fail if the server's RSS exceeds this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* url = soak->add_option("--server-url", o->server_url,
                               "Drive this running server (http://HOST:PORT) instead of "
                               "spawning one (no store check then)");
  soak->add_option("--server-pid", o->server_pid, "With --server-url: its pid, for its RSS")
      ->needs(url);
  soak->add_option("--admin-token-file", o->admin_token_file,
                   "With --server-url: the admin token (device token, operators)")
      ->needs(url);
  soak->add_option("--server-log-level", o->server_log_level, "Log level of the spawned server")
      ->capture_default_str();
  soak->callback([o, exit_code] { *exit_code = RunSoak(*o); });
}

}  // namespace yiwang::tools
