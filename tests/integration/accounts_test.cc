// Integration: operator accounts through the real `yiwang serve` (production scrypt parameters,
// the server's own peer-address header): sign-in, cookie, CSRF, logout, the login throttle
// against a client that forges its address, and `serve --demo`'s seeded users.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/test_server.h"

namespace yiwang {
namespace {

using test::Http;
using test::HttpReply;

class AccountsServerTest : public ::testing::Test {
 protected:
  void Start(const std::vector<std::string>& args = {}) {
    const Status s = server_.Start(args);
    ASSERT_TRUE(s.ok()) << s.ToString();
    admin_ = server_.admin();
  }
  std::string DataDir() const { return server_.DataDir(); }
  uint16_t port() const { return server_.port(); }

  HttpReply Login(const std::string& user, const std::string& password,
                  const test::HeaderList& extra = {}) {
    test::HeaderList h{{"Content-Type", "application/json"}};
    h.insert(h.end(), extra.begin(), extra.end());
    return Http(port(), "POST", "/api/v1/session", h,
                boost::json::serialize(
                    boost::json::object{{"username", user}, {"password", password}}));
  }
  // The session id of a Set-Cookie header ("" if none).
  static std::string SessionId(const HttpReply& r) {
    std::smatch m;
    const std::string cookie = r.Header("set-cookie");
    static const std::regex kId("^yiwang_session=([A-Za-z0-9_-]+);");
    return std::regex_search(cookie, m, kId) ? m[1].str() : std::string();
  }
  static std::string ErrorCode(const HttpReply& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("error")) return "(none)";
    return std::string(v.at("error").at("code").as_string());
  }
  double Metric(const std::string& series) { return server_.Metric(series); }

  test::TestServer server_;
  std::string admin_;
};

TEST_F(AccountsServerTest, SignInCsrfAndSignOutOverTheWire) {
  Start();
  HttpReply r = test::HttpPost(
      port(), "/api/v1/admin/users", admin_,
      R"({"username":"ops","displayName":"运维","password":"correct horse battery","role":"admin"})");
  ASSERT_EQ(r.status, 201) << r.error << r.body;
  EXPECT_EQ(r.body.find("dk"), std::string::npos);

  r = Login("ops", "correct horse battery");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string cookie = r.Header("set-cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Path=/"), std::string::npos) << cookie;
  const std::string id = SessionId(r);
  ASSERT_EQ(id.size(), 43u) << cookie;
  const std::string csrf(boost::json::parse(r.body).at("csrfToken").as_string());
  const test::HeaderList with_cookie{{"Cookie", "yiwang_session=" + id}};

  r = Http(port(), "GET", "/api/v1/session", with_cookie);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(boost::json::parse(r.body).at("user").at("role").as_string(), "admin");

  // A state-changing request with the cookie needs the CSRF token.
  const std::string body = R"({"name":"gw","devicePrefix":"cq-"})";
  test::HeaderList post{{"Cookie", "yiwang_session=" + id}, {"Content-Type", "application/json"}};
  r = Http(port(), "POST", "/api/v1/admin/device-tokens", post, body);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCode(r), "csrf_failed");
  post.emplace_back("X-CSRF-Token", csrf);
  r = Http(port(), "POST", "/api/v1/admin/device-tokens", post, body);
  EXPECT_EQ(r.status, 201) << r.body;
  // The bootstrap admin token still works as before, without any CSRF token.
  EXPECT_FALSE(server_.DeviceToken("gw2", "cq-").empty());

  // Sign out: the cookie is cleared and the session is gone.
  r = Http(port(), "DELETE", "/api/v1/session",
           {{"Cookie", "yiwang_session=" + id}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_NE(r.Header("set-cookie").find("Max-Age=0"), std::string::npos);
  r = Http(port(), "GET", "/api/v1/session", with_cookie);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "unauthorized");

  EXPECT_EQ(Metric("yiwang_http_errors_total{code=\"csrf_failed\"}"), 1);

  // The sessions survive a restart (they are in RocksDB), and so do the users.
  r = Login("ops", "correct horse battery");
  const std::string id2 = SessionId(r);
  ASSERT_FALSE(id2.empty());
  EXPECT_EQ(Metric("yiwang_auth_logins_total{result=\"ok\"}"), 2);
  EXPECT_EQ(Metric("yiwang_auth_password_hash_seconds_count"), 2);
  ASSERT_TRUE(server_.process().Stop(SIGTERM).exited);
  Start();
  r = Http(port(), "GET", "/api/v1/session", {{"Cookie", "yiwang_session=" + id2}});
  EXPECT_EQ(r.status, 200) << r.body;
}

// The throttle keys on the address the server saw, not on a header the client made up.
TEST_F(AccountsServerTest, ThrottleIgnoresAForgedPeerHeader) {
  Start();
  ASSERT_EQ(test::HttpPost(port(), "/api/v1/admin/users", admin_,
                           R"({"username":"li","password":"correct horse battery","role":"leader"})")
                .status,
            201);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    HttpReply r = Login("guess" + std::to_string(i), "wrong password",
                        {{"X-Yiwang-Peer", "10.0.0." + std::to_string(i)}});
    ASSERT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_credentials");
  }
  const double per_attempt =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20;
  HttpReply r = Login("li", "correct horse battery", {{"X-Yiwang-Peer", "10.9.9.9"}});
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(ErrorCode(r), "too_many_attempts");
  EXPECT_GT(std::stoi(r.Header("retry-after")), 0);
  EXPECT_EQ(Metric("yiwang_http_errors_total{code=\"too_many_attempts\"}"), 1);
  // The production hash (N=2^15, r=8, p=1) is deliberately slow: report what it costs here.
  const double hashes = Metric("yiwang_auth_password_hash_seconds_count");
  const double sum = Metric("yiwang_auth_password_hash_seconds_sum");
  ASSERT_GT(hashes, 0);
  std::cout << "scrypt N=2^15 r=8 p=1: " << 1000 * sum / hashes << " ms per hash; "
            << 1000 * per_attempt << " ms per failed sign-in over HTTP\n";
  EXPECT_GT(sum / hashes, 0.005);  // a hash that takes no time is not the configured one
}

