// The access policy of docs/api.md ("Access policy") checked route by route: every route of the
// server's routing table (web/router.h) x every kind of caller (no credentials, a device token,
// the bootstrap admin token, and each role's user by session cookie with and without the CSRF
// token and by API token; department and district staff against their own and another
// department's / district's case) gets the exact status the table promises. The test's rows
// must be the routing table's rows: a route added without a policy row fails here. Also the
// live feed's messages per role, expired / revoked / wrong credentials, CSRF, Origin and the
// login throttle.
//
// In-process: the Router over the real components (Accounts, Api, CaseApi, CitizenApi, Open311,
// StaticFiles, LiveFeed, SensorEndpoint) on a real store and dispatcher in a temp dir, as
// `yiwang serve` wires them; no sockets (the WebSocket routes are judged by their Admit).

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "ingest/ingest_service.h"
#include "ingest/sensor_endpoint.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "tests/web/test_district_map.h"
#include "tests/web/test_images.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/case_api.h"
#include "web/citizen_api.h"
#include "web/district_locator.h"
#include "web/live_feed.h"
#include "web/open311.h"
#include "web/router.h"
#include "web/static_files.h"

// Requests and callers are written with designated initializers naming only the fields they
// set; GCC 12 warns about the omitted ones although they have default member initializers.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;
using namespace std::chrono_literals;

constexpr char kPassword[] = "correct horse battery";
constexpr char kHost[] = "127.0.0.1:8080";
// Own / other: department staff are of cgj-500103, district staff of district 500103.
constexpr char kOwnDistrict[] = "500103";
constexpr char kOwnDepartment[] = "cgj-500103";
constexpr char kOtherDistrict[] = "500105";
constexpr char kOtherDepartment[] = "cgj-500105";

enum class Cred { kNone, kDevice, kAdminToken, kSessionCsrf, kSessionNoCsrf, kApiToken };

// A caller: a credential, and for the user credentials the user it belongs to.
struct Subject {
  std::string label;
  Cred cred = Cred::kNone;
  v1::Role role = v1::ROLE_UNSPECIFIED;  // of the user (ROLE_ADMIN for the admin token)
  std::string user;                      // user name ("" for none / device / admin token)
  bool dept_scoped = false;              // department staff
  bool district_scoped = false;          // a user with districts
  std::string bearer;                    // device, admin or API token
  std::string session, csrf;             // session id and its CSRF token
  bool scoped() const { return dept_scoped || district_scoped; }
};

enum class Variant { kNone, kOwn, kOther };
const char* VariantName(Variant v) {
  return v == Variant::kOwn ? "own" : v == Variant::kOther ? "other" : "-";
}

// The policies of docs/api.md's table.
enum class Policy {
  kPublic,       // anyone; the answer does not depend on credentials
  kSignedIn,     // any user or admin token
  kSessionOnly,  // a session (a bearer token: 400 not_a_session)
  kAdmin,        // admin token or an admin user
  kOperator,     // any operator; what they see is scoped
  kCaseRead,     // operators, scoped: another department's / district's case is 404
  kCaseFile,     // dispatcher, supervisor, admin; district staff in their districts only
  kCaseAct,      // operators, scoped (404), then the role table of the case machine
  kDeviceRead,   // unscoped operators: any device; scoped: through a case of theirs
  kApiKey,       // Open311 api_key: a user's API token or an admin token
  kDeviceToken,  // /ws/sensors: device tokens only
  kLiveFeed,     // /ws/live: operators, from this origin
};

struct Want {
  unsigned status;
  std::string code;  // the error code, "" to leave unchecked
};

struct Call {
  http::verb method = http::verb::get;
  std::string target;
  std::string body;
  std::string content_type = "application/json";
  std::string session, csrf;  // when set: instead of the subject's session
  std::string peer = "192.0.2.1";
  std::string origin;
};

struct Row {
  std::string pattern;
  http::verb method;
  Policy policy;
  unsigned ok;  // the success status
  std::vector<Variant> variants;
  std::function<Call(const Subject&, Variant)> make;
  // Extra checks of a 2xx answer (what a scoped caller sees).
  std::function<void(const Subject&, const HttpResponse&)> check;
};

bool StateChanging(http::verb m) {
  return m == http::verb::post || m == http::verb::put || m == http::verb::patch ||
         m == http::verb::delete_;
}

// What the policy table promises `s` for `r` (variant `v`).
Want Expected(const Row& r, const Subject& s, Variant v) {
  switch (r.policy) {
    case Policy::kPublic:
      return {r.ok, ""};
    case Policy::kDeviceToken:
      return s.cred == Cred::kDevice ? Want{101, ""} : Want{401, "unauthorized"};
    case Policy::kApiKey:
      return s.cred == Cred::kAdminToken || s.cred == Cred::kApiToken ? Want{r.ok, ""}
                                                                       : Want{403, ""};
    default:
      break;
  }
  if (s.cred == Cred::kNone) return {401, "unauthorized"};
  if (s.cred == Cred::kDevice) return {403, "forbidden"};
  if (StateChanging(r.method) && s.cred == Cred::kSessionNoCsrf) return {403, "csrf_failed"};
  const bool session = s.cred == Cred::kSessionCsrf || s.cred == Cred::kSessionNoCsrf;
  switch (r.policy) {
    case Policy::kSignedIn:
    case Policy::kOperator:
      return {r.ok, ""};
    case Policy::kLiveFeed:
      return {101, ""};
    case Policy::kSessionOnly:
      return session ? Want{r.ok, ""} : Want{400, "not_a_session"};
    case Policy::kAdmin:
      return s.role == v1::ROLE_ADMIN ? Want{r.ok, ""} : Want{403, "forbidden"};
    case Policy::kCaseRead:
      return s.scoped() && v == Variant::kOther ? Want{404, "case_not_found"} : Want{r.ok, ""};
    case Policy::kCaseFile:
      if (s.role != v1::ROLE_DISPATCHER && s.role != v1::ROLE_SUPERVISOR &&
          s.role != v1::ROLE_ADMIN)
        return {403, "forbidden"};
      if (s.district_scoped && v == Variant::kOther) return {403, "forbidden"};
      return {r.ok, ""};
    case Policy::kCaseAct:
      // Each role tries its own kind of action on a case being handled (see the row).
      if (s.scoped() && v == Variant::kOther) return {404, "case_not_found"};
      switch (s.role) {
        case v1::ROLE_DISPATCHER:
        case v1::ROLE_ADMIN:
        case v1::ROLE_DEPARTMENT:
          return {r.ok, ""};
        case v1::ROLE_SUPERVISOR:
          return {409, "illegal_transition"};  // verify_pass: its role's, not yet
        default:
          return {403, "forbidden"};  // the leader acts on nothing
      }
    case Policy::kDeviceRead:
      if (!s.scoped() || v == Variant::kOwn) return {r.ok, ""};
      if (v == Variant::kNone) return {403, "forbidden"};
      return {404, "device_not_found"};
    default:
      return {500, "unreachable"};
  }
}

class AccessMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stack_.Open().ok());
    // Pages: a static root of its own.
    static_root_ = dir_.Sub("static");
    std::filesystem::create_directories(static_root_ + "/js");
    for (const char* f : {"index.html", "report.html", "track.html", "js/app.js"})
      std::ofstream(static_root_ + "/" + f) << "<!doctype html>x";
    pages_ = std::make_unique<StaticFiles>(StaticOptions{.root = static_root_});
    ASSERT_TRUE(DistrictLocator::Parse(test::kOneDistrictMap, &districts_).ok());

    AccountsOptions opts;
    opts.scrypt.log2_n = 10;
    opts.clock = Clock([this] { return now_; });
    accounts_ = std::make_unique<Accounts>(store(), &metrics(), test::NullLogger(), opts);
    Authenticator auth = [this](const HttpRequest& r) { return accounts_->Authenticate(r); };
    api_ = std::make_unique<Api>(store(), &metrics(), accounts_.get(), test::NullLogger(),
                                 pages_.get(), disp());
    cases_ = std::make_unique<CaseApi>(disp(), auth, &metrics(), test::NullLogger());
    citizen_ = std::make_unique<CitizenApi>(disp(), store(), &districts_, &metrics(),
                                            test::NullLogger());
    open311_ = std::make_unique<Open311>(citizen_.get(), disp(), auth, &metrics(),
                                         test::NullLogger());
    router_ = std::make_unique<Router>(Router::Components{.api = api_.get(),
                                                          .cases = cases_.get(),
                                                          .citizen = citizen_.get(),
                                                          .open311 = open311_.get()},
                                       &metrics(), test::NullLogger());
    live_ = std::make_unique<LiveFeed>(disp(), store(), auth, &metrics(), test::NullLogger());
    ingest_ = std::make_unique<ingest::IngestService>(store(), ingest::IngestLimits{},
                                                      &metrics(), test::NullLogger());
    sensors_ = std::make_unique<ingest::SensorEndpoint>(ingest_.get(), &metrics(),
                                                        test::NullLogger());

    ASSERT_TRUE(CreateToken(store(), v1::TOKEN_KIND_ADMIN, "boot", "", &admin_token_).ok());
    ASSERT_TRUE(CreateToken(store(), v1::TOKEN_KIND_DEVICE, "gw", "", &device_token_).ok());
    MakeSubjects();

    // Two sensor cases being handled: A in the own district and department, B in the other's,
    // each raised by a device with readings.
    stack_.Ingest({test::GasEvent("dev-a", 1), test::GasEvent("dev-b", 1)});
    case_a_ = SensorCase("dev-a", kOwnDistrict, kOwnDepartment);
    case_b_ = SensorCase("dev-b", kOtherDistrict, kOtherDepartment);
    // Citizen data: a photo and a report with its tracking code.
    HttpResponse res = Do(Subject{}, {.method = http::verb::post,
                                      .target = "/api/v1/photos",
                                      .body = test::PngWithText(false),
                                      .content_type = "image/png"});
    ASSERT_EQ(res.result_int(), 201u) << res.body();
    photo_id_ = std::string(Json(res).at("photoId").as_string());
    res = Do(Subject{}, {.method = http::verb::post, .target = "/api/v1/reports",
                         .body = ReportBody()});
    ASSERT_EQ(res.result_int(), 201u) << res.body();
    tracking_code_ = std::string(Json(res).at("trackingCode").as_string());
    report_case_ = std::string(Json(res).at("caseId").as_string());
  }

  void TearDown() override { live_->Shutdown(); }

  store::EventStore* store() { return stack_.store.get(); }
  dispatcher::Dispatcher* disp() { return stack_.dispatcher.get(); }
  Metrics& metrics() { return stack_.metrics; }

  static json::value Json(const HttpResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body(), ec);
    return ec ? json::value() : v;
  }
  static std::string Code(const HttpResponse& r) {
    const json::value v = Json(r);
    const auto* o = v.if_object();
    const auto* e = o ? o->if_contains("error") : nullptr;
    if (!e || !e->is_object() || !e->as_object().contains("code")) return "";
    return std::string(e->as_object().at("code").as_string());
  }

  HttpRequest Request(const Subject& s, const Call& c) {
    HttpRequest req{c.method, c.target, 11};
    req.set(http::field::host, kHost);
    req.set(kPeerAddressHeader, c.peer);
    if (!c.origin.empty()) req.set(http::field::origin, c.origin);
    const std::string session = c.session.empty() ? s.session : c.session;
    const std::string csrf = c.session.empty() ? s.csrf : c.csrf;
    if (!s.bearer.empty()) req.set(http::field::authorization, "Bearer " + s.bearer);
    if (!session.empty()) req.set(http::field::cookie, std::string(kSessionCookie) + "=" + session);
    if (s.cred == Cred::kSessionCsrf && !csrf.empty()) req.set(kCsrfHeader, csrf);
    if (!c.body.empty()) {
      req.set(http::field::content_type, c.content_type);
      req.body() = c.body;
    }
    req.prepare_payload();
    return req;
  }
  HttpResponse Do(const Subject& s, const Call& c) { return router_->Handle(Request(s, c)); }

  // The status an upgrade request gets: 101 when the route takes the connection over.
  unsigned Upgrade(const Subject& s, const Call& c) {
    HttpRequest req = Request(s, c);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(http::field::sec_websocket_version, "13");
    const std::string path(SplitTarget(req.target()).first);
    if (path == "/ws/live") {
      auto d = live_->Admit(req);
      if (auto* res = std::get_if<HttpResponse>(&d)) {
        last_upgrade_code_ = Code(*res);
        return res->result_int();
      }
      return 101;
    }
    auto d = sensors_->Admit(req);
    if (auto* res = std::get_if<ingest::HttpResponse>(&d)) return res->result_int();
    return 101;
  }

  struct LoginResult {
    std::string session, csrf;
  };
  LoginResult Login(const std::string& user, const std::string& password = kPassword) {
    HttpResponse res = Do(Subject{}, {.method = http::verb::post,
                                      .target = "/api/v1/session",
                                      .body = json::serialize(json::object{
                                          {"username", user}, {"password", password}})});
    EXPECT_EQ(res.result_int(), 200u) << user << ": " << res.body();
    LoginResult out;
    const std::string cookie(res[http::field::set_cookie]);
    const std::string prefix = std::string(kSessionCookie) + "=";
    if (cookie.rfind(prefix, 0) == 0)
      out.session = cookie.substr(prefix.size(), cookie.find(';') - prefix.size());
    if (res.result_int() == 200) out.csrf = std::string(Json(res).at("csrfToken").as_string());
    return out;
  }
  Subject AdminToken() const {
    return Subject{.label = "admin token", .cred = Cred::kAdminToken, .role = v1::ROLE_ADMIN,
                   .bearer = admin_token_};
  }
  void MustEnsure(const NewUser& u) {
    std::string generated;
    Status st = accounts_->EnsureUser(u, &generated);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // A new API token of `user`: {token, id}.
  std::pair<std::string, std::string> NewApiToken(const std::string& user) {
    HttpResponse res = Do(AdminToken(), {.method = http::verb::post,
                                         .target = "/api/v1/admin/users/" + user + "/tokens"});
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    const json::value j = Json(res);
    return {std::string(j.at("token").as_string()), std::string(j.at("id").as_string())};
  }

  void MakeSubjects() {
    subjects_.push_back(Subject{.label = "anonymous"});
    subjects_.push_back(Subject{.label = "device token", .cred = Cred::kDevice,
                                .bearer = device_token_});
    subjects_.push_back(AdminToken());
    struct U {
      std::string name;
      v1::Role role;
      std::string department;
      std::vector<std::string> districts;
    };
    const std::vector<U> users = {
        {"adm", v1::ROLE_ADMIN, "", {}},
        {"disp", v1::ROLE_DISPATCHER, "", {}},
        {"sup", v1::ROLE_SUPERVISOR, "", {}},
        {"lead", v1::ROLE_LEADER, "", {}},
        {"dept", v1::ROLE_DEPARTMENT, kOwnDepartment, {}},
        {"dist", v1::ROLE_DISPATCHER, "", {kOwnDistrict}},  // a district's command centre
    };
    for (const U& u : users) {
      MustEnsure({.name = u.name, .role = u.role, .department = u.department,
                  .districts = u.districts, .password = kPassword});
      Subject base{.role = u.role, .user = u.name, .dept_scoped = !u.department.empty(),
                   .district_scoped = !u.districts.empty()};
      Subject session = base, no_csrf = base, token = base;
      const LoginResult l1 = Login(u.name);
      session.label = u.name + " session";
      session.cred = Cred::kSessionCsrf;
      session.session = l1.session;
      session.csrf = l1.csrf;
      const LoginResult l2 = Login(u.name);
      no_csrf.label = u.name + " session without CSRF token";
      no_csrf.cred = Cred::kSessionNoCsrf;
      no_csrf.session = l2.session;
      no_csrf.csrf = l2.csrf;
      token.label = u.name + " API token";
      token.cred = Cred::kApiToken;
      token.bearer = NewApiToken(u.name).first;
      subjects_.push_back(session);
      subjects_.push_back(no_csrf);
      subjects_.push_back(token);
    }
    MustEnsure({.name = "probe", .role = v1::ROLE_LEADER, .password = kPassword});
    MustEnsure({.name = "patchee", .role = v1::ROLE_LEADER, .password = kPassword});
  }

  // Files a case in `district` as a dispatcher, accepts it and transfers it to `department`.
  std::string HandlingCase(const std::string& district, const std::string& department,
                           const std::string& device = "") {
    v1::Case filing;
    filing.set_category("event:0111");
    filing.set_description("matrix");
    filing.set_district(district);
    filing.mutable_location()->set_lat(29.557);
    filing.mutable_location()->set_lon(106.577);
    // A patrol filing that names the device: the case panel's view of a sensor case (a real
    // alarm case would be routed by the system; the scope rule is the same).
    filing.set_source(v1::SOURCE_PATROL);
    filing.set_device_id(device);
    v1::CaseCommand actor;
    actor.set_actor_role(v1::ROLE_DISPATCHER);
    actor.set_actor_id("seed");
    auto out = disp()->File(filing, actor);
    EXPECT_TRUE(out.status.ok() && !out.error) << out.status.ToString();
    const std::string id = out.c.id();
    EXPECT_EQ(out.c.device_id(), device);
    for (auto action : {v1::CASE_ACTION_ACCEPT, v1::CASE_ACTION_TRANSFER}) {
      v1::CaseCommand cmd;
      cmd.set_action(action);
      cmd.set_actor_role(v1::ROLE_DISPATCHER);
      cmd.set_actor_id("seed");
      cmd.set_note("matrix");
      if (action == v1::CASE_ACTION_TRANSFER) cmd.set_department(department);
      auto o = disp()->Execute(id, cmd);
      EXPECT_TRUE(o.status.ok() && !o.error)
          << (o.error ? o.error->message : o.status.ToString());
    }
    return id;
  }
  std::string SensorCase(const std::string& device, const std::string& district,
                         const std::string& department) {
    return HandlingCase(district, department, device);
  }

  std::string ReportBody() {
    return json::serialize(json::object{
        {"category", "event:0111"},
        {"description", "路面积水"},
        {"location", json::object{{"lat", 29.5575}, {"lon", 106.577}}},
        {"noLink", true}});
  }
  // A peer address of its own per call: the citizen routes' per-address limits stay out of
  // the way.
  std::string NextPeer() { return "198.51.100." + std::to_string(++peer_ % 250 + 1); }
  std::string Unique(const std::string& prefix) { return prefix + std::to_string(++unique_); }
  // The id of a new device token (the admin device-token routes).
  std::string NewDeviceTokenId() {
    std::string token;
    EXPECT_TRUE(CreateToken(store(), v1::TOKEN_KIND_DEVICE, Unique("dev"), "", &token).ok());
    v1::TokenRecord rec;
    EXPECT_TRUE(store()->LookupToken(token, &rec).ok());
    return store::TokenId(store::TokenHash(token), rec);
  }

  std::vector<Row> Rows();

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db")};
  std::string static_root_;
  std::unique_ptr<StaticFiles> pages_;
  DistrictLocator districts_;
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::now();
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<CaseApi> cases_;
  std::unique_ptr<CitizenApi> citizen_;
  std::unique_ptr<Open311> open311_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<LiveFeed> live_;
  std::unique_ptr<ingest::IngestService> ingest_;
  std::unique_ptr<ingest::SensorEndpoint> sensors_;
  std::string admin_token_, device_token_;
  std::vector<Subject> subjects_;
  std::string case_a_, case_b_, photo_id_, tracking_code_, report_case_;
  std::string last_upgrade_code_;
  int peer_ = 0;
  int unique_ = 0;
};

