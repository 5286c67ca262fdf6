#pragma once
// Api: the HTTP JSON API, as a plain function of the request (no sockets; tests call Handle).
//
//   /api/v1/session, /api/v1/admin/users...    first offered to Accounts (web/auth.h)
//   GET  /healthz                              liveness and storage state
//   GET  /metrics                              Prometheus text format
//   /api/v1/admin/device-tokens[/{id}[/rotate]]  admin: create, list, revoke, rotate
//                                              (web/device_tokens.h)
//   GET  /api/v1/devices/{id}[?case=]          operator: last seq, last seen, latest readings
//   GET  /api/v1/devices/{id}/events?limit=&before=[&case=]   operator: newest first, paging
//        Unscoped operators (dispatcher, supervisor, leader, admin without districts) read any
//        device. Scoped ones (department staff; a user with districts) read a device only
//        through a case they may see that the device raised: `case` names it (the console's
//        case panel charts that case's readings); without `case` 403 forbidden, with a case
//        they may not see or of another device 404 device_not_found.
//   GET  /, /report, /track[/{code}], /static/{path}  the pages (StaticFiles, when given)
//
// Authentication goes through Accounts::Authenticate: an admin bearer token, an admin user's
// API token, or an admin user's session cookie (with X-CSRF-Token on POST).
//
// Errors: HTTP status + {"error": {"code", "message"}}; every error is counted by code in
// yiwang_http_errors_total. Documented in docs/api.md.
//
// Thread safety: Handle may be called from any thread concurrently.

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "dispatcher/dispatcher.h"
#include "store/event_store.h"
#include "store/key_codec.h"
#include "web/auth.h"
#include "web/device_tokens.h"
#include "web/http_server.h"
#include "web/http_util.h"
#include "web/static_files.h"
#include "web/tokens.h"  // CreateToken: for the callers of the device-token routes

namespace yiwang::web {

constexpr size_t kMaxEventsPageLimit = 1000;
constexpr size_t kDefaultEventsPageLimit = 100;

class Api {
 public:
  // `store`, `metrics`, `accounts` and `pages` must outlive the Api. Without `pages` the page
  // and /static routes are 404 like any unknown route.
  // `cases` scopes the device reads of scoped operators (see above); without it (a server
  // without the case workflow) scoped operators may read no device. `device_tokens`: the
  // districts tokens may be scoped to, and who hears of a revoked token.
  Api(store::EventStore* store, Metrics* metrics, Accounts* accounts,
      std::shared_ptr<spdlog::logger> logger, const StaticFiles* pages = nullptr,
      const dispatcher::Dispatcher* cases = nullptr, DeviceTokenOptions device_tokens = {});

  HttpResponse Handle(const HttpRequest& req);

 private:
  HttpResponse Route(const HttpRequest& req);
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message);
  // 405 with the Allow header.
  HttpResponse MethodNotAllowed(const HttpRequest& req, std::string_view allow);
  // Nullopt if the request is authenticated as an admin (Accounts::Authenticate), else the
  // 401/403 response.
  std::optional<HttpResponse> RequireAdmin(const HttpRequest& req);
  // The operator (dispatcher, department, supervisor, leader, admin) `req` acts for, or the
  // 401/403 response.
  std::variant<Principal, HttpResponse> RequireOperator(const HttpRequest& req);
  // Nullopt if `p` may read `device_id` with the request's `case` parameter (see above), else
  // the 403/404 response.
  std::optional<HttpResponse> CheckDeviceScope(const HttpRequest& req, const Principal& p,
                                               std::string_view device_id,
                                               std::string_view query);
  HttpResponse GetDevice(const HttpRequest& req, std::string_view device_id);
  HttpResponse ListDeviceEvents(const HttpRequest& req, std::string_view device_id,
                                std::string_view query);

  store::EventStore* store_;
  Metrics* metrics_;
  Accounts* accounts_;
  const StaticFiles* pages_;
  const dispatcher::Dispatcher* cases_;
  std::shared_ptr<spdlog::logger> log_;
  DeviceTokens device_tokens_;
};

}  // namespace yiwang::web
