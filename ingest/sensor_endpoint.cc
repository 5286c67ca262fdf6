#include "ingest/sensor_endpoint.h"

#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "ingest/handler_memory.h"

namespace yiwang::ingest {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

HttpResponse JsonError(const HttpRequest& req, http::status status, std::string_view code,
                       std::string_view message) {
  HttpResponse res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  res.body() = fmt::format(R"({{"error":{{"code":"{}","message":"{}"}}}})", code, message);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// A short, stable label for a connection error: Beast's WebSocket error names where we know
// them, else "category:value".
std::string ErrorLabel(beast::error_code ec) {
  if (ec == websocket::error::message_too_big) return "message_too_big";
  if (ec == websocket::error::bad_frame_payload) return "bad_utf8";
  if (ec == websocket::error::bad_data_frame || ec == websocket::error::bad_opcode ||
      ec == websocket::error::bad_control_fragment || ec == websocket::error::bad_control_size ||
      ec == websocket::error::bad_unmasked_frame || ec == websocket::error::bad_reserved_bits ||
      ec == websocket::error::bad_continuation || ec == websocket::error::bad_close_code ||
      ec == websocket::error::bad_close_size || ec == websocket::error::bad_close_payload ||
      ec == websocket::error::bad_size)
    return "protocol_violation";
  return fmt::format("{}:{}", ec.category().name(), ec.value());
}

}  // namespace

// Thread safety: every member is touched only on the session's strand (the executor of ws_),
// except id_ and endpoint_ which are immutable.
class SensorSession : public std::enable_shared_from_this<SensorSession> {
 public:
  SensorSession(beast::tcp_stream&& stream, yiwang::v1::TokenRecord token, uint64_t id,
                SensorEndpoint* endpoint)
      : ws_(std::move(stream)),
        cut_timer_(ws_.get_executor()),
        token_(std::move(token)),
        id_(id),
        endpoint_(endpoint) {}

  ~SensorSession() { endpoint_->Unregister(id_); }

  void Run(HttpRequest req) {
    net::dispatch(ws_.get_executor(), beast::bind_front_handler(&SensorSession::DoAccept,
                                                                 shared_from_this(), std::move(req)));
  }

