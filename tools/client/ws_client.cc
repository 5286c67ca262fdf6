#include "tools/client/ws_client.h"

#include <algorithm>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <google/protobuf/util/json_util.h>

namespace yiwang::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {
// How often a blocking call looks at the stop flag.
constexpr std::chrono::milliseconds kStopPollSlice{50};
constexpr std::chrono::seconds kCloseTimeout{5};
// After a failed write, how long an outstanding read may take to deliver the close frame.
constexpr std::chrono::milliseconds kCloseCodeGrace{200};
}  // namespace

// Every operation is asynchronous on `ioc` and driven by RunUntil in the caller's thread: that
// is what lets one read stay outstanding across calls while writes go out, with Beast itself
// coordinating the two (and the pongs the read answers).
struct WsClient::Impl {
  net::io_context ioc;  // declared first: destroyed after the stream
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
  bool read_pending = false;  // an async_read was started and its frame not yet taken
  bool read_done = false;     // ... and it has completed, with read_ec
  beast::error_code read_ec;
  int close_code = 0;  // kept when a failed read drops the stream
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() { Drop(); }

WsClient::Wait WsClient::RunUntil(const bool* done, std::chrono::milliseconds timeout) {
  const auto deadline =
      timeout.count() > 0 ? SteadyClock::now() + timeout : SteadyClock::time_point::max();
  for (;;) {
    impl_->ioc.restart();
    impl_->ioc.poll();
    if (*done) return Wait::kDone;
    if (stop_ && stop_->load()) return Wait::kStopped;
    const auto now = SteadyClock::now();
    if (now >= deadline) return Wait::kTimeout;
    auto slice = kStopPollSlice;
    if (deadline - now < slice)
      slice = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
              std::chrono::milliseconds(1);
    impl_->ioc.restart();
    impl_->ioc.run_one_for(slice);
    // Out of work with `*done` still false cannot end well: report it as a timeout.
    if (!*done && impl_->ioc.stopped()) return Wait::kTimeout;
  }
}

void WsClient::Drop() {
  if (!impl_->ws) return;
  // Closing the socket aborts every outstanding operation; their handlers (which may refer to
  // the caller's locals) run here, before anything they refer to goes away.
  beast::get_lowest_layer(*impl_->ws).close();
  impl_->ioc.restart();
  impl_->ioc.run();
  impl_->ws.reset();
  impl_->buffer.clear();
  impl_->read_pending = false;
  impl_->read_done = false;
}

Status WsClient::Connect(const std::string& host, uint16_t port, const std::string& path,
                         const std::string& token) {
  Drop();
  http_status_ = 0;
  http_body_.clear();
  impl_->close_code = 0;
  impl_->ws = std::make_unique<websocket::stream<beast::tcp_stream>>(impl_->ioc);
  auto& ws = *impl_->ws;
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) {
    Drop();
    return Status::IOError("resolve: " + ec.message());
  }
  const auto deadline = SteadyClock::now() + connect_timeout_;
  auto remaining = [&] {
    return std::max(
        std::chrono::milliseconds(1),
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()));
  };
  auto failed = [&](Wait w, const char* what) {
    Drop();
    if (w == Wait::kStopped) return Status::Unavailable(std::string(what) + ": stopped");
    return Status::Busy(std::string(what) + " timed out");
  };

  bool done = false;
  beast::get_lowest_layer(ws).async_connect(results,
                                            [&](beast::error_code e, const tcp::endpoint&) {
                                              ec = e;
                                              done = true;
                                            });
  if (Wait w = RunUntil(&done, remaining()); w != Wait::kDone) return failed(w, "connect");
  if (ec) {
    Drop();
    return Status::IOError("connect: " + ec.message());
  }

  ws.set_option(websocket::stream_base::decorator(
      [token, cookie = cookie_](websocket::request_type& req) {
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
        if (!cookie.empty()) req.set(http::field::cookie, cookie);
      }));
  ws.read_message_max(64u << 20);
  websocket::response_type res;
  done = false;
  const std::string host_header =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  ws.async_handshake(res, host_header, path, [&](beast::error_code e) {
    ec = e;
    done = true;
  });
  if (Wait w = RunUntil(&done, remaining()); w != Wait::kDone) return failed(w, "handshake");
  http_status_ = static_cast<int>(res.result_int());
  http_body_ = res.body();
  if (ec) {
    Drop();
    return Status::Unavailable("handshake refused: HTTP " + std::to_string(http_status_) + " " +
                               http_body_);
  }
  // From now on a read is always outstanding: it answers pings and sees the server's close
  // frame (with its reason) even while the caller only writes.
  StartRead();
  return Status::Ok();
}

