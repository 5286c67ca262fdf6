// Api::Handle as a plain function of the request (no sockets): routes, auth, validation of
// bodies and query parameters, paging, HEAD, 405/404 and the error body shape.

#include "web/api.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <future>

#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "web/strict_json.h"
#include "web/tables.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions opts;
    opts.data_dir = dir_.Sub("db");
    opts.tables = store::TablesOf(tables::kAll);
    Status s;
    store_ = store::EventStore::Open(opts, test::NullLogger(), &metrics_, &s);
    ASSERT_TRUE(store_) << s.ToString();
    accounts_ = std::make_unique<Accounts>(store_.get(), &metrics_, test::NullLogger());
    api_ = std::make_unique<Api>(store_.get(), &metrics_, accounts_.get(), test::NullLogger());
    ASSERT_TRUE(CreateToken(store_.get(), yiwang::v1::TOKEN_KIND_ADMIN, "admin", "", &admin_).ok());
    ASSERT_TRUE(
        CreateToken(store_.get(), yiwang::v1::TOKEN_KIND_DEVICE, "gw", "cq-", &device_).ok());
  }

  HttpResponse Do(http::verb method, const std::string& target, const std::string& token = {},
                  const std::string& body = {}) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    return api_->Handle(req);
  }
  HttpResponse Get(const std::string& target, const std::string& token = {}) {
    return Do(http::verb::get, target, token);
  }
  HttpResponse PostToken(const std::string& body, const std::string& token) {
    return Do(http::verb::post, "/api/v1/admin/device-tokens", token, body);
  }

  void Ingest(const std::string& device, uint64_t from, uint64_t to) {
    std::promise<void> p;
    store::IngestRequest req;
    for (uint64_t s = from; s <= to; ++s)
      req.events.push_back(test::Stored(test::GasEvent(device, s, static_cast<double>(s % 100))));
    req.done = [&](std::vector<store::Outcome>) { p.set_value(); };
    store_->SubmitIngest(std::move(req));
    p.get_future().wait();
  }

  // Asserts the error shape {"error":{"code","message"}} and returns the code.
  static std::string ErrorCode(const HttpResponse& res) {
    EXPECT_EQ(res[http::field::content_type], "application/json");
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(res.body(), ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "error body is not a JSON object: " << res.body();
      return {};
    }
    const auto& o = v.get_object();
    EXPECT_EQ(o.size(), 1u) << res.body();
    const auto* err = o.if_contains("error");
    if (!err || !err->is_object()) {
      ADD_FAILURE() << "no \"error\" object: " << res.body();
      return {};
    }
    const auto& e = err->get_object();
    EXPECT_EQ(e.size(), 2u) << res.body();
    const auto* code = e.if_contains("code");
    const auto* message = e.if_contains("message");
    EXPECT_TRUE(code && code->is_string()) << res.body();
    EXPECT_TRUE(message && message->is_string() && !message->get_string().empty()) << res.body();
    return code && code->is_string() ? std::string(code->get_string()) : std::string();
  }

  static boost::json::value Json(const HttpResponse& res) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(res.body(), ec);
    EXPECT_FALSE(ec) << res.body();
    return v;
  }

  static std::vector<uint64_t> Seqs(const boost::json::value& page) {
    std::vector<uint64_t> out;
    for (const auto& e : page.at("events").as_array())
      out.push_back(std::stoull(std::string(e.at("event").at("seq").as_string())));
    return out;
  }

  test::TempDir dir_;
  Metrics metrics_;
  std::unique_ptr<store::EventStore> store_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Api> api_;
  std::string admin_, device_;
};

TEST_F(ApiTest, Healthz) {
  HttpResponse res = Get("/healthz");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  auto v = Json(res);
  EXPECT_EQ(v.at("status").as_string(), "ok");
  EXPECT_EQ(v.at("storage").as_string(), "ok");
  EXPECT_EQ(v.at("events").to_number<int>(), 0);
  Ingest("cq-h", 1, 3);
  EXPECT_EQ(Json(Get("/healthz")).at("events").to_number<int>(), 3);
  EXPECT_EQ(Get("/healthz?verbose=1").result_int(), 200u);
}