  // Any thread.
  void Shutdown() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->stopping_ = true;
      self->MaybeClose();
    });
  }

  // Any thread: the session's token was revoked (SensorEndpoint::CloseToken).
  void Revoke() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      if (self->stopping_ && self->close_reason_.code == websocket::close_code::policy_error)
        return;
      self->stopping_ = true;
      self->close_reason_ = websocket::close_reason(websocket::close_code::policy_error,
                                                    "token revoked");
      self->endpoint_->log_->info("[C{}] token '{}' revoked: closing", self->id_,
                                  self->token_.name());
      // Acks of frames already read are written first; a client that does not read them is
      // cut after a second.
      self->cut_timer_.expires_after(std::chrono::seconds(1));
      self->cut_timer_.async_wait([self](beast::error_code ec) {
        if (!ec && !self->failed_) beast::get_lowest_layer(self->ws_).close();
      });
      self->MaybeClose();
    });
  }

 private:
  struct PendingAck {
    bool binary = false;
    bool ready = false;
    size_t events = 0;  // submitted to the store, in flight until the ack is ready
    std::string ack;
  };

  const IngestLimits& limits() const { return endpoint_->service_->limits(); }

  void DoAccept(HttpRequest req) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = limits().idle_timeout;
    ws_.set_option(timeouts);
    ws_.read_message_max(limits().max_frame_bytes);
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "yiwang"); }));
    ws_.async_accept(req, beast::bind_front_handler(&SensorSession::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec) {
    if (ec) return Fail(ec, "accept");
    accepted_ = true;
    if (stopping_) return MaybeClose();
    endpoint_->log_->debug("[C{}] sensor connection for token '{}'", id_, token_.name());
    MaybeRead();
  }

  void MaybeRead() {
    if (reading_ || stopping_ || failed_) return;
    if (inflight_ >= limits().max_inflight_events || pending_.size() >= kMaxWriteQueueFrames)
      return;  // backpressure: resumed from OnAckReady / OnWrite
    reading_ = true;
    ws_.async_read(buffer_, WithMemory(read_memory_, beast::bind_front_handler(
                                                         &SensorSession::OnRead, shared_from_this())));
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    reading_ = false;
    if (ec) return Fail(ec, "read");
    const bool binary = ws_.got_binary();
    // A flat_buffer holds the message in one piece: decoded in place, consumed afterwards.
    const auto bytes = buffer_.data();
    const std::string_view data(static_cast<const char*>(bytes.data()), bytes.size());

    const uint64_t frame_no = front_frame_no_ + pending_.size();
    pending_.push_back(PendingAck{binary, false, 0, {}});
    size_t submitted = endpoint_->service_->HandleFrame(
        data, binary, token_, [self = shared_from_this(), frame_no](std::string ack) {
          net::post(self->ws_.get_executor(), [self, frame_no, ack = std::move(ack)]() mutable {
            self->OnAckReady(frame_no, std::move(ack));
          });
        });
    buffer_.consume(n);
    // The reply is always posted, so the slot is still here and not yet ready.
    pending_[frame_no - front_frame_no_].events = submitted;
    inflight_ += submitted;
    MaybeRead();
  }

  void OnAckReady(uint64_t frame_no, std::string ack) {
    PendingAck& p = pending_[frame_no - front_frame_no_];
    p.ready = true;
    p.ack = std::move(ack);
    inflight_ -= p.events;
    DoWrite();
    MaybeRead();
  }

  void DoWrite() {
    if (writing_ || failed_ || pending_.empty() || !pending_.front().ready) return;
    writing_ = true;
    ws_.binary(pending_.front().binary);
    ws_.async_write(net::buffer(pending_.front().ack),
                    WithMemory(write_memory_, beast::bind_front_handler(&SensorSession::OnWrite,
                                                                        shared_from_this())));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) return Fail(ec, "write");
    pending_.pop_front();
    ++front_frame_no_;
    DoWrite();
    MaybeRead();
    MaybeClose();
  }

  void MaybeClose() {
    if (!accepted_ || !stopping_ || closing_ || failed_ || writing_ || !pending_.empty()) return;
    closing_ = true;
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code ec) {
      self->cut_timer_.cancel();
      if (ec) self->endpoint_->log_->debug("[C{}] close: {}", self->id_, ec.message());
    });
  }

  void Fail(beast::error_code ec, const char* what) {
    failed_ = true;
    if (ec == websocket::error::closed || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::broken_pipe) {
      endpoint_->log_->debug("[C{}] {}: {}", id_, what, ec.message());
      return;
    }
    // Protocol violations (oversized frame -> 1009, bad UTF-8 -> 1007, ...) are answered by
    // Beast with the matching close code before we get here.
    endpoint_->metrics_
        ->GetCounter("yiwang_ingest_connection_errors_total",
                     "Sensor connections ended by an error", {{"error", ErrorLabel(ec)}})
        .Inc();
    endpoint_->log_->info("[C{}] {} failed: {}", id_, what, ec.message());
  }

  // Memory for the operations of the read chain and of the write chain (ingest/handler_memory.h).
  // Declared before ws_, so that they outlive any operation ws_ still holds when destroyed.
  HandlerMemory<kWsReadChainBytes> read_memory_;
  HandlerMemory<kWsWriteChainBytes> write_memory_;
  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer cut_timer_;  // a revoked session still open a second later is cut
  beast::flat_buffer buffer_;
  yiwang::v1::TokenRecord token_;
  const uint64_t id_;
  SensorEndpoint* const endpoint_;

  std::deque<PendingAck> pending_;  // one per frame read, in frame order
  uint64_t front_frame_no_ = 0;
  size_t inflight_ = 0;
  bool accepted_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool stopping_ = false;
  bool closing_ = false;
  bool failed_ = false;
  websocket::close_reason close_reason_{websocket::close_code::going_away};
};

