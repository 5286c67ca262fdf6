#pragma once
// The load client and the server plumbing shared by `yiwang bench ingest` (tools/bench.cc) and
// `yiwang bench soak` (tools/bench_soak.cc). Internal to tools/: no other folder includes it.
//
// LoadConnection is one sensor/gateway WebSocket connection that sends frames built by
// FrameBuilder (as fast as acks come back, or at a fixed rate) and reads their acks; RunControl
// holds what the driver thread shares with every connection (the measured window, the stop
// flag, the rate scale, an optional AckObserver). ServerProcess spawns `yiwang serve` from this
// very binary. HttpCall is a one-shot HTTP/1.1 client for the admin API and /metrics.

#include <fcntl.h>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
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
#include <utility>
#include <vector>

#include "base/file.h"
#include "base/status.h"
#include "ingest/handler_memory.h"
#include "ingest/limits.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
// --- defaults and limits ------------------------------------------------------------------

inline constexpr int kDefaultConnections = 200;
inline constexpr int kDefaultBatch = 1;
inline constexpr int kDefaultInflight = 1;
inline constexpr int kDefaultClientThreads = 1;
inline constexpr double kDefaultDurationS = 10;
inline constexpr double kDefaultWarmupS = 2;
// Beyond the server's default limits a run would only measure refusals.
inline constexpr int kMaxConnections = static_cast<int>(ingest::kDefaultMaxConnections);
inline constexpr int kMaxBatch = static_cast<int>(ingest::kDefaultMaxEventsPerBatch);
inline constexpr int kMaxInflight = static_cast<int>(ingest::kMaxWriteQueueFrames);
inline constexpr int kMaxClientThreads = 64;
// Process and network plumbing.
inline constexpr char kSensorPath[] = "/ws/sensors";
inline constexpr char kSelfExe[] = "/proc/self/exe";
inline constexpr char kListenAnyPort[] = "127.0.0.1:0";
inline constexpr char kDefaultServerLogLevel[] = "warn";
inline constexpr char kAdminTokenFile[] = "bootstrap-admin.token";
inline constexpr std::chrono::seconds kServerReadyTimeout{60};
inline constexpr std::chrono::seconds kServerStopTimeout{20};
inline constexpr std::chrono::seconds kHttpTimeout{10};
inline constexpr std::chrono::seconds kConnectTimeout{
    30};  // all connections up, and each one's TCP
inline constexpr std::chrono::seconds kDrainTimeout{
    15};  // after the window: acks of frames in flight
inline constexpr std::chrono::milliseconds kPollInterval{10};
inline constexpr size_t kMaxAckBytes = 1u
                                       << 20;  // room for one rejection per event of a full frame
// What the bench sends: septic-tank gas readings from devices around central Chongqing.
inline constexpr char kDevicePrefix[] = "bench-";  // the device token's devicePrefix
inline constexpr char kTokenName[] = "bench";
inline constexpr double kChongqingLat = 29.56;  // 渝中区, WGS-84
inline constexpr double kChongqingLon = 106.55;
inline constexpr double kDeviceSpreadDeg = 0.1;  // devices spread over ~10 km around that point

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

inline google::protobuf::Timestamp WallClockNow() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  google::protobuf::Timestamp ts;
  ts.set_seconds(ns / 1000000000);
  ts.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return ts;
}

inline std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  auto l = spdlog::stderr_color_mt(name);
  l->set_level(spdlog::level::warn);
  return l;
}
// --- settings and results -----------------------------------------------------------------

