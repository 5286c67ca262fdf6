#include "web/case_api.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <set>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <google/protobuf/util/time_util.h>

#include "base/text.h"
#include "dispatcher/dispatch_config.h"
#include "web/http_util.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;
using dispatcher::Timestamp;

namespace {

constexpr std::string_view kCases = "/api/v1/cases";
constexpr std::string_view kCasePoints = "/api/v1/cases/points";


std::optional<std::string> Unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += 2) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc() || p != s.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

std::optional<v1::CaseState> ParseState(std::string_view name) {
  for (int i = v1::CASE_STATE_PENDING_ACCEPT; i <= v1::CASE_STATE_PARKED; ++i) {
    const auto st = static_cast<v1::CaseState>(i);
    if (dispatcher::StateName(st) == name) return st;
  }
  return std::nullopt;
}

std::optional<v1::Source> ParseSource(std::string_view name) {
  static const std::pair<std::string_view, v1::Source> kNames[] = {
      {"sensor", v1::SOURCE_SENSOR},
      {"citizen", v1::SOURCE_CITIZEN},
      {"patrol", v1::SOURCE_PATROL},
      {"hotline", v1::SOURCE_HOTLINE}};
  for (auto [n, s] : kNames)
    if (n == name) return s;
  return std::nullopt;
}

std::optional<v1::Urgency> ParseUrgency(std::string_view name) {
  if (name == "general") return v1::URGENCY_GENERAL;
  if (name == "urgent") return v1::URGENCY_URGENT;
  if (name == "emergency") return v1::URGENCY_EMERGENCY;
  return std::nullopt;
}

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

std::string ActionList(const std::vector<v1::CaseAction>& actions) {
  std::string out = "[";
  for (size_t i = 0; i < actions.size(); ++i) {
    if (i) out += ',';
    out += JsonEscape(dispatcher::ActionName(actions[i]));
  }
  return out + "]";
}

Timestamp Now() {
  return std::chrono::time_point_cast<dispatcher::Duration>(std::chrono::system_clock::now());
}

// Reads an optional string member; false (and *error set) if present with another type or
// longer than `max`.
bool StringField(const json::object& o, std::string_view key, size_t max, std::string* out,
                 std::string* error) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_string()) {
    *error = std::string(key) + " must be a string";
    return false;
  }
  if (v->get_string().size() > max) {
    *error = std::string(key) + " is longer than " + std::to_string(max) + " bytes";
    return false;
  }
  *out = std::string(v->get_string());
  return true;
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
                 std::shared_ptr<spdlog::logger> logger, MapSettings map)
    : dispatcher_(dispatcher),
      authenticate_(std::move(authenticate)),
      metrics_(metrics),
      log_(std::move(logger)),
      map_(std::move(map)) {
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
    json::array ds;
    for (const auto& x : d.districts()) ds.emplace_back(x);
    j["districts"] = std::move(ds);
    json::array cs;
    for (const auto& x : d.categories()) cs.emplace_back(x);
    j["categories"] = std::move(cs);
    depts.push_back(std::move(j));
  }
  o["departments"] = std::move(depts);
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
    HttpResponse res = Error(req, 405, "method_not_allowed", "use " + std::string(allow));
    res.set(http::field::allow, allow);
    return res;
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
  auto id = PercentDecode(rest);
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