SensorEndpoint::SensorEndpoint(IngestService* service, Metrics* metrics,
                               std::shared_ptr<spdlog::logger> logger)
    : service_(service),
      metrics_(metrics),
      log_(std::move(logger)),
      m_connections_(metrics->GetGauge("yiwang_ingest_connections", "Open sensor connections")) {}

std::variant<HttpResponse, UpgradeFn> SensorEndpoint::Admit(const HttpRequest& req) {
  auto refuse = [&](http::status status, std::string_view code, std::string_view message) {
    metrics_
        ->GetCounter("yiwang_ingest_handshakes_refused_total",
                     "Sensor WebSocket upgrades refused, by reason", {{"reason", std::string(code)}})
        .Inc();
    return JsonError(req, status, code, message);
  };
  yiwang::v1::TokenRecord token;
  std::string token_hash;
  Status s = service_->Authenticate(req[http::field::authorization], &token, &token_hash);
  if (!s.ok()) {
    return refuse(http::status::unauthorized, "unauthorized",
                  s.code() == Status::Code::kInvalidArgument ? "missing bearer device token"
                                                             : "unknown or revoked device token");
  }
  {
    std::lock_guard lock(mu_);
    if (shutting_down_)
      return refuse(http::status::service_unavailable, "shutting_down", "server is stopping");
    if (sessions_.size() + reserved_ >= service_->limits().max_connections)
      return refuse(http::status::service_unavailable, "too_many_connections",
                    "sensor connection limit reached; retry later");
    ++reserved_;  // taken by Register, so simultaneous upgrades cannot exceed the cap
  }
  return UpgradeFn([this, token = std::move(token), token_hash = std::move(token_hash)](
                       beast::tcp_stream&& stream, HttpRequest&& request) mutable {
    const uint64_t id = next_id_.fetch_add(1);
    auto session = std::make_shared<SensorSession>(std::move(stream), std::move(token), id, this);
    Register(id, token_hash, session);
    session->Run(std::move(request));
  });
}

void SensorEndpoint::Register(uint64_t id, const std::string& token_hash,
                              std::weak_ptr<SensorSession> s) {
  std::shared_ptr<SensorSession> stop_now;
  bool revoked = false;
  {
    std::lock_guard lock(mu_);
    --reserved_;
    sessions_.emplace(id, Entry{token_hash, s});
    m_connections_.Set(static_cast<int64_t>(sessions_.size()));
    revoked = revoked_.count(token_hash) > 0;
    if (shutting_down_ || revoked) stop_now = s.lock();
  }
  if (stop_now && revoked) {
    stop_now->Revoke();
  } else if (stop_now) {
    stop_now->Shutdown();
  }
}

void SensorEndpoint::CloseToken(const std::string& token_hash) {
  std::vector<std::shared_ptr<SensorSession>> live;
  {
    std::lock_guard lock(mu_);
    revoked_.insert(token_hash);
    for (auto& [id, e] : sessions_)
      if (e.token_hash == token_hash)
        if (auto s = e.session.lock()) live.push_back(std::move(s));
  }
  metrics_
      ->GetCounter("yiwang_ingest_revoked_connections_total",
                   "Sensor connections closed because their device token was revoked or rotated")
      .Inc(live.size());
  for (auto& s : live) s->Revoke();
}

void SensorEndpoint::Unregister(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  m_connections_.Set(static_cast<int64_t>(sessions_.size()));
}

void SensorEndpoint::Shutdown() {
  std::vector<std::shared_ptr<SensorSession>> live;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (auto& [id, e] : sessions_)
      if (auto s = e.session.lock()) live.push_back(std::move(s));
  }
  service_->BeginShutdown();
  for (auto& s : live) s->Shutdown();
}

size_t SensorEndpoint::connections() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace yiwang::ingest
