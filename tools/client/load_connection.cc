#include "tools/client/load_connection.h"

#include <algorithm>
#include <optional>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

namespace yiwang::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr char kSensorPath[] = "/ws/sensors";
constexpr size_t kMaxAckBytes = 1u << 20;  // room for one rejection per event of a full frame
}  // namespace

LoadConnection::LoadConnection(net::io_context& ioc, const LoadTarget& target,
                               const LoadSettings& settings, int index, RunControl* control)
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

void LoadConnection::Start(tcp::endpoint endpoint) {
  net::dispatch(ws_.get_executor(), beast::bind_front_handler(&LoadConnection::DoConnect,
                                                              shared_from_this(), endpoint));
}

void LoadConnection::Stop() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    self->stopping_ = true;
    self->timer_.cancel();
    self->MaybeClose();
  });
}

void LoadConnection::DoConnect(tcp::endpoint endpoint) {
  beast::get_lowest_layer(ws_).expires_after(kConnectTimeout);
  beast::get_lowest_layer(ws_).async_connect(
      endpoint, beast::bind_front_handler(&LoadConnection::OnConnect, shared_from_this()));
}

void LoadConnection::OnConnect(beast::error_code ec) {
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
  ws_.async_handshake(fmt::format("{}:{}", target_.host, target_.port), kSensorPath,
                      beast::bind_front_handler(&LoadConnection::OnHandshake, shared_from_this()));
}

void LoadConnection::OnHandshake(beast::error_code ec) {
  if (ec) return Fail("handshake", ec);
  connected_ = true;
  control_->connected.fetch_add(1);
  ws_.binary(!settings_.json_frames);
  ws_.auto_fragment(false);
  next_due_ns_ = SteadyNowNs() + phase_ns_;
  DoRead();
  MaybeSend();
  MaybeClose();  // Stop() may have come during the handshake
}

bool LoadConnection::Sending() const {
  return connected_ && !stopping_ && !closing_ && !finished_ &&
         !control_->stop_sending.load(std::memory_order_relaxed);
}

void LoadConnection::MaybeSend() {
  if (!Sending()) return MaybeClose();
  if (writing_ || sent_.size() >= static_cast<size_t>(settings_.inflight)) return;
  int64_t start_ns = SteadyNowNs();
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
  if (interval_ns_ == 0) start_ns = SteadyNowNs();  // frame building is the client's time
  sent_.push_back({start_ns, frames_.seq()});
  if (control_->observer) control_->observer->OnSent(index_, frames_.seq());
  writing_ = true;
  ws_.async_write(net::buffer(out_),
                  ingest::WithMemory(write_memory_,
                                     beast::bind_front_handler(&LoadConnection::OnWrite,
                                                               shared_from_this())));
}

void LoadConnection::OnWrite(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) return Fail("write", ec);
  MaybeSend();
}

void LoadConnection::ArmTimer(int64_t due_ns) {
  if (timer_armed_) return;
  timer_armed_ = true;
  using SteadyClock = std::chrono::steady_clock;
  timer_.expires_at(SteadyClock::time_point(
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::nanoseconds(due_ns))));
  timer_.async_wait(beast::bind_front_handler(&LoadConnection::OnTimer, shared_from_this()));
}

void LoadConnection::OnTimer(beast::error_code ec) {
  timer_armed_ = false;
  if (ec) return MaybeClose();  // cancelled by Stop()
  MaybeSend();
}

void LoadConnection::DoRead() {
  ws_.async_read(in_, ingest::WithMemory(read_memory_,
                                         beast::bind_front_handler(&LoadConnection::OnRead,
                                                                   shared_from_this())));
}

void LoadConnection::OnRead(beast::error_code ec, std::size_t) {
  if (ec) {
    if (closing_) return;  // the close handshake ends the read; OnClose finishes
    return Fail("read", ec);
  }
  const int64_t now = SteadyNowNs();
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

void LoadConnection::MaybeClose() {
  if (!connected_ || closing_ || finished_ || Sending()) return;
  if (writing_ || !sent_.empty()) return;  // wait for the acks of frames in flight
  closing_ = true;
  timer_.cancel();
  ws_.async_close(websocket::close_code::normal,
                  beast::bind_front_handler(&LoadConnection::OnClose, shared_from_this()));
}

void LoadConnection::OnClose(beast::error_code) { Finish(); }

void LoadConnection::Fail(const char* what, beast::error_code ec) {
  if (finished_) return;
  stats_.Error(fmt::format("{}: {}", what, ec.message()));
  if (control_->observer) control_->observer->OnFailed(index_, stats_.first_error);
  Finish();
  timer_.cancel();
  beast::get_lowest_layer(ws_).close();  // pending operations end with operation_aborted
}

void LoadConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  control_->finished.fetch_add(1);
}

}  // namespace yiwang::client
