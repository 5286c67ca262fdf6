#include "tools/bench_echo.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <google/protobuf/util/json_util.h>

#include "ingest/limits.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools::bench {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

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

}  // namespace

RunResult RunWsEcho(const LoadSettings& settings, const std::string& run_tag, Status* status) {
  EchoServer server(settings.batch);
  *status = server.Listen();
  if (!status->ok()) return {};
  return RunLoad(LoadTarget{"127.0.0.1", server.port(), "", run_tag + "e"}, settings, {}, {});
}

}  // namespace yiwang::tools::bench
