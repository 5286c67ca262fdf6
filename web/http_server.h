#pragma once
// HttpServer: the one TCP listener of `yiwang serve`. Plain HTTP requests go to a Handler (a
// function of the request, see api.h); WebSocket upgrade requests go to the UpgradeRoute
// registered for their path (ingest's /ws/sensors, later the operators' /ws/live).
//
// Limits (HttpLimits): header and body sizes, per path if need be (431 / 413 without buffering
// more), a header timeout (slowloris: a request's header, a WebSocket handshake included, must
// be complete within it), the keep-alive idle timeout, a connection cap (503 beyond it) and a
// per-address cap (connections beyond it are closed at once, before a byte is read).
//
// Thread safety: Listen and StopAccepting may be called from any thread; each connection runs
// on its own strand of the io_context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/logger.h>

#include "base/metrics.h"
#include "base/status.h"

namespace yiwang::web {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using UpgradeFn = std::function<void(boost::beast::tcp_stream&&, HttpRequest&&)>;
// For an upgrade request: a response to send instead (e.g. 401), or the function that takes
// over the connection.
using UpgradeRoute = std::function<std::variant<HttpResponse, UpgradeFn>(const HttpRequest&)>;
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Set by the server on every request it hands to a Handler or an UpgradeRoute: the IP address
// of the connection's peer (e.g. "127.0.0.1"). A value sent by the client is removed first, so
// handlers may trust it (web/auth.h throttles logins per address with it).
inline constexpr std::string_view kPeerAddressHeader = "X-Yiwang-Peer";

constexpr size_t kDefaultMaxBodyBytes = 1u << 20;
constexpr size_t kDefaultMaxHeaderBytes = 16u << 10;
constexpr std::chrono::seconds kDefaultHttpIdleTimeout{60};
constexpr size_t kDefaultMaxHttpConnections = 4096;
// The header of a request (the whole upgrade request of a WebSocket handshake too) must arrive
// within this: on a new connection counted from the accept, on a kept-alive one from the first
// byte of the request. A slow sender is closed without an answer.
constexpr std::chrono::seconds kDefaultHeaderTimeout{10};
// Connections in their HTTP phase (before any WebSocket upgrade) from one peer address. A
// quarter of kDefaultMaxHttpConnections: one address cannot take the whole server.
constexpr size_t kDefaultMaxConnectionsPerAddress = 1024;
// After a failed accept (e.g. EMFILE: out of file descriptors) the listener waits this long
// before accepting again, instead of spinning on the error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

struct HttpLimits {
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Body limits of particular paths (exact, the query ignored) instead of max_body_bytes, e.g.
  // {"/api/v1/photos", 10 MiB}: the limit is chosen once the request's header is read, so one
  // route may take large uploads while every other keeps the small default. A Content-Length
  // over the limit is answered 413 before any of the body is read.
  std::map<std::string, size_t, std::less<>> body_limit_by_path;
  size_t max_header_bytes = kDefaultMaxHeaderBytes;
  std::chrono::seconds idle_timeout = kDefaultHttpIdleTimeout;
  std::chrono::seconds header_timeout = kDefaultHeaderTimeout;
  size_t max_connections = kDefaultMaxHttpConnections;
  size_t max_connections_per_address = kDefaultMaxConnectionsPerAddress;
  // Browsers reach the server over HTTPS (through a TLS-terminating proxy): every response
  // carries `Strict-Transport-Security: max-age=<kHstsMaxAge>`, so a browser that saw the
  // site once never sends its cookie over plain HTTP again.
  bool https = false;
};

// The max-age of Strict-Transport-Security (HttpLimits::https): one year.
inline constexpr std::chrono::seconds kHstsMaxAge{365 * 24 * 3600};

// The body of every error response of the server: {"error":{"code":...,"message":...}},
// both strings JSON-escaped (bytes that are not UTF-8 become U+FFFD).
std::string JsonErrorBody(std::string_view code, std::string_view message);

class HttpServer {
 public:
  // `handler`, every route and `metrics` must outlive the server and its connections.
  HttpServer(boost::asio::io_context& ioc, HttpLimits limits, Handler handler,
             std::map<std::string, UpgradeRoute> upgrades, Metrics* metrics,
             std::shared_ptr<spdlog::logger> logger);
  ~HttpServer();

  // Binds host:port (port 0 picks a free one) and starts accepting.
  Status Listen(const std::string& host, uint16_t port);
  // The bound port (after Listen).
  uint16_t port() const;
  // Closes the listening socket; open connections carry on.
  void StopAccepting();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace yiwang::web