std::vector<Row> AccessMatrixTest::Rows() {
  using V = Variant;
  const std::vector<V> none = {V::kNone};
  const std::vector<V> both = {V::kOwn, V::kOther};
  auto get = [](std::string target) {
    return [target](const Subject&, V) { return Call{.target = target}; };
  };
  // The ids a 200 list must show: a scoped caller sees case A and not B, others both.
  auto scoped_ids = [this](const Subject& s, const std::set<std::string>& ids) {
    EXPECT_TRUE(ids.count(case_a_)) << s.label;
    EXPECT_EQ(ids.count(case_b_), s.scoped() ? 0u : 1u) << s.label;
  };
  std::vector<Row> rows = {
      // --- accounts
      {"/api/v1/session", http::verb::post, Policy::kPublic, 200, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post, .target = "/api/v1/session",
                     .body = json::serialize(json::object{{"username", "probe"},
                                                          {"password", kPassword}})};
       }},
      {"/api/v1/session", http::verb::get, Policy::kSignedIn, 200, none, get("/api/v1/session")},
      {"/api/v1/session", http::verb::delete_, Policy::kSessionOnly, 204, none,
       [this](const Subject& s, V) {
         // A session of its own: signing out must not end the subject's.
         Call c{.method = http::verb::delete_, .target = "/api/v1/session"};
         if (!s.session.empty()) {
           const LoginResult l = Login(s.user);
           c.session = l.session;
           c.csrf = l.csrf;
         }
         return c;
       }},
      {"/api/v1/admin/users", http::verb::get, Policy::kAdmin, 200, none,
       get("/api/v1/admin/users")},
      {"/api/v1/admin/users", http::verb::post, Policy::kAdmin, 201, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post, .target = "/api/v1/admin/users",
                     .body = json::serialize(json::object{{"username", Unique("new")},
                                                          {"password", kPassword},
                                                          {"role", "leader"}})};
       }},
      {"/api/v1/admin/users/{name}", http::verb::get, Policy::kAdmin, 200, none,
       get("/api/v1/admin/users/probe")},
      {"/api/v1/admin/users/{name}", http::verb::patch, Policy::kAdmin, 200, none,
       [](const Subject&, V) {
         return Call{.method = http::verb::patch, .target = "/api/v1/admin/users/patchee",
                     .body = R"({"displayName":"patched"})"};
       }},
      {"/api/v1/admin/users/{name}", http::verb::delete_, Policy::kAdmin, 204, none,
       [this](const Subject&, V) {
         const std::string victim = Unique("victim");
         MustEnsure({.name = victim, .role = v1::ROLE_LEADER, .password = kPassword});
         return Call{.method = http::verb::delete_, .target = "/api/v1/admin/users/" + victim};
       }},
      {"/api/v1/admin/users/{name}/tokens", http::verb::get, Policy::kAdmin, 200, none,
       get("/api/v1/admin/users/probe/tokens")},
      {"/api/v1/admin/users/{name}/tokens", http::verb::post, Policy::kAdmin, 201, none,
       [this](const Subject&, V) {
         const std::string victim = Unique("holder");
         MustEnsure({.name = victim, .role = v1::ROLE_LEADER, .password = kPassword});
         return Call{.method = http::verb::post,
                     .target = "/api/v1/admin/users/" + victim + "/tokens"};
       }},
      {"/api/v1/admin/users/{name}/tokens/{id}", http::verb::delete_, Policy::kAdmin, 204, none,
       [this](const Subject&, V) {
         const std::string victim = Unique("holder");
         MustEnsure({.name = victim, .role = v1::ROLE_LEADER, .password = kPassword});
         const std::string id = NewApiToken(victim).second;
         return Call{.method = http::verb::delete_,
                     .target = "/api/v1/admin/users/" + victim + "/tokens/" + id};
       }},
      // --- health, metrics, devices
      {"/healthz", http::verb::get, Policy::kPublic, 200, none, get("/healthz")},
      {"/metrics", http::verb::get, Policy::kPublic, 200, none, get("/metrics")},
      {"/api/v1/admin/device-tokens", http::verb::get, Policy::kAdmin, 200, none,
       get("/api/v1/admin/device-tokens")},
      {"/api/v1/admin/device-tokens", http::verb::post, Policy::kAdmin, 201, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post, .target = "/api/v1/admin/device-tokens",
                     .body = json::serialize(json::object{{"name", Unique("gw")},
                                                          {"devicePrefix", "gw2-"}})};
       }},
      {"/api/v1/admin/device-tokens/{id}", http::verb::delete_, Policy::kAdmin, 204, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::delete_,
                     .target = "/api/v1/admin/device-tokens/" + NewDeviceTokenId()};
       }},
      {"/api/v1/admin/device-tokens/{id}/rotate", http::verb::post, Policy::kAdmin, 200, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post,
                     .target = "/api/v1/admin/device-tokens/" + NewDeviceTokenId() + "/rotate"};
       }},
  };
  for (const std::string suffix : {"", "/events"}) {
    rows.push_back(
        {"/api/v1/devices/{id}" + suffix, http::verb::get, Policy::kDeviceRead, 200,
         {V::kNone, V::kOwn, V::kOther},
         [this, suffix](const Subject&, V v) {
           // kNone: no case named; kOwn: dev-a through case A; kOther: dev-b through case B.
           if (v == V::kNone) return Call{.target = "/api/v1/devices/dev-a" + suffix};
           const bool own = v == V::kOwn;
           return Call{.target = std::string("/api/v1/devices/") + (own ? "dev-a" : "dev-b") +
                                 suffix + "?case=" + (own ? case_a_ : case_b_)};
         }});
  }
  // A scoped caller naming its own case for another device gets nothing either.
  rows.push_back({"/api/v1/devices/{id}", http::verb::get, Policy::kDeviceRead, 200, {V::kOther},
                  [this](const Subject&, V) {
                    return Call{.target = "/api/v1/devices/dev-b?case=" + case_a_};
                  }});
  std::vector<Row> more = {
      // --- cases
      {"/api/v1/ui-config", http::verb::get, Policy::kPublic, 200, none, get("/api/v1/ui-config")},
      {"/api/v1/cases", http::verb::get, Policy::kOperator, 200, none,
       get("/api/v1/cases?limit=1000"),
       [scoped_ids](const Subject& s, const HttpResponse& res) {
         std::set<std::string> ids;
         const json::value j = json::parse(res.body());  // kept: the loop refers into it
         for (const auto& c : j.at("cases").as_array())
           ids.emplace(c.at("id").as_string());
         scoped_ids(s, ids);
       }},
      {"/api/v1/cases", http::verb::post, Policy::kCaseFile, 201, both,
       [](const Subject&, V v) {
         return Call{.method = http::verb::post, .target = "/api/v1/cases",
                     .body = json::serialize(json::object{
                         {"category", "event:0111"},
                         {"description", "matrix"},
                         {"district", v == V::kOwn ? kOwnDistrict : kOtherDistrict},
                         {"location", json::object{{"lat", 29.557}, {"lon", 106.577}}}})};
       }},
      {"/api/v1/cases/points", http::verb::get, Policy::kOperator, 200, none,
       get("/api/v1/cases/points"),
       [scoped_ids](const Subject& s, const HttpResponse& res) {
         std::set<std::string> ids;
         const json::value j = json::parse(res.body());
         for (const auto& p : j.at("points").as_array())
           ids.emplace(p.as_array().at(0).as_string());
         scoped_ids(s, ids);
       }},
      {"/api/v1/cases/{id}", http::verb::get, Policy::kCaseRead, 200, both,
       [this](const Subject&, V v) {
         return Call{.target = "/api/v1/cases/" + (v == V::kOwn ? case_a_ : case_b_)};
       }},
      {"/api/v1/cases/{id}/transitions", http::verb::post, Policy::kCaseAct, 200, both,
       [this](const Subject& s, V v) {
         // A fresh case being handled; each role tries an action of its kind.
         const std::string id = v == V::kOwn ? HandlingCase(kOwnDistrict, kOwnDepartment)
                                             : HandlingCase(kOtherDistrict, kOtherDepartment);
         std::string body = R"({"action":"park","note":"matrix"})";
         if (s.role == v1::ROLE_DEPARTMENT)
           body = R"({"action":"request_extension","extensionSeconds":3600,"note":"matrix"})";
         if (s.role == v1::ROLE_SUPERVISOR) body = R"({"action":"verify_pass","note":"matrix"})";
         return Call{.method = http::verb::post,
                     .target = "/api/v1/cases/" + id + "/transitions",
                     .body = body};
       }},
      {"/api/v1/stats", http::verb::get, Policy::kOperator, 200, none, get("/api/v1/stats")},
      // --- citizens
      {"/api/v1/photos", http::verb::post, Policy::kPublic, 201, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post, .target = "/api/v1/photos",
                     .body = test::PngWithText(false), .content_type = "image/png",
                     .peer = NextPeer()};
       }},
      {"/api/v1/photos/{id}", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) { return Call{.target = "/api/v1/photos/" + photo_id_}; }},
      {"/api/v1/reports", http::verb::post, Policy::kPublic, 201, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post, .target = "/api/v1/reports",
                     .body = ReportBody(), .peer = NextPeer()};
       }},
      // Cases A and B (patrol cases of the same category, right there) are not public: only
      // citizens' reports are offered, whoever asks.
      {"/api/v1/reports/nearby", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) {
         // Nearer to A and B (29.557) than to the reports (29.5575).
         return Call{.target = "/api/v1/reports/nearby?category=event:0111&lat=29.5565&lon=106.577",
                     .peer = NextPeer()};
       },
       [this](const Subject& s, const HttpResponse& res) {
         std::set<std::string> ids;
         const json::value j = Json(res);
         for (const auto& c : j.at("cases").as_array()) ids.emplace(c.at("id").as_string());
         EXPECT_TRUE(ids.count(report_case_) || ids.size() == kMaxNearbyCases) << s.label;
         EXPECT_FALSE(ids.count(case_a_) || ids.count(case_b_)) << s.label;
       }},
      {"/api/v1/track/{code}", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) {
         return Call{.target = "/api/v1/track/" + tracking_code_, .peer = NextPeer()};
       }},
      // Anyone holding the code may rate; this case is open, so everyone gets the same 409.
      {"/api/v1/track/{code}/rating", http::verb::post, Policy::kPublic, 409, none,
       [this](const Subject&, V) {
         return Call{.method = http::verb::post,
                     .target = "/api/v1/track/" + tracking_code_ + "/rating",
                     .body = R"({"stars":5,"fixed":true})", .peer = NextPeer()};
       }},
      // --- Open311
      {"/open311/v2/discovery.{format}", http::verb::get, Policy::kPublic, 200, none,
       get("/open311/v2/discovery.json")},
      {"/open311/v2/services.{format}", http::verb::get, Policy::kPublic, 200, none,
       get("/open311/v2/services.xml")},
      {"/open311/v2/services/{code}.{format}", http::verb::get, Policy::kPublic, 200, none,
       get("/open311/v2/services/0101.json")},
      {"/open311/v2/requests.{format}", http::verb::get, Policy::kPublic, 200, none,
       get("/open311/v2/requests.json")},
      {"/open311/v2/requests.{format}", http::verb::post, Policy::kApiKey, 201, none,
       [](const Subject& s, V) {
         std::string body = "service_code=event%3A0111&lat=29.5575&long=106.577&description=x";
         if (!s.bearer.empty()) body += "&api_key=" + s.bearer;
         return Call{.method = http::verb::post, .target = "/open311/v2/requests.json",
                     .body = body, .content_type = "application/x-www-form-urlencoded"};
       }},
      {"/open311/v2/requests/{id}.{format}", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) {
         return Call{.target = "/open311/v2/requests/" + report_case_ + ".json"};
       }},
      {"/open311/v2/tokens/{token}.{format}", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) {
         return Call{.target = "/open311/v2/tokens/" + tracking_code_ + ".json",
                     .peer = NextPeer()};
       }},
      // --- pages
      {"/", http::verb::get, Policy::kPublic, 200, none, get("/")},
      {"/report", http::verb::get, Policy::kPublic, 200, none, get("/report")},
      {"/track", http::verb::get, Policy::kPublic, 200, none, get("/track")},
      {"/track/{code}", http::verb::get, Policy::kPublic, 200, none,
       [this](const Subject&, V) { return Call{.target = "/track/" + tracking_code_}; }},
      {"/static/{path*}", http::verb::get, Policy::kPublic, 200, none, get("/static/js/app.js")},
      // --- WebSocket upgrades
      {"/ws/sensors", http::verb::get, Policy::kDeviceToken, 101, none, get("/ws/sensors")},
      {"/ws/live", http::verb::get, Policy::kLiveFeed, 101, none,
       [](const Subject&, V) {
         return Call{.target = "/ws/live", .origin = std::string("http://") + kHost};
       }},
  };
  rows.insert(rows.end(), more.begin(), more.end());
  return rows;
}

