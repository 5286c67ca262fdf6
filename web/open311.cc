#include "web/open311.h"

#include <charconv>
#include <cmath>
#include <variant>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "base/text.h"
#include "dispatcher/dispatch_config.h"
#include "web/http_util.h"
#include "web/static_files.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace v1 = yiwang::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr std::string_view kPrefix = "/open311/v2/";
constexpr auto kDefaultSpan = std::chrono::hours(24 * 90);

// One record of a response: ordered members, each a string, a number, a bool or null.
using Value = std::variant<std::string, double, bool, std::nullptr_t>;
using Record = std::vector<std::pair<std::string, Value>>;

std::string JsonValue(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return JsonEscape(*s);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return "null";
}

std::string XmlValue(const Value& v) {
  if (auto* s = std::get_if<std::string>(&v)) return XmlEscape(*s);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return "";
}

// A list of records as a JSON array, or as <root><item>...</item></root>.
std::string Render(bool xml, const std::vector<Record>& records, std::string_view root,
                   std::string_view item) {
  std::string out;
  if (xml) {
    out = R"(<?xml version="1.0" encoding="utf-8"?>)";
    out += fmt::format("<{}>", root);
    for (const auto& r : records) {
      out += fmt::format("<{}>", item);
      for (const auto& [k, v] : r) out += fmt::format("<{0}>{1}</{0}>", k, XmlValue(v));
      out += fmt::format("</{}>", item);
    }
    out += fmt::format("</{}>", root);
    return out;
  }
  out = "[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i) out += ',';
    out += '{';
    for (size_t j = 0; j < records[i].size(); ++j) {
      if (j) out += ',';
      out += JsonEscape(records[i][j].first) + ":" + JsonValue(records[i][j].second);
    }
    out += '}';
  }
  return out + "]";
}

std::string_view ContentType(bool xml) {
  return xml ? "text/xml; charset=utf-8" : "application/json";
}

std::string Time(const google::protobuf::Timestamp& t) { return TimeUtil::ToString(t); }

bool IsClosed(v1::CaseState s) {
  return s == v1::CASE_STATE_CLOSED || s == v1::CASE_STATE_REJECTED;
}


}  // namespace

