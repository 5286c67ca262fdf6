#pragma once
// The server's routing table: every path `yiwang serve` answers, the methods each takes (its
// Allow header) and the component that owns it. Router::Handle sends a request to the owner of
// the first route whose pattern matches its path, and answers 404 not_found for a path no route
// matches, so a route is reachable only once it is listed here. The access policy of each route
// (who may call it, and in what scope) is the table in docs/api.md ("Access policy"); the
// matrix test (tests/web/access_matrix_test.cc) checks every row against it and fails for a
// route that has no policy row.
//
// Patterns: literal text and `{name}` (one or more characters other than '/'); `{name*}` (one
// or more characters, '/' included) may only end a pattern. `/api/v1/cases/points` comes
// before `/api/v1/cases/{id}` and both belong to the case API.
//
// Methods are the owner's business (it answers 405 with the Allow header listed here); the
// router only dispatches by path. The WebSocket routes are taken over by HttpServer's upgrade
// map before any handler sees them; a plain (non-upgrade) request for one gets 426
// upgrade_required here.
//
// Thread safety: the table is immutable; Router::Handle may be called from any thread
// concurrently (each component's Handle is).

#include <memory>
#include <span>
#include <string_view>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "web/http_server.h"

namespace yiwang::web {

class Api;
class CaseApi;
class CitizenApi;
class Open311;

enum class RouteOwner {
  kAccounts,  // web/auth.h (reached through Api)
  kApi,       // web/api.h
  kPages,     // web/static_files.h (reached through Api)
  kCases,     // web/case_api.h
  kCitizen,   // web/citizen_api.h
  kOpen311,   // web/open311.h
  kLiveFeed,  // web/live_feed.h: WebSocket upgrade
  kIngest,    // ingest/sensor_endpoint.h: WebSocket upgrade
};

struct Route {
  std::string_view pattern;
  std::string_view allow;  // the methods, as the Allow header of a 405 lists them
  RouteOwner owner;
};

// The table, in match order.
std::span<const Route> Routes();
// True if `path` (no query) matches `pattern` (see the top of this file).
bool RouteMatches(std::string_view pattern, std::string_view path);
// The first route matching `path`, or nullptr.
const Route* FindRoute(std::string_view path);

class Router {
 public:
  // The components the table's owners name. `api` is required; the others are null on a
  // server without the case workflow (--no-dispatcher): their routes then answer 404 like an
  // unknown path. Everything must outlive the Router.
  struct Components {
    Api* api = nullptr;
    CaseApi* cases = nullptr;
    CitizenApi* citizen = nullptr;
    Open311* open311 = nullptr;
  };
  Router(Components components, Metrics* metrics, std::shared_ptr<spdlog::logger> logger);

  // The response to `req` from the owner of its route; 404 not_found (Open311's error format
  // below /open311/v2/) for a path no route matches; 500 internal if a component throws.
  HttpResponse Handle(const HttpRequest& req);

 private:
  HttpResponse Dispatch(const HttpRequest& req, std::string_view path);
  HttpResponse NotFound(const HttpRequest& req, std::string_view path);

  Components c_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace yiwang::web