std::set<std::string> Methods(std::string_view allow) {
  std::set<std::string> out;
  while (!allow.empty()) {
    const size_t comma = allow.find(',');
    std::string_view m = allow.substr(0, comma);
    while (!m.empty() && m.front() == ' ') m.remove_prefix(1);
    out.emplace(m);
    allow = comma == std::string_view::npos ? std::string_view{} : allow.substr(comma + 1);
  }
  return out;
}

// The test's rows are the routing table's: same patterns, same methods (HEAD goes with GET).
TEST_F(AccessMatrixTest, EveryRouteHasAPolicyRow) {
  std::map<std::string, std::set<std::string>> table, tested;
  for (const Route& r : Routes()) {
    ASSERT_FALSE(table.count(std::string(r.pattern))) << "listed twice: " << r.pattern;
    table[std::string(r.pattern)] = Methods(r.allow);
  }
  for (const Row& row : Rows()) {
    auto& m = tested[row.pattern];
    m.emplace(http::to_string(row.method));
    if (row.method == http::verb::get && row.policy != Policy::kDeviceToken &&
        row.policy != Policy::kLiveFeed)
      m.emplace("HEAD");
  }
  EXPECT_EQ(tested, table) << "a route without a policy row (or a row without a route): add "
                              "it to docs/api.md's access policy and to this test";
}

