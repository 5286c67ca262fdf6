#include "web/citizen_api.h"

#include <charconv>
#include <cmath>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "base/text.h"
#include "base/time.h"
#include "dispatcher/dispatch_config.h"
#include "store/tables.h"
#include "web/api.h"
#include "web/http_util.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr std::string_view kPhotos = "/api/v1/photos";
constexpr std::string_view kReports = "/api/v1/reports";
constexpr std::string_view kNearby = "/api/v1/reports/nearby";
constexpr std::string_view kTrack = "/api/v1/track/";
constexpr size_t kPhotoIdBytes = 16;  // 128 random bits -> 22 base64url characters
constexpr size_t kMaxTrackingCodeBytes = 32;

bool IsTrackingCode(std::string_view s) {
  if (s.empty() || s.size() > kMaxTrackingCodeBytes) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string DepartmentName(const v1::DispatchConfig& cfg, std::string_view id, bool english) {
  for (const auto& d : cfg.departments())
    if (d.id() == id) return english && !d.name_en().empty() ? d.name_en() : d.name_zh();
  return std::string(id);
}

std::string CategoryName(const v1::DispatchConfig& cfg, std::string_view code) {
  const v1::Category* c = dispatcher::FindCategory(cfg, code);
  return c ? c->name_zh() : std::string(code);
}

// The public words for a journal entry (zh, en), or nullopt for an internal entry (escalations,
// alarm updates, extension requests) that citizens do not see.
std::optional<std::pair<std::string, std::string>> PublicEntryText(const v1::DispatchConfig& cfg,
                                                                   const v1::JournalEntry& e) {
  using P = std::pair<std::string, std::string>;
  switch (e.action()) {
    case v1::CASE_ACTION_CREATE: return P{"问题已上报", "Report received"};
    case v1::CASE_ACTION_ACCEPT: return P{"已受理立案", "Accepted"};
    case v1::CASE_ACTION_REJECT:
      return P{"不予受理：" + e.note(), "Not accepted: " + e.note()};
    case v1::CASE_ACTION_TRANSFER:
      return P{"已派遣至" + DepartmentName(cfg, e.department(), false),
               "Sent to " + DepartmentName(cfg, e.department(), true)};
    case v1::CASE_ACTION_RETURN: return P{"正在重新派遣", "Being re-assigned"};
    case v1::CASE_ACTION_REPORT_HANDLED:
      return P{e.note().empty() ? "已处理" : "已处理：" + e.note(),
               e.note().empty() ? "Handled" : "Handled: " + e.note()};
    case v1::CASE_ACTION_VERIFY_PASS: return P{"核查通过", "Checked on site"};
    case v1::CASE_ACTION_VERIFY_FAIL: return P{"核查未通过，重新处理", "Check failed: being redone"};
    case v1::CASE_ACTION_CLOSE: return P{"已办结", "Closed"};
    case v1::CASE_ACTION_APPROVE_EXTENSION: return P{"处理期限已延长", "Deadline extended"};
    case v1::CASE_ACTION_PARK: return P{"暂缓处理", "On hold"};
    case v1::CASE_ACTION_UNPARK: return P{"恢复处理", "Resumed"};
    case v1::CASE_ACTION_REOPEN:
      return e.actor_role() == v1::ROLE_CITIZEN
                 ? P{"市民反馈问题未解决，重新处理", "Reopened: the reporter says it is not fixed"}
                 : P{"重新处理", "Reopened"};
    case v1::CASE_ACTION_SUPPORT: return P{"其他市民附议", "Another citizen reported it too"};
    default: return std::nullopt;
  }
}

// A number member; nullopt if absent or not a finite number.
std::optional<double> NumberMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  const double d = v->to_number<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

std::string PhotoKey(std::string_view id) { return "photo/" + std::string(id); }

bool IsPhotoId(std::string_view id) {
  if (id.size() != 22) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

std::string_view PublicStateText(v1::CaseState state, bool english) {
  switch (state) {
    case v1::CASE_STATE_PENDING_ACCEPT: return english ? "Received, awaiting acceptance" : "已收到，等待受理";
    case v1::CASE_STATE_REJECTED: return english ? "Not accepted" : "不予受理";
    case v1::CASE_STATE_PENDING_DISPATCH: return english ? "Accepted, being assigned" : "已受理，正在派遣";
    case v1::CASE_STATE_HANDLING: return english ? "Being handled" : "处理中";
    case v1::CASE_STATE_PENDING_VERIFY: return english ? "Handled, awaiting a check" : "已处理，等待核查";
    case v1::CASE_STATE_VERIFIED: return english ? "Checked, about to close" : "核查通过，即将办结";
    case v1::CASE_STATE_CLOSED: return english ? "Closed" : "已办结";
    case v1::CASE_STATE_PARKED: return english ? "On hold" : "暂缓处理";
    default: return english ? "Unknown" : "未知";
  }
}

CitizenApi::CitizenApi(dispatcher::Dispatcher* dispatcher, store::EventStore* store,
                       const DistrictLocator* districts, Metrics* metrics,
                       std::shared_ptr<spdlog::logger> logger, CitizenLimits limits)
    : dispatcher_(dispatcher),
      store_(store),
      districts_(districts),
      metrics_(metrics),
      log_(std::move(logger)),
      limits_(limits),
      photo_limiter_(limits.photos_per_window, limits.window),
      report_limiter_(limits.reports_per_window, limits.window),
      rating_limiter_(limits.ratings_per_window, limits.window) {}

HttpResponse CitizenApi::Error(const HttpRequest& req, unsigned status, std::string_view code,
                               std::string_view message, std::string_view field) {
  std::string extra;
  if (!field.empty()) extra = R"("field":)" + JsonEscape(field);
  return ErrorResponse(metrics_, req, status, code, message, extra);
}

HttpResponse CitizenApi::ErrorOf(const HttpRequest& req, const ReportError& e) {
  return Error(req, e.status, e.code, e.message, e.field);
}

std::optional<HttpResponse> CitizenApi::Throttle(const HttpRequest& req, RateLimiter& limiter,
                                                 std::string_view what) {
  const uint64_t retry = limiter.Acquire(ClientAddress(req));
  if (retry == 0) return std::nullopt;
  return RetryLaterResponse(
      metrics_, req, 429, "too_many_requests",
      fmt::format("at most {} {} per {} minutes from one address; retry in {} s",
                  limiter.max_events(), what, limiter.window().count() / 60, retry),
      retry);
}

std::optional<HttpResponse> CitizenApi::Handle(const HttpRequest& req) {
  auto [path, query] = SplitTarget(req.target());
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool is_post = req.method() == http::verb::post;

  if (path == kPhotos) {
    if (!is_post) return MethodNotAllowedResponse(metrics_, req, "POST");
    return UploadPhoto(req);
  }
  if (path.starts_with(std::string(kPhotos) + "/")) {
    if (!is_get) return MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
    return GetPhoto(req, path.substr(kPhotos.size() + 1));
  }
  if (path == kReports) {
    if (!is_post) return MethodNotAllowedResponse(metrics_, req, "POST");
    return PostReport(req);
  }
  if (path == kNearby) {
    if (!is_get) return MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
    return Nearby(req, query);
  }
  if (path.starts_with(kTrack)) {
    std::string_view rest = path.substr(kTrack.size());
    constexpr std::string_view kRating = "/rating";
    const bool rating = rest.ends_with(kRating);
    if (rating) rest.remove_suffix(kRating.size());
    auto code = PercentDecode(rest);
    if (!code || !IsTrackingCode(*code))
      return Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
    if (rating) {
      if (!is_post) return MethodNotAllowedResponse(metrics_, req, "POST");
      return Rate(req, *code);
    }
    if (!is_get) return MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
    return Track(req, *code);
  }
  return std::nullopt;
}

// --- photos --------------------------------------------------------------------------------------

HttpResponse CitizenApi::UploadPhoto(const HttpRequest& req) {
  if (req.body().size() > limits_.max_photo_bytes)
    return Error(req, 413, "photo_too_large",
                 fmt::format("a photo may have at most {} bytes", limits_.max_photo_bytes));
  if (req.body().empty()) return Error(req, 400, "empty_body", "send the photo as the body");
  // The declared type must be one of the three (or say nothing specific); the content decides
  // which: phones and file pickers mislabel images, so a .jpg that is a PNG is stored as a PNG.
  const std::string_view declared = req[http::field::content_type];
  const bool generic = declared.empty() || declared.starts_with("application/octet-stream");
  if (!generic && ImageTypeFromMime(declared) == ImageType::kUnknown)
    return Error(req, 415, "unsupported_media_type",
                 "photos must be JPEG, PNG or WebP (declared " + std::string(declared) + ")");
  if (auto limited = Throttle(req, photo_limiter_, "photos")) return std::move(*limited);

  SanitizedImage image;
  std::string why;
  switch (SanitizeImage(req.body(), limits_.max_photo_pixels, &image, &why)) {
    case ImageError::kOk: break;
    case ImageError::kUnsupported: return Error(req, 415, "unsupported_media_type", why);
    case ImageError::kBadImage: return Error(req, 400, "bad_image", why);
    case ImageError::kTooLarge: return Error(req, 400, "image_too_large", why);
  }
  std::string id;
  if (!RandomBase64Url(kPhotoIdBytes, &id))
    return Error(req, 500, "internal", "the random generator failed");
  store::WriteSet ws;
  std::string value;
  value.reserve(image.bytes.size() + 1);
  value.push_back(static_cast<char>(image.type));
  value += image.bytes;
  ws.Put(store::Table::kBlobs, PhotoKey(id), std::move(value));
  Status s = store_->Write(ws);
  if (s.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the photo was not stored");
  if (!s.ok()) return Error(req, 503, "unavailable", "the photo was not stored: " + s.ToString());
  log_->debug("photo {} stored: {} {}x{}, {} bytes ({} metadata bytes dropped)", id,
              ImageMimeType(image.type), image.width, image.height, image.bytes.size(),
              image.dropped_bytes);
  metrics_->GetCounter("yiwang_photos_stored_total", "Citizen photos stored").Inc();
  return MakeResponse(req, 201,
                      fmt::format(R"({{"photoId":{},"type":{},"width":{},"height":{},"bytes":{}}})",
                                  JsonEscape(id), JsonEscape(ImageMimeType(image.type)),
                                  image.width, image.height, image.bytes.size()));
}

bool CitizenApi::PhotoExists(std::string_view id) const {
  if (!IsPhotoId(id)) return false;
  std::string v;
  return store_->Get(store::Table::kBlobs, PhotoKey(id), &v).ok();
}

HttpResponse CitizenApi::GetPhoto(const HttpRequest& req, std::string_view id) {
  if (!IsPhotoId(id)) return Error(req, 404, "unknown_photo", "no photo has this id");
  std::string v;
  Status s = store_->Get(store::Table::kBlobs, PhotoKey(id), &v);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_photo", "no photo has this id");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  const auto type = v.empty() ? ImageType::kUnknown : static_cast<ImageType>(v[0]);
  if (ImageMimeType(type).empty()) return Error(req, 500, "internal", "corrupt photo record");
  const std::string etag = "\"" + std::string(id) + "\"";
  if (req[http::field::if_none_match] == etag) {
    HttpResponse res = MakeResponse(req, 304, "", ImageMimeType(type));
    res.result(http::status::not_modified);
    res.set(http::field::etag, etag);
    res.set(http::field::cache_control, "public, max-age=31536000, immutable");
    return res;
  }
  HttpResponse res = MakeResponse(req, 200, v.substr(1), ImageMimeType(type));
  // A photo never changes (a new upload gets a new id); it is never a document of ours.
  res.set(http::field::cache_control, "public, max-age=31536000, immutable");
  res.set(http::field::etag, etag);
  res.set("Content-Security-Policy", "default-src 'none'; sandbox");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  return res;
}

// --- reports -------------------------------------------------------------------------------------

std::variant<v1::CitizenReport, ReportError> CitizenApi::FileReport(const ReportRequest& r) {
  auto fail = [](unsigned status, std::string code, std::string field, std::string message) {
    return ReportError{status, std::move(code), std::move(field), std::move(message)};
  };
  const auto& cfg = dispatcher_->config();
  if (r.category.empty()) return fail(400, "category_missing", "category", "choose a category");
  const v1::Category* cat = dispatcher::FindCategory(cfg, r.category);
  if (!cat) return fail(400, "unknown_category", "category", "no category " + r.category);
  if (cat->kind() == v1::CATEGORY_KIND_SYSTEM)
    return fail(400, "category_not_for_citizens", "category",
                "category " + r.category + " is for system cases only");
  const std::string description = Trim(r.description);
  const auto desc_len = Utf8Length(description);
  if (!desc_len) return fail(400, "description_invalid", "description", "not valid UTF-8");
  if (*desc_len == 0)
    return fail(400, "description_missing", "description", "describe the problem");
  if (*desc_len > kMaxDescriptionChars)
    return fail(400, "description_too_long", "description",
                fmt::format("at most {} characters", kMaxDescriptionChars));
  if (!r.lat || !r.lon)
    return fail(400, "location_missing", "location", "location.lat and location.lon are required");
  if (*r.lat < -90 || *r.lat > 90 || *r.lon < -180 || *r.lon > 180)
    return fail(400, "location_invalid", "location", "lat must be in [-90, 90], lon in [-180, 180]");
  if (districts_->empty())
    return fail(503, "service_area_unavailable", "location",
                "the district map is not installed on this server");
  auto district = districts_->Locate(*r.lat, *r.lon);
  if (!district)
    return fail(400, "outside_service_area", "location", "the location is not in Chongqing");
  if (r.photo_ids.size() > kMaxReportPhotos)
    return fail(400, "too_many_photos", "photoIds",
                fmt::format("at most {} photos", kMaxReportPhotos));
  for (size_t i = 0; i < r.photo_ids.size(); ++i) {
    if (!PhotoExists(r.photo_ids[i]))
      return fail(400, "unknown_photo", "photoIds",
                  fmt::format("photoIds[{}]: no photo {} (upload it first)", i, r.photo_ids[i]));
  }
  const std::string contact = Trim(r.contact);
  const auto contact_len = Utf8Length(contact);
  if (!contact_len) return fail(400, "contact_invalid", "contact", "not valid UTF-8");
  if (*contact_len > kMaxContactChars)
    return fail(400, "contact_too_long", "contact",
                fmt::format("at most {} characters", kMaxContactChars));
  if (!r.support_case.empty()) {
    // 附议 only of what the form offered: an open case of the same category close by.
    v1::Case c;
    if (r.support_case.size() > dispatcher::kMaxIdBytes ||
        !dispatcher_->GetCase(r.support_case, &c).ok())
      return fail(400, "unknown_support_case", "supportCaseId", "no case " + r.support_case);
    if (c.category() != r.category)
      return fail(400, "support_case_mismatch", "supportCaseId",
                  "the case to support has another category");
    const double d = dispatcher::DistanceMeters(*r.lat, *r.lon, c.location().lat(),
                                                c.location().lon());
    if (d > cat->dedup().radius_m())
      return fail(400, "support_case_too_far", "supportCaseId",
                  fmt::format("the case to support is {:.0f} m away (at most {:.0f} m)", d,
                              cat->dedup().radius_m()));
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
  dispatcher::ReportOutcome out = dispatcher_->FileReport(f);
  if (out.error) {
    const auto& e = *out.error;
    if (e.code == dispatcher::ErrorCode::kIllegalTransition)
      return fail(409, "support_case_not_open", "supportCaseId", e.message);
    return fail(e.code == dispatcher::ErrorCode::kForbidden ? 403 : 400,
                dispatcher::ErrorCodeName(e.code), "", e.message);
  }
  switch (out.status.code()) {
    case Status::Code::kOk: break;
    case Status::Code::kNoSpace:
      return fail(507, "storage_full", "", "disk full: the report was not stored");
    case Status::Code::kNotFound:
      return fail(400, "unknown_support_case", "supportCaseId", out.status.message());
    case Status::Code::kInvalidArgument:
      return fail(400, "invalid_report", "", out.status.message());
    default: return fail(503, "unavailable", "", out.status.ToString());
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
  const auto lat_s = QueryParam(query, "lat");
  const auto lon_s = QueryParam(query, "lon");
  const auto lat = lat_s ? ParseDouble(*lat_s) : std::nullopt;
  const auto lon = lon_s ? ParseDouble(*lon_s) : std::nullopt;
  if (!lat || !lon || *lat < -90 || *lat > 90 || *lon < -180 || *lon > 180)
    return Error(req, 400, "location_invalid", "lat and lon must be numbers", "location");
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
    o["distanceM"] = std::round(d);
    o["state"] = v1::CaseState_Name(c.state());
    o["stateText"] = PublicStateText(c.state());
    cases.push_back(std::move(o));
  }
  json::object res;
  res["cases"] = std::move(cases);
  return MakeResponse(req, 200, json::serialize(res));
}

// --- tracking ------------------------------------------------------------------------------------

std::variant<std::string, HttpResponse> CitizenApi::TrackJson(const HttpRequest& req,
                                                              const std::string& code) {
  v1::CitizenReport rep;
  Status s = dispatcher_->GetReport(code, &rep);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  v1::Case c;
  std::vector<v1::JournalEntry> journal;
  if (Status cs = dispatcher_->GetCase(rep.case_id(), &c); !cs.ok())
    return Error(req, 503, "unavailable", cs.ToString());
  if (Status js = dispatcher_->GetJournal(rep.case_id(), &journal); !js.ok())
    return Error(req, 503, "unavailable", js.ToString());
  const auto& cfg = dispatcher_->config();
  const v1::Category* cat = dispatcher::FindCategory(cfg, c.category());
  // A supporter (附议) sees the case from their own report on: its own filing first.
  const auto since = rep.created_at();
  json::array timeline;
  if (rep.linked()) {
    json::object e;
    e["time"] = Rfc3339(rep.created_at());
    e["action"] = "support";
    e["text"] = "您的上报已并入同一问题（附议）";
    e["textEn"] = "Your report joined an existing case";
    timeline.push_back(std::move(e));
  }
  json::array after;
  for (const auto& entry : journal) {
    if (rep.linked() && TimeUtil::TimestampToMilliseconds(entry.time()) <
                            TimeUtil::TimestampToMilliseconds(since) &&
        entry.action() != v1::CASE_ACTION_CREATE)
      continue;
    if (entry.action() == v1::CASE_ACTION_SUPPORT && entry.actor_id() == "report:" + code)
      continue;  // the reporter's own 附议 is the first line above
    if (entry.action() == v1::CASE_ACTION_VERIFY_FAIL || entry.action() == v1::CASE_ACTION_REOPEN)
      after.clear();  // sent back: those photos no longer show the result
    if (entry.action() == v1::CASE_ACTION_REPORT_HANDLED) {
      after.clear();  // the latest handling's photos (earlier ones were redone)
      for (const auto& ev : entry.evidence()) {
        std::string_view id = ev;
        if (id.starts_with("photo:")) id.remove_prefix(6);
        if (IsPhotoId(id)) after.emplace_back(id);
      }
    }
    auto text = PublicEntryText(cfg, entry);
    if (!text) continue;
    json::object e;
    e["time"] = Rfc3339(entry.time());
    e["action"] = dispatcher::ActionName(entry.action());
    e["text"] = text->first;
    e["textEn"] = text->second;
    timeline.push_back(std::move(e));
  }
  json::object o;
  o["trackingCode"] = rep.tracking_code();
  o["caseId"] = rep.case_id();
  o["linked"] = rep.linked();
  o["state"] = v1::CaseState_Name(c.state());
  o["stateText"] = PublicStateText(c.state());
  o["stateTextEn"] = PublicStateText(c.state(), true);
  o["category"] = cat ? cat->name_zh() : c.category();
  o["categoryEn"] = cat && !cat->name_en().empty() ? cat->name_en() : c.category();
  o["categoryCode"] = c.category();
  o["description"] = rep.description();
  o["createdAt"] = Rfc3339(rep.created_at());
  o["timeline"] = std::move(timeline);
  o["photoIds"] = json::value_from(std::vector<std::string>(rep.photo_ids().begin(),
                                                            rep.photo_ids().end()));
  o["afterPhotoIds"] = std::move(after);
  const bool closed = c.state() == v1::CASE_STATE_CLOSED;
  const bool rated = rep.rating_stars() != 0;
  if (rated) {
    json::object r;
    r["stars"] = rep.rating_stars();
    r["comment"] = rep.rating_comment();
    r["fixed"] = rep.rating_fixed();
    r["ratedAt"] = Rfc3339(rep.rated_at());
    o["rating"] = std::move(r);
  } else {
    o["rating"] = nullptr;
  }
  // Mirrors Dispatcher::RateReport: once per report, again after "not fixed" and a new close.
  o["canRate"] = closed && (!rated || (!rep.rating_fixed() &&
                                       TimeUtil::TimestampToMilliseconds(c.updated_at()) >
                                           TimeUtil::TimestampToMilliseconds(rep.rated_at())));
  return json::serialize(o);
}

HttpResponse CitizenApi::Track(const HttpRequest& req, const std::string& code) {
  auto j = TrackJson(req, code);
  if (auto* res = std::get_if<HttpResponse>(&j)) return std::move(*res);
  return MakeResponse(req, 200, std::move(std::get<std::string>(j)));
}

HttpResponse CitizenApi::Rate(const HttpRequest& req, const std::string& code) {
  HttpResponse bad;
  const auto o =
      JsonObjectBody(metrics_, req, &bad, JsonBodyRules::JsonTypeOnly("the rating"));
  if (!o) return bad;
  const json::value* stars = o->if_contains("stars");
  if (!stars || !stars->is_int64() || stars->get_int64() < 1 || stars->get_int64() > 5)
    return Error(req, 400, "stars_invalid", "stars must be a whole number from 1 to 5", "stars");
  const json::value* fixed = o->if_contains("fixed");
  if (!fixed || !fixed->is_bool())
    return Error(req, 400, "fixed_missing", "fixed must be true or false", "fixed");
  std::string comment;
  if (const json::value* cm = o->if_contains("comment"); cm && !cm->is_null()) {
    if (!cm->is_string()) return Error(req, 400, "comment_invalid", "comment must be a string", "comment");
    comment = Trim(cm->get_string());
  }
  const auto len = Utf8Length(comment);
  if (!len) return Error(req, 400, "comment_invalid", "not valid UTF-8", "comment");
  if (*len > kMaxRatingCommentChars)
    return Error(req, 400, "comment_too_long",
                 fmt::format("at most {} characters", kMaxRatingCommentChars), "comment");
  v1::CitizenReport rep;
  Status s = dispatcher_->GetReport(code, &rep);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  if (auto limited = Throttle(req, rating_limiter_, "ratings")) return std::move(*limited);
  v1::Case c;
  if (Status cs = dispatcher_->GetCase(rep.case_id(), &c); !cs.ok())
    return Error(req, 503, "unavailable", cs.ToString());
  if (c.state() != v1::CASE_STATE_CLOSED)
    return Error(req, 409, "not_closed", "a report is rated once its case is closed");
  dispatcher::CommandOutcome out = dispatcher_->RateReport(
      code, static_cast<uint32_t>(stars->get_int64()), comment, fixed->get_bool());
  if (out.error) {
    // The dispatcher decides (one rating per report; the case may have changed meanwhile).
    const bool already = rep.rating_stars() != 0;
    return Error(req, 409, already ? "already_rated" : "not_closed", out.error->message);
  }
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the rating was not stored");
  if (!out.status.ok()) return Error(req, 503, "unavailable", out.status.ToString());
  return Track(req, code);
}

}  // namespace yiwang::web
