#pragma once
// Api: the HTTP JSON API, as a plain function of the request (no sockets; tests call Handle).
//
//   GET  /healthz                              liveness and storage state
//   GET  /metrics                              Prometheus text format
//   POST /api/v1/admin/device-tokens           admin: {"name","devicePrefix"} -> {"token",...}
//   GET  /api/v1/devices/{id}                  admin: last seq, last seen, latest readings
//   GET  /api/v1/devices/{id}/events?limit=&before=   admin: newest first, cursor paging
//   GET  /, /report, /track[/{code}], /static/{path}  the pages (StaticFiles, when given)
//
// Errors: HTTP status + {"error": {"code", "message"}}; every error is counted by code in
// yiwang_http_errors_total. Documented in docs/api.md.
//
// Thread safety: Handle may be called from any thread concurrently.

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "store/event_store.h"
#include "store/key_codec.h"
#include "store/metrics.h"
#include "web/http_server.h"
#include "web/static_files.h"

namespace yiwang::web {

constexpr size_t kMaxEventsPageLimit = 1000;
constexpr size_t kDefaultEventsPageLimit = 100;

class Api {
 public:
  // `store`, `metrics` and `pages` must outlive the Api. Without `pages` the page and /static
  // routes are 404 like any unknown route.
  Api(store::EventStore* store, Metrics* metrics, std::shared_ptr<spdlog::logger> logger,
      const StaticFiles* pages = nullptr);

  HttpResponse Handle(const HttpRequest& req);

 private:
  HttpResponse Route(const HttpRequest& req);
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message);
  // 405 with the Allow header.
  HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow);
  // Nullopt if the request carries a valid admin bearer token, else the 401 response.
  std::optional<HttpResponse> RequireAdmin(const HttpRequest& req);
  HttpResponse CreateDeviceToken(const HttpRequest& req);
  HttpResponse GetDevice(const HttpRequest& req, std::string_view device_id);
  HttpResponse ListDeviceEvents(const HttpRequest& req, std::string_view device_id,
                                std::string_view query);

  store::EventStore* store_;
  Metrics* metrics_;
  const StaticFiles* pages_;
  std::shared_ptr<spdlog::logger> log_;
};

// Creates a bearer token of `kind`, stores its hash, and returns the token (shown once).
// Device tokens are "ywd_" + 43 base64url chars, admin tokens "ywa_" + 43.
Status CreateToken(store::EventStore* store, yiwang::v1::TokenKind kind, std::string_view name,
                   std::string_view device_prefix, std::string* token);

// Percent-decodes a URL component; nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view s);
// The value of `key` in a query string "a=1&b=2" (decoded), or nullopt if absent/bad.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);

}  // namespace yiwang::web
