#include "tools/sim_gateway.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

namespace yiwang::tools::sim {

namespace {

using yiwang::v1::IngestAck;
using yiwang::v1::SensorEvent;

constexpr milliseconds kTick{100};             // a gateway sends what came due this often
constexpr size_t kMinFrameBytes = 1024;        // floor when adapting to a smaller limit
constexpr size_t kJsonSizeFactor = 4;          // JSON size / protobuf size, on the safe side
constexpr size_t kMaxInflightFrames = 64;      // sent, not yet acked, per connection
constexpr size_t kMaxInflightEvents = 10000;   // server stops reading at 20,000
constexpr size_t kMaxBufferedEvents = 200000;  // per gateway; beyond it the oldest go
constexpr milliseconds kConnectTimeout{5000};  // TCP connect + upgrade
constexpr milliseconds kWriteTimeout{10000};   // one frame
constexpr milliseconds kAckTimeout{30000};     // oldest unacked frame: then reconnect
constexpr milliseconds kDrainTimeout{1000};    // at the end: wait this long for acks
constexpr std::chrono::seconds kMaxCatchUp{60};  // a device further behind skips ahead

bool RetryableReason(std::string_view reason) {
  return reason == "overloaded" || reason == "storage_full" || reason == "shutting_down" ||
         reason == "unavailable";
}

}  // namespace

void Gateway::Produce(SteadyClock::time_point now) {
  for (Device& d : devices_) {
    if (d.next_due > now) continue;
    if (now - d.next_due > kMaxCatchUp) {
      log_.debug("[{}] {} s behind schedule: skipping ahead", d.id,
                 std::chrono::duration_cast<std::chrono::seconds>(now - d.next_due).count());
      d.next_due = now;
    }
    // A device that came due more than once since the last tick (a high --rate, or this thread
    // was busy connecting) reports each time, with the time each reading was due.
    while (d.next_due <= now) {
      const int events = Report(d, d.next_due, shared_->clock, log_, &backlog_);
      shared_->stats.generated.fetch_add(static_cast<uint64_t>(events));
      d.next_due += shared_->clock.interval;
    }
  }
  if (backlog_.size() > kMaxBufferedEvents) {
    const size_t n = backlog_.size() - kMaxBufferedEvents;
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(n));
    if (shared_->stats.dropped.fetch_add(n) == 0)
      log_.warn("[gw{}] more than {} events buffered: dropping the oldest", index_,
                kMaxBufferedEvents);
  }
}

milliseconds Gateway::NextBackoff() {
  // +-20 % jitter so that gateways do not reconnect in lockstep.
  const auto wait = milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter_.Uniform(0.8, 1.2)));
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
  return wait;
}

bool Gateway::Connect(WsClient& ws) {
  const client::Endpoint& server = shared_->servers[server_ % shared_->servers.size()];
  Status s = ws.Connect(server.host, server.port, "/ws/sensors", shared_->token);
  if (!s.ok()) {
    ++server_;  // a cluster's other gateway next time
    if (shared_->halt.load()) return false;
    if (ws.http_status() == 401 || ws.http_status() == 403) {
      if (!shared_->stats.token_refused.exchange(true))
        log_.error("the server refused the device token (HTTP {}): {}", ws.http_status(),
                   ws.http_body());
      return false;
    }
    if (++failures_ == 1) {
      log_.warn("[gw{}] cannot connect to {}: {}; retrying with backoff", index_,
                server.HostHeader(), s.ToString());
    } else {
      log_.debug("[gw{}] connect attempt {} failed: {}", index_, failures_, s.ToString());
    }
    return false;
  }
  if (was_connected_) {
    shared_->stats.reconnects.fetch_add(1);
    log_.info(
        "[gw{}] reconnected after {} failed attempt(s); {} events waiting, unacked ones "
        "first",
        index_, failures_, backlog_.size());
  } else {
    log_.debug("[gw{}] connected", index_);
  }
  online_ = true;
  was_connected_ = true;
  acked_since_connect_ = false;
  largest_frame_bytes_ = 0;
  failures_ = 0;
  shared_->stats.connected.fetch_add(1);
  shared_->stats.ever_connected.store(true);
  return true;
}