TEST_F(ApiTest, HeadHasHeadersAndNoBody) {
  HttpResponse get = Get("/healthz");
  HttpResponse head = Do(http::verb::head, "/healthz");
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_EQ(head[http::field::content_type], "application/json");

  HttpResponse mhead = Do(http::verb::head, "/metrics");
  EXPECT_EQ(mhead.result_int(), 200u);
  EXPECT_TRUE(mhead.body().empty());
  EXPECT_FALSE(mhead[http::field::content_length].empty());

  Ingest("cq-head", 1, 2);
  HttpResponse dhead = Do(http::verb::head, "/api/v1/devices/cq-head", admin_);
  EXPECT_EQ(dhead.result_int(), 200u);
  EXPECT_TRUE(dhead.body().empty());
}

TEST_F(ApiTest, MetricsIsPrometheusText) {
  HttpResponse res = Get("/metrics");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res.body().find("# TYPE yiwang_store_fsyncs_total counter\n"), std::string::npos);
  // Errors are counted by code.
  Get("/nope");
  EXPECT_NE(Get("/metrics").body().find("yiwang_http_errors_total{code=\"not_found\"} 1\n"),
            std::string::npos);
}

TEST_F(ApiTest, MethodNotAllowed) {
  struct Case {
    http::verb method;
    const char* target;
  };
  for (const Case& c :
       {Case{http::verb::post, "/healthz"}, Case{http::verb::put, "/metrics"},
        Case{http::verb::delete_, "/healthz"}, Case{http::verb::put, "/api/v1/admin/device-tokens"},
        Case{http::verb::patch, "/api/v1/admin/device-tokens"},
        Case{http::verb::delete_, "/api/v1/devices/cq-1"},
        Case{http::verb::post, "/api/v1/devices/cq-1/events"}}) {
    HttpResponse res = Do(c.method, c.target, admin_, "{}");
    EXPECT_EQ(res.result_int(), 405u) << c.target;
    if (c.method != http::verb::head) {
      EXPECT_EQ(ErrorCode(res), "method_not_allowed") << c.target;
    }
  }
}

// RFC 9110 section 15.5.6: a 405 response MUST carry an Allow header listing the methods the
// resource supports (regression test: was missing).
TEST_F(ApiTest, MethodNotAllowedCarriesAllow) {
  auto allow = [&](http::verb m, const std::string& target) {
    return std::string(Do(m, target, admin_)[http::field::allow]);
  };
  EXPECT_EQ(allow(http::verb::post, "/healthz"), "GET, HEAD");
  EXPECT_EQ(allow(http::verb::post, "/metrics"), "GET, HEAD");
  EXPECT_EQ(allow(http::verb::put, "/api/v1/admin/device-tokens"), "GET, HEAD, POST");
  EXPECT_EQ(allow(http::verb::delete_, "/api/v1/devices/cq-1"), "GET, HEAD");
  EXPECT_EQ(allow(http::verb::put, "/api/v1/devices/cq-1/events"), "GET, HEAD");
}

TEST_F(ApiTest, UnknownRoutesAre404) {
  for (const char* target :
       {"/", "/nope", "/api/v1", "/api/v1/devices", "/api/v1/devices/", "/api/v1/devices/a/b",
        "/api/v1/devices//events", "/api/v1/devices/a/events/x", "/HEALTHZ", "/healthz/"}) {
    HttpResponse res = Get(target, admin_);
    EXPECT_EQ(res.result_int(), 404u) << target;
    EXPECT_EQ(ErrorCode(res), "not_found") << target;
  }
}

TEST_F(ApiTest, DeviceTokensRequireAnAdminToken) {
  const std::string body = R"({"name":"gw-1","devicePrefix":"cq-500105-"})";
  HttpResponse res = PostToken(body, "");
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_EQ(ErrorCode(res), "unauthorized");
  EXPECT_EQ(res[http::field::www_authenticate], "Bearer");

  res = PostToken(body, "ywa_not-a-real-token");
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_EQ(ErrorCode(res), "unauthorized");

  res = PostToken(body, device_);
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(ErrorCode(res), "forbidden");

  HttpRequest basic{http::verb::post, "/api/v1/admin/device-tokens", 11};
  basic.set(http::field::authorization, "Basic " + admin_);
  basic.body() = body;
  basic.prepare_payload();
  EXPECT_EQ(api_->Handle(basic).result_int(), 401u);

  // A revoked admin token.
  yiwang::v1::TokenRecord rec;
  ASSERT_TRUE(store_->LookupToken(admin_, &rec).ok());
  rec.set_revoked(true);
  ASSERT_TRUE(store_->PutToken(admin_, rec).ok());
  EXPECT_EQ(PostToken(body, admin_).result_int(), 401u);
}

