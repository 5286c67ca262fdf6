#include "web/http_server.h"

#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/format.h>

#include "base/text.h"

namespace yiwang::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string JsonErrorBody(std::string_view code, std::string_view message) {
  // A message may echo a client's bytes (a percent-decoded path): JSON is UTF-8 (RFC 8259), and
  // Boost.JSON writes a string's bytes as they are.
  return fmt::format(R"({{"error":{{"code":{},"message":{}}}}})",
                     boost::json::serialize(boost::json::string(ValidUtf8(code))),
                     boost::json::serialize(boost::json::string(ValidUtf8(message))));
}

namespace {

HttpResponse PlainError(unsigned version, http::status status, std::string_view code,
                        std::string_view message) {
  HttpResponse res{status, version};
  res.set(http::field::server, "yiwang");
  res.set(http::field::content_type, "application/json");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = JsonErrorBody(code, message);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// RFC 9112 section 6: the one transfer coding this server reads is chunked, alone. A
// Transfer-Encoding whose final coding is not chunked leaves the body's length unknown
// (section 6.3: 400 and close; read on, the body's bytes would be taken for the next request,
// which is request smuggling); another coding before chunked is one the server cannot decode
// (section 6.1: 501); any Transfer-Encoding in HTTP/1.0 is faulty framing (section 6.1). Each
// answer closes the connection: what follows the header cannot be framed. nullopt if the
// request has no Transfer-Encoding or exactly "chunked".
std::optional<HttpResponse> RefuseTransferCoding(const http::request_parser<http::string_body>& p) {
  const auto& req = p.get();
  if (req.count(http::field::transfer_encoding) == 0) return std::nullopt;
  std::vector<std::string_view> codings;
  const auto [from, to] = req.equal_range(http::field::transfer_encoding);
  for (auto field = from; field != to; ++field)
    for (std::string_view coding : http::token_list(field->value())) codings.push_back(coding);
  const bool ends_chunked =
      p.chunked() && !codings.empty() && beast::iequals(codings.back(), "chunked");
  if (req.version() < 11) {
    return PlainError(req.version(), http::status::bad_request, "bad_transfer_encoding",
                      "Transfer-Encoding is not allowed in HTTP/1.0");
  }
  if (!ends_chunked) {
    return PlainError(req.version(), http::status::bad_request, "bad_transfer_encoding",
                      "the final transfer coding must be chunked");
  }
  if (codings.size() != 1) {
    return PlainError(req.version(), http::status::not_implemented, "unsupported_transfer_coding",
                      "the only transfer coding accepted is chunked");
  }
  return std::nullopt;
}

// Beast's errors of a header whose framing fields contradict themselves or each other.
bool IsFramingError(beast::error_code ec) {
  return ec == http::error::bad_content_length || ec == http::error::multiple_content_length ||
         ec == http::error::bad_transfer_encoding;
}

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  Impl(net::io_context& ioc, HttpLimits limits, Handler handler,
       std::map<std::string, UpgradeRoute> upgrades, Metrics* metrics,
       std::shared_ptr<spdlog::logger> logger)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        accept_retry_(acceptor_.get_executor()),
        limits_(limits),
        handler_(std::move(handler)),
        upgrades_(std::move(upgrades)),
        metrics_(metrics),
        log_(std::move(logger)),
        m_connections_(metrics->GetGauge("yiwang_http_connections", "Open HTTP connections")),
        m_requests_(metrics->GetCounter("yiwang_http_requests_total", "HTTP requests handled")),
        m_refused_(metrics->GetCounter("yiwang_http_connections_refused_total",
                                       "HTTP connections refused over the connection cap")),
        m_refused_per_address_(metrics->GetCounter(
            "yiwang_http_connections_refused_per_address_total",
            "HTTP connections closed at once over the per-address cap")),
        m_header_timeouts_(metrics->GetCounter(
            "yiwang_http_header_timeouts_total",
            "HTTP connections closed because a request header was not complete in time")),
        m_bad_framing_(metrics->GetCounter(
            "yiwang_http_bad_framing_total",
            "HTTP requests refused for their Transfer-Encoding or Content-Length, and their "
            "connections closed")),
        m_accept_errors_(metrics->GetCounter("yiwang_http_accept_errors_total",
                                             "Failed accepts (e.g. out of file descriptors)")) {}

  void DoAccept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Impl::OnAccept, shared_from_this()));
  }
  void OnAccept(beast::error_code ec, tcp::socket socket);

  // The per-address count of connections in their HTTP phase. Acquire returns false (and
  // counts nothing) when `addr` is at the cap. Any thread.
  bool AcquireAddress(const net::ip::address& addr) {
    std::lock_guard lock(per_address_mu_);
    size_t& n = per_address_[addr];
    if (n >= limits_.max_connections_per_address) return false;
    ++n;
    return true;
  }
  void ReleaseAddress(const net::ip::address& addr) {
    std::lock_guard lock(per_address_mu_);
    auto it = per_address_.find(addr);
    if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;  // on the acceptor's strand
  HttpLimits limits_;
  Handler handler_;
  std::map<std::string, UpgradeRoute> upgrades_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Gauge& m_connections_;
  Counter& m_requests_;
  Counter& m_refused_;
  Counter& m_refused_per_address_;
  Counter& m_header_timeouts_;
  Counter& m_bad_framing_;
  Counter& m_accept_errors_;
  std::mutex per_address_mu_;
  std::unordered_map<net::ip::address, size_t> per_address_;  // guarded by per_address_mu_
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> next_id_{1};
  bool accept_failing_ = false;  // on the acceptor's strand
};

