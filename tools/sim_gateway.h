#pragma once
// The gateways of `yiwang sim`: the devices are spread over --gateways WebSocket connections to
// /ws/sensors, one thread each. Every tick a gateway sends one frame with every event that came
// due, keeps each event until its frame's ack, and after a disconnect reconnects with capped
// exponential backoff and resends what was unacked before anything new (the server stores a
// resent (deviceId, seq) once). A gateway adapts to a server whose limits are lower than its
// own (frames of fewer events, smaller frames), and resends events refused for now
// (overloaded, storage full, shutting down) after a backoff.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "base/status.h"
#include "tools/client/endpoint.h"
#include "tools/client/ws_client.h"
#include "tools/sim_fleet.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools::sim {

using client::WsClient;
using std::chrono::milliseconds;

inline constexpr milliseconds kBackoffMin{500};
inline constexpr milliseconds kBackoffMax{10000};
inline constexpr milliseconds kIdleSlice{50};  // sleeps while disconnected or draining
// A frame's size, until the server says it takes less.
inline constexpr size_t kMaxEventsPerFrame = 1000;    // server default: 10,000
inline constexpr size_t kMaxFrameBytes = 512 * 1024;  // server default: 1 MiB

// Counters shared by the gateways and the reporter.
// Thread safety: atomics only; any thread.
struct Stats {
  std::atomic<uint64_t> generated{0};  // events produced by the devices
  std::atomic<uint64_t> sent{0};       // events written to a connection, resends included
  std::atomic<uint64_t> resent{0};     // events queued again (connection lost, retryable refusal)
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};  // refused for good (a bug in the simulator if ever)
  std::atomic<uint64_t> flagged{0};
  std::atomic<uint64_t> dropped{0};  // buffer overflow while disconnected
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> reconnects{0};  // successful connections after a gateway's first
  std::atomic<int> connected{0};        // gateways connected now
  std::atomic<bool> ever_connected{false};
  std::atomic<bool> token_refused{false};

  // Events not yet resolved by an ack (buffered or in flight).
  uint64_t unacked() const {
    return generated.load() - accepted.load() - duplicates.load() - rejected.load() -
           dropped.load();
  }
};

// What every gateway shares: settings and the two stop flags.
// Thread safety: the settings are written before the gateway threads start and only read after;
// the rest are atomics.
struct Shared {
  // The servers to connect to (a cluster's gateways): connection i starts at servers[i % n]
  // and moves to the next one after a failed connect or a lost connection.
  std::vector<client::Endpoint> servers;
  std::string token;
  bool binary = true;
  FleetClock clock;
  std::shared_ptr<spdlog::logger> log;
  Stats stats;
  std::atomic<bool> finish{false};  // stop producing; flush for up to a second; close
  std::atomic<bool> halt{false};    // give up at once
};

// One WebSocket connection and the devices behind it.
// Thread safety: Run() and everything it touches belong to the gateway's own thread; the rest of
// the simulator sees only Shared (atomics and immutable settings) and done().
class Gateway {
 public:
  Gateway(int index, std::vector<Device> devices, Shared* shared)
      : index_(index), devices_(std::move(devices)), shared_(shared), log_(*shared->log) {}

  // Runs until Shared::finish (then drains briefly) or Shared::halt.
  void Run();
  bool done() const { return done_.load(); }

 private:
  struct Frame {
    yiwang::v1::IngestBatch batch;
    SteadyClock::time_point sent_at;
  };

  // A failed send or read: notes what the server's close code says, then OnDisconnect.
  void OnLost(const WsClient& ws, const Status& s, SteadyClock::time_point now);

  // Every device's reports that came due, into the backlog.
  void Produce(SteadyClock::time_point now);
  bool Connect(WsClient& ws);
  void Pump(WsClient& ws, SteadyClock::time_point now);
  void OnAck(WsClient& ws, const yiwang::v1::IngestAck& ack, SteadyClock::time_point now);
  void OnDisconnect(const std::string& why, SteadyClock::time_point now);
  // Puts events back at the front of the backlog, in their order, ahead of everything new.
  // `resend`: they went out before (counted in Stats::resent).
  void Requeue(google::protobuf::RepeatedPtrField<yiwang::v1::SensorEvent>* events, bool resend);
  milliseconds NextBackoff();

  const int index_;
  std::vector<Device> devices_;
  Shared* const shared_;
  spdlog::logger& log_;
  Rng jitter_{0};

  // Not yet sent on the current connection, oldest first.
  std::deque<yiwang::v1::SensorEvent> backlog_;
  std::deque<Frame> inflight_;       // sent on the current connection, awaiting acks in order
  size_t inflight_events_ = 0;
  uint64_t frame_no_ = 0;
  // Lowered when the server's limits are lower than ours (too_many_events, close 1009).
  size_t max_frame_events_ = kMaxEventsPerFrame;
  size_t max_frame_bytes_ = kMaxFrameBytes;
  size_t largest_frame_bytes_ = 0;  // sent on the current connection

  // Connected as far as this gateway knows. WsClient::connected() may turn false earlier (the
  // server's close arrived during a write); the next send or poll then reports the loss, and
  // OnDisconnect requeues what was in flight.
  bool online_ = false;
  bool was_connected_ = false;  // a connection ever succeeded
  bool acked_since_connect_ = false;
  int failures_ = 0;  // connection attempts failed in a row
  // Shared::servers[server_ % n] is the one to connect to; each starts at its own.
  size_t server_ = static_cast<size_t>(index_);
  milliseconds backoff_ = kBackoffMin;
  SteadyClock::time_point next_connect_{};
  SteadyClock::time_point pause_until_{};  // after a retryable refusal of a whole frame
  std::atomic<bool> done_{false};
};

}  // namespace yiwang::tools::sim
