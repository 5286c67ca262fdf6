// `yiwang bench ingest`: sensor-ingest throughput and ack latency of a real server, read
// against two baselines measured in the same run (issue 2, item 8).
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
//      provisions a device token through the admin API, and drives /ws/sensors with the same
//      client. Server CPU comes from /proc/<pid>/stat, events per fsync from its /metrics.
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

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/metrics.h"
#include "ingest/limits.h"
#include "store/event_store.h"
#include "tools/bench_load.h"
#include "tools/commands.h"
#include "yiwang/v1/sensor.pb.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::tools {
namespace {

using namespace bench;  // the shared load client (tools/bench_load.h)



// The scenarios of --all and their targets (issue 2, item 8; 2-core machine).
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


// The disk probe run before each scenario: appends and fdatasyncs like a WAL of small commits.
constexpr int kFsyncProbeWrites = 300;
constexpr size_t kFsyncProbeBytes = 256;



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

// Counts of one measured window. Errors count over the whole run (warm-up and drain too).


// Sleeps through the measured window of `duration_s`, marking its edges in *control (acks count
// only inside it), and sets r->window_s, r->process_cpu_s and r->machine_cpu_s. `at_start` and
// `at_end`, if set, run right at the edges (to read counters over the same window).
void MeasureWindow(double duration_s, RunControl* control, RunResult* r,
                   const std::function<void()>& at_start, const std::function<void()>& at_end) {
  if (at_start) at_start();
  const double cpu0 = ProcessCpuSeconds(::getpid()).value_or(0);
  const std::optional<double> machine0 = MachineBusyCpuSeconds();
  const int64_t start = NowNs();
  control->window_start_ns = start;
  std::this_thread::sleep_for(Millis(duration_s));
  const int64_t end = NowNs();
  control->window_end_ns = end;
  const std::optional<double> machine1 = MachineBusyCpuSeconds();
  const double cpu1 = ProcessCpuSeconds(::getpid()).value_or(0);
  if (at_end) at_end();
  if (machine0 && machine1) r->machine_cpu_s = *machine1 - *machine0;
  r->window_s = static_cast<double>(end - start) / 1e9;
  r->process_cpu_s = cpu1 - cpu0;
}

// Drives `target` with `settings`: connects every connection, warms up, measures one window,
// then stops sending and waits for the acks of frames in flight.
RunResult RunLoad(const LoadTarget& target, const LoadSettings& settings,
                  const WindowHook& at_window_start, const WindowHook& at_window_end) {
  RunResult result;
  net::io_context ioc(settings.client_threads);
  RunControl control;
  beast::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(target.host, ec), target.port);
  if (ec) {
    result.errors = 1;
    result.first_error = "bad host " + target.host + ": " + ec.message();
    return result;
  }
  std::vector<std::shared_ptr<LoadConnection>> conns;
  for (int i = 0; i < settings.connections; ++i) {
    conns.push_back(std::make_shared<LoadConnection>(ioc, target, settings, i, &control));
    conns.back()->Start(endpoint);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < settings.client_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });

  const int n = settings.connections;
  WaitFor([&] { return control.connected.load() + control.finished.load() >= n; },
          kConnectTimeout);
  std::this_thread::sleep_for(Millis(settings.warmup_s));

  MeasureWindow(settings.duration_s, &control, &result, at_window_start, at_window_end);

  control.stop_sending = true;
  for (auto& c : conns) c->Stop();
  int stuck = 0;  // connections whose frames in flight were never all acked
  if (!WaitFor([&] { return control.finished.load() >= n; }, kDrainTimeout)) {
    stuck = n - control.finished.load();
    ioc.stop();
  }
  for (auto& t : threads) t.join();

  std::vector<ConnStats*> stats;
  for (auto& c : conns) stats.push_back(&c->stats());
  Aggregate(stats, &result);
  if (stuck > 0) {
    if (result.errors == 0)
      result.first_error = fmt::format("{} connections still open after the drain timeout", stuck);
    result.errors += static_cast<uint64_t>(stuck);
  }
  return result;
}

// --- baseline: WebSocket echo, no storage ---------------------------------------------------

