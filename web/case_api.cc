#include "web/case_api.h"

#include <algorithm>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "store/sensor_catalogue.h"
#include "web/http_util.h"
#include "web/internal/case_json.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

namespace {

constexpr std::string_view kCases = "/api/v1/cases";
constexpr std::string_view kCasePoints = "/api/v1/cases/points";

std::string_view LevelName(v1::SlaLevel l) {
  switch (l) {
    case v1::SLA_LEVEL_ON_TIME: return "on_time";
    case v1::SLA_LEVEL_YELLOW: return "yellow";
    case v1::SLA_LEVEL_RED: return "red";
    default: return "none";
  }
}

std::string_view StageName(v1::SlaStage s) {
  switch (s) {
    case v1::SLA_STAGE_ACCEPT: return "accept";
    case v1::SLA_STAGE_DISPATCH: return "dispatch";
    case v1::SLA_STAGE_HANDLE: return "handle";
    case v1::SLA_STAGE_CLOSE: return "close";
    default: return "none";
  }
}

}  // namespace

uint32_t PointFlags(const v1::CaseSummary& c) {
  uint32_t f = 0;
  if (c.source() == v1::SOURCE_SENSOR) f |= kPointSensor;
  if (c.paused()) f |= kPointPaused;
  if (c.escalated() == v1::SLA_LEVEL_YELLOW) f |= kPointEscalatedYellow;
  if (c.escalated() == v1::SLA_LEVEL_RED) f |= kPointEscalatedRed;
  if (c.source() == v1::SOURCE_SENSOR && !c.telemetry_normal()) f |= kPointAlarming;
  return f;
}

CaseApi::CaseApi(dispatcher::Dispatcher* dispatcher, Authenticator authenticate, Metrics* metrics,
                 std::shared_ptr<spdlog::logger> logger, const DistrictLocator* district_map,
                 MapSettings map, Clock clock)
    : dispatcher_(dispatcher),
      authenticate_(std::move(authenticate)),
      metrics_(metrics),
      log_(std::move(logger)),
      districts_(district_map),
      map_(std::move(map)),
      clock_(std::move(clock)) {
  const v1::DispatchConfig& cfg = dispatcher_->config();
  json::object o;
  o["tileUrl"] = map_.tile_url;
  o["tileAttribution"] = map_.tile_attribution;
  o["tileCrs"] = map_.tile_crs;
  json::array cats;
  for (const v1::Category& c : cfg.categories()) {
    json::object j;
    j["code"] = c.code();
    j["name"] = c.name_zh();
    j["nameEn"] = c.name_en();
    j["group"] = c.major();
    j["kind"] = v1::CategoryKind_Name(c.kind());
    j["citizen"] = c.kind() != v1::CATEGORY_KIND_SYSTEM;
    cats.push_back(std::move(j));
  }
  o["categories"] = std::move(cats);
  json::array districts;
  for (const v1::District& d : cfg.districts()) {
    json::object j;
    j["code"] = d.code();
    j["name"] = d.name_zh();
    districts.push_back(std::move(j));
  }
  o["districts"] = std::move(districts);
  json::array depts;
  for (const v1::Department& d : cfg.departments()) {
    json::object j;
    j["id"] = d.id();
    j["name"] = d.name_zh();
    j["nameEn"] = d.name_en();
    j["districts"] = json::array(d.districts().begin(), d.districts().end());
    j["categories"] = json::array(d.categories().begin(), d.categories().end());
    depts.push_back(std::move(j));
  }
  o["departments"] = std::move(depts);
  // The sensor catalogue: what the pages chart and how they label it.
  json::array kinds;
  for (const store::SensorKindInfo& k : store::SensorKinds()) {
    json::array metrics;
    for (const store::SensorMetric& m : k.metrics) {
      json::object j;
      j["name"] = m.name;
      j["label"] = m.label;
      j["symbol"] = m.symbol;
      j["boolean"] = m.boolean;
      j["min"] = m.min;
      j["max"] = m.max;
      metrics.push_back(std::move(j));
    }
    json::object j;
    j["kind"] = k.json_name;
    j["metrics"] = std::move(metrics);
    kinds.push_back(std::move(j));
  }
  o["sensorKinds"] = std::move(kinds);
  ui_config_json_ = json::serialize(o);
}