TEST_F(ApiTest, DeviceTokenBodyValidation) {
  struct Case {
    std::string body;
    const char* code;
  };
  const Case cases[] = {
      {"", "bad_json"},
      {"not json", "bad_json"},
      {"[]", "bad_json"},
      {R"("name")", "bad_json"},
      {R"({"name":"gw")", "bad_json"},
      {R"({"devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":"","devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":7,"devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":null,"devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":")" + std::string(129, 'n') + R"(","devicePrefix":"cq-"})", "bad_name"},
      // Finding 3 of issue 19: names are free text, refused when XML cannot carry them.
      {R"({"name":"gw\uFFFE","devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":"gw\u0085","devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":"gw\n1","devicePrefix":"cq-"})", "bad_name"},
      {R"({"name":"gw"})", "bad_device_prefix"},
      {R"({"name":"gw","devicePrefix":1})", "bad_device_prefix"},
      {R"({"name":"gw","devicePrefix":"cq 1"})", "bad_device_prefix"},
      {R"({"name":"gw","devicePrefix":"cq/"})", "bad_device_prefix"},
      {R"({"name":"gw","devicePrefix":")" + std::string(65, 'p') + R"("})", "bad_device_prefix"},
  };
  for (const Case& c : cases) {
    HttpResponse res = PostToken(c.body, admin_);
    EXPECT_EQ(res.result_int(), 400u) << c.body;
    EXPECT_EQ(ErrorCode(res), c.code) << c.body;
  }
}