void Gateway::Requeue(google::protobuf::RepeatedPtrField<SensorEvent>* events, bool resend) {
  for (int i = events->size() - 1; i >= 0; --i) backlog_.push_front(std::move(*events->Mutable(i)));
  if (resend) shared_->stats.resent.fetch_add(static_cast<uint64_t>(events->size()));
  events->Clear();
}

void Gateway::Pump(WsClient& ws, SteadyClock::time_point now) {
  while (!backlog_.empty() && now >= pause_until_ && inflight_.size() < kMaxInflightFrames &&
         inflight_events_ < kMaxInflightEvents) {
    const size_t max_events = std::min(max_frame_events_, kMaxInflightEvents - inflight_events_);
    const size_t size_factor = shared_->binary ? 1 : kJsonSizeFactor;
    Frame f;
    f.batch.set_batch_id(fmt::format("sim-gw{}-{}", index_, ++frame_no_));
    size_t n = 0;
    size_t estimate = 64;  // the envelope
    while (!backlog_.empty() && n < max_events) {
      const size_t size = backlog_.front().ByteSizeLong() * size_factor + 8;
      if (n > 0 && estimate + size > max_frame_bytes_) break;
      estimate += size;
      *f.batch.add_events() = std::move(backlog_.front());
      backlog_.pop_front();
      ++n;
    }
    std::string data;
    if (shared_->binary) {
      f.batch.SerializeToString(&data);
    } else {
      (void)google::protobuf::util::MessageToJsonString(f.batch, &data);
    }
    largest_frame_bytes_ = std::max(largest_frame_bytes_, data.size());
    Status s = ws.SendRaw(data, shared_->binary);
    if (!s.ok()) {
      Requeue(f.batch.mutable_events(), /*resend=*/false);
      OnLost(ws, s, now);
      return;
    }
    log_.trace("[gw{}] frame {}: {} events, {} bytes", index_, f.batch.batch_id(), n, data.size());
    shared_->stats.sent.fetch_add(n);
    shared_->stats.frames.fetch_add(1);
    f.sent_at = now;
    inflight_events_ += n;
    inflight_.push_back(std::move(f));
  }
}

void Gateway::OnAck(WsClient& ws, const IngestAck& ack, SteadyClock::time_point now) {
  if (inflight_.empty() ||
      (!ack.batch_id().empty() && ack.batch_id() != inflight_.front().batch.batch_id())) {
    log_.warn("[gw{}] ack for '{}' does not match the oldest unacked frame '{}': reconnecting",
              index_, ack.batch_id(),
              inflight_.empty() ? std::string("(none)") : inflight_.front().batch.batch_id());
    ws.Abort();
    OnDisconnect("ack out of order", now);
    return;
  }
  Frame f = std::move(inflight_.front());
  inflight_.pop_front();
  const size_t n = static_cast<size_t>(f.batch.events_size());
  inflight_events_ -= n;
  if (!acked_since_connect_) {
    acked_since_connect_ = true;
    backoff_ = kBackoffMin;  // this connection works
  }
  Stats& stats = shared_->stats;

  if (!ack.error().empty()) {
    if (ack.error() == "too_many_events" && n > 1) {
      // The server is configured for smaller batches than ours.
      max_frame_events_ = std::max<size_t>(1, n / 2);
      log_.warn("[gw{}] server refused {} events in one frame: sending at most {}", index_, n,
                max_frame_events_);
      Requeue(f.batch.mutable_events(), /*resend=*/true);
    } else if (RetryableReason(ack.error())) {
      log_.debug("[gw{}] frame {} refused ({}): resending later", index_, f.batch.batch_id(),
                 ack.error());
      Requeue(f.batch.mutable_events(), /*resend=*/true);
      pause_until_ = now + NextBackoff();
    } else {
      stats.rejected.fetch_add(n);
      log_.warn("[gw{}] frame {} refused for good: {} ({})", index_, f.batch.batch_id(),
                ack.error(), ack.message());
    }
    return;
  }

  stats.accepted.fetch_add(ack.accepted());
  stats.duplicates.fetch_add(ack.duplicates());
  stats.flagged.fetch_add(ack.flagged());
  google::protobuf::RepeatedPtrField<SensorEvent> retry;
  for (const auto& r : ack.rejected()) {
    if (r.index() >= n) continue;
    SensorEvent* e = f.batch.mutable_events(static_cast<int>(r.index()));
    if (RetryableReason(r.reason())) {
      *retry.Add() = std::move(*e);
    } else {
      stats.rejected.fetch_add(1);
      log_.warn("[gw{}] event {} seq {} rejected: {} {}", index_, e->device_id(), e->seq(),
                r.reason(), r.detail());
    }
  }
  if (!retry.empty()) {
    log_.debug("[gw{}] {} events of frame {} refused for now: resending later", index_,
               retry.size(), f.batch.batch_id());
    Requeue(&retry, /*resend=*/true);
    pause_until_ = now + NextBackoff();
  }
}