// One connection of the echo server: reads frames and answers each with a fixed ack in the
// frame's encoding, in order; like SensorSession, one read and one write outstanding at most
// and reading pauses while kMaxWriteQueueFrames acks wait.
//
// Thread safety: runs only on its stream's strand.
class EchoSession : public std::enable_shared_from_this<EchoSession> {
 public:
  EchoSession(tcp::socket&& socket, const std::string* ack_binary, const std::string* ack_json)
      : ws_(std::move(socket)), ack_binary_(ack_binary), ack_json_(ack_json) {}

  void Run() {
    net::dispatch(ws_.get_executor(), [self = shared_from_this()] {
      self->ws_.set_option(
          websocket::stream_base::timeout::suggested(beast::role_type::server));
      self->ws_.auto_fragment(false);
      self->ws_.async_accept(
          beast::bind_front_handler(&EchoSession::OnAccept, self->shared_from_this()));
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    MaybeRead();
  }

  void MaybeRead() {
    if (reading_ || failed_ || queue_.size() >= ingest::kMaxWriteQueueFrames) return;
    reading_ = true;
    ws_.async_read(buffer_, beast::bind_front_handler(&EchoSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    reading_ = false;
    if (ec) {
      failed_ = true;
      return;
    }
    buffer_.consume(n);
    queue_.push_back(ws_.got_binary() ? ack_binary_ : ack_json_);
    DoWrite();
    MaybeRead();
  }

  void DoWrite() {
    if (writing_ || failed_ || queue_.empty()) return;
    writing_ = true;
    ws_.binary(queue_.front() == ack_binary_);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&EchoSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      failed_ = true;
      return;
    }
    queue_.pop_front();
    DoWrite();
    MaybeRead();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  const std::string* const ack_binary_;
  const std::string* const ack_json_;
  std::deque<const std::string*> queue_;  // acks to write, in frame order
  bool reading_ = false;
  bool writing_ = false;
  bool failed_ = false;
};

// An in-process WebSocket server with no storage, on 127.0.0.1 and a free port, with as many
// I/O threads as `yiwang serve` uses by default (one per core). The destructor stops it.
//
// Thread safety: construct, Listen and destroy from one thread.
class EchoServer {
 public:
  explicit EchoServer(int batch)
      : threads_count_(std::max(1u, std::thread::hardware_concurrency())),
        ioc_(static_cast<int>(threads_count_)),
        acceptor_(net::make_strand(ioc_)) {
    yiwang::v1::IngestAck ack;
    ack.set_accepted(static_cast<uint32_t>(batch));
    ack_binary_ = ack.SerializeAsString();
    (void)google::protobuf::util::MessageToJsonString(ack, &ack_json_);
  }

  // Sessions still open are destroyed with the io_context.
  ~EchoServer() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  Status Listen() {
    beast::error_code ec;
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    if (acceptor_.open(ep.protocol(), ec); ec) return Status::IOError("open: " + ec.message());
    if (acceptor_.bind(ep, ec); ec) return Status::IOError("bind: " + ec.message());
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec)
      return Status::IOError("listen: " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    for (unsigned i = 0; i < threads_count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

 private:
  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;  // closed
      std::make_shared<EchoSession>(std::move(s), &ack_binary_, &ack_json_)->Run();
      DoAccept();
    });
  }

  const unsigned threads_count_;
  std::string ack_binary_;  // before ioc_: sessions point to them until the io_context is gone
  std::string ack_json_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

RunResult RunWsEcho(const LoadSettings& settings, const std::string& run_tag, Status* status) {
  EchoServer server(settings.batch);
  *status = server.Listen();
  if (!status->ok()) return {};
  return RunLoad(LoadTarget{"127.0.0.1", server.port(), "", run_tag + "e"}, settings, {}, {});
}

// --- baseline: the store alone, no network ----------------------------------------------------

// One logical connection of the store_alone baseline: keeps `inflight` requests of `batch`
// events queued in the EventStore, building and submitting them on its own strand as a server
// session does (so each device's seqs reach the store in order).
//
// Thread safety: Submit and OnDone run on the strand; the store's writer thread only posts.
// stats() only after the pool is joined.
class StoreProducer {
 public:
  StoreProducer(net::thread_pool& pool, store::EventStore* store, const std::string& run_tag,
                int index, const LoadSettings& settings, RunControl* control,
                std::atomic<int64_t>* outstanding)
      : strand_(net::make_strand(pool)),
        store_(store),
        settings_(settings),
        control_(control),
        outstanding_(outstanding),
        frames_(run_tag, index, settings.batch, /*json=*/false) {}

  void Start() {
    net::post(strand_, [this] {
      for (int i = 0; i < settings_.inflight; ++i) Submit();
    });
  }

  ConnStats& stats() { return stats_; }

 private:
  void Submit() {
    const auto& batch = frames_.Next();
    store::IngestRequest req;
    req.events.reserve(batch.events_size());
    const google::protobuf::Timestamp received_at = WallClockNow();
    for (const auto& ev : batch.events()) {
      yiwang::v1::StoredEvent& se = req.events.emplace_back();
      *se.mutable_event() = ev;
      *se.mutable_received_at() = received_at;
      se.set_token_name(kTokenName);
    }
    const int64_t start = NowNs();
    req.done = [this, start](std::vector<store::Outcome> outcomes) {
      // On the writer thread: hand the result back to this producer's strand at once.
      net::post(strand_, [this, start, outcomes = std::move(outcomes)] {
        OnDone(start, outcomes);
      });
    };
    outstanding_->fetch_add(1);
    store_->SubmitIngest(std::move(req));
  }

  void OnDone(int64_t start, const std::vector<store::Outcome>& outcomes) {
    const int64_t now = NowNs();
    uint64_t accepted = 0;
    for (store::Outcome o : outcomes) {
      if (o == store::Outcome::kAccepted) {
        ++accepted;
      } else {
        stats_.Error(std::string("store outcome ") + store::OutcomeName(o));
      }
    }
    stats_.events_acked_total += accepted;
    if (control_->InWindow(now)) {
      stats_.latencies_ns.push_back(now - start);
      ++stats_.frames;
      stats_.events += accepted;
    }
    if (!control_->stop_sending.load(std::memory_order_relaxed)) Submit();
    outstanding_->fetch_sub(1);
  }

  net::strand<net::thread_pool::executor_type> strand_;
  store::EventStore* const store_;
  const LoadSettings settings_;
  RunControl* const control_;
  std::atomic<int64_t>* const outstanding_;
  FrameBuilder frames_;
  ConnStats stats_;
};

// cost that group commit amortises. DESIGN.md section 5 assumes ~0.3 ms; a busy or throttled
// disk can be ten times slower, so each scenario prints what it had.
LatencySummary ProbeFdatasync(Status* status) {
  ScopedTempDir dir;
  if (*status = dir.Create("yiwang-bench-fsync-"); !status->ok()) return {};
  const std::string path = (dir.path() / "probe").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    *status = Status::IOError(fmt::format("open {}: {}", path, std::strerror(errno)));
    return {};
  }
  const std::string record(kFsyncProbeBytes, 'x');
  std::vector<int64_t> samples;
  for (int i = 0; i < kFsyncProbeWrites; ++i) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
      *status = Status::IOError(fmt::format("write {}: {}", path, std::strerror(errno)));
      break;
    }
    const int64_t t0 = NowNs();
    if (::fdatasync(fd) != 0) {
      *status = Status::IOError(fmt::format("fdatasync {}: {}", path, std::strerror(errno)));
      break;
    }
    samples.push_back(NowNs() - t0);
  }
  ::close(fd);
  return Summarize(&samples);
}

struct StoreAloneResult {
  RunResult run;
  std::optional<double> events_per_fsync;
};

StoreAloneResult RunStoreAlone(const LoadSettings& settings, const std::string& run_tag,
                               Status* status) {
  StoreAloneResult result;
  ScopedTempDir dir;
  if (*status = dir.Create("yiwang-bench-store-"); !status->ok()) return result;
  store::StoreOptions options;  // the server's defaults: sync = true, group commit
  options.data_dir = (dir.path() / "data").string();
  Metrics metrics;
  auto store = store::EventStore::Open(options, Logger("bench-store"), &metrics, status);
  if (!store) return result;
  Counter& events_written = metrics.GetCounter("yiwang_store_events_written_total", "");
  Counter& fsyncs = metrics.GetCounter("yiwang_store_fsyncs_total", "");

  // As many producer threads as the server has I/O threads.
  net::thread_pool pool(std::max(1u, std::thread::hardware_concurrency()));
  RunControl control;
  std::atomic<int64_t> outstanding{0};
  std::vector<std::unique_ptr<StoreProducer>> producers;
  for (int i = 0; i < settings.connections; ++i) {
    producers.push_back(std::make_unique<StoreProducer>(pool, store.get(), run_tag + "s", i,
                                                        settings, &control, &outstanding));
    producers.back()->Start();
  }
  std::this_thread::sleep_for(Millis(settings.warmup_s));
  uint64_t written0 = 0, fsyncs0 = 0, written1 = 0, fsyncs1 = 0;
  MeasureWindow(
      settings.duration_s, &control, &result.run,
      [&] { written0 = events_written.Value(), fsyncs0 = fsyncs.Value(); },
      [&] { written1 = events_written.Value(), fsyncs1 = fsyncs.Value(); });
  control.stop_sending = true;
  // The store completes everything it queued, so this ends unless the writer is stuck.
  if (!WaitFor([&] { return outstanding.load() == 0; }, kDrainTimeout))
    *status = Status::Busy("store_alone: requests still in flight after the drain timeout");
  pool.join();
  store.reset();

  std::vector<ConnStats*> stats;
  for (auto& p : producers) stats.push_back(&p->stats());
  Aggregate(stats, &result.run);
  if (fsyncs1 > fsyncs0)
    result.events_per_fsync =
        static_cast<double>(written1 - written0) / static_cast<double>(fsyncs1 - fsyncs0);
  return result;
}

struct StoreCounters {
  double events_written = 0;
  double fsyncs = 0;
};

// The store's write counters from the server's /metrics (Prometheus text format).
Status ScrapeStoreCounters(const std::string& host, uint16_t port, StoreCounters* out) {
  int code = 0;
  std::string body;
  if (Status s = HttpCall(host, port, http::verb::get, "/metrics", "", "", &code, &body); !s.ok())
    return s;
  if (code != 200) return Status::Unavailable(fmt::format("/metrics: HTTP {}", code));
  bool have_events = false, have_fsyncs = false;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    auto value = [&](std::string_view name, double* v) {
      if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ' ')
        return false;
      *v = std::strtod(line.c_str() + name.size() + 1, nullptr);
      return true;
    };
    have_events |= value("yiwang_store_events_written_total", &out->events_written);
    have_fsyncs |= value("yiwang_store_fsyncs_total", &out->fsyncs);
  }
  if (!have_events || !have_fsyncs) return Status::NotFound("/metrics lacks the store counters");
  return Status::Ok();
}