std::string XmlEscape(std::string_view in) {
  // Only Chars of XML 1.0 in UTF-8 (the documents declare encoding="utf-8"): text stored
  // before input was checked, or echoed from a request, is written with U+FFFD in their place.
  const std::string s = TextOnly(in);
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

Open311::Open311(CitizenApi* citizen, dispatcher::Dispatcher* dispatcher,
                 Authenticator authenticate, Metrics* metrics,
                 std::shared_ptr<spdlog::logger> logger)
    : citizen_(citizen),
      dispatcher_(dispatcher),
      authenticate_(std::move(authenticate)),
      metrics_(metrics),
      log_(std::move(logger)),
      key_limiter_(600, std::chrono::seconds(600)) {}

HttpResponse Open311::TooManyRequests(const HttpRequest& req, bool xml, uint64_t retry_s) {
  HttpResponse res = Error(req, xml, 429, fmt::format("too many requests; retry in {} s", retry_s));
  res.set(http::field::retry_after, std::to_string(retry_s));
  return res;
}

HttpResponse Open311::Error(const HttpRequest& req, bool xml, unsigned status,
                            std::string_view message) {
  metrics_
      ->GetCounter("yiwang_http_errors_total", "HTTP API errors, by code",
                   {{"code", fmt::format("open311_{}", status)}})
      .Inc();
  std::string body =
      xml ? fmt::format(R"(<?xml version="1.0" encoding="utf-8"?><errors><error><code>{}</code>)"
                        "<description>{}</description></error></errors>",
                        status, XmlEscape(message))
          : fmt::format(R"([{{"code":{},"description":{}}}])", status, JsonEscape(message));
  return MakeResponse(req, status, std::move(body), ContentType(xml));
}

HttpResponse Open311::NotFound(const HttpRequest& req) {
  const std::string_view path = SplitTarget(req.target()).first;
  if (!path.ends_with(".json") && !path.ends_with(".xml"))
    return Error(req, false, 404, "add .json or .xml to the path");
  return Error(req, path.ends_with(".xml"), 404, "no such Open311 resource");
}

std::optional<HttpResponse> Open311::Handle(const HttpRequest& req) {
  auto [path, query] = SplitTarget(req.target());
  if (!path.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = path.substr(kPrefix.size());
  bool xml = false;
  if (rest.ends_with(".xml")) {
    xml = true;
    rest.remove_suffix(4);
  } else if (rest.ends_with(".json")) {
    rest.remove_suffix(5);
  } else {
    return Error(req, false, 404, "add .json or .xml to the path");
  }
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool is_post = req.method() == http::verb::post;
  auto only = [&](bool ok, std::string_view allow) -> std::optional<HttpResponse> {
    if (ok) return std::nullopt;
    HttpResponse res = Error(req, xml, 405, "use " + std::string(allow));
    res.set(http::field::allow, allow);
    return res;
  };
  auto item = [&](std::string_view prefix) -> std::optional<std::string> {
    if (!rest.starts_with(prefix) || rest.size() == prefix.size()) return std::nullopt;
    return PercentDecodePath(rest.substr(prefix.size()));
  };
  if (rest == "discovery") {
    if (auto r = only(is_get, "GET, HEAD")) return r;
    return Discovery(req, xml);
  }
  if (rest == "services") {
    if (auto r = only(is_get, "GET, HEAD")) return r;
    return Services(req, xml);
  }
  if (rest == "requests") {
    if (is_post) return PostRequest(req, xml);
    if (auto r = only(is_get, "GET, HEAD, POST")) return r;
    return GetRequests(req, xml, query);
  }
  if (auto code = item("services/")) {
    if (auto r = only(is_get, "GET, HEAD")) return r;
    return ServiceDefinition(req, xml, *code);
  }
  if (auto id = item("requests/")) {
    if (auto r = only(is_get, "GET, HEAD")) return r;
    return GetRequest(req, xml, *id);
  }
  if (auto token = item("tokens/")) {
    if (auto r = only(is_get, "GET, HEAD")) return r;
    return GetToken(req, xml, *token);
  }
  return Error(req, xml, 404, "no such Open311 resource");
}

HttpResponse Open311::Discovery(const HttpRequest& req, bool xml) {
  const std::string host(req[http::field::host]);
  const std::string url = "http://" + host + "/open311/v2/";
  if (xml) {
    return MakeResponse(
        req, 200,
        fmt::format(R"(<?xml version="1.0" encoding="utf-8"?><discovery><changeset>2026-01-01T00:00:00Z</changeset>)"
                    "<contact>一网统管 (Yiwang)</contact><key_service>ask the operators for an "
                    "API token</key_service><endpoints><endpoint><specification>"
                    "http://wiki.open311.org/GeoReport_v2</specification><url>{}</url>"
                    "<changeset>2026-01-01T00:00:00Z</changeset><type>production</type><formats>"
                    "<format>application/json</format><format>text/xml</format></formats>"
                    "</endpoint></endpoints></discovery>",
                    XmlEscape(url)),
        ContentType(true));
  }
  return MakeResponse(
      req, 200,
      fmt::format(R"({{"changeset":"2026-01-01T00:00:00Z","contact":"一网统管 Yiwang",)"
                  R"("key_service":"ask the operators for an API token","endpoints":[{{)"
                  R"("specification":"http://wiki.open311.org/GeoReport_v2","url":{},)"
                  R"("changeset":"2026-01-01T00:00:00Z","type":"production",)"
                  R"("formats":["application/json","text/xml"]}}]}})",
                  JsonEscape(url)));
}

HttpResponse Open311::Services(const HttpRequest& req, bool xml) {
  std::vector<Record> out;
  for (const auto& c : dispatcher_->config().categories()) {
    if (c.kind() == v1::CATEGORY_KIND_SYSTEM) continue;
    out.push_back(Record{{"service_code", c.code()},
                         {"service_name", c.name_zh()},
                         {"description", c.name_en().empty() ? c.name_zh() : c.name_en()},
                         {"metadata", false},
                         {"type", std::string("realtime")},
                         {"keywords", std::string("")},
                         {"group", c.major()}});
  }
  return MakeResponse(req, 200, Render(xml, out, "services", "service"), ContentType(xml));
}

HttpResponse Open311::ServiceDefinition(const HttpRequest& req, bool xml,
                                        const std::string& code) {
  const v1::Category* c = dispatcher::FindCategory(dispatcher_->config(), code);
  if (!c || c->kind() == v1::CATEGORY_KIND_SYSTEM)
    return Error(req, xml, 404, "no service " + code);
  std::string body =
      xml ? fmt::format(R"(<?xml version="1.0" encoding="utf-8"?><service_definition>)"
                        "<service_code>{}</service_code><attributes></attributes>"
                        "</service_definition>",
                        XmlEscape(code))
          : fmt::format(R"({{"service_code":{},"attributes":[]}})", JsonEscape(code));
  return MakeResponse(req, 200, std::move(body), ContentType(xml));
}

HttpResponse Open311::PostRequest(const HttpRequest& req, bool xml) {
  const std::string_view form = req.body();
  auto field = [&](std::string_view key) { return QueryParam(form, key).value_or(""); };
  const std::string api_key = field("api_key");
  if (api_key.empty()) return Error(req, xml, 403, "api_key is required");
  HttpRequest probe{http::verb::get, "/open311/v2/requests.json", 11};
  probe.set(http::field::authorization, "Bearer " + api_key);
  AuthResult auth = authenticate_(probe);
  const Principal* p = std::get_if<Principal>(&auth);
  if (!p || p->role == v1::ROLE_UNSPECIFIED || p->role == v1::ROLE_SYSTEM)
    return Error(req, xml, 403, "invalid api_key");
  if (const uint64_t retry = key_limiter_.Acquire(p->user_id); retry != 0) {
    return TooManyRequests(req, xml, retry);
  }
  ReportRequest r;
  r.client = "open311:" + p->user_id;
  r.category = field("service_code");
  if (r.category.empty()) return Error(req, xml, 400, "service_code is required");
  const std::string lat = field("lat"), lon = field("long");
  if (lat.empty() || lon.empty()) {
    return Error(req, xml, 400,
                 field("address_string").empty() && field("address_id").empty()
                     ? "lat and long are required"
                     : "lat and long are required (this server cannot geocode address_string)");
  }
  r.lat = ParseDouble(lat);
  r.lon = ParseDouble(lon);
  if (!r.lat || !r.lon) return Error(req, xml, 400, "lat and long must be numbers");
  r.description = field("description");
  r.contact = field("phone").empty() ? field("email") : field("phone");
  if (const std::string media = field("media_url"); !media.empty()) {
    constexpr std::string_view kPhotoPath = "/api/v1/photos/";
    const size_t at = media.rfind(kPhotoPath);
    if (at == std::string::npos)
      return Error(req, xml, 400, "media_url must be a photo uploaded to POST /api/v1/photos");
    r.photo_ids.push_back(media.substr(at + kPhotoPath.size()));
  }
  auto filed = citizen_->FileReport(r);
  if (auto* e = std::get_if<ReportError>(&filed)) {
    if (e->code == "unknown_category" || e->code == "category_not_for_citizens")
      return Error(req, xml, 404, "service_code: " + e->message);
    return Error(req, xml, e->status,
                 (e->field.empty() ? "" : e->field + ": ") + e->message + " (" + e->code + ")");
  }
  const auto& rep = std::get<v1::CitizenReport>(filed);
  std::vector<Record> out{Record{{"service_request_id", rep.case_id()},
                                 {"token", rep.tracking_code()},
                                 {"service_notice", std::string("")},
                                 {"account_id", nullptr}}};
  return MakeResponse(req, 201, Render(xml, out, "service_requests", "request"), ContentType(xml));
}

namespace {

Record RequestRecord(const v1::DispatchConfig& cfg, const v1::Case& c) {
  const v1::Category* cat = dispatcher::FindCategory(cfg, c.category());
  std::string agency;
  for (const auto& d : cfg.departments())
    if (d.id() == c.department()) agency = d.name_zh();
  // The deadline of the stage the case is in (none while parked or closed).
  const v1::StageClock* stage = nullptr;
  switch (c.state()) {
    case v1::CASE_STATE_PENDING_ACCEPT: stage = &c.sla_accept(); break;
    case v1::CASE_STATE_PENDING_DISPATCH: stage = &c.sla_dispatch(); break;
    case v1::CASE_STATE_HANDLING: stage = &c.sla_handle(); break;
    case v1::CASE_STATE_PENDING_VERIFY:
    case v1::CASE_STATE_VERIFIED: stage = &c.sla_close(); break;
    default: break;
  }
  const dispatcher::Timestamp deadline =
      stage && stage->has_deadline() ? dispatcher::FromProto(stage->deadline()) : dispatcher::Timestamp{};
  Record r{{"service_request_id", c.id()},
           {"status", std::string(IsClosed(c.state()) ? "closed" : "open")},
           {"status_notes", std::string(PublicStateText(c.state()))},
           {"service_name", cat ? cat->name_zh() : c.category()},
           {"service_code", c.category()},
           {"description", c.description()},
           {"agency_responsible", agency},
           {"service_notice", std::string("")},
           {"requested_datetime", Time(c.created_at())},
           {"updated_datetime", Time(c.updated_at())}};
  if (!IsClosed(c.state()) && deadline.time_since_epoch().count() > 0)
    r.emplace_back("expected_datetime", Time(dispatcher::ToProto(deadline)));
  else
    r.emplace_back("expected_datetime", nullptr);
  r.emplace_back("address", std::string(""));
  r.emplace_back("address_id", std::string(""));
  r.emplace_back("zipcode", std::string(""));
  r.emplace_back("lat", c.location().lat());
  r.emplace_back("long", c.location().lon());
  r.emplace_back("media_url", std::string(""));
  return r;
}

}  // namespace

HttpResponse Open311::GetRequests(const HttpRequest& req, bool xml, std::string_view query) {
  const auto& cfg = dispatcher_->config();
  std::vector<Record> out;
  if (auto ids = QueryParam(query, "service_request_id"); ids && !ids->empty()) {
    for (const auto& id : SplitList(*ids)) {
      v1::Case c;
      if (id.size() > dispatcher::kMaxIdBytes || !dispatcher_->GetCase(id, &c).ok() ||
          !dispatcher::IsPublicCase(c))
        continue;
      out.push_back(RequestRecord(cfg, c));
    }
    return MakeResponse(req, 200, Render(xml, out, "service_requests", "request"),
                        ContentType(xml));
  }
  dispatcher::CaseQuery q;
  for (int s = v1::Source_MIN; s <= v1::Source_MAX; ++s)
    if (dispatcher::IsPublicSource(static_cast<v1::Source>(s)))
      q.sources.push_back(static_cast<v1::Source>(s));
  q.limit = kMaxOpen311Requests;
  if (auto codes = QueryParam(query, "service_code"); codes && !codes->empty())
    q.categories = SplitList(*codes);
  auto parse_time = [&](std::string_view key, std::optional<dispatcher::Timestamp>* to) {
    auto v = QueryParam(query, key);
    if (!v || v->empty()) return true;
    google::protobuf::Timestamp t;
    if (!TimeUtil::FromString(*v, &t)) return false;
    *to = dispatcher::FromProto(t);
    return true;
  };
  if (!parse_time("start_date", &q.created_from))
    return Error(req, xml, 400, "start_date must be a W3C date-time, e.g. 2026-05-01T00:00:00Z");
  if (!parse_time("end_date", &q.created_to))
    return Error(req, xml, 400, "end_date must be a W3C date-time, e.g. 2026-05-01T00:00:00Z");
  if (!q.created_from && !q.created_to) {
    const auto now = std::chrono::time_point_cast<dispatcher::Duration>(std::chrono::system_clock::now());
    q.created_from = now - kDefaultSpan;
  }
  if (auto status = QueryParam(query, "status"); status && !status->empty()) {
    bool open = false, closed = false;
    for (const auto& s : SplitList(*status)) {
      if (s == "open") open = true;
      else if (s == "closed") closed = true;
      else return Error(req, xml, 400, "status must be open or closed");
    }
    for (int i = v1::CASE_STATE_PENDING_ACCEPT; i <= v1::CASE_STATE_PARKED; ++i) {
      const auto st = static_cast<v1::CaseState>(i);
      if (IsClosed(st) ? closed : open) q.states.push_back(st);
    }
  }
  dispatcher::CasePage page;
  if (Status s = dispatcher_->ListCases(q, &page); !s.ok())
    return Error(req, xml, 400, s.message());
  for (const auto& summary : page.cases) {
    v1::Case c;
    if (dispatcher_->GetCase(summary.id(), &c).ok()) out.push_back(RequestRecord(cfg, c));
  }
  return MakeResponse(req, 200, Render(xml, out, "service_requests", "request"), ContentType(xml));
}

HttpResponse Open311::GetRequest(const HttpRequest& req, bool xml, const std::string& id) {
  v1::Case c;
  if (id.size() > dispatcher::kMaxIdBytes || !dispatcher_->GetCase(id, &c).ok() ||
      !dispatcher::IsPublicCase(c))
    return Error(req, xml, 404, "no service request " + id);
  std::vector<Record> out{RequestRecord(dispatcher_->config(), c)};
  return MakeResponse(req, 200, Render(xml, out, "service_requests", "request"), ContentType(xml));
}

HttpResponse Open311::GetToken(const HttpRequest& req, bool xml, const std::string& token) {
  // A token is a tracking code: guessed here as on /api/v1/track/, under the same limits.
  const std::string client = ClientAddress(req);
  if (const uint64_t retry = citizen_->AdmitTrackingLookup(client); retry != 0) {
    return TooManyRequests(req, xml, retry);
  }
  v1::CitizenReport rep;
  if (token.size() > 64 || !dispatcher_->GetReport(token, &rep).ok()) {
    citizen_->CountWrongTrackingCode(client);
    return Error(req, xml, 404, "no request has this token");
  }
  std::vector<Record> out{Record{{"service_request_id", rep.case_id()}, {"token", token}}};
  return MakeResponse(req, 200, Render(xml, out, "service_requests", "request"), ContentType(xml));
}

}  // namespace yiwang::web
