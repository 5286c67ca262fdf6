// CaseApi::Handle as a plain function of the request, over a real dispatcher and store: the
// map's compact points endpoint (every matching case at once, the list's filters, the
// principal's scope, the flags of sensor cases) next to the paged list it must agree with.

#include "web/case_api.h"

#include <atomic>
#include <set>

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "dispatcher/dispatch_config.h"
#include "store/event_store.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace v1 = yiwang::v1;
using dispatcher::Duration;
using dispatcher::Timestamp;
using test::kNowSeconds;

constexpr char kGas[] = "sim-septic-500105-0001";  // 江北区 (500105) by its id

Principal MakePrincipal(std::string id, v1::Role role, std::string department = {},
                        std::vector<std::string> districts = {}) {
  Principal p;
  p.user_id = std::move(id);
  p.role = role;
  p.department = std::move(department);
  p.districts = std::move(districts);
  return p;
}

class CaseApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ms_ = kNowSeconds * 1000;
    Status s = stack_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    OpenApi(nullptr);
    principals_["Bearer dispatcher"] = MakePrincipal("d1", v1::ROLE_DISPATCHER);
    principals_["Bearer dept"] = MakePrincipal("cgj1", v1::ROLE_DEPARTMENT, "cgj-500105");
    principals_["Bearer yuzhong-leader"] = MakePrincipal("l1", v1::ROLE_LEADER, "", {"500103"});
  }
  // (Re)creates the API, with the district map `districts` (may be null).
  void OpenApi(const DistrictLocator* districts) {
    // The test's authenticator: the principal is named by the bearer token.
    api_ = std::make_unique<CaseApi>(
        disp_.get(),
        [this](const HttpRequest& req) -> AuthResult {
          auto it = principals_.find(std::string(req[http::field::authorization]));
          if (it == principals_.end()) {
            HttpResponse res{http::status::unauthorized, req.version()};
            res.body() = R"({"error":{"code":"unauthorized","message":"who are you"}})";
            return res;
          }
          return it->second;
        },
        &metrics_, test::NullLogger(), districts);
  }
  void TearDown() override {
    api_.reset();
    disp_.reset();
    store_.reset();
  }

  HttpResponse Do(http::verb method, const std::string& target, const std::string& who,
                  const std::string& body = {}) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!who.empty()) req.set(http::field::authorization, "Bearer " + who);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    auto res = api_->Handle(req);
    EXPECT_TRUE(res.has_value()) << target;
    return res ? std::move(*res) : HttpResponse{};
  }
  static boost::json::value Json(const HttpResponse& res) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(res.body(), ec);
    EXPECT_FALSE(ec) << res.body();
    return v;
  }
  // Files a patrol case through the API; returns its id.
  std::string File(const std::string& district, const std::string& category, double lat,
                   double lon, const std::string& urgency = "general") {
    HttpResponse res = Do(http::verb::post, "/api/v1/cases", "dispatcher",
                          R"({"category":")" + category + R"(","district":")" + district +
                              R"(","description":"test","urgency":")" + urgency +
                              R"(","location":{"lat":)" + std::to_string(lat) +
                              R"(,"lon":)" + std::to_string(lon) + "}}");
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    return std::string(Json(res).at("case").at("id").as_string());
  }
  // id -> point row of GET target.
  std::map<std::string, boost::json::array> Points(const std::string& target,
                                                   const std::string& who, uint64_t* total) {
    HttpResponse res = Do(http::verb::get, target, who);
    EXPECT_EQ(res.result_int(), 200u) << target << ": " << res.body();
    std::map<std::string, boost::json::array> out;
    if (res.result_int() != 200u) return out;
    auto v = Json(res);
    *total = v.at("total").to_number<uint64_t>();
    for (const auto& p : v.at("points").as_array())
      out[std::string(p.as_array().at(0).as_string())] = p.as_array();
    EXPECT_EQ(out.size(), v.at("points").as_array().size()) << "duplicate ids";
    return out;
  }
  void Ingest(std::vector<v1::SensorEvent> events) { stack_.Ingest(std::move(events)); }

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db")};
  Metrics& metrics_ = stack_.metrics;
  std::atomic<int64_t>& now_ms_ = stack_.now_ms;
  std::unique_ptr<store::EventStore>& store_ = stack_.store;
  std::unique_ptr<dispatcher::Dispatcher>& disp_ = stack_.dispatcher;
  std::unique_ptr<CaseApi> api_;
  std::map<std::string, Principal> principals_;
};

