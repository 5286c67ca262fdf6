#include "web/router.h"

#include <array>

#include <boost/beast/http/field.hpp>

#include "web/api.h"
#include "web/case_api.h"
#include "web/citizen_api.h"
#include "web/http_util.h"
#include "web/open311.h"

namespace yiwang::web {

namespace {

constexpr std::string_view kGet = "GET, HEAD";
constexpr std::string_view kPost = "POST";
constexpr std::string_view kGetPost = "GET, HEAD, POST";

// Documented route by route in docs/api.md; the access policy of each: docs/api.md, "Access
// policy". Keep the two in step (the matrix test checks both).
constexpr std::array kRoutes = {
    // Accounts: sessions and the admin users API.
    Route{"/api/v1/session", "GET, HEAD, POST, DELETE", RouteOwner::kAccounts},
    Route{"/api/v1/admin/users", kGetPost, RouteOwner::kAccounts},
    Route{"/api/v1/admin/users/{name}", "GET, HEAD, PATCH, DELETE", RouteOwner::kAccounts},
    Route{"/api/v1/admin/users/{name}/tokens", kGetPost, RouteOwner::kAccounts},
    Route{"/api/v1/admin/users/{name}/tokens/{id}", "DELETE", RouteOwner::kAccounts},
    // Health, metrics, devices.
    Route{"/healthz", kGet, RouteOwner::kApi},
    Route{"/metrics", kGet, RouteOwner::kApi},
    Route{"/api/v1/admin/device-tokens", kGetPost, RouteOwner::kApi},
    Route{"/api/v1/admin/device-tokens/{id}", "DELETE", RouteOwner::kApi},
    Route{"/api/v1/admin/device-tokens/{id}/rotate", kPost, RouteOwner::kApi},
    Route{"/api/v1/devices/{id}", kGet, RouteOwner::kApi},
    Route{"/api/v1/devices/{id}/events", kGet, RouteOwner::kApi},
    // The case workflow.
    Route{"/api/v1/ui-config", kGet, RouteOwner::kCases},
    Route{"/api/v1/cases", kGetPost, RouteOwner::kCases},
    Route{"/api/v1/cases/points", kGet, RouteOwner::kCases},
    Route{"/api/v1/cases/{id}", kGet, RouteOwner::kCases},
    Route{"/api/v1/cases/{id}/transitions", kPost, RouteOwner::kCases},
    Route{"/api/v1/stats", kGet, RouteOwner::kCases},
    // Citizens.
    Route{"/api/v1/photos", kPost, RouteOwner::kCitizen},
    Route{"/api/v1/photos/{id}", kGet, RouteOwner::kCitizen},
    Route{"/api/v1/reports", kPost, RouteOwner::kCitizen},
    Route{"/api/v1/reports/nearby", kGet, RouteOwner::kCitizen},
    Route{"/api/v1/track/{code}", kGet, RouteOwner::kCitizen},
    Route{"/api/v1/track/{code}/rating", kPost, RouteOwner::kCitizen},
    // Open311 GeoReport v2.
    Route{"/open311/v2/discovery.{format}", kGet, RouteOwner::kOpen311},
    Route{"/open311/v2/services.{format}", kGet, RouteOwner::kOpen311},
    Route{"/open311/v2/services/{code}.{format}", kGet, RouteOwner::kOpen311},
    Route{"/open311/v2/requests.{format}", kGetPost, RouteOwner::kOpen311},
    Route{"/open311/v2/requests/{id}.{format}", kGet, RouteOwner::kOpen311},
    Route{"/open311/v2/tokens/{token}.{format}", kGet, RouteOwner::kOpen311},
    // Pages.
    Route{"/", kGet, RouteOwner::kPages},
    Route{"/report", kGet, RouteOwner::kPages},
    Route{"/track", kGet, RouteOwner::kPages},
    Route{"/track/{code}", kGet, RouteOwner::kPages},
    Route{"/static/{path*}", kGet, RouteOwner::kPages},
    // WebSocket endpoints (HttpServer's upgrade map).
    Route{"/ws/sensors", "GET", RouteOwner::kIngest},
    Route{"/ws/live", "GET", RouteOwner::kLiveFeed},
};

constexpr std::string_view kOpen311Prefix = "/open311/v2/";

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

bool RouteMatches(std::string_view pattern, std::string_view path) {
  if (pattern.empty()) return path.empty();
  if (pattern.front() != '{') {
    const size_t brace = pattern.find('{');
    const std::string_view literal = pattern.substr(0, brace);
    if (!path.starts_with(literal)) return false;
    return RouteMatches(pattern.substr(literal.size()), path.substr(literal.size()));
  }
  const size_t close = pattern.find('}');
  const bool rest = close > 0 && pattern[close - 1] == '*';
  const std::string_view after = pattern.substr(close + 1);
  if (rest) return !path.empty() && after.empty();
  // One or more characters but '/', as few as the rest of the pattern lets it take.
  for (size_t n = 1; n <= path.size() && path[n - 1] != '/'; ++n)
    if (RouteMatches(after, path.substr(n))) return true;
  return false;
}

const Route* FindRoute(std::string_view path) {
  for (const Route& r : kRoutes)
    if (RouteMatches(r.pattern, path)) return &r;
  return nullptr;
}

Router::Router(Components components, Metrics* metrics, std::shared_ptr<spdlog::logger> logger)
    : c_(components), metrics_(metrics), log_(std::move(logger)) {}

HttpResponse Router::Handle(const HttpRequest& req) {
  const std::string_view path = SplitTarget(req.target()).first;
  try {
    return Dispatch(req, path);
  } catch (const std::exception& e) {
    // Nothing below should throw; if it does, this request fails alone.
    log_->error("request handler threw: {}", e.what());
    return ErrorResponse(metrics_, req, 500, "internal", "internal error");
  }
}

HttpResponse Router::Dispatch(const HttpRequest& req, std::string_view path) {
  const Route* route = FindRoute(path);
  if (!route) return NotFound(req, path);
  std::optional<HttpResponse> res;
  switch (route->owner) {
    case RouteOwner::kAccounts:
    case RouteOwner::kApi:
    case RouteOwner::kPages:
      return c_.api->Handle(req);
    case RouteOwner::kCases:
      if (c_.cases) res = c_.cases->Handle(req);
      break;
    case RouteOwner::kCitizen:
      if (c_.citizen) res = c_.citizen->Handle(req);
      break;
    case RouteOwner::kOpen311:
      if (c_.open311) res = c_.open311->Handle(req);
      break;
    case RouteOwner::kLiveFeed:
    case RouteOwner::kIngest: {
      HttpResponse r = ErrorResponse(metrics_, req, 426, "upgrade_required",
                                     "a WebSocket endpoint: send an upgrade request");
      r.set(boost::beast::http::field::upgrade, "websocket");
      r.set(boost::beast::http::field::connection, "Upgrade");
      return r;
    }
  }
  if (res) return std::move(*res);
  return NotFound(req, path);
}

HttpResponse Router::NotFound(const HttpRequest& req, std::string_view path) {
  if (c_.open311 && path.starts_with(kOpen311Prefix)) return c_.open311->NotFound(req);
  return ErrorResponse(metrics_, req, 404, "not_found", "no such route");
}

}  // namespace yiwang::web
