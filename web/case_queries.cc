// The case API's reads: GET /api/v1/cases (a page), /api/v1/cases/points (every match, for
// the map), /api/v1/cases/{id} (a case with its timeline) and /api/v1/stats (KPIs), each
// narrowed to what the principal may see (web/case_api.h lists the routes, docs/api.md the
// codes).

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <boost/beast/http/field.hpp>
#include <google/protobuf/util/time_util.h>

#include "base/text.h"
#include "web/case_api.h"
#include "web/http_util.h"
#include "web/internal/case_json.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace v1 = yiwang::v1;
using dispatcher::Timestamp;

namespace {

std::optional<v1::CaseState> ParseState(std::string_view name) {
  for (int i = v1::CASE_STATE_PENDING_ACCEPT; i <= v1::CASE_STATE_PARKED; ++i) {
    const auto st = static_cast<v1::CaseState>(i);
    if (dispatcher::StateName(st) == name) return st;
  }
  return std::nullopt;
}

// The `by` of /api/v1/stats: district, department, category, source, day or none.
std::optional<dispatcher::KpiDimension> ParseKpiDimension(std::string_view name) {
  static constexpr std::pair<std::string_view, dispatcher::KpiDimension> kBy[] = {
      {"district", dispatcher::KpiDimension::kDistrict},
      {"department", dispatcher::KpiDimension::kDepartment},
      {"category", dispatcher::KpiDimension::kCategory},
      {"source", dispatcher::KpiDimension::kSource},
      {"day", dispatcher::KpiDimension::kDay},
      {"none", dispatcher::KpiDimension::kNone}};
  return internal::FindByName(kBy, name);
}

}  // namespace

std::optional<HttpResponse> CaseApi::ParseFilters(const HttpRequest& req, const Principal& p,
                                                  std::string_view query,
                                                  dispatcher::CaseQuery* out) {
  dispatcher::CaseQuery& q = *out;
  if (auto v = QueryParam(query, "bbox")) {
    auto parts = SplitList(*v);
    std::array<double, 4> b{};
    bool ok = parts.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) {
      const std::optional<double> d = ParseDouble(parts[i]);
      ok = d.has_value();
      if (ok) b[i] = *d;
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
      auto src = internal::ParseSource(s);
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
          std::to_string(clock_.NowMillis().time_since_epoch().count()) +
          '}';
  HttpResponse res = MakeResponse(req, 200, std::move(body));
  res.set(http::field::cache_control, "no-store");
  return res;
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

HttpResponse CaseApi::Stats(const HttpRequest& req, const Principal& p, std::string_view query) {
  dispatcher::KpiFilter f;
  if (auto v = QueryParam(query, "district")) f.districts = SplitList(*v);
  if (auto v = QueryParam(query, "department")) f.departments = SplitList(*v);
  if (auto v = QueryParam(query, "category")) f.categories = SplitList(*v);
  if (auto v = QueryParam(query, "source")) {
    for (const auto& s : SplitList(*v)) {
      auto src = internal::ParseSource(s);
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
    auto dimension = ParseKpiDimension(*v);
    if (!dimension)
      return Error(req, 400, "bad_by", "by must be district, department, category, source or day");
    by = *dimension;
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