TEST_F(CaseApiTest, PointsCarryEveryMatchingCaseCompactly) {
  const std::string a = File("500105", "0101", 29.601, 106.571, "urgent");
  const std::string b = File("500105", "0302", 29.602, 106.572);
  const std::string c = File("500103", "0101", 29.557, 106.577, "emergency");
  uint64_t total = 0;
  auto all = Points("/api/v1/cases/points", "dispatcher", &total);
  EXPECT_EQ(total, 3u);
  ASSERT_EQ(all.size(), 3u);
  ASSERT_TRUE(all.count(a) && all.count(b) && all.count(c));
  const auto& pa = all[a];
  ASSERT_EQ(pa.size(), 7u);
  EXPECT_NEAR(pa.at(1).to_number<double>(), 29.601, 1e-6);
  EXPECT_NEAR(pa.at(2).to_number<double>(), 106.571, 1e-6);
  EXPECT_EQ(pa.at(3).to_number<int>(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(pa.at(4).to_number<int>(), v1::URGENCY_URGENT);
  EXPECT_EQ(all[c].at(4).to_number<int>(), v1::URGENCY_EMERGENCY);
  // The accept stage runs from filing: its deadline is in the future.
  EXPECT_GT(pa.at(5).to_number<int64_t>(), now_ms_.load());
  EXPECT_EQ(pa.at(6).to_number<uint32_t>(), 0u);  // patrol, running, nothing escalated

  // The list's filters, and the same cases as the paged list.
  auto jb = Points("/api/v1/cases/points?district=500105", "dispatcher", &total);
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(std::set<std::string>({a, b}), [&] {
    std::set<std::string> ids;
    for (auto& [id, _] : jb) ids.insert(id);
    return ids;
  }());
  auto list = Json(Do(http::verb::get, "/api/v1/cases?district=500105", "dispatcher"));
  EXPECT_EQ(list.at("total").to_number<uint64_t>(), 2u);
  EXPECT_EQ(Points("/api/v1/cases/points?category=0101", "dispatcher", &total).size(), 2u);
  EXPECT_EQ(Points("/api/v1/cases/points?category=0101,0302&district=500103", "dispatcher",
                   &total).size(), 1u);
  EXPECT_EQ(Points("/api/v1/cases/points?source=sensor", "dispatcher", &total).size(), 0u);
  EXPECT_EQ(Points("/api/v1/cases/points?state=pending_accept&open=true", "dispatcher",
                   &total).size(), 3u);
  EXPECT_EQ(Points("/api/v1/cases/points?overdue=true", "dispatcher", &total).size(), 0u);
  now_ms_ += 400LL * 24 * 3600 * 1000;  // far beyond any accept limit
  EXPECT_EQ(Points("/api/v1/cases/points?overdue=true", "dispatcher", &total).size(), 3u);

  // Bad filters are the list's 400s.
  HttpResponse bad = Do(http::verb::get, "/api/v1/cases/points?state=nope", "dispatcher");
  EXPECT_EQ(bad.result_int(), 400u);
  EXPECT_NE(bad.body().find("bad_state"), std::string::npos) << bad.body();
  EXPECT_EQ(Do(http::verb::get, "/api/v1/cases/points?overdue=1", "dispatcher").result_int(), 400u);
  EXPECT_EQ(Do(http::verb::post, "/api/v1/cases/points", "dispatcher", "{}").result_int(), 405u);
  EXPECT_EQ(Do(http::verb::get, "/api/v1/cases/points", "").result_int(), 401u);
}

TEST_F(CaseApiTest, PointsAreScopedLikeTheList) {
  const std::string a = File("500105", "0101", 29.601, 106.571);
  const std::string c = File("500103", "0101", 29.557, 106.577);
  uint64_t total = 0;
  // A district-scoped principal sees its district only, even when asking for others.
  auto yz = Points("/api/v1/cases/points", "yuzhong-leader", &total);
  EXPECT_EQ(total, 1u);
  EXPECT_TRUE(yz.count(c));
  EXPECT_TRUE(Points("/api/v1/cases/points?district=500105", "yuzhong-leader", &total).empty());
  EXPECT_EQ(total, 0u);
  // Department staff see their department's cases: none until one is transferred to them.
  EXPECT_TRUE(Points("/api/v1/cases/points", "dept", &total).empty());
  for (const std::string body : {R"({"action":"accept"})",
                                 R"({"action":"transfer","department":"cgj-500105"})"}) {
    HttpResponse res =
        Do(http::verb::post, "/api/v1/cases/" + a + "/transitions", "dispatcher", body);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
  }
  auto dept = Points("/api/v1/cases/points", "dept", &total);
  ASSERT_EQ(dept.size(), 1u);
  EXPECT_EQ(dept.begin()->first, a);
  EXPECT_EQ(dept.begin()->second.at(3).to_number<int>(), v1::CASE_STATE_HANDLING);
}

TEST_F(CaseApiTest, SensorCasesAreFlaggedAlarmingUntilTheTelemetryIsNormal) {
  uint64_t seq = 0;
  auto episode = [&](int64_t t0, double ch4) {
    for (int64_t dt : {0, 30, 61}) {
      now_ms_ = (kNowSeconds + t0 + dt) * 1000;
      Ingest({test::GasEvent(kGas, ++seq, ch4, kNowSeconds + t0 + dt)});
    }
  };
  episode(0, 30);  // CH4 30 %LEL for 61 s: an alarm, a sensor case
  uint64_t total = 0;
  auto pts = Points("/api/v1/cases/points?source=sensor", "dispatcher", &total);
  ASSERT_EQ(pts.size(), 1u);
  const uint32_t flags = pts.begin()->second.at(6).to_number<uint32_t>();
  EXPECT_EQ(flags & (kPointSensor | kPointAlarming), kPointSensor | kPointAlarming);
  episode(120, 2);  // back to normal for 61 s (no gap long enough to count as offline)
  pts = Points("/api/v1/cases/points?source=sensor", "dispatcher", &total);
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts.begin()->second.at(6).to_number<uint32_t>() & (kPointSensor | kPointAlarming),
            kPointSensor);
}

TEST(PointFlagsTest, EachBitFromItsField) {
  v1::CaseSummary s;
  EXPECT_EQ(PointFlags(s), 0u);
  s.set_paused(true);
  EXPECT_EQ(PointFlags(s), kPointPaused);
  s.set_paused(false);
  s.set_escalated(v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(PointFlags(s), kPointEscalatedYellow);
  s.set_escalated(v1::SLA_LEVEL_RED);
  EXPECT_EQ(PointFlags(s), kPointEscalatedRed);
  s.set_escalated(v1::SLA_LEVEL_UNSPECIFIED);
  s.set_source(v1::SOURCE_SENSOR);
  EXPECT_EQ(PointFlags(s), kPointSensor | kPointAlarming);
  s.set_telemetry_normal(true);
  EXPECT_EQ(PointFlags(s), kPointSensor);
}

// Two square districts one above the other: 渝中区 (500103) lat 29.5..29.6 and 江北区
// (500105) lat 29.6..29.7, both lon 106.5..106.6.
constexpr char kTwoDistrictMap[] = R"({"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"500103","name":"渝中区"},"geometry":{"type":"Polygon",
   "coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.6],[106.5,29.5]]]}},
  {"type":"Feature","properties":{"code":"500105","name":"江北区"},"geometry":{"type":"Polygon",
   "coordinates":[[[106.5,29.6],[106.6,29.6],[106.6,29.7],[106.5,29.7],[106.5,29.6]]]}}]})";