void Gateway::OnLost(const WsClient& ws, const Status& s, SteadyClock::time_point now) {
  const int code = ws.close_code();
  if (code == 1009 && largest_frame_bytes_ > kMinFrameBytes) {
    // "Message too big": the server takes smaller frames than ours.
    max_frame_bytes_ = std::max(kMinFrameBytes, largest_frame_bytes_ / 2);
    log_.warn("[gw{}] a frame of {} bytes was too big for the server: sending at most {}", index_,
              largest_frame_bytes_, max_frame_bytes_);
  }
  OnDisconnect(code != 0 ? fmt::format("closed by the server with code {}", code) : s.ToString(),
               now);
}

void Gateway::OnDisconnect(const std::string& why, SteadyClock::time_point now) {
  // Everything unacked goes back ahead of what is new, oldest frame first.
  size_t unacked = 0;
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
    unacked += static_cast<size_t>(it->batch.events_size());
    Requeue(it->batch.mutable_events(), /*resend=*/true);
  }
  inflight_.clear();
  inflight_events_ = 0;
  online_ = false;
  ++server_;  // a cluster's other gateway next time (the same one when there is one)
  shared_->stats.connected.fetch_sub(1);
  if (shared_->halt.load() || shared_->finish.load()) return;
  const milliseconds wait = NextBackoff();
  next_connect_ = now + wait;
  log_.warn(
      "[gw{}] connection lost ({}); {} events were in flight, {} wait; reconnecting in "
      "{:.1f} s",
      index_, why, unacked, backlog_.size(), static_cast<double>(wait.count()) / 1000);
}

void Gateway::Run() {
  WsClient ws;
  ws.set_stop_flag(&shared_->halt);
  ws.set_connect_timeout(kConnectTimeout);
  ws.set_write_timeout(kWriteTimeout);
  auto next_tick = SteadyClock::now();
  std::optional<SteadyClock::time_point> drain_until;

  while (!shared_->halt.load()) {
    auto now = SteadyClock::now();
    if (!drain_until && shared_->finish.load()) drain_until = now + kDrainTimeout;
    if (!drain_until && now >= next_tick) {
      Produce(now);
      next_tick += kTick;
      if (next_tick <= now) next_tick = now + kTick;
    }

    if (!online_) {
      if (drain_until) break;  // nothing to drain into
      if (now >= next_connect_ && !Connect(ws)) next_connect_ = SteadyClock::now() + NextBackoff();
      if (!online_) {
        const auto until = std::min(next_tick, next_connect_);
        std::this_thread::sleep_for(
            std::clamp(std::chrono::duration_cast<milliseconds>(until - SteadyClock::now()),
                       milliseconds(1), kIdleSlice));
        continue;
      }
      now = SteadyClock::now();
    }

    Pump(ws, now);
    if (drain_until && ((backlog_.empty() && inflight_.empty()) || now >= *drain_until)) break;
    if (!online_) continue;

    // Wait for acks until the next tick. A read stays outstanding in between, which also
    // answers the server's pings and notices when it closes.
    const milliseconds wait =
        drain_until ? kIdleSlice
                    : std::clamp(std::chrono::duration_cast<milliseconds>(next_tick - now),
                                 milliseconds(0), kTick);
    IngestAck ack;
    Status s = ws.PollAck(&ack, wait);
    now = SteadyClock::now();
    if (s.ok()) {
      OnAck(ws, ack, now);
    } else if (s.code() != Status::Code::kBusy) {
      OnLost(ws, s, now);
    } else if (!inflight_.empty() && now - inflight_.front().sent_at > kAckTimeout) {
      ws.Abort();
      OnDisconnect("no ack for 30 s", now);
    }
  }
  if (online_) {
    ws.Close();  // bounded: halt aborts it
    shared_->stats.connected.fetch_sub(1);
  }
  done_.store(true);
}

}  // namespace yiwang::tools::sim
