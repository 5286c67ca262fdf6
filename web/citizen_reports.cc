// Citizens' reports: POST /api/v1/reports (and CitizenApi::FileReport, which Open311 shares)
// and GET /api/v1/reports/nearby (the open public cases a new report could support instead,
// 附议: Dispatcher::NearbyOpenCases, the one list both use).
// web/citizen_api.h lists the routes; docs/api.md the codes.

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "dispatcher/dispatch_config.h"
#include "web/citizen_api.h"
#include "web/http_util.h"
#include "web/internal/citizen_text.h"

namespace yiwang::web {

namespace json = boost::json;
namespace v1 = yiwang::v1;
using internal::kNotText;
using internal::Trim;

namespace {

ReportError Fail(unsigned status, std::string code, std::string field, std::string message) {
  return ReportError{status, std::move(code), std::move(field), std::move(message)};
}

std::string CategoryName(const v1::DispatchConfig& cfg, std::string_view code) {
  const v1::Category* c = dispatcher::FindCategory(cfg, code);
  return c ? c->name_zh() : std::string(code);
}

// A number member; nullopt if absent or not a finite number.
std::optional<double> NumberMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  const double d = v->to_number<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// Distances in the nearby list are rounded up to this step: close enough to choose, too coarse
// to locate a case by asking from three points.
constexpr double kNearbyDistanceStepM = 50;

// The one answer to a supportCaseId that is not a case this report may support, whatever the
// id names: a case the public may not see, one of another category or too far, a closed one,
// none at all. Telling them apart would tell a stranger about cases they cannot see.
ReportError SupportCaseUnavailable() {
  return Fail(400, "support_case_unavailable", "supportCaseId",
              "this case cannot be supported from here: choose one the nearby list offers, or "
              "send the report without supportCaseId");
}

// 附议 only of what the form offers at the report's point: one of the nearby list's cases.
std::optional<ReportError> CheckSupportCase(const dispatcher::Dispatcher& dispatcher,
                                            const ReportRequest& r) {
  std::vector<std::pair<v1::CaseSummary, double>> near;
  if (!dispatcher.NearbyOpenCases(r.category, *r.lat, *r.lon, 0, &near).ok())
    return SupportCaseUnavailable();
  for (const auto& [c, d] : near)
    if (c.id() == r.support_case) return std::nullopt;
  return SupportCaseUnavailable();
}

}  // namespace

std::variant<dispatcher::ReportFiling, ReportError> CitizenApi::CheckReport(
    const ReportRequest& r) {
  const auto& cfg = dispatcher_->config();
  if (r.category.empty()) return Fail(400, "category_missing", "category", "choose a category");
  const v1::Category* cat = dispatcher::FindCategory(cfg, r.category);
  if (!cat) return Fail(400, "unknown_category", "category", "no category " + r.category);
  if (cat->kind() == v1::CATEGORY_KIND_SYSTEM)
    return Fail(400, "category_not_for_citizens", "category",
                "category " + r.category + " is for system cases only");
  const std::string description = Trim(r.description);
  if (!IsText(description)) return Fail(400, "description_invalid", "description", kNotText);
  const auto desc_len = Utf8Length(description);
  if (*desc_len == 0)
    return Fail(400, "description_missing", "description", "describe the problem");
  if (*desc_len > kMaxDescriptionChars)
    return Fail(400, "description_too_long", "description",
                fmt::format("at most {} characters", kMaxDescriptionChars));
  if (!r.lat || !r.lon)
    return Fail(400, "location_missing", "location", "location.lat and location.lon are required");
  if (*r.lat < -90 || *r.lat > 90 || *r.lon < -180 || *r.lon > 180)
    return Fail(400, "location_invalid", "location", "lat must be in [-90, 90], lon in [-180, 180]");
  if (districts_->empty())
    return Fail(503, "service_area_unavailable", "location",
                "the district map is not installed on this server");
  auto district = districts_->Locate(*r.lat, *r.lon);
  if (!district)
    return Fail(400, "outside_service_area", "location", "the location is not in Chongqing");
  if (r.photo_ids.size() > kMaxReportPhotos)
    return Fail(400, "too_many_photos", "photoIds",
                fmt::format("at most {} photos", kMaxReportPhotos));
  for (size_t i = 0; i < r.photo_ids.size(); ++i) {
    if (!PhotoExists(r.photo_ids[i]))
      return Fail(400, "unknown_photo", "photoIds",
                  fmt::format("photoIds[{}]: no photo {} (upload it first)", i, r.photo_ids[i]));
  }
  const std::string contact = Trim(r.contact);
  if (!IsText(contact)) return Fail(400, "contact_invalid", "contact", kNotText);
  const auto contact_len = Utf8Length(contact);
  if (*contact_len > kMaxContactChars)
    return Fail(400, "contact_too_long", "contact",
                fmt::format("at most {} characters", kMaxContactChars));
  if (!r.support_case.empty()) {
    if (auto e = CheckSupportCase(*dispatcher_, r)) return std::move(*e);
  }
  dispatcher::ReportFiling f;
  f.category = r.category;
  f.description = description;
  f.lat = *r.lat;
  f.lon = *r.lon;
  f.district = district->code;
  f.photo_ids = r.photo_ids;
  f.contact = contact;
  f.client = r.client;
  f.support_case = r.support_case;
  f.no_link = r.no_link;
  return f;
}

std::variant<v1::CitizenReport, ReportError> CitizenApi::FileReport(const ReportRequest& r) {
  auto checked = CheckReport(r);
  if (auto* e = std::get_if<ReportError>(&checked)) return std::move(*e);
  const auto& f = std::get<dispatcher::ReportFiling>(checked);
  dispatcher::ReportOutcome out = dispatcher_->FileReport(f);
  if (out.error) {
    // The case to support changed since CheckReport (closed, full): the same one answer.
    if (!f.support_case.empty()) return SupportCaseUnavailable();
    const auto& e = *out.error;
    return Fail(e.code == dispatcher::ErrorCode::kForbidden ? 403 : 400,
                dispatcher::ErrorCodeName(e.code), "", e.message);
  }
  switch (out.status.code()) {
    case Status::Code::kOk: break;
    case Status::Code::kNoSpace:
      return Fail(507, "storage_full", "", "disk full: the report was not stored");
    case Status::Code::kNotFound:
      return SupportCaseUnavailable();
    case Status::Code::kInvalidArgument:
      return Fail(400, "invalid_report", "", out.status.message());
    default: return Fail(503, "unavailable", "", out.status.ToString());
  }
  metrics_->GetCounter("yiwang_citizen_reports_total", "Citizen reports filed, by outcome",
                       {{"linked", out.report.linked() ? "true" : "false"}})
      .Inc();
  return std::move(out.report);
}

HttpResponse CitizenApi::PostReport(const HttpRequest& req) {
  HttpResponse bad;
  const auto o =
      JsonObjectBody(metrics_, req, &bad, JsonBodyRules::JsonTypeOnly("the report"));
  if (!o) return bad;
  ReportRequest r;
  r.client = ClientAddress(req);
  auto string_member = [&](std::string_view key, std::string* out) -> bool {
    const json::value* v = o->if_contains(key);
    if (!v || v->is_null()) return true;
    if (!v->is_string()) return false;
    *out = std::string(v->get_string());
    return true;
  };
  if (!string_member("category", &r.category))
    return Error(req, 400, "category_invalid", "category must be a string", "category");
  if (!string_member("description", &r.description))
    return Error(req, 400, "description_invalid", "description must be a string", "description");
  if (!string_member("contact", &r.contact))
    return Error(req, 400, "contact_invalid", "contact must be a string", "contact");
  if (!string_member("supportCaseId", &r.support_case))
    return Error(req, 400, "support_case_invalid", "supportCaseId must be a string",
                 "supportCaseId");
  if (const json::value* loc = o->if_contains("location"); loc && !loc->is_null()) {
    const json::object* lo = loc->if_object();
    if (!lo) return Error(req, 400, "location_invalid", "location must be {lat, lon}", "location");
    r.lat = NumberMember(*lo, "lat");
    r.lon = NumberMember(*lo, "lon");
    if ((lo->contains("lat") && !r.lat) || (lo->contains("lon") && !r.lon))
      return Error(req, 400, "location_invalid", "lat and lon must be numbers", "location");
  }
  if (const json::value* ids = o->if_contains("photoIds"); ids && !ids->is_null()) {
    if (!ids->is_array())
      return Error(req, 400, "photo_ids_invalid", "photoIds must be an array of ids", "photoIds");
    for (const auto& id : ids->get_array()) {
      if (!id.is_string())
        return Error(req, 400, "photo_ids_invalid", "photoIds must be an array of ids",
                     "photoIds");
      r.photo_ids.emplace_back(id.get_string());
    }
  }
  if (const json::value* nl = o->if_contains("noLink"); nl && !nl->is_null()) {
    if (!nl->is_bool()) return Error(req, 400, "no_link_invalid", "noLink must be true or false", "noLink");
    r.no_link = nl->get_bool();
  }
  // Checked after the body parses: a malformed request does not use up the citizen's quota.
  if (auto limited = Throttle(req, report_limiter_, "reports")) return std::move(*limited);
  auto filed = FileReport(r);
  if (auto* e = std::get_if<ReportError>(&filed)) return ErrorOf(req, *e);
  const auto& rep = std::get<v1::CitizenReport>(filed);
  return MakeResponse(req, 201,
                      fmt::format(R"({{"trackingCode":{},"caseId":{},"linked":{}}})",
                                  JsonEscape(rep.tracking_code()), JsonEscape(rep.case_id()),
                                  rep.linked() ? "true" : "false"));
}

HttpResponse CitizenApi::Nearby(const HttpRequest& req, std::string_view query) {
  const auto category = QueryParam(query, "category");
  if (!category || category->empty())
    return Error(req, 400, "category_missing", "category is required", "category");
  const v1::Category* cat = dispatcher::FindCategory(dispatcher_->config(), *category);
  if (!cat || cat->kind() == v1::CATEGORY_KIND_SYSTEM)
    return Error(req, 400, "unknown_category", "no citizen category " + *category, "category");
  const std::optional<double> lat = ParseDouble(QueryParam(query, "lat").value_or(""));
  const std::optional<double> lon = ParseDouble(QueryParam(query, "lon").value_or(""));
  if (!lat || !lon || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180)
    return Error(req, 400, "location_invalid", "lat and lon must be numbers", "location");
  if (auto limited = Throttle(req, nearby_limiter_, "nearby queries")) return std::move(*limited);
  std::vector<std::pair<v1::CaseSummary, double>> near;
  if (cat->dedup().radius_m() > 0) {
    Status s = dispatcher_->NearbyOpenCases(*category, *lat, *lon, 0, &near);
    if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  }
  json::array cases;
  for (size_t i = 0; i < near.size() && i < kMaxNearbyCases; ++i) {
    const auto& [c, d] = near[i];
    json::object o;
    o["id"] = c.id();
    o["category"] = c.category();
    o["categoryName"] = CategoryName(dispatcher_->config(), c.category());
    o["description"] = c.description();
    o["distanceM"] =
        std::max(1.0, std::ceil(d / kNearbyDistanceStepM)) * kNearbyDistanceStepM;
    o["state"] = v1::CaseState_Name(c.state());
    o["stateText"] = PublicStateText(c.state());
    cases.push_back(std::move(o));
  }
  json::object res;
  res["cases"] = std::move(cases);
  return MakeResponse(req, 200, json::serialize(res));
}

}  // namespace yiwang::web