// Finding 9b: an operator filed a case in one district with a location in another, and it was
// accepted (routed, scoped and counted by the district, drawn at the point). With a district
// map the two must agree (a border's quantisation forgiven); coordinates must be coordinates.
TEST_F(CaseApiTest, Finding9bFiledLocationMustLieInTheNamedDistrict) {
  DistrictLocator map;
  ASSERT_TRUE(DistrictLocator::Parse(kTwoDistrictMap, &map).ok());
  OpenApi(&map);
  auto file = [&](const std::string& district, const std::string& location) {
    return Do(http::verb::post, "/api/v1/cases", "dispatcher",
              R"({"category":"0101","district":")" + district +
                  R"(","description":"probe")" +
                  (location.empty() ? "" : R"(,"location":)" + location) + "}");
  };
  auto code = [&](const HttpResponse& res) {
    return std::string(Json(res).at("error").at("code").as_string());
  };
  auto errors = [&](const std::string& c) {
    return metrics_.GetCounter("yiwang_http_errors_total", "HTTP API errors, by code",
                               {{"code", c}}).Value();
  };
  // A point in 江北区 filed as 渝中区, and one in Beijing: refused, naming where it lies.
  HttpResponse res = file("500103", R"({"lat":29.65,"lon":106.55})");
  EXPECT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_EQ(code(res), "location_outside_district");
  EXPECT_NE(res.body().find("500105"), std::string::npos) << res.body();
  res = file("500103", R"({"lat":39.9,"lon":116.4})");
  EXPECT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_EQ(code(res), "location_outside_district");
  EXPECT_EQ(errors("location_outside_district"), 2u);
  // Inside, on the border (55 m over it) and without a location: filed.
  EXPECT_EQ(file("500103", R"({"lat":29.55,"lon":106.55})").result_int(), 201u);
  EXPECT_EQ(file("500103", R"({"lat":29.6005,"lon":106.55})").result_int(), 201u);
  EXPECT_EQ(file("500105", R"({"lat":29.65,"lon":106.55})").result_int(), 201u);
  EXPECT_EQ(file("500103", "").result_int(), 201u);
  // A district the map does not draw (500112 of the default config): only a point the map
  // places in another district is refused.
  EXPECT_EQ(file("500112", R"({"lat":29.72,"lon":106.63})").result_int(), 201u);
  EXPECT_EQ(code(file("500112", R"({"lat":29.65,"lon":106.55})")), "location_outside_district");
  // Coordinates out of range are refused with or without a map.
  for (const char* bad : {R"({"lat":95,"lon":106.55})", R"({"lat":29.55,"lon":-181})",
                          R"({"lat":1e300,"lon":106.55})"}) {
    res = file("500103", bad);
    EXPECT_EQ(res.result_int(), 400u) << bad;
    EXPECT_EQ(code(res), "invalid_argument") << bad;
  }
  OpenApi(nullptr);
  EXPECT_EQ(code(file("500103", R"({"lat":-95,"lon":106.55})")), "invalid_argument");
  // Without a map the district is taken as given.
  EXPECT_EQ(file("500103", R"({"lat":29.65,"lon":106.55})").result_int(), 201u);
}