struct IngestResult {
  RunResult run;
  std::optional<double> events_per_fsync;
  std::optional<double> fsyncs_per_s;
  std::optional<double> server_cpu_s;
};

// The scenario against the real server: spawned, or the one at options.server_url.
IngestResult RunIngest(const IngestBenchOptions& options, const LoadSettings& settings,
                       const std::string& run_tag, Status* status) {
  IngestResult result;
  ServerProcess spawned;
  std::string url = options.server_url;
  pid_t pid = options.server_pid;
  if (url.empty()) {
    std::vector<std::string> extra;
    if (options.no_dispatcher) extra.push_back("--no-dispatcher");
    if (*status = spawned.Start(options.server_log_level, extra); !status->ok()) return result;
    url = spawned.url();
    pid = spawned.pid();
  }
  LoadTarget target;
  target.run_tag = run_tag;
  if (!SplitUrl(url, &target.host, &target.port)) {
    *status = Status::InvalidArgument("bad server URL '" + url + "'");
    return result;
  }
  target.token = options.token;
  if (target.token.empty()) {
    const std::filesystem::path admin_file = options.server_url.empty()
                                                 ? spawned.data_dir() / kAdminTokenFile
                                                 : std::filesystem::path(options.admin_token_file);
    std::string admin;
    if (*status = ReadFirstLine(admin_file, &admin); !status->ok()) return result;
    if (*status = ProvisionDeviceToken(target.host, target.port, admin, &target.token);
        !status->ok())
      return result;
  }

  StoreCounters c0, c1;
  bool have_counters = true;
  std::optional<double> cpu0, cpu1;
  auto snapshot = [&](StoreCounters* c, std::optional<double>* cpu) {
    if (pid > 0) *cpu = ProcessCpuSeconds(pid);
    have_counters = have_counters && ScrapeStoreCounters(target.host, target.port, c).ok();
  };
  result.run = RunLoad(target, settings, [&] { snapshot(&c0, &cpu0); },
                       [&] { snapshot(&c1, &cpu1); });
  if (have_counters && c1.fsyncs > c0.fsyncs) {
    result.events_per_fsync = (c1.events_written - c0.events_written) / (c1.fsyncs - c0.fsyncs);
    result.fsyncs_per_s = (c1.fsyncs - c0.fsyncs) / result.run.window_s;
  }
  if (cpu0 && cpu1) result.server_cpu_s = *cpu1 - *cpu0;

  if (!options.server_url.empty()) return result;
  // A fresh server stores exactly what the run sent; it must hold at least every acked event.
  StoreCounters final_counters;
  if (ScrapeStoreCounters(target.host, target.port, &final_counters).ok() &&
      final_counters.events_written < static_cast<double>(result.run.events_acked_total)) {
    result.run.errors += 1;
    if (result.run.first_error.empty())
      result.run.first_error = fmt::format("the server wrote {} events but acked {}",
                                           final_counters.events_written,
                                           result.run.events_acked_total);
  }
  if (Status s = spawned.Stop(); !s.ok()) {
    result.run.errors += 1;
    if (result.run.first_error.empty()) result.run.first_error = s.ToString();
  }
  return result;
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
  // store_alone ignores the rate, so scenarios that differ only in rate share one measurement.
  std::vector<std::pair<std::tuple<int, int, int>, StoreAloneResult>> store_cache;
  int exit_code = 0;
  for (size_t i = 0; i < scenarios.size(); ++i) {
    const Scenario& sc = scenarios[i];
    const std::string tag = fmt::format("{}{}", run_tag, i);
    ScenarioResult r;
    Status st;
    Progress(sc.name, "disk fdatasync probe");
    LatencySummary fdatasync = ProbeFdatasync(&st);
    if (st.ok()) {
      r.fdatasync = fdatasync;
    } else {
      Progress(sc.name, "fdatasync probe failed: " + st.ToString());
    }
    if (options.baselines) {
      const auto key = std::make_tuple(sc.load.connections, sc.load.batch, sc.load.inflight);
      auto cached = std::find_if(store_cache.begin(), store_cache.end(),
                                 [&](const auto& e) { return e.first == key; });
      if (cached != store_cache.end()) {
        r.store = cached->second;
      } else {
        Progress(sc.name, "baseline store_alone");
        StoreAloneResult store = RunStoreAlone(sc.load, tag, &st);
        if (!st.ok()) {
          Progress(sc.name, "store_alone failed: " + st.ToString());
          exit_code = 1;
        } else {
          r.store = store;
          store_cache.emplace_back(key, store);
        }
      }
      Progress(sc.name, "baseline ws_echo");
      RunResult echo = RunWsEcho(sc.load, tag, &st);
      if (!st.ok()) {
        Progress(sc.name, "ws_echo failed: " + st.ToString());
        exit_code = 1;
      } else {
        r.echo = echo;
      }
    }
    Progress(sc.name, options.server_url.empty() ? "ingest (spawned server)"
                                                 : "ingest (" + options.server_url + ")");
    r.ingest = RunIngest(options, sc.load, tag, &st);
    if (!st.ok()) {
      Progress(sc.name, "ingest failed: " + st.ToString());
      exit_code = 1;
      continue;
    }
    if (options.dispatcher_baseline && options.server_url.empty()) {
      Progress(sc.name, "baseline ingest with --no-dispatcher");
      IngestBenchOptions off = options;
      off.no_dispatcher = true;
      IngestResult base = RunIngest(off, sc.load, tag + "n", &st);
      if (st.ok()) {
        r.no_dispatcher = base;
      } else {
        Progress(sc.name, "no-dispatcher baseline failed: " + st.ToString());
        exit_code = 1;
      }
    }
    fmt::print("{}\n", ScenarioJson(sc, r));
    std::fflush(stdout);
  }
  return exit_code;
}

}  // namespace

CLI::App* AddBenchCommand(CLI::App& app, int* exit_code) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print one JSON line per scenario");
  bench->require_subcommand(1);
  AddBenchDispatchCommand(bench, exit_code);
  AddBenchSoakCommand(bench, exit_code);

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