std::optional<HttpResponse> CaseApi::ParseFilters(const HttpRequest& req, const Principal& p,
                                                  std::string_view query,
                                                  dispatcher::CaseQuery* out) {
  dispatcher::CaseQuery& q = *out;
  if (auto v = QueryParam(query, "bbox")) {
    auto parts = SplitList(*v);
    std::array<double, 4> b{};
    bool ok = parts.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) {
      auto [ptr, ec] = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), b[i]);
      ok = ec == std::errc() && ptr == parts[i].data() + parts[i].size() && std::isfinite(b[i]);
    }
    if (!ok || b[0] > b[2] || b[1] > b[3] || b[1] < -90 || b[3] > 90 || b[0] < -180 || b[2] > 180)
      return Error(req, 400, "bad_bbox", "bbox must be minLon,minLat,maxLon,maxLat (WGS-84)");
    q.bbox = b;
  }
  if (auto v = QueryParam(query, "state")) {
    for (const auto& s : SplitList(*v)) {
      auto st = ParseState(s);
      if (!st) return Error(req, 400, "bad_state", "unknown state " + s);
      q.states.push_back(*st);
    }
  }
  if (auto v = QueryParam(query, "source")) {
    for (const auto& s : SplitList(*v)) {
      auto src = ParseSource(s);
      if (!src) return Error(req, 400, "bad_source", "unknown source " + s);
      q.sources.push_back(*src);
    }
  }
  if (auto v = QueryParam(query, "district")) q.districts = SplitList(*v);
  if (auto v = QueryParam(query, "department")) q.departments = SplitList(*v);
  if (auto v = QueryParam(query, "category")) q.categories = SplitList(*v);
  for (auto [name, flag] : {std::pair<const char*, bool*>{"overdue", &q.overdue_only},
                            {"open", &q.open_only}}) {
    if (auto v = QueryParam(query, name)) {
      if (*v != "true" && *v != "false")
        return Error(req, 400, std::string("bad_") + name, std::string(name) + " must be true or false");
      *flag = *v == "true";
    }
  }
  for (auto [name, out] :
       {std::pair<const char*, std::optional<Timestamp>*>{"from", &q.created_from},
        {"to", &q.created_to}}) {
    if (auto v = QueryParam(query, name)) {
      google::protobuf::Timestamp t;
      if (!google::protobuf::util::TimeUtil::FromString(*v, &t))
        return Error(req, 400, std::string("bad_") + name,
                     std::string(name) + " must be an RFC 3339 time");
      *out = dispatcher::FromProto(t);
    }
  }
  // Scope: a department sees its own cases, a district scope its districts.
  if (p.role == v1::ROLE_DEPARTMENT) {
    if (!q.departments.empty() &&
        std::find(q.departments.begin(), q.departments.end(), p.department) == q.departments.end())
      q.departments = {"\x01none"};  // asked for others only: nothing
    else
      q.departments = {p.department};
  }
  if (!p.districts.empty()) {
    std::vector<std::string> allowed;
    if (q.districts.empty()) {
      allowed = p.districts;
    } else {
      for (const auto& d : q.districts)
        if (std::find(p.districts.begin(), p.districts.end(), d) != p.districts.end())
          allowed.push_back(d);
      if (allowed.empty()) allowed = {"\x01none"};
    }
    q.districts = std::move(allowed);
  }
  return std::nullopt;
}

HttpResponse CaseApi::ListCases(const HttpRequest& req, const Principal& p,
                                std::string_view query) {
  dispatcher::CaseQuery q;
  q.limit = kDefaultCasesPageLimit;
  if (auto v = QueryParam(query, "limit")) {
    size_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || ptr != v->data() + v->size() || n == 0 || n > kMaxCasesPageLimit)
      return Error(req, 400, "bad_limit", "limit must be an integer from 1 to 1000");
    q.limit = n;
  }
  if (auto v = QueryParam(query, "cursor")) {
    auto raw = Unhex(*v);
    if (!raw) return Error(req, 400, "bad_cursor", "cursor is not one this API returned");
    q.cursor = std::move(*raw);
  }
  if (auto bad = ParseFilters(req, p, query, &q)) return std::move(*bad);
  dispatcher::CasePage page;
  Status s = dispatcher_->ListCases(q, &page);
  if (!s.ok()) {
    log_->error("listing cases: {}", s.ToString());
    return Error(req, 500, "internal", "could not list cases");
  }
  std::string body = R"({"cases":[)";
  for (size_t i = 0; i < page.cases.size(); ++i) {
    if (i) body += ',';
    body += ToJson(page.cases[i]);
  }
  body += R"(],"total":)" + std::to_string(page.total);
  if (!page.next_cursor.empty()) body += R"(,"nextCursor":")" + Hex(page.next_cursor) + '"';
  body += '}';
  return MakeResponse(req, 200, std::move(body));
}