// Every row x every caller x own/other: the exact status (and error code) of the table.
TEST_F(AccessMatrixTest, EveryRouteEveryCallerGetsWhatThePolicySays) {
  size_t checked = 0;
  for (const Row& row : Rows()) {
    for (const Subject& s : subjects_) {
      for (Variant v : row.variants) {
        const Call call = row.make(s, v);
        const Want want = Expected(row, s, v);
        const std::string what = std::string(http::to_string(row.method)) + " " + call.target +
                                 " [" + VariantName(v) + "] as " + s.label;
        const Route* route = FindRoute(SplitTarget(call.target).first);
        ASSERT_NE(route, nullptr) << what;
        ASSERT_EQ(route->pattern, row.pattern) << what;
        ++checked;
        if (row.policy == Policy::kDeviceToken || row.policy == Policy::kLiveFeed) {
          EXPECT_EQ(Upgrade(s, call), want.status) << what;
          continue;
        }
        Call c = call;
        c.method = row.method;
        HttpResponse res = Do(s, c);
        EXPECT_EQ(res.result_int(), want.status) << what << ": " << res.body();
        if (!want.code.empty()) {
          EXPECT_EQ(Code(res), want.code) << what;
        }
        if (res.result_int() == 401) {
          EXPECT_EQ(res[http::field::www_authenticate], "Bearer") << what;
        }
        if (row.check && res.result_int() == row.ok) row.check(s, res);
      }
    }
  }
  EXPECT_GT(checked, 900u);
}

