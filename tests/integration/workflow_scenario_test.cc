// The scripted scenario of docs/workflow.md: a real `yiwang serve` on a fresh data dir, walked
// through every path of the case workflow by its public interfaces only (WebSocket ingest, the
// JSON API with one API token per role, the citizens' anonymous routes):
//
//   1. a septic-tank gas alarm becomes a case that is accepted and transferred automatically;
//      repeats fold into it; it cannot close until the gas is back to normal
//   2. a patrol case: 受理 -> 转办 to the wrong department -> 回退 -> 转办 -> 延期 (request,
//      approve) -> 处置 -> 核查 fail (返工) -> 处置 -> 核查 pass -> 结案 -> reopen -> ... -> 结案
//   3. 不予立案 (reject); 挂账 (park) and unpark; a denied extension
//   4. citizens: a report, a second one nearby joins it (附议), both tracking codes follow the
//      case to its close; the first reporter's "not fixed" rating reopens it
//   5. what may not happen: 403 for a role, 409 with the allowed actions, 400 for a missing reason
//   6. the KPIs (考核) count it all
//   7. after a stop, `yiwang audit verify` replays every journal and finds nothing wrong
//
// One test, in steps that build on each other: each step prints a line, so the output reads as
// the walk of docs/workflow.md.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "base/text.h"
#include "base/time.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"
#include "tools/client/ws_client.h"

namespace yiwang {
namespace {

namespace json = boost::json;

constexpr std::string_view kActionPrefix = "CASE_ACTION_";

class WorkflowScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = server_.Start({"--log-level", "warn"});
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Step(const std::string& text) {
    std::printf("[%02d] %s\n", ++step_, text.c_str());
    std::fflush(stdout);
  }

  // One request; the reply's status and its body as JSON (null for an empty body).
  std::pair<int, json::value> Call(const std::string& method, const std::string& target,
                                   const std::string& token, const json::value* body = nullptr) {
    test::HeaderList headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    if (body) headers.emplace_back("Content-Type", "application/json");
    test::HttpReply r = test::Http(server_.port(), method, target, headers,
                                   body ? json::serialize(*body) : std::string());
    EXPECT_TRUE(r.error.empty()) << method << " " << target << ": " << r.error;
    boost::system::error_code ec;
    json::value v = r.body.empty() ? json::value() : json::parse(r.body, ec);
    EXPECT_FALSE(ec) << method << " " << target << ": not JSON: " << r.body;
    return {r.status, std::move(v)};
  }

  // A call that must answer `status`; its JSON body.
  json::value Ok(const std::string& method, const std::string& target, const std::string& token,
                 const json::value& body = nullptr, int status = 200) {
    auto [got, js] = Call(method, target, token, body.is_null() ? nullptr : &body);
    EXPECT_EQ(got, status) << method << " " << target << " " << json::serialize(body) << " -> "
                           << json::serialize(js);
    return js;
  }

  // A citizen's request: no credentials.
  std::pair<int, json::value> Public(const std::string& method, const std::string& target,
                                     const json::value& body = nullptr) {
    return Call(method, target, "", body.is_null() ? nullptr : &body);
  }

  json::value Act(const std::string& case_id, const std::string& token, json::object command) {
    return Ok("POST", "/api/v1/cases/" + case_id + "/transitions", token, command);
  }

  static std::string State(const json::value& c) {
    return std::string(c.at("case").at("state").as_string());
  }

  // One JSON text frame over /ws/sensors; the ack.
  json::value SendFrame(const std::string& token, const json::value& frame) {
    client::WsClient ws;
    ws.set_read_timeout(std::chrono::seconds(20));
    Status s = ws.Connect("127.0.0.1", server_.port(), "/ws/sensors", token);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE(ws.SendRaw(json::serialize(frame), false).ok());
    std::string ack;
    bool binary = true;
    s = ws.ReadRaw(&ack, &binary);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? json::parse(ack) : json::value();
  }