// How one load run (against the server or the echo baseline) drives its target. store_alone
// uses connections, batch and inflight, and always runs as fast as the store completes.
struct LoadSettings {
  int connections = kDefaultConnections;
  int batch = kDefaultBatch;        // events per frame
  int inflight = kDefaultInflight;  // frames sent and not yet acked, per connection
  double rate = 0;                  // total events/s; 0 = as fast as acks come back
  bool json_frames = false;         // text frames (canonical JSON) instead of binary protobuf
  int client_threads = kDefaultClientThreads;
  double warmup_s = kDefaultWarmupS;
  double duration_s = kDefaultDurationS;
  // Every alarm_every-th connection (0: none) sends, from its first device, septic-tank gas
  // episodes above the dispatcher's CH4 alarm rule (>= 25 % LEL for 60 s): kGasEpisodeS of
  // 40-48 % LEL out of every kGasCycleS, the phase spread by connection. The soak's live-map
  // subscribers then get the alarms and cases the dispatcher makes from the traffic.
  int alarm_every = 0;
};

inline constexpr int64_t kGasCycleS = 240;
inline constexpr int64_t kGasEpisodeS = 90;

struct LatencySummary {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// Exact nearest-rank quantiles of `samples_ns` (reordered).
inline LatencySummary Summarize(std::vector<int64_t>* samples_ns) {
  LatencySummary s;
  s.samples = samples_ns->size();
  if (samples_ns->empty()) return s;
  std::sort(samples_ns->begin(), samples_ns->end());
  auto at = [&](double q) {
    const size_t n = samples_ns->size();
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return static_cast<double>((*samples_ns)[rank - 1]) / 1e6;
  };
  s.p50_ms = at(0.50);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = static_cast<double>(samples_ns->back()) / 1e6;
  return s;
}

struct RunResult {
  double window_s = 0;
  uint64_t frames = 0;              // acked inside the window
  uint64_t events = 0;              // accepted inside the window
  uint64_t events_acked_total = 0;  // accepted over the whole run
  LatencySummary latency;
  uint64_t errors = 0;
  std::string first_error;
  double process_cpu_s = 0;             // this process, over the window
  std::optional<double> machine_cpu_s;  // every process, over the window
  double events_per_s() const { return window_s > 0 ? static_cast<double>(events) / window_s : 0; }
  double frames_per_s() const { return window_s > 0 ? static_cast<double>(frames) / window_s : 0; }
};

// Per-connection (or per-producer) statistics. Touched only on the owner's strand.
struct ConnStats {
  std::vector<int64_t> latencies_ns;
  uint64_t frames = 0;
  uint64_t events = 0;
  uint64_t events_acked_total = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Error(std::string what) {
    if (errors++ == 0) first_error = std::move(what);
  }
};

// The phases of one run, shared by the driver (main thread) and the connections.
struct RunControl {
  static constexpr int64_t kNever = INT64_MAX;
  std::atomic<int64_t> window_start_ns{kNever};  // steady clock; acks at or after it count
  std::atomic<int64_t> window_end_ns{kNever};    // acks at or after it do not
  std::atomic<bool> stop_sending{false};
  std::atomic<int> connected{0};
  std::atomic<int> finished{0};  // connections closed or failed
  // With a fixed rate: frames due in [burst_start_ns, burst_end_ns) (steady clock) come
  // burst_scale times as often (the soak's burst). A connection that falls behind sends the
  // frames due meanwhile as soon as its window allows, so the schedule is the same whether the
  // server keeps up or not. Set before the burst starts; default none.
  std::atomic<int64_t> burst_start_ns{kNever};
  std::atomic<int64_t> burst_end_ns{kNever};
  std::atomic<double> burst_scale{1.0};
  // Told about every frame sent and every ack read, if set (the soak's ack ledger). Must
  // outlive the connections.
  class AckObserver* observer = nullptr;