HttpResponse CaseApi::Error(const HttpRequest& req, unsigned status, std::string_view code,
                            std::string_view message, std::string_view extra_json) {
  return ErrorResponse(metrics_, req, status, code, message, extra_json);
}

bool CaseApi::MaySee(const Principal& p, const v1::Case& c) {
  if (p.role == v1::ROLE_DEPARTMENT && c.department() != p.department) return false;
  if (!p.districts.empty() &&
      std::find(p.districts.begin(), p.districts.end(), c.district()) == p.districts.end())
    return false;
  return p.role != v1::ROLE_UNSPECIFIED && p.role != v1::ROLE_CITIZEN;
}

std::optional<HttpResponse> CaseApi::Handle(const HttpRequest& req) {
  auto [path, query] = SplitTarget(req.target());
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool is_post = req.method() == http::verb::post;
  auto not_allowed = [&](std::string_view allow) {
    return MethodNotAllowedResponse(metrics_, req, allow);
  };

  if (path == "/api/v1/ui-config") {
    if (!is_get) return not_allowed("GET, HEAD");
    return UiConfig(req);
  }
  const bool cases_route = path == kCases || path.starts_with(std::string(kCases) + "/");
  if (!cases_route && path != "/api/v1/stats") return std::nullopt;

  AuthResult auth = authenticate_(req);
  if (auto* denied = std::get_if<HttpResponse>(&auth)) return std::move(*denied);
  const Principal& p = std::get<Principal>(auth);
  if (p.role == v1::ROLE_UNSPECIFIED || p.role == v1::ROLE_CITIZEN || p.role == v1::ROLE_SYSTEM)
    return Error(req, 403, "forbidden", "this account may not use the case API");

  if (path == "/api/v1/stats") {
    if (!is_get) return not_allowed("GET, HEAD");
    return Stats(req, p, query);
  }
  if (path == kCases) {
    if (is_get) return ListCases(req, p, query);
    if (is_post) return CreateCase(req, p);
    return not_allowed("GET, HEAD, POST");
  }
  if (path == kCasePoints) {
    if (!is_get) return not_allowed("GET, HEAD");
    return CasePoints(req, p, query);
  }
  std::string_view rest = path.substr(kCases.size() + 1);
  constexpr std::string_view kTransitions = "/transitions";
  const bool transitions = rest.ends_with(kTransitions);
  if (transitions) rest.remove_suffix(kTransitions.size());
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return Error(req, 404, "not_found", "no such route");
  auto id = PercentDecodePath(rest);
  if (!id || id->size() > dispatcher::kMaxIdBytes)
    return Error(req, 400, "bad_case_id", "bad case id in the path");
  if (transitions) {
    if (!is_post) return not_allowed("POST");
    return Transition(req, p, *id);
  }
  if (!is_get) return not_allowed("GET, HEAD");
  return GetCase(req, p, *id);
}

HttpResponse CaseApi::UiConfig(const HttpRequest& req) {
  HttpResponse res = MakeResponse(req, 200, ui_config_json_);
  res.set(http::field::cache_control, "public, max-age=300");
  return res;
}

std::string CaseApi::CaseMembers(const Principal& p, const v1::Case& c) {
  const dispatcher::SlaStatus sla = dispatcher::Evaluate(c, clock_.NowMillis());
  std::string out = R"("case":)" + ToJson(c);
  out += R"(,"sla":{"stage":")" + std::string(StageName(sla.active)) + R"(","level":")" +
         std::string(LevelName(sla.active != v1::SLA_STAGE_UNSPECIFIED ? sla.ActiveLevel()
                                                                       : v1::SLA_LEVEL_UNSPECIFIED)) +
         R"(","paused":)" + (sla.paused ? "true" : "false") + "}";
  out += R"(,"allowedActions":)" +
         internal::ActionList(dispatcher_->AllowedFor(c, p.role, p.department, p.user_id));
  return out;
}

}  // namespace yiwang::web