  // A frame of septic-tank gas readings from `device`: (seconds ago, CH4 %LEL) each.
  static json::value GasFrame(const std::string& device, uint64_t first_seq,
                              const std::vector<std::pair<int, double>>& readings) {
    const auto now = std::chrono::system_clock::now();
    json::array events;
    for (size_t i = 0; i < readings.size(); ++i) {
      const auto at = now - std::chrono::seconds(readings[i].first);
      events.push_back(json::object{
          {"deviceId", device},
          {"seq", std::to_string(first_seq + i)},
          {"observedAt", Rfc3339(at)},
          {"location", {{"lat", 29.5575}, {"lon", 106.5770}}},
          {"septicTankGas", {{"ch4PercentLel", readings[i].second}, {"h2sPpm", 1.0},
                             {"nh3Ppm", 2.0}}}});
    }
    return json::object{{"events", std::move(events)}};
  }

  // Polls `probe` every 100 ms until it is true; false after 20 s.
  static bool WaitFor(const std::function<bool()>& probe) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (probe()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  test::TestServer server_;
  int step_ = 0;
};

TEST_F(WorkflowScenario, EveryPathOfTheCaseWorkflowThroughThePublicInterfaces) {
  const std::string admin = server_.admin();

  Step("users, one per role, each with an API token (the admin users API)");
  const std::vector<std::pair<std::string, json::object>> users = {
      {"disp", {{"role", "dispatcher"}}},
      {"cg-yuzhong", {{"role", "department"}, {"department", "cgj-500103"}}},
      {"cg-jiangbei", {{"role", "department"}, {"department", "cgj-500105"}}},
      {"hw-yuzhong", {{"role", "department"}, {"department", "hw-500103"}}},
      {"sup", {{"role", "supervisor"}}},
      {"boss", {{"role", "leader"}}},
  };
  std::map<std::string, std::string> tok;
  for (const auto& [name, fields] : users) {
    json::object u = fields;
    u["username"] = name;
    u["password"] = "correct horse battery";
    Ok("POST", "/api/v1/admin/users", admin, u, 201);
    tok[name] = json::value_to<std::string>(
        Ok("POST", "/api/v1/admin/users/" + name + "/tokens", admin, json::object{}, 201)
            .at("token"));
  }
  ASSERT_FALSE(HasFailure());

  // --- 1. a sensor alarm -------------------------------------------------------------------
  Step("a septic-tank gas sensor in 渝中区 reports CH4 >= 25 %LEL for over 60 s");
  const std::string dev = server_.DeviceToken("workflow-gw", "wf-");
  const std::string device = "wf-septic-500103-0001";
  json::value ack = SendFrame(dev, GasFrame(device, 1, {{130, 31}, {100, 31}, {65, 32}}));
  ASSERT_EQ(json::serialize(ack.as_object().at("accepted")), "3") << json::serialize(ack);
  json::array sensor_cases;
  ASSERT_TRUE(WaitFor([&] {
    sensor_cases = Ok("GET", "/api/v1/cases?source=sensor", tok["disp"]).at("cases").as_array();
    return !sensor_cases.empty();
  })) << "the alarm's case";
  ASSERT_EQ(sensor_cases.size(), 1u) << json::serialize(sensor_cases);
  const std::string gas = json::value_to<std::string>(sensor_cases[0].at("id"));
  json::value c = Ok("GET", "/api/v1/cases/" + gas, tok["disp"]);
  EXPECT_EQ(State(c), "CASE_STATE_HANDLING");
  EXPECT_EQ(c.at("case").at("department"), "hw-500103");
  Step("case " + gas + ": filed, accepted and transferred to hw-500103 by the system");

  Step("the gas stays high: repeats update the case, never a second case");
  SendFrame(dev, GasFrame(device, 4, {{-1, 33}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Ok("GET", "/api/v1/cases?source=sensor", tok["disp"]).at("cases").as_array().size(),
            1u);

  Step("the department reports it handled; the supervisor cannot close while the gas is high");
  Act(gas, tok["hw-yuzhong"], {{"action", "report_handled"}, {"note", "通风、排查泄漏点"},
                               {"evidence", json::array{"photo:site-1"}}});
  Act(gas, tok["sup"], {{"action", "verify_pass"}});
  {
    const json::value close = json::object{{"action", "close"}};
    auto [got, js] = Call("POST", "/api/v1/cases/" + gas + "/transitions", tok["sup"], &close);
    EXPECT_EQ(got, 400) << json::serialize(js);
    EXPECT_NE(json::serialize(js).find("telemetry"), std::string::npos) << json::serialize(js);
  }

  Step("readings back to normal for 60 s: the alarm clears and the case closes");
  SendFrame(dev, GasFrame(device, 5, {{-2, 5}, {-40, 4}, {-70, 4}}));
  EXPECT_TRUE(WaitFor([&] {
    const json::value v = Ok("GET", "/api/v1/cases/" + gas, tok["sup"]);
    const json::value* normal = v.at("case").as_object().if_contains("telemetryNormal");
    return normal && normal->is_bool() && normal->as_bool();
  })) << "telemetry back to normal";
  EXPECT_EQ(State(Act(gas, tok["sup"], {{"action", "close"}})), "CASE_STATE_CLOSED");

  // --- 2. a patrol case through every detour ------------------------------------------------
  Step("a patrol inspector's case in 渝中区 (filed by the dispatcher)");
  c = Ok("POST", "/api/v1/cases", tok["disp"],
         json::object{{"category", "event:0111"},
                      {"description", "较场口路段积水约 20 cm"},
                      {"district", "500103"},
                      {"source", "patrol"},
                      {"location", {{"lat", 29.5530}, {"lon", 106.5750}}}},
         201);
  ASSERT_FALSE(HasFailure());
  const std::string p = json::value_to<std::string>(c.at("case").at("id"));
  Act(p, tok["disp"], {{"action", "accept"}, {"note", "核实属实"}});
  Step("转办 to the wrong department; it returns the case (回退)");
  Act(p, tok["disp"], {{"action", "transfer"}, {"department", "cgj-500105"}});
  EXPECT_EQ(Call("GET", "/api/v1/cases/" + p, tok["cg-yuzhong"]).first, 404)
      << "another department does not see it";
  Act(p, tok["cg-jiangbei"], {{"action", "return"}, {"note", "不属于江北区辖区"}});
  Step("re-transfer to 渝中区城管局; it asks for more time (延期), the command centre approves");
  Act(p, tok["disp"], {{"action", "transfer"}, {"department", "cgj-500103"}});
  Act(p, tok["cg-yuzhong"], {{"action", "request_extension"}, {"note", "需调用抽水设备"},
                             {"extensionSeconds", 7200}});
  c = Act(p, tok["disp"], {{"action", "approve_extension"}});
  EXPECT_EQ(json::serialize(c.at("case").at("extensionCount")), "1") << json::serialize(c);
  Step("handled; 核查 fails (返工); handled again; 核查 passes; 结案");
  Act(p, tok["cg-yuzhong"], {{"action", "report_handled"}, {"note", "已抽排"},
                             {"evidence", json::array{"photo:after-1"}}});
  Act(p, tok["sup"], {{"action", "verify_fail"}, {"note", "仍有积水"}});
  Act(p, tok["cg-yuzhong"], {{"action", "report_handled"}, {"note", "疏通雨水箅子"},
                             {"evidence", json::array{"photo:after-2"}}});
  Act(p, tok["sup"], {{"action", "verify_pass"}});
  EXPECT_EQ(State(Act(p, tok["sup"], {{"action", "close"}})), "CASE_STATE_CLOSED");
  Step("reopened (a citizen called back), handled and closed again");
  Act(p, tok["sup"], {{"action", "reopen"}, {"note", "市民反映仍积水"}});
  Act(p, tok["cg-yuzhong"], {{"action", "report_handled"}, {"note", "更换箅子"},
                             {"evidence", json::array{"photo:after-3"}}});
  Act(p, tok["sup"], {{"action", "verify_pass"}});
  Act(p, tok["sup"], {{"action", "close"}});
  std::string walk;
  const json::value seen = Ok("GET", "/api/v1/cases/" + p, tok["boss"]);
  for (const auto& e : seen.at("timeline").as_array())
    walk += (walk.empty() ? "" : " -> ") +
            AsciiLower(json::value_to<std::string>(e.at("action")).substr(kActionPrefix.size()));
  std::printf("     timeline: %s\n", walk.c_str());

  // --- 3. rejection, parking, a denied extension ---------------------------------------------
  Step("不予立案: a report outside the platform's remit");
  const std::string r = json::value_to<std::string>(
      Ok("POST", "/api/v1/cases", tok["disp"],
         json::object{{"category", "event:0111"}, {"description", "小区内部积水"},
                      {"district", "500103"}},
         201)
          .at("case")
          .at("id"));
  EXPECT_EQ(State(Act(r, tok["disp"], {{"action", "reject"}, {"note", "属物业管理范围"}})),
            "CASE_STATE_REJECTED");
  Step("挂账 with a reason and back; an extension denied");
  const std::string k = json::value_to<std::string>(
      Ok("POST", "/api/v1/cases", tok["disp"],
         json::object{{"category", "event:0111"}, {"description", "施工路段积水"},
                      {"district", "500103"}},
         201)
          .at("case")
          .at("id"));
  Act(k, tok["disp"], {{"action", "accept"}});
  Act(k, tok["disp"], {{"action", "transfer"}, {"department", "cgj-500103"}});
  c = Act(k, tok["disp"], {{"action", "park"}, {"note", "待施工结束"}});
  EXPECT_EQ(State(c), "CASE_STATE_PARKED");
  EXPECT_EQ(c.at("sla").at("paused"), true) << json::serialize(c);
  EXPECT_EQ(State(Act(k, tok["disp"], {{"action", "unpark"}})), "CASE_STATE_HANDLING");
  Act(k, tok["cg-yuzhong"], {{"action", "request_extension"}, {"note", "设备故障"},
                             {"extensionSeconds", 3600}});
  Act(k, tok["disp"], {{"action", "deny_extension"}, {"note", "请按期处置"}});

  // --- 4. citizens ----------------------------------------------------------------------------
  Step("a citizen reports a waterlogged road near 解放碑 (no account: a tracking code)");
  auto [got1, r1] = Public("POST", "/api/v1/reports",
                           json::object{{"category", "event:0111"},
                                        {"description", "解放碑步行街路口积水"},
                                        {"location", {{"lat", 29.5575}, {"lon", 106.5770}}},
                                        {"contact", "13800000000"}});
  ASSERT_EQ(got1, 201) << json::serialize(r1);
  EXPECT_EQ(r1.at("linked"), false);
  const std::string cid = json::value_to<std::string>(r1.at("caseId"));
  c = Ok("GET", "/api/v1/cases/" + cid, tok["disp"]);
  EXPECT_EQ(c.at("case").at("district"), "500103");
  EXPECT_EQ(c.at("case").at("source"), "SOURCE_CITIZEN");
  Step("a second citizen 80 m away reports the same: it joins the open case (附议)");
  auto [got2, r2] = Public("POST", "/api/v1/reports",
                           json::object{{"category", "event:0111"},
                                        {"description", "这里也积水"},
                                        {"location", {{"lat", 29.5582}, {"lon", 106.5773}}}});
  ASSERT_EQ(got2, 201) << json::serialize(r2);
  EXPECT_EQ(r2.at("linked"), true);
  EXPECT_EQ(json::value_to<std::string>(r2.at("caseId")), cid);
  Step("the case runs: 受理, 转办, 处置, 核查, 结案; both tracking pages follow it");
  Act(cid, tok["disp"], {{"action", "accept"}});
  Act(cid, tok["disp"], {{"action", "transfer"}, {"department", "cgj-500103"}});
  Act(cid, tok["cg-yuzhong"], {{"action", "report_handled"}, {"note", "已疏通排水口"},
                               {"evidence", json::array{"photo:x"}}});
  Act(cid, tok["sup"], {{"action", "verify_pass"}});
  Act(cid, tok["sup"], {{"action", "close"}});
  for (const json::value* report : {&r1, &r2}) {
    const std::string code = json::value_to<std::string>(report->at("trackingCode"));
    auto [got, t] = Public("GET", "/api/v1/track/" + code);
    EXPECT_EQ(got, 200);
    EXPECT_EQ(t.at("state"), "CASE_STATE_CLOSED") << json::serialize(t);
    EXPECT_EQ(json::serialize(t).find("13800000000"), std::string::npos)
        << "the contact is never public";
  }
  Step("the first citizen rates it 'not fixed': the case is reopened to the department");
  {
    auto [got, t] = Public(
        "POST", "/api/v1/track/" + json::value_to<std::string>(r1.at("trackingCode")) + "/rating",
        json::object{{"stars", 1}, {"comment", "还是积水"}, {"fixed", false}});
    EXPECT_EQ(got, 200) << json::serialize(t);
  }
  c = Ok("GET", "/api/v1/cases/" + cid, tok["cg-yuzhong"]);
  EXPECT_EQ(State(c), "CASE_STATE_HANDLING");
  EXPECT_EQ(json::serialize(c.at("case").at("reopenCount")), "1") << json::serialize(c);
  Act(cid, tok["cg-yuzhong"], {{"action", "report_handled"}, {"note", "更换排水管"},
                               {"evidence", json::array{"photo:y"}}});
  Act(cid, tok["sup"], {{"action", "verify_pass"}});
  Act(cid, tok["sup"], {{"action", "close"}});

  // --- 5. refusals ----------------------------------------------------------------------------
  Step("refusals: the leader may not act (403); an illegal step lists the allowed ones (409)");
  const std::string k_transitions = "/api/v1/cases/" + k + "/transitions";
  {
    const json::value park = json::object{{"action", "park"}, {"note", "x"}};
    auto [got, js] = Call("POST", k_transitions, tok["boss"], &park);
    EXPECT_EQ(got, 403);
    EXPECT_EQ(js.at("error").at("code"), "forbidden") << json::serialize(js);
  }
  {
    const json::value close = json::object{{"action", "close"}};
    auto [got, js] = Call("POST", k_transitions, tok["sup"], &close);
    EXPECT_EQ(got, 409);
    EXPECT_EQ(js.at("error").at("code"), "illegal_transition") << json::serialize(js);
    std::printf("     allowed for the supervisor now: %s\n",
                json::serialize(js.at("error").at("allowed")).c_str());
  }
  {
    const json::value park = json::object{{"action", "park"}};
    auto [got, js] = Call("POST", k_transitions, tok["disp"], &park);
    EXPECT_EQ(got, 400);
    EXPECT_EQ(js.at("error").at("code"), "invalid_argument") << json::serialize(js);
  }

  // --- 6. KPIs --------------------------------------------------------------------------------
  Step("考核: the KPIs count what happened");
  const json::value stats = Ok("GET", "/api/v1/stats", tok["boss"]);
  std::map<std::string, int64_t> n;
  for (const auto& [name, v] : stats.at("total").at("counters").as_object())
    n[std::string(name)] = v.is_string() ? std::stoll(std::string(v.as_string())) : v.to_number<int64_t>();
  std::printf("     counters: %s\n", json::serialize(stats.at("total").at("counters")).c_str());
  EXPECT_EQ(n["filed"], 5);
  EXPECT_EQ(n["rejected"], 1);
  EXPECT_EQ(n["returned"], 1);
  EXPECT_EQ(n["reworks"], 1);
  EXPECT_EQ(n["reopened"], 2);
  EXPECT_EQ(n["closed"], 5);
  ASSERT_GT(n["dispatched"], 0);
  EXPECT_NEAR(stats.at("total").at("accurateDispatchRate").to_number<double>(),
              1.0 - 1.0 / static_cast<double>(n["dispatched"]), 1e-9);
  bool jiangbei_row = false;
  const json::value by_department = Ok("GET", "/api/v1/stats?by=department", tok["boss"]);
  for (const auto& row : by_department.at("rows").as_array()) {
    const json::value* dept = row.at("key").as_object().if_contains("department");
    jiangbei_row = jiangbei_row || (dept && *dept == "cgj-500105");
  }
  EXPECT_TRUE(jiangbei_row) << "a KPI row for the department that returned the case";

  // --- 7. audit -------------------------------------------------------------------------------
  Step("stop the server; `yiwang audit verify` replays every journal");
  const client::ExitStatus stopped = server_.process().Stop();
  EXPECT_TRUE(stopped.ok()) << stopped.ToString();
  std::string out;
  const client::ExitStatus audit = client::RunToExit(
      test::ServerBinary(), {"audit", "verify", "--data-dir", server_.DataDir()},
      std::chrono::seconds(120), &out);
  std::printf("     %s\n", out.c_str());
  EXPECT_TRUE(audit.ok()) << audit.ToString() << "\n" << out;
  EXPECT_NE(out.find("5 cases checked, 0 problems"), std::string::npos) << out;
}

}  // namespace
}  // namespace yiwang