HttpResponse CaseApi::CasePoints(const HttpRequest& req, const Principal& p,
                                 std::string_view query) {
  dispatcher::CaseQuery q;
  if (auto bad = ParseFilters(req, p, query, &q)) return std::move(*bad);
  std::vector<v1::CaseSummary> cases;
  uint64_t total = 0;
  Status s = dispatcher_->MatchingCases(q, kMaxCasePoints, &cases, &total);
  if (!s.ok()) {
    log_->error("listing case points: {}", s.ToString());
    return Error(req, 500, "internal", "could not list cases");
  }
  // ~60 bytes a point: 200,000 points are ~12 MB, built once into a reserved string.
  std::string body;
  body.reserve(32 + cases.size() * 64);
  body += R"({"points":[)";
  char num[32];
  auto append_double = [&](double d) {
    // 6 decimals: ~0.1 m, and no exponent form (Boost.JSON would print 2.95749E1).
    const int n = std::snprintf(num, sizeof num, "%.6f", d);
    body.append(num, static_cast<size_t>(n));
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const v1::CaseSummary& c = cases[i];
    if (i) body += ',';
    body += '[';
    body += JsonEscape(c.id());
    body += ',';
    append_double(c.lat());
    body += ',';
    append_double(c.lon());
    body += ',' + std::to_string(static_cast<int>(c.state())) + ',' +
            std::to_string(static_cast<int>(c.urgency())) + ',' + std::to_string(c.deadline_ms()) +
            ',' + std::to_string(PointFlags(c)) + ']';
  }
  body += R"(],"total":)" + std::to_string(total);
  body += R"(,"truncated":)" + std::string(total > cases.size() ? "true" : "false");
  body += R"(,"serverTimeMs":)" +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             Now().time_since_epoch())
                             .count()) +
          '}';
  HttpResponse res = MakeResponse(req, 200, std::move(body));
  res.set(http::field::cache_control, "no-store");
  return res;
}

std::string CaseApi::CaseMembers(const Principal& p, const v1::Case& c) {
  const dispatcher::SlaStatus sla = dispatcher::Evaluate(c, Now());
  std::string out = R"("case":)" + ToJson(c);
  out += R"(,"sla":{"stage":")" + std::string(StageName(sla.active)) + R"(","level":")" +
         std::string(LevelName(sla.active != v1::SLA_STAGE_UNSPECIFIED ? sla.ActiveLevel()
                                                                       : v1::SLA_LEVEL_UNSPECIFIED)) +
         R"(","paused":)" + (sla.paused ? "true" : "false") + "}";
  out += R"(,"allowedActions":)" +
         ActionList(dispatcher_->AllowedFor(c, p.role, p.department, p.user_id));
  return out;
}

HttpResponse CaseApi::GetCase(const HttpRequest& req, const Principal& p, const std::string& id) {
  v1::Case c;
  Status s = dispatcher_->GetCase(id, &c);
  if (s.code() == Status::Code::kNotFound || (s.ok() && !MaySee(p, c)))
    return Error(req, 404, "case_not_found", "no case " + id);
  if (!s.ok()) return Error(req, 500, "internal", "could not read the case");
  std::vector<v1::JournalEntry> journal;
  if (!dispatcher_->GetJournal(id, &journal).ok())
    return Error(req, 500, "internal", "could not read the journal");
  std::string body = "{" + CaseMembers(p, c) + R"(,"timeline":[)";
  for (size_t i = 0; i < journal.size(); ++i) {
    if (i) body += ',';
    v1::JournalEntry e = journal[i];
    e.clear_filing();  // the case itself carries the filing
    body += ToJson(e);
  }
  body += "]}";
  return MakeResponse(req, 200, std::move(body));
}