// 附议 (POST /api/v1/reports with supportCaseId) is as public as the report itself: any caller,
// credentials or none, may support the public citizen report from close by, and none may
// support a case that is not public (A: a patrol case right there) or one that does not exist;
// those two get the same answer.
TEST_F(AccessMatrixTest, SupportIsForAnyCallerOnPublicCitizenCasesOnly) {
  auto support = [&](const Subject& s, const std::string& id) {
    return Do(s, {.method = http::verb::post, .target = "/api/v1/reports",
                  .body = json::serialize(json::object{
                      {"category", "event:0111"},
                      {"description", "这里也积水"},
                      {"location", json::object{{"lat", 29.5576}, {"lon", 106.577}}},
                      {"supportCaseId", id}}),
                  .peer = NextPeer()});
  };
  for (const Subject& s : subjects_) {
    HttpResponse res = support(s, report_case_);
    ASSERT_EQ(res.result_int(), 201u) << s.label << ": " << res.body();
    EXPECT_TRUE(Json(res).at("linked").as_bool()) << s.label;
    EXPECT_EQ(Json(res).at("caseId").as_string(), report_case_) << s.label;
    HttpResponse hidden = support(s, case_a_);
    EXPECT_EQ(hidden.result_int(), 400u) << s.label << ": " << hidden.body();
    EXPECT_EQ(Code(hidden), "support_case_unavailable") << s.label;
    EXPECT_EQ(hidden.body(), support(s, "YW20991231000001").body()) << s.label;
  }
  v1::Case a;
  ASSERT_TRUE(disp()->GetCase(case_a_, &a).ok());
  EXPECT_EQ(a.reporters_size(), 0);
}

// Methods a route does not take: 405 with the table's Allow, whoever asks.
TEST_F(AccessMatrixTest, OtherMethodsAre405WithTheTablesAllow) {
  std::map<std::string, const Row*> first;
  for (const Row& row : Rows()) first.emplace(row.pattern, nullptr);
  const std::vector<Row> rows = Rows();
  for (const Row& row : rows)
    if (!first[row.pattern]) first[row.pattern] = &row;
  for (const Route& route : Routes()) {
    if (route.owner == RouteOwner::kIngest || route.owner == RouteOwner::kLiveFeed) continue;
    const Row* row = first.at(std::string(route.pattern));
    const Call call = row->make(AdminToken(), row->variants.front());
    const std::set<std::string> allowed = Methods(route.allow);
    for (http::verb m : {http::verb::get, http::verb::head, http::verb::post, http::verb::put,
                         http::verb::patch, http::verb::delete_}) {
      if (allowed.count(std::string(http::to_string(m)))) continue;
      Call c = call;
      c.method = m;
      HttpResponse res = Do(AdminToken(), c);
      EXPECT_EQ(res.result_int(), 405u) << http::to_string(m) << " " << call.target;
      EXPECT_EQ(res[http::field::allow], route.allow) << http::to_string(m) << " " << call.target;
    }
  }
  // A plain GET of a WebSocket endpoint is told to upgrade; an unlisted path is 404.
  HttpResponse res = Do(AdminToken(), {.target = "/ws/live"});
  EXPECT_EQ(res.result_int(), 426u);
  EXPECT_EQ(Code(res), "upgrade_required");
  for (const char* path : {"/api/v1/nope", "/api/v1/cases/a/b", "/api/v1/track/", "/x",
                           "/api/v1/admin/users/a/b/c/d"}) {
    res = Do(AdminToken(), {.target = path});
    EXPECT_EQ(res.result_int(), 404u) << path;
    EXPECT_EQ(Code(res), "not_found") << path;
  }
  res = Do(AdminToken(), {.target = "/open311/v2/nope.xml"});
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_NE(res.body().find("<errors><error><code>404</code>"), std::string::npos);
}

// /ws/live messages: who receives which (case and escalation updates scoped like the case API,
// alarms to every operator in the district scope but department staff).
TEST_F(AccessMatrixTest, LiveFeedMessagesFollowTheScope) {
  auto update = [](v1::LiveUpdate::Kind kind, std::string district, std::string department) {
    v1::LiveUpdate u;
    u.set_kind(kind);
    u.mutable_case_summary()->set_district(district);
    u.mutable_case_summary()->set_department(department);
    if (kind == v1::LiveUpdate::KIND_ALARM) u.mutable_alarm()->set_district(district);
    return u;
  };
  struct P {
    std::string label;
    Principal p;
  };
  auto principal = [](v1::Role role, std::string dept, std::vector<std::string> districts) {
    Principal p;
    p.role = role;
    p.department = std::move(dept);
    p.districts = std::move(districts);
    return p;
  };
  const std::vector<P> principals = {
      {"admin", principal(v1::ROLE_ADMIN, "", {})},
      {"dispatcher", principal(v1::ROLE_DISPATCHER, "", {})},
      {"supervisor", principal(v1::ROLE_SUPERVISOR, "", {})},
      {"leader", principal(v1::ROLE_LEADER, "", {})},
      {"department", principal(v1::ROLE_DEPARTMENT, kOwnDepartment, {})},
      {"district", principal(v1::ROLE_DISPATCHER, "", {kOwnDistrict})},
      {"citizen", principal(v1::ROLE_CITIZEN, "", {})},
  };
  for (const auto& [label, p] : principals) {
    const bool dept = p.role == v1::ROLE_DEPARTMENT;
    const bool scoped = dept || !p.districts.empty();
    const bool op = p.role != v1::ROLE_CITIZEN;
    for (auto kind : {v1::LiveUpdate::KIND_CASE, v1::LiveUpdate::KIND_ESCALATION}) {
      EXPECT_EQ(LiveFeed::Visible(p, update(kind, kOwnDistrict, kOwnDepartment)), op) << label;
      EXPECT_EQ(LiveFeed::Visible(p, update(kind, kOtherDistrict, kOtherDepartment)),
                op && !scoped)
          << label;
      // Another department's case in the own district: district staff yes, department no.
      EXPECT_EQ(LiveFeed::Visible(p, update(kind, kOwnDistrict, kOtherDepartment)), op && !dept)
          << label;
    }
    EXPECT_EQ(LiveFeed::Visible(p, update(v1::LiveUpdate::KIND_ALARM, kOwnDistrict, "")),
              op && !dept)
        << label;
    EXPECT_EQ(LiveFeed::Visible(p, update(v1::LiveUpdate::KIND_ALARM, kOtherDistrict, "")),
              op && !scoped)
        << label;
  }
}