  bool InWindow(int64_t t) const {
    return t >= window_start_ns.load(std::memory_order_relaxed) &&
           t < window_end_ns.load(std::memory_order_relaxed);
  }
};

// What a LoadConnection reports frame by frame, besides its ConnStats.
//
// Thread safety: each call runs on the strand of connection `index`, so an implementation may
// keep per-connection state indexed by `index` without a lock; anything shared across
// connections must be atomic.
class AckObserver {
 public:
  virtual ~AckObserver() = default;
  // Frame `seq` (the seq of every event in it) was handed to the socket.
  virtual void OnSent(int index, uint64_t seq) = 0;
  // The ack of frame `seq` was read, `latency_ns` after the frame was due (or sent); `ack` is
  // null if the ack did not parse.
  virtual void OnAck(int index, uint64_t seq, int64_t latency_ns,
                     const yiwang::v1::IngestAck* ack) = 0;
  // The connection failed (`what`); frames still in flight stay unacked.
  virtual void OnFailed(int index, const std::string& what) = 0;
};

// Adds up per-connection statistics into *r (latencies are moved out).
inline void Aggregate(std::vector<ConnStats*> stats, RunResult* r) {
  std::vector<int64_t> all;
  for (ConnStats* s : stats) {
    r->frames += s->frames;
    r->events += s->events;
    r->events_acked_total += s->events_acked_total;
    if (s->errors > 0 && r->errors == 0) r->first_error = s->first_error;
    r->errors += s->errors;
    all.insert(all.end(), s->latencies_ns.begin(), s->latencies_ns.end());
    s->latencies_ns = {};
  }
  r->latency = Summarize(&all);
}

// utime + stime of process `pid` in seconds (/proc/<pid>/stat), or nullopt if unreadable.
inline std::optional<double> ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) may hold spaces; fields 14 and 15 (utime, stime) count from after its ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string skip;
  for (int field = 3; field <= 13; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU time every process of the machine spent over all cores (user, nice, system, irq,
// softirq, steal: everything but idle and iowait), in seconds, from /proc/stat. With the CPU
// time of the bench and of the server it tells how much other work shared the cores.
inline std::optional<double> MachineBusyCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!in || !(in >> cpu) || cpu != "cpu") return std::nullopt;
  unsigned long long busy = 0;
  for (int field = 0; field < 8; ++field) {  // user nice system idle iowait irq softirq steal
    unsigned long long v = 0;
    if (!(in >> v)) return std::nullopt;
    if (field != 3 && field != 4) busy += v;
  }
  return static_cast<double>(busy) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
// --- frames -------------------------------------------------------------------------------

// The frames of one connection: `batch` devices "bench-<run>-<connection>-<k>", each reporting
// one septic-tank gas reading per frame, seq one higher each frame (strictly increasing per
// device), observedAt now.
class FrameBuilder {
 public:
  // `gas_episodes`: the first device has alarm episodes (LoadSettings::alarm_every).
  FrameBuilder(const std::string& run_tag, int connection, int batch, bool json,
               bool gas_episodes = false)
      : json_(json),
        gas_episodes_(gas_episodes),
        episode_phase_s_(static_cast<int64_t>(connection) * 37 % kGasCycleS),
        rng_(static_cast<uint32_t>(connection) * 7919u + 1u) {
    std::uniform_real_distribution<double> offset(-kDeviceSpreadDeg / 2, kDeviceSpreadDeg / 2);
    for (int k = 0; k < batch; ++k) {
      auto* ev = batch_.add_events();
      ev->set_device_id(fmt::format("{}{}-{}-{}", kDevicePrefix, run_tag, connection, k));
      ev->mutable_location()->set_lat(kChongqingLat + offset(rng_));
      ev->mutable_location()->set_lon(kChongqingLon + offset(rng_));
    }
  }

  // Advances every event to the next reading and returns the batch.
  const yiwang::v1::IngestBatch& Next() {
    ++seq_;
    const google::protobuf::Timestamp now = WallClockNow();
    // Quiet-tank readings: well under any alarm threshold, varying like a real sensor.
    std::uniform_real_distribution<double> ch4(0.5, 8.0);   // % LEL
    std::uniform_real_distribution<double> h2s(0.1, 3.0);   // ppm
    std::uniform_real_distribution<double> nh3(2.0, 15.0);  // ppm
    for (auto& ev : *batch_.mutable_events()) {
      ev.set_seq(seq_);
      *ev.mutable_observed_at() = now;
      auto* gas = ev.mutable_septic_tank_gas();
      gas->set_ch4_percent_lel(ch4(rng_));
      gas->set_h2s_ppm(h2s(rng_));
      gas->set_nh3_ppm(nh3(rng_));
    }
    if (gas_episodes_ && (now.seconds() + episode_phase_s_) % kGasCycleS < kGasEpisodeS) {
      std::uniform_real_distribution<double> high(40.0, 48.0);  // over 25 % LEL, under 50
      batch_.mutable_events(0)->mutable_septic_tank_gas()->set_ch4_percent_lel(high(rng_));
    }
    return batch_;
  }

  // The seq of the last frame built (0 before the first).
  uint64_t seq() const { return seq_; }

  // Next(), encoded as the frame's payload (protobuf, or canonical JSON with --json-frames).
  void NextFrame(std::string* out) {
    const auto& batch = Next();
    out->clear();
    if (json_) {
      (void)google::protobuf::util::MessageToJsonString(batch, out);
    } else {
      batch.SerializeToString(out);
    }
  }

 private:
  yiwang::v1::IngestBatch batch_;
  uint64_t seq_ = 0;
  bool json_;
  bool gas_episodes_;
  int64_t episode_phase_s_;
  std::minstd_rand rng_;
};

// Checks that an ack reports all `batch` events accepted; else describes what it says.
inline std::optional<std::string> CheckAck(const yiwang::v1::IngestAck& ack, int batch) {
  if (!ack.error().empty())
    return fmt::format("frame refused: {} ({})", ack.error(), ack.message());
  if (ack.rejected_size() > 0)
    return fmt::format("event {} rejected: {} {}", ack.rejected(0).index(),
                       ack.rejected(0).reason(), ack.rejected(0).detail());
  if (ack.accepted() != static_cast<uint32_t>(batch))
    return fmt::format("accepted {} of {} ({} duplicates)", ack.accepted(), batch,
                       ack.duplicates());
  return std::nullopt;
}

// --- the load client ----------------------------------------------------------------------

struct LoadTarget {
  std::string host;
  uint16_t port = 0;
  std::string token;    // device token; empty sends no Authorization header
  std::string run_tag;  // makes device ids unique per run
};

// One sensor/gateway connection of the load client. Keeps up to `inflight` frames sent and not
// yet acked; acks come back in frame order, so the send times wait in a FIFO. One read is
// always outstanding, one write at most (Beast's rule), and with --rate a timer paces sends.
//
// Thread safety: everything runs on the connection's strand (with one client thread, the
// io_context's own executor: one thread is a strand already, and a strand per connection
// would cost a lock and often an extra queue hop per completion); Start and Stop may be
// called from any thread. stats() only after the io_context's threads are joined.
class LoadConnection : public std::enable_shared_from_this<LoadConnection> {
 public:
  LoadConnection(net::io_context& ioc, const LoadTarget& target, const LoadSettings& settings,
                 int index, RunControl* control)
      : ws_(settings.client_threads > 1 ? net::any_io_executor(net::make_strand(ioc))
                                        : net::any_io_executor(ioc.get_executor())),
        timer_(ws_.get_executor()),
        target_(target),
        settings_(settings),
        control_(control),
        index_(index),
        frames_(target.run_tag, index, settings.batch, settings.json_frames,
                settings.alarm_every > 0 && index % settings.alarm_every == 0) {
    if (settings.rate > 0) {
      // Each connection sends its share of the total rate, from a random phase so that the
      // connections do not fire in lockstep.
      interval_ns_ = std::max<int64_t>(
          1, static_cast<int64_t>(1e9 * settings.connections * settings.batch / settings.rate));
      std::minstd_rand rng(static_cast<uint32_t>(index) + 1u);
      phase_ns_ = std::uniform_int_distribution<int64_t>(0, interval_ns_ - 1)(rng);
    }
  }

  void Start(tcp::endpoint endpoint) {
    net::dispatch(ws_.get_executor(), beast::bind_front_handler(&LoadConnection::DoConnect,
                                                                shared_from_this(), endpoint));
  }

  // Stops sending; the connection closes (1000) once every frame in flight is acked.
  void Stop() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
      self->MaybeClose();
    });
  }

  ConnStats& stats() { return stats_; }

 private:
  void DoConnect(tcp::endpoint endpoint) {
    beast::get_lowest_layer(ws_).expires_after(kConnectTimeout);
    beast::get_lowest_layer(ws_).async_connect(
        endpoint, beast::bind_front_handler(&LoadConnection::OnConnect, shared_from_this()));
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Fail("connect", ec);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    // Small frames must leave at once: Nagle would hold them for the previous frame's ACK.
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    const std::string authorization = target_.token.empty() ? "" : "Bearer " + target_.token;
    ws_.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& req) {
      req.set(http::field::user_agent, "yiwang-bench");
      if (!authorization.empty()) req.set(http::field::authorization, authorization);
    }));
    ws_.read_message_max(kMaxAckBytes);
    ws_.async_handshake(
        fmt::format("{}:{}", target_.host, target_.port), kSensorPath,
        beast::bind_front_handler(&LoadConnection::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return Fail("handshake", ec);
    connected_ = true;
    control_->connected.fetch_add(1);
    ws_.binary(!settings_.json_frames);
    ws_.auto_fragment(false);
    next_due_ns_ = NowNs() + phase_ns_;
    DoRead();
    MaybeSend();
    MaybeClose();  // Stop() may have come during the handshake
  }

  bool Sending() const {
    return connected_ && !stopping_ && !closing_ && !finished_ &&
           !control_->stop_sending.load(std::memory_order_relaxed);
  }

  void MaybeSend() {
    if (!Sending()) return MaybeClose();
    if (writing_ || sent_.size() >= static_cast<size_t>(settings_.inflight)) return;
    int64_t start_ns = NowNs();
    if (interval_ns_ > 0) {
      if (start_ns < next_due_ns_) return ArmTimer(next_due_ns_);
      // Latency counts from when the frame was due, not from when the client got to it.
      start_ns = next_due_ns_;
      const bool in_burst =
          next_due_ns_ >= control_->burst_start_ns.load(std::memory_order_relaxed) &&
          next_due_ns_ < control_->burst_end_ns.load(std::memory_order_relaxed);
      const double scale = in_burst ? control_->burst_scale.load(std::memory_order_relaxed) : 1.0;
      next_due_ns_ +=
          std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(interval_ns_) / scale));
    }
    frames_.NextFrame(&out_);
    if (interval_ns_ == 0) start_ns = NowNs();  // frame building is the client's time
    sent_.push_back({start_ns, frames_.seq()});
    if (control_->observer) control_->observer->OnSent(index_, frames_.seq());
    writing_ = true;
    ws_.async_write(net::buffer(out_),
                    ingest::WithMemory(write_memory_, beast::bind_front_handler(
                                                          &LoadConnection::OnWrite, shared_from_this())));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return Fail("write", ec);
    MaybeSend();
  }

  void ArmTimer(int64_t due_ns) {
    if (timer_armed_) return;
    timer_armed_ = true;
    timer_.expires_at(SteadyClock::time_point(
        std::chrono::duration_cast<SteadyClock::duration>(std::chrono::nanoseconds(due_ns))));
    timer_.async_wait(beast::bind_front_handler(&LoadConnection::OnTimer, shared_from_this()));
  }

  void OnTimer(beast::error_code ec) {
    timer_armed_ = false;
    if (ec) return MaybeClose();  // cancelled by Stop()
    MaybeSend();
  }

  void DoRead() {
    ws_.async_read(in_, ingest::WithMemory(read_memory_, beast::bind_front_handler(
                                                             &LoadConnection::OnRead, shared_from_this())));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      if (closing_) return;  // the close handshake ends the read; OnClose finishes
      return Fail("read", ec);
    }
    const int64_t now = NowNs();
    yiwang::v1::IngestAck ack;
    const auto* data = static_cast<const char*>(in_.data().data());
    const size_t size = in_.size();
    bool parsed = false;
    if (ws_.got_binary()) {
      parsed = ack.ParseFromArray(data, static_cast<int>(size));
    } else {
      parsed = google::protobuf::util::JsonStringToMessage(std::string(data, size), &ack).ok();
    }
    in_.consume(size);
    if (sent_.empty()) {
      stats_.Error("ack without a frame in flight");
    } else {
      const auto [start, seq] = sent_.front();
      sent_.pop_front();
      if (control_->observer)
        control_->observer->OnAck(index_, seq, now - start, parsed ? &ack : nullptr);
      std::optional<std::string> problem =
          parsed ? CheckAck(ack, settings_.batch) : std::optional<std::string>("unparsable ack");
      if (problem) stats_.Error(std::move(*problem));
      stats_.events_acked_total += ack.accepted();
      if (control_->InWindow(now)) {
        stats_.latencies_ns.push_back(now - start);
        ++stats_.frames;
        stats_.events += ack.accepted();
      }
    }
    DoRead();
    MaybeSend();
  }

  void MaybeClose() {
    if (!connected_ || closing_ || finished_ || Sending()) return;
    if (writing_ || !sent_.empty()) return;  // wait for the acks of frames in flight
    closing_ = true;
    timer_.cancel();
    ws_.async_close(websocket::close_code::normal,
                    beast::bind_front_handler(&LoadConnection::OnClose, shared_from_this()));
  }

  void OnClose(beast::error_code) { Finish(); }

  void Fail(const char* what, beast::error_code ec) {
    if (finished_) return;
    stats_.Error(fmt::format("{}: {}", what, ec.message()));
    if (control_->observer) control_->observer->OnFailed(index_, stats_.first_error);
    Finish();
    timer_.cancel();
    beast::get_lowest_layer(ws_).close();  // pending operations end with operation_aborted
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    control_->finished.fetch_add(1);
  }

  // The read and write chains' operations reuse these (ingest/handler_memory.h), as the
  // server's sessions do: the client shares the cores with the server it measures.
  ingest::HandlerMemory<ingest::kWsReadChainBytes> read_memory_;
  ingest::HandlerMemory<ingest::kWsWriteChainBytes> write_memory_;
  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer timer_;
  beast::flat_buffer in_;
  std::string out_;  // the frame being written
  const LoadTarget target_;
  const LoadSettings settings_;
  RunControl* const control_;
  const int index_;
  FrameBuilder frames_;
  struct InFlight {
    int64_t start_ns;  // latency start
    uint64_t seq;
  };
  std::deque<InFlight> sent_;  // frames in flight, in frame order
  int64_t interval_ns_ = 0;    // with --rate: time between this connection's frames
  int64_t phase_ns_ = 0;
  int64_t next_due_ns_ = 0;
  bool connected_ = false;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool stopping_ = false;
  bool closing_ = false;
  bool finished_ = false;
  ConnStats stats_;
};