HttpResponse CaseApi::Transition(const HttpRequest& req, const Principal& p,
                                 const std::string& id) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  const json::object& o = *body;
  static const std::set<std::string_view> kKnown = {
      "action", "note", "evidence", "department", "extensionSeconds", "supervisorOverride"};
  for (const auto& kv : o) {
    if (!kKnown.count(kv.key()))
      return Error(req, 400, "invalid_argument", "unknown field " + std::string(kv.key()));
  }
  std::string action_name, error;
  if (!StringField(o, "action", 64, &action_name, &error))
    return Error(req, 400, "invalid_argument", error);
  auto action = dispatcher::ParseActionName(action_name);
  if (!action || *action == v1::CASE_ACTION_CREATE || *action == v1::CASE_ACTION_ESCALATE ||
      *action == v1::CASE_ACTION_ALARM_UPDATE || *action == v1::CASE_ACTION_SUPPORT)
    return Error(req, 400, "invalid_argument",
                 action_name.empty() ? "action is required" : "unknown action " + action_name);
  v1::CaseCommand cmd;
  cmd.set_action(*action);
  cmd.set_actor_id(p.user_id);
  cmd.set_actor_role(p.role);
  cmd.set_actor_department(p.department);
  std::string s;
  if (!StringField(o, "note", dispatcher::kMaxNoteBytes, &s, &error))
    return Error(req, 400, "invalid_argument", error);
  cmd.set_note(s);
  s.clear();
  if (!StringField(o, "department", dispatcher::kMaxIdBytes, &s, &error))
    return Error(req, 400, "invalid_argument", error);
  cmd.set_department(s);
  if (const json::value* ev = o.if_contains("evidence")) {
    if (!ev->is_array()) return Error(req, 400, "invalid_argument", "evidence must be an array");
    for (const json::value& e : ev->get_array()) {
      if (!e.is_string())
        return Error(req, 400, "invalid_argument", "evidence must hold strings");
      cmd.add_evidence(std::string(e.get_string()));
    }
  }
  if (const json::value* ext = o.if_contains("extensionSeconds")) {
    if (!ext->is_int64() && !ext->is_uint64())
      return Error(req, 400, "invalid_argument", "extensionSeconds must be an integer");
    cmd.set_extension_seconds(ext->is_int64() ? ext->get_int64()
                                              : static_cast<int64_t>(ext->get_uint64()));
  }
  if (const json::value* ov = o.if_contains("supervisorOverride")) {
    if (!ov->is_bool())
      return Error(req, 400, "invalid_argument", "supervisorOverride must be true or false");
    cmd.set_supervisor_override(ov->get_bool());
  }
  if (cmd.action() == v1::CASE_ACTION_TRANSFER && !cmd.department().empty()) {
    bool known = false;
    for (const auto& d : dispatcher_->config().departments()) known |= d.id() == cmd.department();
    if (!known)
      return Error(req, 400, "invalid_argument", "unknown department " + cmd.department());
  }

  // Visibility first: a case out of the principal's scope does not exist for them.
  v1::Case current;
  Status gs = dispatcher_->GetCase(id, &current);
  if (gs.code() == Status::Code::kNotFound || (gs.ok() && !MaySee(p, current)))
    return Error(req, 404, "case_not_found", "no case " + id);
  if (!gs.ok()) return Error(req, 500, "internal", "could not read the case");

  dispatcher::CommandOutcome out = dispatcher_->Execute(id, std::move(cmd));
  if (out.error) {
    switch (out.error->code) {
      case dispatcher::ErrorCode::kForbidden:
        return Error(req, 403, "forbidden", out.error->message);
      case dispatcher::ErrorCode::kIllegalTransition:
        return Error(req, 409, "illegal_transition", out.error->message,
                     R"("allowed":)" + ActionList(out.error->allowed));
      case dispatcher::ErrorCode::kInvalidArgument:
        return Error(req, 400, "invalid_argument", out.error->message);
    }
  }
  if (out.status.code() == Status::Code::kNotFound)
    return Error(req, 404, "case_not_found", "no case " + id);
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the change was not stored");
  if (out.status.code() == Status::Code::kUnavailable)
    return Error(req, 503, "unavailable", "the server is stopping");
  if (!out.status.ok()) return Error(req, 500, "internal", "could not store the change");
  log_->info("[case {}] {} by {}", id, dispatcher::ActionName(out.entry.action()), p.user_id);
  v1::JournalEntry e = out.entry;
  e.clear_filing();
  return MakeResponse(req, 200, "{" + CaseMembers(p, out.c) + R"(,"entry":)" + ToJson(e) + "}");
}