// Credentials that are wrong, revoked or expired get 401 everywhere they are asked for.
TEST_F(AccessMatrixTest, ExpiredRevokedAndWrongCredentialsAre401) {
  const Call cases{.target = "/api/v1/cases"};
  const Call live{.target = "/ws/live"};
  auto refused = [&](const Subject& s, const std::string& what) {
    HttpResponse res = Do(s, cases);
    EXPECT_EQ(res.result_int(), 401u) << what << ": " << res.body();
    EXPECT_EQ(Code(res), "unauthorized") << what;
    EXPECT_EQ(Upgrade(s, live), 401u) << what;
  };
  // Wrong: an unknown token of each kind, a malformed header, an unknown session id.
  for (const char* token : {"ywa_nope", "ywu_nope", "ywd_nope", "", "x"})
    refused(Subject{.label = "bearer", .bearer = token}, std::string("bearer ") + token);
  HttpRequest basic{http::verb::get, "/api/v1/cases", 11};
  basic.set(http::field::authorization, "Basic YWRtOmFkbQ==");
  EXPECT_EQ(router_->Handle(basic).result_int(), 401u);
  const Subject unknown_session{.label = "unknown session", .cred = Cred::kSessionCsrf,
                                .session = std::string(43, 'A')};
  HttpResponse res = Do(unknown_session, cases);
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_NE(std::string(res[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
  refused(Subject{.label = "short session", .cred = Cred::kSessionCsrf, .session = "abc"},
          "short session id");

  // Revoked: an API token revoked by an admin; a session after sign-out; a device token
  // marked revoked (also on the sensor endpoint).
  MustEnsure({.name = "rev", .role = v1::ROLE_DISPATCHER, .password = kPassword});
  const auto [token, id] = NewApiToken("rev");
  const Subject api{.label = "rev token", .cred = Cred::kApiToken, .role = v1::ROLE_DISPATCHER,
                    .bearer = token};
  EXPECT_EQ(Do(api, cases).result_int(), 200u);
  EXPECT_EQ(Do(AdminToken(), {.method = http::verb::delete_,
                              .target = "/api/v1/admin/users/rev/tokens/" + id})
                .result_int(),
            204u);
  refused(api, "revoked API token");
  const LoginResult l = Login("rev");
  const Subject session{.label = "rev session", .cred = Cred::kSessionCsrf,
                        .role = v1::ROLE_DISPATCHER, .session = l.session, .csrf = l.csrf};
  EXPECT_EQ(Do(session, cases).result_int(), 200u);
  EXPECT_EQ(Do(session, {.method = http::verb::delete_, .target = "/api/v1/session"})
                .result_int(),
            204u);
  refused(session, "signed-out session");
  std::string device;
  ASSERT_TRUE(CreateToken(store(), v1::TOKEN_KIND_DEVICE, "gone", "", &device).ok());
  const Subject dev{.label = "device", .cred = Cred::kDevice, .bearer = device};
  EXPECT_EQ(Upgrade(dev, {.target = "/ws/sensors"}), 101u);
  v1::TokenRecord rec;
  ASSERT_TRUE(store()->LookupToken(device, &rec).ok());
  rec.set_revoked(true);
  ASSERT_TRUE(store()->PutToken(device, rec).ok());
  EXPECT_EQ(Upgrade(dev, {.target = "/ws/sensors"}), 401u);
  refused(dev, "revoked device token");
  EXPECT_EQ(Upgrade(Subject{.bearer = "ywd_nope"}, {.target = "/ws/sensors"}), 401u);
  EXPECT_EQ(Upgrade(AdminToken(), {.target = "/ws/sensors"}), 401u);

  // A disabled user's token and session; a deleted user's token.
  MustEnsure({.name = "off", .role = v1::ROLE_LEADER, .password = kPassword});
  const Subject off_token{.label = "off", .cred = Cred::kApiToken, .bearer = NewApiToken("off").first};
  const LoginResult lo = Login("off");
  const Subject off_session{.label = "off session", .cred = Cred::kSessionCsrf,
                            .session = lo.session, .csrf = lo.csrf};
  EXPECT_EQ(Do(AdminToken(), {.method = http::verb::patch, .target = "/api/v1/admin/users/off",
                              .body = R"({"disabled":true})"})
                .result_int(),
            200u);
  refused(off_token, "disabled user's token");
  refused(off_session, "disabled user's session");
  MustEnsure({.name = "del", .role = v1::ROLE_LEADER, .password = kPassword});
  const Subject del_token{.label = "del", .cred = Cred::kApiToken, .bearer = NewApiToken("del").first};
  EXPECT_EQ(Do(AdminToken(), {.method = http::verb::delete_, .target = "/api/v1/admin/users/del"})
                .result_int(),
            204u);
  refused(del_token, "deleted user's token");

  // Expired: a session idle beyond 12 h, and one past its 7-day lifetime though used twice a
  // day.
  const LoginResult idle = Login("probe");
  const LoginResult old = Login("probe");
  const Subject idle_s{.label = "idle", .cred = Cred::kSessionCsrf, .session = idle.session,
                       .csrf = idle.csrf};
  const Subject old_s{.label = "old", .cred = Cred::kSessionCsrf, .session = old.session,
                      .csrf = old.csrf};
  for (int i = 1; i <= 15; ++i) {  // 15 x 11 h = 165 h < 7 days
    now_ += 11h;
    EXPECT_EQ(Do(old_s, {.target = "/api/v1/session"}).result_int(), 200u) << i;
    if (i == 2) refused(idle_s, "idle session");
  }
  now_ += 11h;  // 176 h since sign-in, 11 h since last use
  refused(old_s, "session past its lifetime");
}

// A signed-in browser's changes need the session's own CSRF token: missing, wrong or another
// session's is 403 csrf_failed; reads need none.
TEST_F(AccessMatrixTest, CsrfTokenMustBeTheSessionsOwn) {
  const LoginResult a = Login("disp");
  const LoginResult b = Login("disp");
  Subject s{.label = "disp", .cred = Cred::kSessionCsrf, .role = v1::ROLE_DISPATCHER,
            .session = a.session};
  const Call file{.method = http::verb::post, .target = "/api/v1/cases",
                  .body = R"({"category":"event:0111","description":"x","district":"500103",)"
                          R"("location":{"lat":29.557,"lon":106.577}})"};
  for (const std::string& csrf : {std::string(), std::string("nope"), b.csrf,
                                  a.csrf.substr(0, a.csrf.size() - 1)}) {
    s.csrf = csrf;
    HttpResponse res = Do(s, file);
    EXPECT_EQ(res.result_int(), 403u) << "'" << csrf << "'";
    EXPECT_EQ(Code(res), "csrf_failed");
  }
  s.csrf = a.csrf;
  EXPECT_EQ(Do(s, file).result_int(), 201u);
  s.csrf.clear();
  EXPECT_EQ(Do(s, {.target = "/api/v1/cases"}).result_int(), 200u);
}

// /ws/live takes pages of this server only: a foreign Origin is 403 bad_origin even with valid
// credentials; no Origin (not a browser) is fine.
TEST_F(AccessMatrixTest, LiveFeedChecksTheOrigin) {
  const Subject& s = subjects_.at(3);  // the admin user's session
  ASSERT_EQ(s.cred, Cred::kSessionCsrf);
  for (const std::string origin :
       {"http://evil.example", "null", "http://127.0.0.1:8081", "https://127.0.0.1:8080.evil",
        "127.0.0.1:8080"}) {
    EXPECT_EQ(Upgrade(s, {.target = "/ws/live", .origin = origin}), 403u) << origin;
    EXPECT_EQ(last_upgrade_code_, "bad_origin") << origin;
  }
  EXPECT_EQ(Upgrade(s, {.target = "/ws/live", .origin = std::string("http://") + kHost}), 101u);
  EXPECT_EQ(Upgrade(s, {.target = "/ws/live"}), 101u);
  // The origin is judged before the credentials: a foreign page learns nothing about them.
  EXPECT_EQ(Upgrade(Subject{}, {.target = "/ws/live", .origin = "http://evil.example"}), 403u);
}

// Finding 9c: the Origin check compared the host only, so an https:// page was taken by a plain
// HTTP deployment (and an http:// page, which anyone on the network path can forge, by an
// HTTPS one). Scheme, host and port must all be the server's.
TEST_F(AccessMatrixTest, Finding9cLiveFeedOriginNeedsTheServersScheme) {
  const Subject& s = subjects_.at(3);  // the admin user's session
  const std::string host = kHost;
  for (const std::string& origin :
       {"https://" + host, "ws://" + host, "wss://" + host, "ftp://" + host, "http://" + host + "/",
        std::string("http://127.0.0.1"), "http://user@" + host}) {
    EXPECT_EQ(Upgrade(s, {.target = "/ws/live", .origin = origin}), 403u) << origin;
    EXPECT_EQ(last_upgrade_code_, "bad_origin") << origin;
  }
  EXPECT_EQ(Upgrade(s, {.target = "/ws/live", .origin = std::string("HTTP://") + kHost}), 101u);
}

// SameOrigin itself, for both deployments: the scheme is the server's, a missing port is the
// scheme's default on either side, host names compare without case.
TEST(LiveFeedOriginTest, Finding9cSchemeHostAndPortAreCompared) {
  struct Case {
    const char* host;
    const char* origin;
    bool https;
    bool same;
  };
  for (const Case& c : {Case{"example.org", "https://example.org", true, true},
                        Case{"example.org:443", "https://example.org", true, true},
                        Case{"example.org", "https://Example.ORG:443", true, true},
                        Case{"example.org", "http://example.org", true, false},
                        Case{"example.org:443", "http://example.org:443", true, false},
                        Case{"example.org", "https://example.org:8443", true, false},
                        Case{"example.org", "https://example.org.evil", true, false},
                        Case{"example.org", "null", true, false},
                        Case{"example.org", "http://example.org", false, true},
                        Case{"example.org:80", "http://example.org", false, true},
                        Case{"example.org", "https://example.org", false, false},
                        Case{"example.org:8080", "http://example.org:8080", false, true},
                        Case{"example.org:8080", "http://example.org:8081", false, false},
                        Case{"[::1]:8080", "http://[::1]:8080", false, true},
                        Case{"[::1]:8080", "http://[::1]", false, false},
                        Case{"", "http://example.org", false, false},
                        Case{"example.org:x", "http://example.org:x", false, false}}) {
    HttpRequest req{http::verb::get, "/ws/live", 11};
    if (*c.host) req.set(http::field::host, c.host);
    req.set(http::field::origin, c.origin);
    EXPECT_EQ(SameOrigin(req, c.https), c.same) << c.host << " " << c.origin << " " << c.https;
  }
  HttpRequest no_origin{http::verb::get, "/ws/live", 11};
  no_origin.set(http::field::host, "example.org");
  EXPECT_TRUE(SameOrigin(no_origin, true));
}

// Failed sign-ins are throttled per (user name, client address) (5) and per client address (20)
// for 15 minutes, the right password included; the window's end lifts it. Failures from other
// addresses only slow a name (one attempt a second): they never lock its owner out.
TEST_F(AccessMatrixTest, LoginThrottle) {
  auto login = [&](const std::string& user, const std::string& password,
                   const std::string& peer) {
    return Do(Subject{}, {.method = http::verb::post, .target = "/api/v1/session",
                          .body = json::serialize(json::object{{"username", user},
                                                               {"password", password}}),
                          .peer = peer});
  };
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(login("lead", "wrong password", "203.0.113.1").result_int(), 401u);
  HttpResponse res = login("lead", kPassword, "203.0.113.1");
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_EQ(Code(res), "too_many_attempts");
  EXPECT_FALSE(res[http::field::retry_after].empty());
  EXPECT_EQ(login("lead", kPassword, "203.0.113.99").result_int(), 200u);
  // Another user from the same addresses is not affected...
  EXPECT_EQ(login("sup", kPassword, "203.0.113.1").result_int(), 200u);
  // ...until one address fails 20 times, whatever the names.
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(login("nobody" + std::to_string(i), "wrong password", "203.0.113.50").result_int(),
              401u);
  EXPECT_EQ(login("sup", kPassword, "203.0.113.50").result_int(), 429u);
  EXPECT_EQ(login("sup", kPassword, "203.0.113.51").result_int(), 200u);
  now_ += 16min;
  EXPECT_EQ(login("lead", kPassword, "203.0.113.50").result_int(), 200u);
}

}  // namespace
}  // namespace yiwang::web
