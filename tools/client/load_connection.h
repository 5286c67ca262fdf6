#pragma once
// The load client: LoadConnection is one sensor (or gateway) WebSocket connection to
// /ws/sensors that sends frames built by FrameBuilder, as fast as acks come back or at a fixed
// rate, and reads their acks. RunControl holds what the driver thread shares with every
// connection of a run (the measured window, the stop flag, a burst, an optional AckObserver).
// `yiwang bench ingest` and `yiwang bench soak` drive many of them on one io_context.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "ingest/handler_memory.h"
#include "ingest/limits.h"
#include "tools/client/load_frames.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::client {

// Steady-clock nanoseconds: the time base of RunControl and of every latency.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- settings -----------------------------------------------------------------------------

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
// All connections up, and each one's TCP connect.
inline constexpr std::chrono::seconds kConnectTimeout{30};

// How one load run drives its target.
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
  // episodes above the dispatcher's CH4 alarm rule (FrameBuilder's gas_episodes). The soak's
  // live-map subscribers then get the alarms and cases the dispatcher makes from the traffic.
  int alarm_every = 0;
};

struct LoadTarget {
  std::string host;  // a literal address
  uint16_t port = 0;
  std::string token;    // device token; empty sends no Authorization header
  std::string run_tag;  // makes device ids unique per run
};

// Per-connection statistics. Touched only on the owner's strand.
struct ConnStats {
  std::vector<int64_t> latencies_ns;  // acks read inside the window
  uint64_t frames = 0;                // acked inside the window
  uint64_t events = 0;                // accepted inside the window
  uint64_t events_acked_total = 0;    // accepted over the whole run
  uint64_t errors = 0;
  std::string first_error;

  void Error(std::string what) {
    if (errors++ == 0) first_error = std::move(what);
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

// The phases of one run, shared by the driver thread and the connections.
//
// Thread safety: atomics; the driver writes, the connections read. `observer` is set before
// the connections start.
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
  AckObserver* observer = nullptr;

  bool InWindow(int64_t t) const {
    return t >= window_start_ns.load(std::memory_order_relaxed) &&
           t < window_end_ns.load(std::memory_order_relaxed);
  }
};

// One connection of the load client. Keeps up to `inflight` frames sent and not yet acked;
// acks come back in frame order, so the send times wait in a FIFO. One read is always
// outstanding, one write at most (Beast's rule), and with a rate a timer paces sends. Every
// ack that does not report the whole frame accepted (CheckAck) counts as an error; so does a
// failed connection.
//
// Thread safety: everything runs on the connection's strand (with one client thread, the
// io_context's own executor: one thread is a strand already, and a strand per connection
// would cost a lock and often an extra queue hop per completion); Start and Stop may be
// called from any thread. stats() only after the io_context's threads are joined.
class LoadConnection : public std::enable_shared_from_this<LoadConnection> {
 public:
  // Connection `index` of settings.connections; `control` must outlive it.
  LoadConnection(boost::asio::io_context& ioc, const LoadTarget& target,
                 const LoadSettings& settings, int index, RunControl* control);

  // Connects, upgrades and starts sending; control->connected counts it once it is up,
  // control->finished once it has closed or failed.
  void Start(boost::asio::ip::tcp::endpoint endpoint);
  // Stops sending; the connection closes (1000) once every frame in flight is acked.
  void Stop();

  ConnStats& stats() { return stats_; }

 private:
  using error_code = boost::beast::error_code;

  void DoConnect(boost::asio::ip::tcp::endpoint endpoint);
  void OnConnect(error_code ec);
  void OnHandshake(error_code ec);
  bool Sending() const;
  void MaybeSend();
  void OnWrite(error_code ec, std::size_t);
  void ArmTimer(int64_t due_ns);
  void OnTimer(error_code ec);
  void DoRead();
  void OnRead(error_code ec, std::size_t);
  void MaybeClose();
  void OnClose(error_code);
  void Fail(const char* what, error_code ec);
  void Finish();

  // The read and write chains' operations reuse these (ingest/handler_memory.h), as the
  // server's sessions do: the client shares the cores with the server it measures.
  ingest::HandlerMemory<ingest::kWsReadChainBytes> read_memory_;
  ingest::HandlerMemory<ingest::kWsWriteChainBytes> write_memory_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer in_;
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
  int64_t interval_ns_ = 0;    // with a rate: time between this connection's frames
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

}  // namespace yiwang::client
