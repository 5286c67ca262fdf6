#pragma once
// CaseApi: the operators' JSON API over the dispatcher, a plain function of the request like
// web::Api. The routing, ui-config and a case's JSON are in web/case_api.cc; the reads in
// web/case_queries.cc; filing and transitions in web/case_commands.cc.
//
//   GET  /api/v1/ui-config                   public: categories, districts, departments, map
//   GET  /api/v1/cases?bbox=&state=&district=&department=&category=&source=&overdue=&open=
//                      &from=&to=&limit=&cursor=     -> {"cases","total","nextCursor"}
//   GET  /api/v1/cases/points?<the list's filters, no limit/cursor/bbox paging>
//                                            -> {"points":[[id,lat,lon,state,urgency,
//                                               deadlineMs,flags],...],"total","truncated",
//                                               "serverTimeMs"}: every matching case at once
//                                               (at most kMaxCasePoints), for the map
//   POST /api/v1/cases                       file a case (dispatcher, supervisor, admin)
//   GET  /api/v1/cases/{id}                  -> {"case","sla","timeline","allowedActions"}
//   POST /api/v1/cases/{id}/transitions      {"action", ...} -> 200 {"case","entry",
//                                            "allowedActions"} | 400 | 403 | 404 | 409 with
//                                            "allowed"
//   GET  /api/v1/stats?district=&department=&category=&source=&from=&to=&by=
//                                            -> {"total","rows","open"}
//
// Every request but ui-config is authenticated by the Authenticator; what a principal sees is
// scoped: department staff see their department's cases only, a principal with a district
// scope sees those districts only (list filters are intersected with the scope; a case out of
// scope is 404, as if it did not exist). Filters take comma-separated values. Errors:
// {"error":{"code","message"}} counted by code. Documented in docs/api.md.
//
// Thread safety: Handle may be called from any thread concurrently.

#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "dispatcher/dispatcher.h"
#include "web/auth.h"
#include "web/district_locator.h"
#include "web/http_server.h"

namespace yiwang::web {

constexpr size_t kMaxCasesPageLimit = 1000;
constexpr size_t kDefaultCasesPageLimit = 50;
// How far outside its district a filed case's location may lie (the district map's boundaries
// are quantised to ~100 m: a point on a border may be either side's).
constexpr double kDistrictToleranceM = 250;
// Points /api/v1/cases/points returns at most (the rest is counted in "total").
constexpr size_t kMaxCasePoints = 200000;

// Bits of a point's flags (the 7th element of /api/v1/cases/points rows).
constexpr uint32_t kPointSensor = 1;           // source sensor (an alarming device's case)
constexpr uint32_t kPointPaused = 2;           // SLA paused (parked, extension pending)
constexpr uint32_t kPointEscalatedYellow = 4;  // 督办 yellow raised in the running stage
constexpr uint32_t kPointEscalatedRed = 8;     // 督办 red raised in the running stage
constexpr uint32_t kPointAlarming = 16;        // sensor case whose telemetry is not back to normal
// The flags of summary `c`.
uint32_t PointFlags(const yiwang::v1::CaseSummary& c);

// Map settings of ui-config (the tile layer of deployments that have a tile server).
struct MapSettings {
  std::string tile_url;          // e.g. "https://t{s}.tianditu.gov.cn/..."; empty: no tiles
  std::string tile_attribution;
  std::string tile_crs = "wgs84";  // "wgs84" or "gcj02": the tiles' datum
};

class CaseApi {
 public:
  // `dispatcher`, `metrics` and `districts` must outlive the CaseApi. With a district map
  // (`districts` not null nor empty), a case filed with a location must lie in (or within
  // kDistrictToleranceM of) its district; without one the district is taken as given.
  CaseApi(dispatcher::Dispatcher* dispatcher, Authenticator authenticate, Metrics* metrics,
          std::shared_ptr<spdlog::logger> logger, const DistrictLocator* districts = nullptr,
          MapSettings map = {}, Clock clock = {});

  // The response for one of the routes above; nullopt for any other path.
  std::optional<HttpResponse> Handle(const HttpRequest& req);

  // True if `p` may see case `c` (role and district scope).
  static bool MaySee(const Principal& p, const yiwang::v1::Case& c);

 private:
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message, std::string_view extra_json = {});
  HttpResponse UiConfig(const HttpRequest& req);
  HttpResponse ListCases(const HttpRequest& req, const Principal& p, std::string_view query);
  HttpResponse CasePoints(const HttpRequest& req, const Principal& p, std::string_view query);
  // Parses the list filters of `query` (bbox, state, source, district, department, category,
  // overdue, open, from, to) into *q and narrows them to what `p` may see; the 400 response
  // for a bad one.
  std::optional<HttpResponse> ParseFilters(const HttpRequest& req, const Principal& p,
                                           std::string_view query, dispatcher::CaseQuery* q);
  HttpResponse CreateCase(const HttpRequest& req, const Principal& p);
  // Why `filing`'s location contradicts its district (the map places it elsewhere), or
  // nullopt (they agree, or no location or no map).
  std::optional<std::string> LocationOutsideDistrict(const yiwang::v1::Case& filing) const;
  HttpResponse GetCase(const HttpRequest& req, const Principal& p, const std::string& id);
  HttpResponse Transition(const HttpRequest& req, const Principal& p, const std::string& id);
  HttpResponse Stats(const HttpRequest& req, const Principal& p, std::string_view query);
  // The JSON of a case for `p`: {"case","sla","allowedActions"} members (no braces).
  std::string CaseMembers(const Principal& p, const yiwang::v1::Case& c);

  dispatcher::Dispatcher* dispatcher_;
  Authenticator authenticate_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  const DistrictLocator* districts_;  // may be null
  MapSettings map_;
  Clock clock_;  // the time SLA levels and the points' serverTimeMs are judged at
  std::string ui_config_json_;  // built once: the configuration does not change at run time
};

}  // namespace yiwang::web
