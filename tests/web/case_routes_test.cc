// The case API's routes as plain functions of the request (no sockets): every status code the
// API promises (docs/api.md), role and district scoping, paging. The dispatcher runs over a real
// store in a temp dir; authentication is a test Authenticator reading an "X-Test-User" header
// ("role:name[:department[:district]]").

#include "web/case_api.h"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatcher/dispatch_config.h"
#include "store/event_store.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "web/http_util.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

AuthResult TestAuth(Metrics* metrics, const HttpRequest& req) {
  auto it = req.find("X-Test-User");
  if (it == req.end())
    return ErrorResponse(metrics, req, 401, "unauthorized", "no credentials");
  std::vector<std::string> parts;
  std::string v(it->value());
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t c = v.find(':', pos);
    parts.push_back(v.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  Principal p;
  const std::map<std::string, v1::Role> roles = {{"dispatcher", v1::ROLE_DISPATCHER},
                                                 {"department", v1::ROLE_DEPARTMENT},
                                                 {"supervisor", v1::ROLE_SUPERVISOR},
                                                 {"leader", v1::ROLE_LEADER},
                                                 {"admin", v1::ROLE_ADMIN}};
  p.role = roles.at(parts[0]);
  p.user_id = parts.size() > 1 ? parts[1] : parts[0];
  if (parts.size() > 2) p.department = parts[2];
  if (parts.size() > 3) p.districts = {parts[3]};
  return p;
}

class CaseRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = stack_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    api_ = std::make_unique<CaseApi>(
        disp_.get(), [this](const HttpRequest& r) { return TestAuth(&metrics_, r); }, &metrics_,
        test::NullLogger());
  }

  HttpResponse Do(http::verb verb, std::string target, std::string user, std::string body = {}) {
    HttpRequest req{verb, target, 11};
    if (!user.empty()) req.set("X-Test-User", user);
    req.body() = std::move(body);
    req.prepare_payload();
    auto res = api_->Handle(req);
    EXPECT_TRUE(res.has_value()) << target;
    return res ? std::move(*res) : HttpResponse{};
  }
  static json::value Json(const HttpResponse& r) { return json::parse(r.body()); }
  static std::string Code(const HttpResponse& r) {
    return std::string(Json(r).at("error").at("code").as_string());
  }
  // Files a patrol case in 渝中区 (500103) as the dispatcher; returns its id.
  std::string File(const std::string& district = "500103") {
    auto res = Do(http::verb::post, "/api/v1/cases", "dispatcher:d1",
                  R"({"category":"event:0111","description":"积水","district":")" + district +
                      R"(","location":{"lat":29.557,"lon":106.577}})");
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    return std::string(Json(res).at("case").at("id").as_string());
  }
  HttpResponse Act(const std::string& id, const std::string& user, const std::string& body) {
    return Do(http::verb::post, "/api/v1/cases/" + id + "/transitions", user, body);
  }

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db"), 0};
  Metrics& metrics_ = stack_.metrics;
  std::unique_ptr<store::EventStore>& store_ = stack_.store;
  std::unique_ptr<dispatcher::Dispatcher>& disp_ = stack_.dispatcher;
  std::unique_ptr<CaseApi> api_;
};

TEST_F(CaseRoutesTest, EveryPromisedStatusCode) {
  const std::string id = File();
  // 200: the case with its timeline and what this role may do.
  auto res = Do(http::verb::get, "/api/v1/cases/" + id, "dispatcher:d1");
  ASSERT_EQ(res.result_int(), 200u);
  json::value j = Json(res);
  EXPECT_EQ(j.at("case").at("state").as_string(), "CASE_STATE_PENDING_ACCEPT");
  EXPECT_EQ(j.at("timeline").as_array().size(), 1u);
  EXPECT_EQ(json::serialize(j.at("allowedActions")), R"(["accept","reject"])");
  EXPECT_EQ(j.at("sla").at("stage").as_string(), "accept");

  // 401 without credentials; 403 for a role that may not; 409 with the allowed actions.
  EXPECT_EQ(Do(http::verb::get, "/api/v1/cases", "").result_int(), 401u);
  res = Act(id, "supervisor:s1", R"({"action":"accept"})");
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(Code(res), "forbidden");
  res = Act(id, "dispatcher:d1", R"({"action":"transfer","department":"cgj-500103"})");
  EXPECT_EQ(res.result_int(), 409u);
  EXPECT_EQ(Code(res), "illegal_transition");
  EXPECT_EQ(json::serialize(Json(res).at("error").at("allowed")), R"(["accept","reject"])");
  // 400: bad JSON, unknown field, unknown action, missing note, unknown department.
  EXPECT_EQ(Code(Act(id, "dispatcher:d1", "{")), "bad_json");
  EXPECT_EQ(Code(Act(id, "dispatcher:d1", R"({"action":"accept","x":1})")), "invalid_argument");
  EXPECT_EQ(Code(Act(id, "dispatcher:d1", R"({"action":"fly"})")), "invalid_argument");
  EXPECT_EQ(Code(Act(id, "dispatcher:d1", R"({"action":"escalate"})")), "invalid_argument");
  res = Act(id, "dispatcher:d1", R"({"action":"reject"})");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(Json(res).at("error").at("message").as_string().find("note"), json::string::npos);
  // 404 for an unknown case; 405 with Allow.
  EXPECT_EQ(Code(Act("YW-nope", "dispatcher:d1", R"({"action":"accept"})")), "case_not_found");
  EXPECT_EQ(Do(http::verb::get, "/api/v1/cases/YW-nope", "dispatcher:d1").result_int(), 404u);
  res = Do(http::verb::delete_, "/api/v1/cases/" + id, "dispatcher:d1");
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[http::field::allow], "GET, HEAD");

  // 200 with the new case: accept, then transfer to a real department.
  res = Act(id, "dispatcher:d1", R"({"action":"accept","note":"属实"})");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("case").at("state").as_string(), "CASE_STATE_PENDING_DISPATCH");
  EXPECT_EQ(Code(Act(id, "dispatcher:d1", R"({"action":"transfer","department":"nope"})")),
            "invalid_argument");
  res = Act(id, "dispatcher:d1", R"({"action":"transfer","department":"cgj-500103"})");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("entry").at("department").as_string(), "cgj-500103");

  // Scope: another department does not see it at all; its own does and may act.
  EXPECT_EQ(Do(http::verb::get, "/api/v1/cases/" + id, "department:p9:cgj-500105").result_int(),
            404u);
  res = Do(http::verb::get, "/api/v1/cases/" + id, "department:p1:cgj-500103");
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::serialize(Json(res).at("allowedActions")),
            R"(["return","report_handled","request_extension"])");
  // The leader reads but may do nothing.
  res = Do(http::verb::get, "/api/v1/cases/" + id, "leader:l1");
  EXPECT_EQ(json::serialize(Json(res).at("allowedActions")), "[]");
  EXPECT_EQ(Act(id, "leader:l1", R"({"action":"park","note":"x"})").result_int(), 403u);
}