TEST_F(ApiTest, CreatesADeviceToken) {
  HttpResponse res = PostToken(R"({"name":"江北 gateway","devicePrefix":"cq-500105-"})", admin_);
  ASSERT_EQ(res.result_int(), 201u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  auto v = Json(res);
  const std::string token(v.at("token").as_string());
  EXPECT_EQ(v.at("name").as_string(), "江北 gateway");
  EXPECT_EQ(v.at("devicePrefix").as_string(), "cq-500105-");
  ASSERT_EQ(token.size(), 4u + 43u) << token;
  EXPECT_EQ(token.substr(0, 4), "ywd_");
  for (char c : token.substr(4))
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
  yiwang::v1::TokenRecord rec;
  ASSERT_TRUE(store_->LookupToken(token, &rec).ok());
  EXPECT_EQ(rec.kind(), yiwang::v1::TOKEN_KIND_DEVICE);
  EXPECT_EQ(rec.device_prefix(), "cq-500105-");
  EXPECT_EQ(rec.name(), "江北 gateway");
  // A second token is different; an empty prefix (all devices) and the 128-char name are fine.
  HttpResponse res2 =
      PostToken(R"({"name":")" + std::string(128, 'n') + R"(","devicePrefix":""})", admin_);
  ASSERT_EQ(res2.result_int(), 201u) << res2.body();
  EXPECT_NE(std::string(Json(res2).at("token").as_string()), token);
  HttpResponse res3 =
      PostToken(R"({"name":"x","devicePrefix":")" + std::string(64, 'p') + R"("})", admin_);
  EXPECT_EQ(res3.result_int(), 201u) << res3.body();
  // The new device token is not an admin token.
  EXPECT_EQ(PostToken(R"({"name":"y","devicePrefix":""})", token).result_int(), 403u);
}

TEST_F(ApiTest, CreateTokenShapes) {
  std::string admin2;
  ASSERT_TRUE(CreateToken(store_.get(), yiwang::v1::TOKEN_KIND_ADMIN, "a2", "", &admin2).ok());
  EXPECT_EQ(admin2.substr(0, 4), "ywa_");
  EXPECT_EQ(admin2.size(), 47u);
  EXPECT_NE(admin2, admin_);
}

TEST_F(ApiTest, GetDevice) {
  HttpResponse res = Get("/api/v1/devices/cq-1", admin_);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(ErrorCode(res), "device_not_found");
  EXPECT_EQ(Get("/api/v1/devices/cq-1").result_int(), 401u);
  EXPECT_EQ(Get("/api/v1/devices/cq-1", device_).result_int(), 403u);

  Ingest("cq-1", 1, 3);
  res = Get("/api/v1/devices/cq-1", admin_);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  auto v = Json(res);
  EXPECT_EQ(v.at("deviceId").as_string(), "cq-1");
  EXPECT_EQ(v.at("lastSeq").as_string(), "3");  // uint64 as a string (canonical JSON)
  EXPECT_EQ(v.at("eventCount").as_string(), "3");
  EXPECT_EQ(v.at("kind").as_string(), "septicTankGas");
  EXPECT_TRUE(v.at("lastSeen").is_string());
  EXPECT_DOUBLE_EQ(v.at("septicTankGas").at("ch4PercentLel").to_number<double>(), 3);
}

// The console's case panel charts a sensor's readings for whoever has the case open: every
// operator role may read a device and its events; a device token, no token or a citizen may not.
// Unscoped operators read any device; department staff (scoped) only through a case of theirs
// (the access matrix test covers that with a real dispatcher; this Api has none, so they read
// no device at all).
TEST_F(ApiTest, UnscopedOperatorRolesMayReadAnyDevice) {
  Ingest("cq-op", 1, 3);
  auto user_token = [&](const std::string& name, const std::string& role,
                        const std::string& extra) {
    HttpResponse res = Do(http::verb::post, "/api/v1/admin/users", admin_,
                          R"({"username":")" + name + R"(","password":"correct horse 12","role":")" +
                              role + '"' + extra + "}");
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    res = Do(http::verb::post, "/api/v1/admin/users/" + name + "/tokens", admin_, "{}");
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    return std::string(Json(res).at("token").as_string());
  };
  const std::vector<std::pair<std::string, std::string>> roles = {
      {"dispatcher", ""},
      {"department", R"(,"department":"cgj-500105")"},
      {"supervisor", ""},
      {"leader", ""},
      {"admin", ""}};
  for (const auto& [role, extra] : roles) {
    const std::string token = user_token("u-" + role, role, extra);
    HttpResponse res = Get("/api/v1/devices/cq-op/events?limit=2", token);
    const unsigned want = role == "department" ? 403u : 200u;
    EXPECT_EQ(res.result_int(), want) << role << ": " << res.body();
    if (res.result_int() == 200u) {
      EXPECT_EQ(Seqs(Json(res)), (std::vector<uint64_t>{3, 2})) << role;
    }
    EXPECT_EQ(Get("/api/v1/devices/cq-op", token).result_int(), want) << role;
    // Creating device tokens stays an admin's.
    EXPECT_EQ(PostToken(R"({"name":"x","devicePrefix":"cq-"})", token).result_int(),
              role == "admin" ? 201u : 403u)
        << role;
  }
  HttpResponse res = Get("/api/v1/devices/cq-op/events", device_);
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(ErrorCode(res), "forbidden");
  EXPECT_EQ(Get("/api/v1/devices/cq-op/events").result_int(), 401u);
}

TEST_F(ApiTest, DeviceIdIsPercentDecoded) {
  Ingest("cq:1.a_b", 1, 1);
  EXPECT_EQ(Get("/api/v1/devices/cq%3A1.a_b", admin_).result_int(), 200u);
  EXPECT_EQ(Get("/api/v1/devices/cq%3a1.a_b/events", admin_).result_int(), 200u);
  HttpResponse res = Get("/api/v1/devices/cq%zz", admin_);
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(ErrorCode(res), "bad_device_id");
  EXPECT_EQ(Get("/api/v1/devices/cq%2F1", admin_).result_int(), 404u);  // "cq/1": no such device
  EXPECT_EQ(Get("/api/v1/devices/" + std::string(200, 'x'), admin_).result_int(), 404u);
}