// Called on the main thread right before the window opens and right after it closes.
using WindowHook = std::function<void()>;

// Waits until pred() or the timeout; returns pred().
template <typename Pred>
inline bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!pred() && SteadyClock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
  return pred();
}

inline std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}
// A directory under the system temp dir ($TMPDIR or /tmp), removed with its content by the
// destructor.
class ScopedTempDir {
 public:
  ScopedTempDir() = default;
  ~ScopedTempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  Status Create(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / fmt::format("{}XXXXXX", prefix)).string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return Status::IOError(fmt::format("mkdtemp {}: {}", pattern, std::strerror(errno)));
    path_ = pattern;
    return Status::Ok();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// fdatasync latency of the disk under the temp dir (where every store of the bench lives): the
// --- the real server ----------------------------------------------------------------------

inline bool SplitUrl(std::string url, std::string* host, uint16_t* port) {
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r' || url.back() == '/'))
    url.pop_back();
  for (std::string_view scheme : {"http://", "ws://"}) {
    if (url.starts_with(scheme)) url.erase(0, scheme.size());
  }
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = url.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  const std::string digits = url.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const int p = std::stoi(digits);
  if (p <= 0 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

// One HTTP/1.1 request on a fresh connection, with kHttpTimeout for the whole exchange.
// `bearer` empty sends no Authorization. Returns the transport error, if any; the HTTP status
// goes to *status_code. If `set_cookie` is set it receives the response's first Set-Cookie
// "name=value" (without its attributes), or "" if none.
inline Status HttpCall(const std::string& host, uint16_t port, http::verb verb,
                       const std::string& target, const std::string& bearer,
                       const std::string& body, int* status_code, std::string* response_body,
                       std::string* set_cookie = nullptr) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  const tcp::endpoint ep(net::ip::make_address(host, ec), port);
  if (ec) return Status::InvalidArgument("bad host " + host + ": " + ec.message());
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, fmt::format("{}:{}", host, port));
  req.set(http::field::user_agent, "yiwang-bench");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  std::optional<beast::error_code> outcome;
  const char* step = "connect";
  stream.expires_after(kHttpTimeout);  // one deadline for connect, write and read
  auto on_read = [&](beast::error_code e, std::size_t) { outcome = e; };
  auto on_write = [&](beast::error_code e, std::size_t) {
    if (e) {
      outcome = e;
      return;
    }
    step = "read";
    http::async_read(stream, buffer, res, on_read);
  };
  stream.async_connect(ep, [&](beast::error_code e) {
    if (e) {
      outcome = e;
      return;
    }
    step = "write";
    http::async_write(stream, req, on_write);
  });
  ioc.run();
  if (!outcome || *outcome)
    return Status::IOError(fmt::format("HTTP {} {}: {} failed: {}", http::to_string(verb), target,
                                       step, outcome ? outcome->message() : "no completion"));
  *status_code = static_cast<int>(res.result_int());
  if (set_cookie) {
    const auto it = res.find(http::field::set_cookie);
    const std::string v = it == res.end() ? std::string() : std::string(it->value());
    *set_cookie = v.substr(0, v.find(';'));
  }
  *response_body = std::move(res.body());
  return Status::Ok();
}

// Creates a device token for "bench-" devices with the admin token.
inline Status ProvisionDeviceToken(const std::string& host, uint16_t port, const std::string& admin,
                                   std::string* token) {
  int code = 0;
  std::string body;
  const std::string request =
      fmt::format(R"({{"name":"{}","devicePrefix":"{}"}})", kTokenName, kDevicePrefix);
  if (Status s = HttpCall(host, port, http::verb::post, "/api/v1/admin/device-tokens", admin,
                          request, &code, &body);
      !s.ok())
    return s;
  if (code != 201) return Status::Unavailable(fmt::format("device token: HTTP {} {}", code, body));
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec);
  const boost::json::value* t =
      ec || !v.is_object() ? nullptr : v.get_object().if_contains("token");
  if (!t || !t->is_string()) return Status::Corruption("device token: no \"token\" in " + body);
  *token = std::string(t->get_string());
  return Status::Ok();
}