bool WsClient::connected() const { return impl_->ws && impl_->ws->is_open(); }

Status WsClient::SendRaw(const std::string& data, bool binary) {
  if (!impl_->ws) return Status::Unavailable("not connected");
  beast::error_code ec;
  bool done = false;
  impl_->ws->binary(binary);
  impl_->ws->async_write(net::buffer(data), [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  Wait w = RunUntil(&done, write_timeout_);
  if (w != Wait::kDone) {
    Drop();
    return w == Wait::kStopped ? Status::Unavailable("write: stopped")
                               : Status::Busy("write timed out");
  }
  if (ec) {
    // The server may have closed with a reason (e.g. 1009, frame too big) that an outstanding
    // read is about to see: give it a moment, so that close_code() can tell.
    if (impl_->read_pending) (void)RunUntil(&impl_->read_done, kCloseCodeGrace);
    impl_->close_code = static_cast<int>(impl_->ws->reason().code);
    Drop();
    return Status::IOError("write: " + ec.message());
  }
  return Status::Ok();
}

Status WsClient::SendBatch(const yiwang::v1::IngestBatch& batch, bool binary) {
  std::string data;
  if (binary) {
    batch.SerializeToString(&data);
  } else {
    auto st = google::protobuf::util::MessageToJsonString(batch, &data);
    if (!st.ok()) return Status::InvalidArgument(std::string(st.message()));
  }
  return SendRaw(data, binary);
}

void WsClient::StartRead() {
  if (impl_->read_pending) return;
  impl_->read_pending = true;
  impl_->read_done = false;
  impl_->read_ec = {};
  Impl* impl = impl_.get();
  impl_->ws->async_read(impl_->buffer, [impl](beast::error_code e, std::size_t) {
    impl->read_ec = e;
    impl->read_done = true;
  });
}

Status WsClient::PollRaw(std::string* data, bool* binary, std::chrono::milliseconds wait) {
  if (!impl_->ws) return Status::Unavailable("not connected");
  StartRead();
  // RunUntil reads 0 as "no limit"; a zero wait still runs what is ready.
  Wait w = RunUntil(&impl_->read_done, std::max(wait, std::chrono::milliseconds(1)));
  if (w == Wait::kStopped) {
    Drop();
    return Status::Unavailable("read: stopped");
  }
  if (w == Wait::kTimeout) return Status::Busy("no frame yet");
  impl_->read_pending = false;
  impl_->read_done = false;
  if (impl_->read_ec) {
    impl_->close_code = static_cast<int>(impl_->ws->reason().code);
    const std::string message = impl_->read_ec.message();
    Drop();
    return Status::IOError("read: " + message);
  }
  *binary = impl_->ws->got_binary();
  *data = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return Status::Ok();
}

Status WsClient::ReadRaw(std::string* data, bool* binary) {
  Status s = PollRaw(data, binary, read_timeout_);
  if (s.code() == Status::Code::kBusy) {
    Drop();
    return Status::Busy("read timed out");
  }
  return s;
}

namespace {
Status DecodeAck(const std::string& data, bool binary, yiwang::v1::IngestAck* ack) {
  ack->Clear();
  if (binary) {
    if (!ack->ParseFromString(data)) return Status::Corruption("ack is not a protobuf IngestAck");
  } else {
    auto st = google::protobuf::util::JsonStringToMessage(data, ack);
    if (!st.ok()) return Status::Corruption("ack JSON: " + std::string(st.message()));
  }
  return Status::Ok();
}
}  // namespace

Status WsClient::ReadAck(yiwang::v1::IngestAck* ack) {
  std::string data;
  bool binary = false;
  if (Status s = ReadRaw(&data, &binary); !s.ok()) return s;
  return DecodeAck(data, binary, ack);
}

Status WsClient::PollAck(yiwang::v1::IngestAck* ack, std::chrono::milliseconds wait) {
  std::string data;
  bool binary = false;
  if (Status s = PollRaw(&data, &binary, wait); !s.ok()) return s;
  return DecodeAck(data, binary, ack);
}

int WsClient::close_code() const {
  if (!impl_->ws) return impl_->close_code;
  return static_cast<int>(impl_->ws->reason().code);
}

void WsClient::Close() {
  if (!impl_->ws) return;
  if (impl_->ws->is_open()) {
    // With a read outstanding, Beast lets that read take the server's close frame; both
    // operations then complete.
    bool done = false;
    impl_->ws->async_close(websocket::close_code::normal, [&](beast::error_code) { done = true; });
    (void)RunUntil(&done, kCloseTimeout);
  }
  Drop();
}

}  // namespace yiwang::client