HttpResponse CaseApi::CreateCase(const HttpRequest& req, const Principal& p) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  const json::object& o = *body;
  static const std::set<std::string_view> kKnown = {"category",    "description", "district",
                                                    "location",    "urgency",     "source",
                                                    "evidence",    "assetId"};
  for (const auto& kv : o) {
    if (!kKnown.count(kv.key()))
      return Error(req, 400, "invalid_argument", "unknown field " + std::string(kv.key()));
  }
  std::string category, description, district, urgency = "", source = "patrol", asset, error;
  if (!StringField(o, "category", 64, &category, &error) ||
      !StringField(o, "description", dispatcher::kMaxNoteBytes, &description, &error) ||
      !StringField(o, "district", 16, &district, &error) ||
      !StringField(o, "urgency", 16, &urgency, &error) ||
      !StringField(o, "source", 16, &source, &error) ||
      !StringField(o, "assetId", 64, &asset, &error))
    return Error(req, 400, "invalid_argument", error);
  if (!dispatcher::FindCategory(dispatcher_->config(), category))
    return Error(req, 400, "invalid_argument", "category: unknown category " + category);
  bool district_known = false;
  for (const auto& d : dispatcher_->config().districts()) district_known |= d.code() == district;
  if (!district_known) return Error(req, 400, "invalid_argument", "district: unknown district");
  auto src = ParseSource(source);
  if (!src || *src == v1::SOURCE_SENSOR || *src == v1::SOURCE_CITIZEN)
    return Error(req, 400, "invalid_argument", "source must be patrol or hotline");
  v1::Case filing;
  filing.set_source(*src);
  filing.set_category(category);
  filing.set_description(description);
  filing.set_district(district);
  filing.set_asset_id(asset);
  if (!urgency.empty()) {
    auto u = ParseUrgency(urgency);
    if (!u) return Error(req, 400, "invalid_argument", "urgency must be general, urgent or emergency");
    filing.set_urgency(*u);
  }
  if (const json::value* loc = o.if_contains("location")) {
    const json::object* lo = loc->if_object();
    const json::value* lat = lo ? lo->if_contains("lat") : nullptr;
    const json::value* lon = lo ? lo->if_contains("lon") : nullptr;
    if (!lat || !lon || !lat->is_number() || !lon->is_number())
      return Error(req, 400, "invalid_argument", "location must be {\"lat\": n, \"lon\": n}");
    filing.mutable_location()->set_lat(lat->to_number<double>());
    filing.mutable_location()->set_lon(lon->to_number<double>());
  }
  if (!p.districts.empty() &&
      std::find(p.districts.begin(), p.districts.end(), district) == p.districts.end())
    return Error(req, 403, "forbidden", "the district is outside your scope");
  v1::CaseCommand actor;
  actor.set_actor_id(p.user_id);
  actor.set_actor_role(p.role);
  actor.set_actor_department(p.department);
  if (const json::value* ev = o.if_contains("evidence")) {
    if (!ev->is_array()) return Error(req, 400, "invalid_argument", "evidence must be an array");
    for (const json::value& e : ev->get_array()) {
      if (!e.is_string()) return Error(req, 400, "invalid_argument", "evidence must hold strings");
      actor.add_evidence(std::string(e.get_string()));
    }
  }
  dispatcher::CommandOutcome out = dispatcher_->File(std::move(filing), actor);
  if (out.error) {
    const unsigned status = out.error->code == dispatcher::ErrorCode::kForbidden ? 403 : 400;
    return Error(req, status, status == 403 ? "forbidden" : "invalid_argument",
                 out.error->message);
  }
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the case was not stored");
  if (!out.status.ok()) return Error(req, 500, "internal", "could not store the case");
  HttpResponse res = MakeResponse(req, 201, "{" + CaseMembers(p, out.c) + "}");
  res.set(http::field::location, std::string(kCases) + "/" + out.c.id());
  return res;
}