TEST_F(ApiTest, EventsPagingNewestFirst) {
  Ingest("cq-p", 1, 25);
  Ingest("cq-p0", 1, 5);  // a neighbour by name
  HttpResponse res = Get("/api/v1/devices/cq-p/events?limit=10", admin_);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  auto page = Json(res);
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}));
  ASSERT_TRUE(page.as_object().contains("nextBefore"));
  std::string next(page.at("nextBefore").as_string());
  EXPECT_EQ(next, "16");
  EXPECT_EQ(page.at("events").as_array()[0].at("event").at("deviceId").as_string(), "cq-p");
  EXPECT_TRUE(page.at("events").as_array()[0].at("arrivalId").is_string());

  page = Json(Get("/api/v1/devices/cq-p/events?limit=10&before=" + next, admin_));
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{15, 14, 13, 12, 11, 10, 9, 8, 7, 6}));
  next = std::string(page.at("nextBefore").as_string());
  page = Json(Get("/api/v1/devices/cq-p/events?before=" + next + "&limit=10", admin_));
  EXPECT_EQ(Seqs(page), (std::vector<uint64_t>{5, 4, 3, 2, 1}));
  EXPECT_FALSE(page.as_object().contains("nextBefore"));

  // Default limit 100; limit bounds 1 and 1000 are inclusive.
  EXPECT_EQ(Seqs(Json(Get("/api/v1/devices/cq-p/events", admin_))).size(), 25u);
  EXPECT_EQ(Seqs(Json(Get("/api/v1/devices/cq-p/events?limit=1", admin_))),
            (std::vector<uint64_t>{25}));
  EXPECT_EQ(Get("/api/v1/devices/cq-p/events?limit=1000", admin_).result_int(), 200u);
  EXPECT_EQ(Seqs(Json(Get("/api/v1/devices/cq-p/events?before=3", admin_))),
            (std::vector<uint64_t>{2, 1}));
  EXPECT_TRUE(Seqs(Json(Get("/api/v1/devices/cq-p/events?before=1", admin_))).empty());
  EXPECT_EQ(Seqs(Json(Get("/api/v1/devices/cq-p0/events", admin_))).size(), 5u);
}

TEST_F(ApiTest, EventsQueryValidation) {
  Ingest("cq-q", 1, 3);
  for (const char* q : {"limit=0", "limit=1001", "limit=-1", "limit=abc", "limit=", "limit",
                        "limit=1.5", "limit=%31%30%30%31", "limit=99999999999999999999999"}) {
    HttpResponse res = Get(std::string("/api/v1/devices/cq-q/events?") + q, admin_);
    EXPECT_EQ(res.result_int(), 400u) << q;
    EXPECT_EQ(ErrorCode(res), "bad_limit") << q;
  }
  for (const char* q : {"before=0", "before=abc", "before=-5", "before=", "before=1e3",
                        "before=18446744073709551616"}) {
    HttpResponse res = Get(std::string("/api/v1/devices/cq-q/events?") + q, admin_);
    EXPECT_EQ(res.result_int(), 400u) << q;
    EXPECT_EQ(ErrorCode(res), "bad_cursor") << q;
  }
  EXPECT_EQ(Get("/api/v1/devices/cq-q/events?limit=%32", admin_).result_int(), 200u);
  EXPECT_EQ(Get("/api/v1/devices/cq-q/events?other=1&limit=2", admin_).result_int(), 200u);
  EXPECT_EQ(Get("/api/v1/devices/cq-q/events?before=18446744073709551615", admin_).result_int(),
            200u);
  HttpResponse res = Get("/api/v1/devices/cq-none/events", admin_);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(ErrorCode(res), "device_not_found");
  EXPECT_EQ(Get("/api/v1/devices/cq-q/events").result_int(), 401u);
  EXPECT_EQ(Get("/api/v1/devices/cq-q/events", device_).result_int(), 403u);
}

TEST_F(ApiTest, KeepAliveFollowsTheRequest) {
  HttpRequest req{http::verb::get, "/healthz", 11};
  EXPECT_TRUE(api_->Handle(req).keep_alive());
  req.keep_alive(false);
  EXPECT_FALSE(api_->Handle(req).keep_alive());
  HttpRequest old{http::verb::get, "/healthz", 10};
  EXPECT_FALSE(api_->Handle(old).keep_alive());
}