// Finding 9e: "extensionSeconds" took any integer (2^63-1 included) and any action carried it.
// Now: an integer from 1 to 30 days, with request_extension only, else 400
// extension_out_of_range; siblings: the list's limit and the filing's coordinates are bounded.
TEST_F(CaseApiTest, Finding9eExtensionSecondsIsBounded) {
  const std::string id = File("500105", "0101", 29.601, 106.571);
  for (const std::string body : {R"({"action":"accept"})",
                                 R"({"action":"transfer","department":"cgj-500105"})"}) {
    HttpResponse res = Do(http::verb::post, "/api/v1/cases/" + id + "/transitions", "dispatcher",
                          body);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
  }
  auto ask = [&](const std::string& who, const std::string& action, const std::string& seconds) {
    return Do(http::verb::post, "/api/v1/cases/" + id + "/transitions", who,
              R"({"action":")" + action + R"(","note":"probe","extensionSeconds":)" + seconds +
                  "}");
  };
  for (const std::string bad : {"9223372036854775807", "18446744073709551615", "2592001", "0",
                                "-1", "-9223372036854775808", "3600.5", "1e30", "\"3600\""}) {
    HttpResponse res = ask("dept", "request_extension", bad);
    EXPECT_EQ(res.result_int(), 400u) << bad << ": " << res.body();
    EXPECT_NE(res.body().find("extension_out_of_range"), std::string::npos) << bad;
  }
  // Another action carrying it: refused, not ignored.
  HttpResponse res = ask("dispatcher", "park", "9223372036854775807");
  EXPECT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_NE(res.body().find("extension_out_of_range"), std::string::npos) << res.body();
  // 30 days is the most.
  res = ask("dept", "request_extension", "2592000");
  EXPECT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("entry").at("extensionSeconds").as_string(), "2592000");
  // Siblings: the list's limit.
  for (const char* limit : {"0", "1001", "18446744073709551616", "-1", "1e3"}) {
    res = Do(http::verb::get, std::string("/api/v1/cases?limit=") + limit, "dispatcher");
    EXPECT_EQ(res.result_int(), 400u) << limit;
  }
}

}  // namespace
}  // namespace yiwang::web