namespace {

// One HTTP connection. Thread safety: runs only on its stream's strand.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // REQUIRES: the server's per-address count of `peer` includes this connection.
  HttpSession(tcp::socket&& socket, net::ip::address peer,
              std::shared_ptr<HttpServer::Impl> server, bool over_cap)
      : stream_(std::move(socket)),
        peer_(std::move(peer)),
        server_(std::move(server)),
        over_cap_(over_cap) {
    server_->m_connections_.Add(1);
  }
  ~HttpSession() {
    server_->m_connections_.Add(-1);
    server_->ReleaseAddress(peer_);
  }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
  }

 private:
  // A new connection has header_timeout (from the accept) for its first request's header. A
  // kept-alive one may stay silent for idle_timeout; once the next request's first byte is
  // here, its header has header_timeout (slowloris: dribbling a header never buys more time).
  void DoRead() {
    if (first_request_ || buffer_.size() > 0) return DoReadHeader();
    stream_.expires_after(server_->limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&HttpSession::OnFirstBytes,
                                                      shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (ec) return OnRead(ec, 0);  // idle (timeout) or gone: closed quietly
    buffer_.commit(n);
    DoReadHeader();
  }

  void DoReadHeader() {
    first_request_ = false;
    parser_.emplace();
    // The header is read first with no body limit (Beast would judge Content-Length against
    // it on the header); OnHeader sets the limit of the request's path.
    parser_->body_limit(boost::none);
    parser_->header_limit(static_cast<std::uint32_t>(server_->limits_.max_header_bytes));
    stream_.expires_after(server_->limits_.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec == beast::error::timeout) {
      server_->m_header_timeouts_.Inc();
      server_->log_->debug("http: request header not complete within {}s: closed",
                           server_->limits_.header_timeout.count());
    }
    if (ec) return OnRead(ec, 0);
    if (auto refused = RefuseTransferCoding(*parser_)) {
      server_->m_bad_framing_.Inc();
      return Send(std::move(*refused));
    }
    // The body has the idle timeout from here (an upload may take longer than a header).
    stream_.expires_after(server_->limits_.idle_timeout);
    std::string_view target = parser_->get().target();
    const auto& by_path = server_->limits_.body_limit_by_path;
    auto it = by_path.find(target.substr(0, target.find('?')));
    body_limit_ = it == by_path.end() ? server_->limits_.max_body_bytes : it->second;
    if (parser_->content_length() && *parser_->content_length() > body_limit_)
      return OnRead(http::error::body_limit, 0);
    parser_->body_limit(body_limit_);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::eof)
      return DoClose();
    if (ec == http::error::body_limit) {
      return Send(PlainError(11, http::status::payload_too_large, "body_too_large",
                             fmt::format("request body over {} bytes", body_limit_)));
    }
    if (ec == http::error::header_limit) {
      return Send(PlainError(11, http::status::request_header_fields_too_large,
                             "headers_too_large", "request headers too large"));
    }
    if (IsFramingError(ec)) {
      server_->m_bad_framing_.Inc();
      return Send(PlainError(11, http::status::bad_request, "bad_framing",
                             "conflicting or invalid Content-Length or Transfer-Encoding"));
    }
    if (ec) {
      server_->log_->debug("http read: {}", ec.message());
      return Send(PlainError(11, http::status::bad_request, "bad_request", "malformed HTTP request"));
    }
    server_->m_requests_.Inc();
    HttpRequest req = parser_->release();
    // The peer's address, from the socket; never what the client claims (see the header).
    req.erase(kPeerAddressHeader);
    beast::error_code peer_ec;
    const auto peer = stream_.socket().remote_endpoint(peer_ec);
    req.set(kPeerAddressHeader, peer_ec ? std::string("unknown") : peer.address().to_string());
    if (over_cap_) {
      return Send(PlainError(req.version(), http::status::service_unavailable,
                             "too_many_connections", "connection limit reached; retry later"));
    }
    if (beast::websocket::is_upgrade(req)) {
      std::string_view target = req.target();
      std::string path(target.substr(0, target.find('?')));
      auto it = server_->upgrades_.find(path);
      if (it == server_->upgrades_.end()) {
        return Send(PlainError(req.version(), http::status::not_found, "not_found",
                               "no WebSocket endpoint at this path"));
      }
      auto decision = it->second(req);
      if (auto* res = std::get_if<HttpResponse>(&decision)) return Send(std::move(*res));
      stream_.expires_never();
      std::get<UpgradeFn>(decision)(std::move(stream_), std::move(req));
      return;  // the upgrade owns the connection now
    }
    HttpResponse res = server_->handler_(req);
    res.keep_alive(res.keep_alive() && req.keep_alive());
    Send(std::move(res));
  }

  void Send(HttpResponse res) {
    if (server_->limits_.https)
      res.set(http::field::strict_transport_security,
              fmt::format("max-age={}", kHstsMaxAge.count()));
    const bool keep_alive = res.keep_alive();
    beast::async_write(stream_, http::message_generator(std::move(res)),
                       beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(),
                                                 keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
    if (ec) return;
    if (!keep_alive) return DoClose();
    DoRead();
  }

  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  const net::ip::address peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpServer::Impl> server_;
  const bool over_cap_;
  bool first_request_ = true;
  size_t body_limit_ = 0;  // of the request being read
};

}  // namespace

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // E.g. EMFILE: the error repeats until a descriptor is free. Wait a little instead of
    // spinning (and logging) at full speed; the first of a run is logged at warn.
    m_accept_errors_.Inc();
    if (!accept_failing_) log_->warn("accept: {} (retrying every {} ms)", ec.message(),
                                     kAcceptRetryDelay.count());
    accept_failing_ = true;
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) self->DoAccept();
    });
    return;
  }
  if (accept_failing_) log_->info("accept: working again");
  accept_failing_ = false;
  beast::error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  if (peer_ec) {
    DoAccept();  // already gone
    return;
  }
  if (!AcquireAddress(peer.address())) {
    // Over the per-address cap: closed before a byte is read, so a flood from one address
    // holds no session, buffer or timer. Logged at debug: a flood must not flood the log.
    m_refused_per_address_.Inc();
    log_->debug("connection from {} over the per-address cap of {}: closed",
                peer.address().to_string(), limits_.max_connections_per_address);
    beast::error_code close_ec;
    socket.close(close_ec);
    DoAccept();
    return;
  }
  // Acks and responses are small writes that must leave at once: no Nagle delay.
  beast::error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  const bool over_cap = static_cast<size_t>(m_connections_.Value()) >= limits_.max_connections;
  if (over_cap) m_refused_.Inc();
  std::make_shared<HttpSession>(std::move(socket), peer.address(), shared_from_this(), over_cap)
      ->Run();
  DoAccept();
}