// `yiwang serve` as a child process on a fresh data dir and a free port, logging at
// `log_level` to the bench's stderr. The destructor stops it (SIGTERM) if still running and
// removes its data. If the bench dies, the kernel sends the child SIGTERM (PR_SET_PDEATHSIG).
//
// Thread safety: one thread.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { (void)Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it has written its ready file.
  Status Start(const std::string& log_level, std::vector<std::string> extra_args = {}) {
    if (Status s = dir_.Create("yiwang-bench-server-"); !s.ok()) return s;
    data_dir_ = dir_.path() / "data";
    const auto ready_file = dir_.path() / "ready";
    // The child execs /proc/self/exe, which stays this very binary even if a rebuild has
    // replaced the file since; argv[0] is its name for ps.
    std::error_code ec;
    std::string name = std::filesystem::read_symlink(kSelfExe, ec).string();
    if (ec) name = "yiwang";
    std::vector<std::string> args = {name,          "serve",        "--data-dir",   data_dir_,
                                     "--listen",    kListenAnyPort, "--ready-file", ready_file,
                                     "--log-level", log_level};
    for (auto& a : extra_args) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return Status::IOError(fmt::format("fork: {}", std::strerror(errno)));
    if (pid_ == 0) {
      // Child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(STDERR_FILENO, STDOUT_FILENO);  // the bench's stdout carries only JSON lines
      ::execv(kSelfExe, argv.data());
      ::_exit(127);
    }

    const auto deadline = SteadyClock::now() + kServerReadyTimeout;
    for (;;) {
      std::string line;
      if (ReadFirstLine(ready_file, &line).ok()) {
        url_ = line;
        return Status::Ok();
      }
      int wstatus = 0;
      if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = 0;
        return Status::Unavailable(
            fmt::format("the server exited during start-up (status {})", wstatus));
      }
      if (SteadyClock::now() > deadline) return Status::Busy("the server did not become ready");
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  // SIGTERM, then waits (SIGKILL after kServerStopTimeout). Error if it did not exit with 0.
  Status Stop() {
    if (pid_ <= 0) return Status::Ok();
    const pid_t pid = pid_;
    pid_ = 0;
    ::kill(pid, SIGTERM);
    int wstatus = 0;
    const auto deadline = SteadyClock::now() + kServerStopTimeout;
    while (::waitpid(pid, &wstatus, WNOHANG) == 0) {
      if (SteadyClock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &wstatus, 0);
        return Status::Busy("the server did not stop on SIGTERM; killed");
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
      return Status::IOError(fmt::format("the server ended with status {}", wstatus));
    return Status::Ok();
  }

  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

 private:
  ScopedTempDir dir_;
  std::filesystem::path data_dir_;
  pid_t pid_ = 0;
  std::string url_;
};
// --- output -------------------------------------------------------------------------------

// One flat JSON object, keys in insertion order; unset or non-finite numbers print as null.
class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value) {
    Key(key);
    out_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out_ += fmt::format("\\u{:04x}", static_cast<int>(c));
      } else {
        out_ += c;
      }
    }
    out_ += '"';
    return *this;
  }
  JsonLine& Int(std::string_view key, int64_t value) {
    Key(key);
    out_ += std::to_string(value);
    return *this;
  }
  JsonLine& Num(std::string_view key, std::optional<double> value, int decimals) {
    Key(key);
    out_ += value && std::isfinite(*value) ? fmt::format("{:.{}f}", *value, decimals) : "null";
    return *this;
  }
  JsonLine& Bool(std::string_view key, std::optional<bool> value) {
    Key(key);
    out_ += value ? (*value ? "true" : "false") : "null";
    return *this;
  }
  std::string Finish() const { return out_ + "}"; }

 private:
  void Key(std::string_view key) {
    out_ += out_.size() > 1 ? "," : "";
    out_ += fmt::format("\"{}\":", key);
  }
  std::string out_ = "{";
};
// A tag that keeps this run's device ids apart from any earlier run's on the same server.
inline std::string RunTag() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return fmt::format("{:x}", ms);
}

}  // namespace yiwang::tools::bench