TEST(PercentDecodeQueryTest, Decodes) {
  EXPECT_EQ(PercentDecodeQuery(""), "");
  EXPECT_EQ(PercentDecodeQuery("abc"), "abc");
  EXPECT_EQ(PercentDecodeQuery("a%20b"), "a b");
  EXPECT_EQ(PercentDecodeQuery("a+b"), "a b");
  EXPECT_EQ(PercentDecodeQuery("%41%6a%6A"), "Ajj");
  EXPECT_EQ(PercentDecodeQuery("%2B"), "+");
  EXPECT_EQ(PercentDecodeQuery("%00"), std::string(1, '\0'));
  EXPECT_EQ(PercentDecodeQuery("%E4%BA%95"), "井");
  EXPECT_EQ(PercentDecodeQuery("100%25"), "100%");
}

TEST(PercentDecodeQueryTest, RejectsBadEscapes) {
  for (const char* s : {"%", "%4", "a%", "a%4", "%zz", "%4g", "%g4", "%%", "% 1"})
    EXPECT_EQ(PercentDecodeQuery(s), std::nullopt) << s;
}

// Regression test: std::from_chars on an int accepted a minus sign, so "%-1" decoded to 0xFF.
TEST(PercentDecodeQueryTest, RejectsSignedEscapes) {
  for (const char* s : {"%-1", "%-f", "%-0"}) EXPECT_EQ(PercentDecodeQuery(s), std::nullopt) << s;
}

TEST(QueryParamTest, FindsDecodedValues) {
  EXPECT_EQ(QueryParam("a=1&b=2", "a"), "1");
  EXPECT_EQ(QueryParam("a=1&b=2", "b"), "2");
  EXPECT_EQ(QueryParam("a=1&b=2", "c"), std::nullopt);
  EXPECT_EQ(QueryParam("", "a"), std::nullopt);
  EXPECT_EQ(QueryParam("a", "a"), "");
  EXPECT_EQ(QueryParam("a=", "a"), "");
  EXPECT_EQ(QueryParam("a=1&a=2", "a"), "1");   // the first wins
  EXPECT_EQ(QueryParam("ab=1&a=2", "a"), "2");  // whole keys only
  EXPECT_EQ(QueryParam("a=1&&b=2", "b"), "2");
  EXPECT_EQ(QueryParam("q=x%20y+z", "q"), "x y z");
  EXPECT_EQ(QueryParam("q=a=b", "q"), "a=b");
  EXPECT_EQ(QueryParam("q=%zz", "q"), std::nullopt);  // bad escape: treated as absent/bad
}

// Finding 9d (the parser): a key twice in one object, at any depth, is an error naming the key;
// the same key in different objects is not; the value read is boost::json::parse's.
TEST(StrictJsonTest, Finding9dRefusesDuplicateKeysAtAnyDepth) {
  struct Case {
    std::string text;
    std::string duplicate;  // "" : parses
  };
  const std::string long_key(5000, 'k');  // arrives in parts when split over buffers
  for (const Case& c : std::vector<Case>{
           {R"({"role":"leader","role":"admin"})", "role"},
           {R"({"a":1,"b":{"c":[{"d":1,"e":2,"d":3}]}})", "d"},
           {R"([{"x":1},{"x":2,"y":{"x":3,"x":4}}])", "x"},
           {R"({"r\u006fle":1,"role":2})", "role"},  // escapes are decoded first
           {"{\"" + long_key + "\":1,\"" + long_key + "\":2}", long_key},
           {R"({"a":{"k":1},"b":{"k":2},"k":{"a":{},"b":[]}})", ""},
           {R"({"a":{"x":{}},"b":{"x":{}}})", ""},
           {R"({})", ""},
           {R"( [1, "two", null, true, 3.5, -4, 18446744073709551615] )", ""}}) {
    boost::json::value v;
    std::string dup = "stale";
    const auto ec = ParseStrictJson(c.text, &v, &dup);
    EXPECT_EQ(dup, c.duplicate) << c.text.substr(0, 80);
    EXPECT_EQ(!!ec, !c.duplicate.empty()) << c.text.substr(0, 80);
    if (!ec) {
      EXPECT_EQ(v, boost::json::parse(c.text)) << c.text;
    }
  }
  // Syntax errors are errors without a key.
  for (const char* bad : {"", "{", R"({"a":1,})", R"({"a":1} x)", "[1]]", R"({"a" 1})"}) {
    boost::json::value v;
    std::string dup;
    EXPECT_TRUE(ParseStrictJson(bad, &v, &dup)) << bad;
    EXPECT_EQ(dup, "") << bad;
  }
}

}  // namespace
}  // namespace yiwang::web