// Finding 3 of issue 19: an operator's description, note or evidence is free text too, and is
// refused (400 invalid_argument) when it holds what the Open311 XML feed cannot carry.
TEST_F(CaseRoutesTest, Finding3_OperatorTextRefusesWhatXmlCannotCarry) {
  const std::string id = File();
  for (const char* bad : {R"(\uFFFE\uFFFF)", R"(\u0001)", R"(\u0085)", R"(\uFDD0)"}) {
    auto res = Do(http::verb::post, "/api/v1/cases", "dispatcher:d1",
                  std::string(R"({"category":"event:0111","description":"积水)") + bad +
                      R"(","district":"500103","location":{"lat":29.557,"lon":106.577}})");
    EXPECT_EQ(res.result_int(), 400u) << res.body();
    EXPECT_EQ(Code(res), "invalid_argument");
    res = Act(id, "dispatcher:d1", std::string(R"({"action":"accept","note":"属实)") + bad + "\"}");
    EXPECT_EQ(Code(res), "invalid_argument") << res.body();
    res = Act(id, "dispatcher:d1",
              std::string(R"({"action":"accept","evidence":["photo:)") + bad + "\"]}");
    EXPECT_EQ(Code(res), "invalid_argument") << res.body();
  }
  EXPECT_EQ(Act(id, "dispatcher:d1", R"({"action":"accept","note":"属实\n\t已核"})").result_int(),
            200u);
  // An error that echoes a client's bytes (a percent-decoded path) is still JSON.
  auto res = Act("%FF%C0", "dispatcher:d1", R"({"action":"accept"})");
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(Code(res), "case_not_found") << res.body();
}

TEST_F(CaseRoutesTest, ListsAreScopedFilteredAndPaged) {
  for (int i = 0; i < 5; ++i) File("500103");
  for (int i = 0; i < 3; ++i) File("500105");
  auto res = Do(http::verb::get, "/api/v1/cases?limit=3", "dispatcher:d1");
  ASSERT_EQ(res.result_int(), 200u);
  json::value j = Json(res);
  EXPECT_EQ(j.at("total").as_int64(), 8);
  EXPECT_EQ(j.at("cases").as_array().size(), 3u);
  std::string cursor(j.at("nextCursor").as_string());
  int seen = 3;
  while (!cursor.empty()) {
    res = Do(http::verb::get, "/api/v1/cases?limit=3&cursor=" + cursor, "dispatcher:d1");
    j = Json(res);
    seen += static_cast<int>(j.at("cases").as_array().size());
    cursor = j.as_object().contains("nextCursor") ? std::string(j.at("nextCursor").as_string()) : "";
  }
  EXPECT_EQ(seen, 8);
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/cases?district=500105", "dispatcher:d1"))
                .at("total").as_int64(), 3);
  // A supervisor scoped to 500105 sees only those, even when asking for others.
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/cases", "supervisor:s5::500105"))
                .at("total").as_int64(), 3);
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/cases?district=500103", "supervisor:s5::500105"))
                .at("total").as_int64(), 0);
  // A department sees only its own cases (none transferred yet).
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/cases", "department:p1:cgj-500103"))
                .at("total").as_int64(), 0);
  // Bad filters are named.
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/cases?state=flying", "dispatcher:d1")), "bad_state");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/cases?bbox=1,2,3", "dispatcher:d1")), "bad_bbox");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/cases?limit=0", "dispatcher:d1")), "bad_limit");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/cases?cursor=zz", "dispatcher:d1")), "bad_cursor");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/cases?from=yesterday", "dispatcher:d1")), "bad_from");
  // Stats: filed counts by district; open gauges.
  res = Do(http::verb::get, "/api/v1/stats?by=district", "leader:l1");
  ASSERT_EQ(res.result_int(), 200u);
  j = Json(res);
  EXPECT_EQ(j.at("total").at("counters").at("filed").as_string(), "8");
  EXPECT_EQ(j.at("rows").as_array().size(), 2u);
  EXPECT_EQ(j.at("open").at("open").as_int64(), 8);
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/stats?by=planet", "leader:l1")), "bad_by");
  // ui-config is public.
  res = Do(http::verb::get, "/api/v1/ui-config", "");
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(Json(res).at("districts").as_array().size(), 38u);
}

}  // namespace
}  // namespace yiwang::web