TEST_F(AccountsServerTest, DemoSeedsOneUserPerRoleWithStablePasswords) {
  Start({"--demo"});
  const std::string path = DataDir() + "/demo-users.txt";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::map<std::string, std::string> passwords;
  {
    std::ifstream in(path);
    std::string name, password;
    while (in >> name >> password) passwords[name] = password;
  }
  const std::map<std::string, std::string> roles = {{"dispatcher", "dispatcher"},
                                                    {"cgj-jiangbei", "department"},
                                                    {"supervisor", "supervisor"},
                                                    {"leader", "leader"},
                                                    {"admin", "admin"}};
  ASSERT_EQ(passwords.size(), roles.size());
  // The banner shows every credential.
  for (int i = 0; i < 100 && server_.Log().find("demo users") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string log = server_.Log();
  for (const auto& [name, role] : roles) {
    ASSERT_TRUE(passwords.count(name)) << name;
    EXPECT_NE(log.find(name), std::string::npos) << name;
    EXPECT_NE(log.find(passwords[name]), std::string::npos) << name;
    HttpReply r = Login(name, passwords[name]);
    ASSERT_EQ(r.status, 200) << name << " " << r.body;
    auto user = boost::json::parse(r.body).at("user");
    EXPECT_EQ(user.at("role").as_string(), role) << name;
    if (role == "department") {
      EXPECT_EQ(user.at("department").as_string(), "cgj-500105");
    }
  }
  // A restart on the same data dir keeps the users and their passwords.
  ASSERT_TRUE(server_.process().Stop(SIGTERM).exited);
  Start({"--demo"});
  for (int i = 0; i < 100 && server_.Log().find("demo users") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(server_.Log().find(passwords["dispatcher"]), std::string::npos);
  EXPECT_EQ(Login("dispatcher", passwords["dispatcher"]).status, 200);
}

// Finding 8: the session cookie was never Secure and no response carried HSTS, whatever the
// deployment. `"http": {"https": true}` turns on both, on every response (API, errors the
// server writes itself, WebSocket refusals), and the live feed then takes https:// pages only.
// Without it, neither (a plain-HTTP server must not tell browsers to insist on HTTPS).
TEST_F(AccountsServerTest, Finding8HttpsSwitchMarksTheCookieSecureAndSendsHsts) {
  Start();
  const std::string user =
      R"({"username":"li","password":"correct horse battery","role":"leader"})";
  ASSERT_EQ(test::HttpPost(port(), "/api/v1/admin/users", admin_, user).status, 201);
  HttpReply r = Login("li", "correct horse battery");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("set-cookie").find("Secure"), std::string::npos) << r.Header("set-cookie");
  EXPECT_EQ(r.Header("strict-transport-security"), "");
  server_.process().Stop();

  Start(server_.Config(R"({"http":{"https":true}})"));
  r = Login("li", "correct horse battery");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.Header("set-cookie").find("; Secure"), std::string::npos) << r.Header("set-cookie");
  const std::string hsts = "max-age=31536000";
  EXPECT_EQ(r.Header("strict-transport-security"), hsts);
  const std::string host = "127.0.0.1:" + std::to_string(port());
  const test::HeaderList upgrade = {{"Host", host},
                                    {"Upgrade", "websocket"},
                                    {"Connection", "Upgrade"},
                                    {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                    {"Sec-WebSocket-Version", "13"}};
  auto with = [&](test::HeaderList h, const std::string& name, const std::string& value) {
    h.push_back({name, value});
    return h;
  };
  struct Probe {
    const char* what;
    HttpReply reply;
    int status;
  };
  for (const Probe& p : std::vector<Probe>{
           {"healthz", Http(port(), "GET", "/healthz"), 200},
           {"no route", Http(port(), "GET", "/nope"), 404},
           {"no credentials", Http(port(), "GET", "/api/v1/session"), 401},
           {"bad json", test::HttpPost(port(), "/api/v1/admin/users", admin_, "{"), 400},
           {"no such WebSocket", Http(port(), "GET", "/ws/nope", upgrade), 404},
           // The live feed: an http:// page of this host is refused, an https:// one passes
           // the origin check (to the credentials' 401).
           {"http page", Http(port(), "GET", "/ws/live",
                              with(upgrade, "Origin", "http://" + host)), 403},
           {"https page", Http(port(), "GET", "/ws/live",
                               with(upgrade, "Origin", "https://" + host)), 401}}) {
    EXPECT_EQ(p.reply.status, p.status) << p.what << ": " << p.reply.body << p.reply.error;
    EXPECT_EQ(p.reply.Header("strict-transport-security"), hsts) << p.what;
  }
}

}  // namespace
}  // namespace yiwang
