#include "tools/ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <google/protobuf/util/json_util.h>

namespace yiwang::tools {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct WsClient::Impl {
  net::io_context ioc;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
  beast::flat_buffer buffer;
};

WsClient::WsClient() : impl_(std::make_unique<Impl>()) {}
WsClient::~WsClient() = default;

bool WsClient::ParseUrl(const std::string& url, std::string* host, uint16_t* port) {
  std::string s = url;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '/')) s.pop_back();
  for (const char* scheme : {"http://", "ws://"}) {
    if (s.rfind(scheme, 0) == 0) s = s.substr(std::string(scheme).size());
  }
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  try {
    *port = static_cast<uint16_t>(std::stoi(s.substr(colon + 1)));
  } catch (...) {
    return false;
  }
  return true;
}

Status WsClient::Connect(const std::string& host, uint16_t port, const std::string& path,
                         const std::string& token) {
  http_status_ = 0;
  http_body_.clear();
  impl_->buffer.clear();
  impl_->ws = std::make_unique<websocket::stream<beast::tcp_stream>>(impl_->ioc);
  auto& ws = *impl_->ws;
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return Status::IOError("resolve: " + ec.message());
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(ws).connect(results, ec);
  if (ec) return Status::IOError("connect: " + ec.message());
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  }));
  ws.read_message_max(64u << 20);
  websocket::response_type res;
  ws.handshake(res, host + ":" + std::to_string(port), path, ec);
  http_status_ = static_cast<int>(res.result_int());
  http_body_ = res.body();
  if (ec) {
    impl_->ws.reset();
    return Status::Unavailable("handshake refused: HTTP " + std::to_string(http_status_) + " " +
                               http_body_);
  }
  return Status::Ok();
}

bool WsClient::connected() const { return impl_->ws && impl_->ws->is_open(); }

Status WsClient::SendRaw(const std::string& data, bool binary) {
  if (!impl_->ws) return Status::Unavailable("not connected");
  beast::error_code ec;
  impl_->ws->binary(binary);
  impl_->ws->write(net::buffer(data), ec);
  if (ec) return Status::IOError("write: " + ec.message());
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

Status WsClient::ReadRaw(std::string* data, bool* binary) {
  if (!impl_->ws) return Status::Unavailable("not connected");
  auto& ws = *impl_->ws;
  beast::error_code ec;
  // A blocking read with a deadline: run the async read on our private io_context.
  bool done = false;
  ws.async_read(impl_->buffer, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  impl_->ioc.restart();
  impl_->ioc.run_for(read_timeout_);
  if (!done) {
    beast::get_lowest_layer(ws).cancel();
    impl_->ioc.restart();
    impl_->ioc.run();
    impl_->ws.reset();
    return Status::Busy("read timed out");
  }
  if (ec) return Status::IOError("read: " + ec.message());
  *binary = ws.got_binary();
  *data = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return Status::Ok();
}

Status WsClient::ReadAck(yiwang::v1::IngestAck* ack) {
  std::string data;
  bool binary = false;
  if (Status s = ReadRaw(&data, &binary); !s.ok()) return s;
  ack->Clear();
  if (binary) {
    if (!ack->ParseFromString(data)) return Status::Corruption("ack is not a protobuf IngestAck");
  } else {
    auto st = google::protobuf::util::JsonStringToMessage(data, ack);
    if (!st.ok()) return Status::Corruption("ack JSON: " + std::string(st.message()));
  }
  return Status::Ok();
}

int WsClient::close_code() const {
  if (!impl_->ws) return 0;
  return static_cast<int>(impl_->ws->reason().code);
}

void WsClient::Close() {
  if (!impl_->ws) return;
  beast::error_code ec;
  beast::get_lowest_layer(*impl_->ws).expires_after(std::chrono::seconds(5));
  impl_->ws->close(websocket::close_code::normal, ec);
  impl_->ws.reset();
}

}  // namespace yiwang::tools