HttpResponse CaseApi::Stats(const HttpRequest& req, const Principal& p, std::string_view query) {
  dispatcher::KpiFilter f;
  if (auto v = QueryParam(query, "district")) f.districts = SplitList(*v);
  if (auto v = QueryParam(query, "department")) f.departments = SplitList(*v);
  if (auto v = QueryParam(query, "category")) f.categories = SplitList(*v);
  if (auto v = QueryParam(query, "source")) {
    for (const auto& s : SplitList(*v)) {
      auto src = ParseSource(s);
      if (!src) return Error(req, 400, "bad_source", "unknown source " + s);
      f.sources.push_back(*src);
    }
  }
  auto valid_day = [](const std::string& d) {
    return d.size() == 10 && d[4] == '-' && d[7] == '-' &&
           std::all_of(d.begin(), d.end(), [](char c) { return (c >= '0' && c <= '9') || c == '-'; });
  };
  if (auto v = QueryParam(query, "from")) {
    if (!valid_day(*v)) return Error(req, 400, "bad_from", "from must be a day YYYY-MM-DD");
    f.day_from = *v;
  }
  if (auto v = QueryParam(query, "to")) {
    if (!valid_day(*v)) return Error(req, 400, "bad_to", "to must be a day YYYY-MM-DD");
    f.day_to = *v;
  }
  dispatcher::KpiDimension by = dispatcher::KpiDimension::kNone;
  std::string by_name = "none";
  if (auto v = QueryParam(query, "by")) {
    static const std::pair<std::string_view, dispatcher::KpiDimension> kBy[] = {
        {"district", dispatcher::KpiDimension::kDistrict},
        {"department", dispatcher::KpiDimension::kDepartment},
        {"category", dispatcher::KpiDimension::kCategory},
        {"source", dispatcher::KpiDimension::kSource},
        {"day", dispatcher::KpiDimension::kDay},
        {"none", dispatcher::KpiDimension::kNone}};
    bool found = false;
    for (auto [n, d] : kBy) {
      if (n == *v) {
        by = d;
        found = true;
      }
    }
    if (!found)
      return Error(req, 400, "bad_by", "by must be district, department, category, source or day");
    by_name = *v;
  }
  if (p.role == v1::ROLE_DEPARTMENT) f.departments = {p.department};
  if (!p.districts.empty()) {
    std::vector<std::string> allowed;
    for (const auto& d : f.districts.empty() ? p.districts : f.districts)
      if (std::find(p.districts.begin(), p.districts.end(), d) != p.districts.end())
        allowed.push_back(d);
    f.districts = allowed.empty() ? std::vector<std::string>{"\x01none"} : allowed;
  }
  std::vector<dispatcher::KpiRow> rows;
  v1::KpiCounters total;
  if (!dispatcher_->Stats(f, by, &rows, &total).ok())
    return Error(req, 500, "internal", "could not read the KPI rows");
  std::string body = R"({"by":)" + JsonEscape(by_name) + R"(,"total":)" +
                     ToJson(dispatcher::ComputeKpis(total));
  body += R"(,"rows":[)";
  if (by != dispatcher::KpiDimension::kNone) {
    for (size_t i = 0; i < rows.size(); ++i) {
      if (i) body += ',';
      body += R"({"key":)" + ToJson(rows[i].key) + R"(,"report":)" +
              ToJson(dispatcher::ComputeKpis(rows[i].counters)) + "}";
    }
  }
  const dispatcher::OpenCaseStats open = dispatcher_->OpenStats(f);
  body += R"(],"open":{"open":)" + std::to_string(open.open) + R"(,"overdue":)" +
          std::to_string(open.overdue) + R"(,"byState":{)";
  bool first = true;
  for (const auto& [state, n] : open.by_state) {
    if (!first) body += ',';
    first = false;
    body += JsonEscape(state) + ":" + std::to_string(n);
  }
  body += "}}}";
  return MakeResponse(req, 200, std::move(body));
}

}  // namespace yiwang::web