HttpServer::HttpServer(net::io_context& ioc, HttpLimits limits, Handler handler,
                       std::map<std::string, UpgradeRoute> upgrades, Metrics* metrics,
                       std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_shared<Impl>(ioc, limits, std::move(handler), std::move(upgrades), metrics,
                                   std::move(logger))) {}

HttpServer::~HttpServer() { StopAccepting(); }

Status HttpServer::Listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + host + ": " + ec.message());
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor_;
  if (a.open(ep.protocol(), ec); ec) return Status::IOError("open: " + ec.message());
  if (a.set_option(net::socket_base::reuse_address(true), ec); ec)
    return Status::IOError("reuse_address: " + ec.message());
  if (a.bind(ep, ec); ec)
    return Status::IOError(fmt::format("bind {}:{}: {}", host, port, ec.message()));
  if (a.listen(net::socket_base::max_listen_connections, ec); ec)
    return Status::IOError("listen: " + ec.message());
  impl_->port_ = a.local_endpoint().port();
  net::dispatch(a.get_executor(), [impl = impl_] { impl->DoAccept(); });
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port_.load(); }

void HttpServer::StopAccepting() {
  net::dispatch(impl_->acceptor_.get_executor(), [impl = impl_] {
    beast::error_code ec;
    impl->acceptor_.close(ec);
    impl->accept_retry_.cancel();
  });
}

}  // namespace yiwang::web
