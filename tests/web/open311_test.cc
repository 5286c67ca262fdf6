// Open311 GeoReport v2 as a plain function of the request, over a real dispatcher: discovery,
// services and definitions, POST requests (api_key, form encoding, validation through the
// citizen API), GET requests with filters, one request, tokens; JSON and XML; spec errors.

#include "web/open311.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <google/protobuf/util/time_util.h>

#include "dispatcher/dispatch_config.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "tests/support/xml_check.h"
#include "tests/web/test_district_map.h"
#include "tests/web/test_images.h"
#include "web/http_util.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

class Open311Test : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = stack_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(DistrictLocator::Parse(test::kOneDistrictMap, &districts_).ok());
    citizen_ = std::make_unique<CitizenApi>(disp_.get(), store_.get(), &districts_, &metrics_,
                                            test::NullLogger());
    Authenticator auth = [](const HttpRequest& req) -> AuthResult {
      if (req[http::field::authorization] == "Bearer key-ok") {
        Principal p;
        p.user_id = "app-1";
        p.role = v1::ROLE_DISPATCHER;
        return p;
      }
      HttpResponse res{http::status::unauthorized, 11};
      return res;
    };
    api_ = std::make_unique<Open311>(citizen_.get(), disp_.get(), auth, &metrics_,
                                     test::NullLogger());
  }

  HttpResponse Do(http::verb method, const std::string& target, const std::string& body = {}) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "city.example");
    if (!body.empty()) req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = body;
    req.prepare_payload();
    auto res = api_->Handle(req);
    EXPECT_TRUE(res) << target;
    return res ? std::move(*res) : HttpResponse{};
  }
  HttpResponse Get(const std::string& target) { return Do(http::verb::get, target); }
  HttpResponse Post(const std::string& body, const std::string& ext = "json") {
    return Do(http::verb::post, "/open311/v2/requests." + ext, body);
  }
  static json::value Json(const HttpResponse& res) { return json::parse(res.body()); }
  // The spec's error: [{"code": status, "description"}].
  static void ExpectError(const HttpResponse& res, int status, const std::string& words = {}) {
    EXPECT_EQ(res.result_int(), status) << res.body();
    auto v = Json(res);
    ASSERT_TRUE(v.is_array() && v.as_array().size() == 1) << res.body();
    EXPECT_EQ(v.as_array()[0].at("code").as_int64(), status);
    if (!words.empty()) {
      EXPECT_NE(std::string(v.as_array()[0].at("description").as_string()).find(words),
                std::string::npos)
          << res.body();
    }
  }

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db"), 0};
  Metrics& metrics_ = stack_.metrics;
  std::unique_ptr<store::EventStore>& store_ = stack_.store;
  std::unique_ptr<dispatcher::Dispatcher>& disp_ = stack_.dispatcher;
  DistrictLocator districts_;
  std::unique_ptr<CitizenApi> citizen_;
  std::unique_ptr<Open311> api_;
};

TEST_F(Open311Test, DiscoveryAndServicesInBothFormats) {
  auto d = Json(Get("/open311/v2/discovery.json"));
  EXPECT_EQ(d.at("endpoints").as_array()[0].at("url").as_string(), "http://city.example/open311/v2/");
  auto dx = Get("/open311/v2/discovery.xml");
  EXPECT_EQ(dx[http::field::content_type], "text/xml; charset=utf-8");
  EXPECT_NE(dx.body().find("<format>text/xml</format>"), std::string::npos);

  auto services = Json(Get("/open311/v2/services.json")).as_array();
  bool found = false;
  for (const auto& s : services) {
    EXPECT_FALSE(std::string(s.at("service_code").as_string()).starts_with("sys:"));
    EXPECT_EQ(s.at("type").as_string(), "realtime");
    if (s.at("service_code").as_string() == "event:0111") {
      found = true;
      EXPECT_EQ(std::string(s.at("service_name").as_string()), "道路积水");
      EXPECT_EQ(std::string(s.at("group").as_string()), "01 市容环境");
      EXPECT_FALSE(s.at("metadata").as_bool());
    }
  }
  EXPECT_TRUE(found);
  auto sx = Get("/open311/v2/services.xml").body();
  EXPECT_TRUE(sx.starts_with(R"(<?xml version="1.0" encoding="utf-8"?><services><service>)")) << sx;
  EXPECT_NE(sx.find("<service_code>event:0111</service_code>"), std::string::npos);

  auto def = Json(Get("/open311/v2/services/event:0111.json"));
  EXPECT_EQ(def.at("service_code").as_string(), "event:0111");
  EXPECT_TRUE(def.at("attributes").as_array().empty());
  ExpectError(Get("/open311/v2/services/sys:device_offline.json"), 404);
  ExpectError(Get("/open311/v2/services/9999.json"), 404);
  EXPECT_NE(Get("/open311/v2/services/9999.xml").body().find("<errors><error><code>404</code>"),
            std::string::npos);
  ExpectError(Get("/open311/v2/services.txt"), 404);
  ExpectError(Do(http::verb::delete_, "/open311/v2/services.json"), 405);
  HttpRequest other{http::verb::get, "/api/v1/reports", 11};
  EXPECT_FALSE(api_->Handle(other));
}

TEST_F(Open311Test, PostRequestsNeedAKeyAndValidFields) {
  ExpectError(Post("service_code=event:0111&lat=29.55&long=106.57&description=x"), 403, "api_key");
  ExpectError(Post("api_key=wrong&service_code=event:0111&lat=29.55&long=106.57"), 403);
  ExpectError(Post("api_key=key-ok&lat=29.55&long=106.57&description=x"), 400, "service_code");
  ExpectError(Post("api_key=key-ok&service_code=event:0111&address_string=解放碑&description=x"),
              400, "geocode");
  ExpectError(Post("api_key=key-ok&service_code=event:0111&lat=abc&long=106.57&description=x"),
              400);
  ExpectError(Post("api_key=key-ok&service_code=event:0111&lat=39.9&long=116.4&description=x"),
              400, "outside_service_area");
  ExpectError(Post("api_key=key-ok&service_code=nope&lat=29.55&long=106.57&description=x"), 404);
  ExpectError(Post("api_key=key-ok&service_code=event:0111&lat=29.55&long=106.57&description="),
              400, "description");
  ExpectError(Post("api_key=key-ok&service_code=event:0111&lat=29.55&long=106.57&description=x"
                   "&media_url=http://evil.example/x.jpg"),
              400, "media_url");
  auto bad = Post("api_key=wrong&service_code=event:0111&lat=29.55&long=106.57", "xml");
  EXPECT_EQ(bad.result_int(), 403);
  EXPECT_NE(bad.body().find("<errors><error><code>403</code>"), std::string::npos);
  EXPECT_NE(metrics_.RenderPrometheus().find(R"(yiwang_http_errors_total{code="open311_403"} 3)"),
            std::string::npos);
}

TEST_F(Open311Test, ARequestIsFiledListedFoundAndTracked) {
  // A photo uploaded first, referred to by its URL.
  HttpRequest up{http::verb::post, "/api/v1/photos", 11};
  up.set(http::field::content_type, "image/png");
  up.body() = test::PngWithText();
  up.prepare_payload();
  auto photo = json::parse(citizen_->Handle(up)->body()).at("photoId").as_string();
  auto res = Post("api_key=key-ok&service_code=event%3A0111&lat=29.5575&long=106.5770"
                  "&description=%E7%A7%AF%E6%B0%B4+%3Cb%3E%26%3C%2Fb%3E&phone=13800000000"
                  "&media_url=http%3A%2F%2Fcity.example%2Fapi%2Fv1%2Fphotos%2F" +
                  std::string(photo));
  ASSERT_EQ(res.result_int(), 201) << res.body();
  auto created = Json(res).as_array()[0];
  const std::string id(created.at("service_request_id").as_string());
  const std::string token(created.at("token").as_string());
  EXPECT_FALSE(id.empty());
  v1::CitizenReport rep;
  ASSERT_TRUE(disp_->GetReport(token, &rep).ok());
  EXPECT_EQ(rep.client(), "open311:app-1");
  ASSERT_EQ(rep.photo_ids_size(), 1);
  EXPECT_EQ(rep.contact(), "13800000000");

  auto list = Json(Get("/open311/v2/requests.json")).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("service_request_id").as_string(), id);
  EXPECT_EQ(list[0].at("status").as_string(), "open");
  EXPECT_EQ(std::string(list[0].at("description").as_string()), "积水 <b>&</b>");
  EXPECT_NEAR(list[0].at("lat").as_double(), 29.5575, 1e-9);
  // A new report waits for 受理: its deadline is the accept stage's.
  v1::Case filed_case;
  ASSERT_TRUE(disp_->GetCase(id, &filed_case).ok());
  EXPECT_EQ(std::string(list[0].at("expected_datetime").as_string()),
            google::protobuf::util::TimeUtil::ToString(filed_case.sla_accept().deadline()));
  EXPECT_EQ(Get("/open311/v2/requests.json").body().find("13800000000"), std::string::npos);
  EXPECT_TRUE(Json(Get("/open311/v2/requests.json?status=closed")).as_array().empty());
  EXPECT_EQ(Json(Get("/open311/v2/requests.json?status=open,closed")).as_array().size(), 1u);
  EXPECT_EQ(Json(Get("/open311/v2/requests.json?service_code=event:0401")).as_array().size(), 0u);
  EXPECT_EQ(Json(Get("/open311/v2/requests.json?service_request_id=" + id + ",nope")).as_array().size(), 1u);
  EXPECT_EQ(Json(Get("/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z"))
                .as_array().size(), 0u);
  ExpectError(Get("/open311/v2/requests.json?start_date=yesterday"), 400, "start_date");
  ExpectError(Get("/open311/v2/requests.json?status=pending"), 400, "status");

  auto one = Get("/open311/v2/requests/" + id + ".xml");
  ASSERT_EQ(one.result_int(), 200);
  EXPECT_NE(one.body().find("<status>open</status>"), std::string::npos) << one.body();
  EXPECT_NE(one.body().find("<description>积水 &lt;b&gt;&amp;&lt;/b&gt;</description>"),
            std::string::npos)
      << one.body();
  ExpectError(Get("/open311/v2/requests/nope.json"), 404);
  auto t = Json(Get("/open311/v2/tokens/" + token + ".json")).as_array();
  EXPECT_EQ(t[0].at("service_request_id").as_string(), id);
  ExpectError(Get("/open311/v2/tokens/NOPE.json"), 404);
}

// Issue 19, finding 9a: tokens/{token} looks a tracking code up like /api/v1/track/{code}, and
// was as unthrottled. It counts against the same per-address limits.
TEST_F(Open311Test, Finding9aTokenLookupsShareTheTrackingLimits) {
  CitizenLimits limits;
  limits.wrong_codes_per_window = 2;
  citizen_ = std::make_unique<CitizenApi>(disp_.get(), store_.get(), &districts_, &metrics_,
                                          test::NullLogger(), limits);
  Authenticator none = [](const HttpRequest&) -> AuthResult {
    return HttpResponse{http::status::unauthorized, 11};
  };
  api_ = std::make_unique<Open311>(citizen_.get(), disp_.get(), none, &metrics_,
                                   test::NullLogger());
  ExpectError(Get("/open311/v2/tokens/NOPE234567.json"), 404);
  ExpectError(Get("/open311/v2/tokens/NOPE234568.json"), 404);
  auto limited = Get("/open311/v2/tokens/NOPE234569.json");
  ExpectError(limited, 429);
  EXPECT_GT(std::stoi(std::string(limited[http::field::retry_after])), 0);
  // The citizen route from the same address is stopped too.
  HttpRequest track{http::verb::get, "/api/v1/track/NOPE234569", 11};
  EXPECT_EQ(citizen_->Handle(track)->result_int(), 429);
}

// Found by the open311 fuzzer: a percent-decoded path with bytes that are not UTF-8 was echoed
// raw into the error, and JSON parsers refused the body.
TEST_F(Open311Test, ErrorsEchoingClientBytesAreValidUtf8) {
  auto res = Get("/open311/v2/services/abc%E9%FF.json");
  ExpectError(res, 404);
  EXPECT_NE(res.body().find("abc\xef\xbf\xbd\xef\xbf\xbd"), std::string::npos) << res.body();
  auto xml = Get("/open311/v2/services/abc%E9%FF.xml").body();
  EXPECT_NE(xml.find("<description>no service abc\xef\xbf\xbd\xef\xbf\xbd</description>"),
            std::string::npos)
      << xml;
}

// Finding 3 of issue 19, probed from outside: a report whose description held the
// noncharacters U+FFFE U+FFFF was accepted, and from then on GET requests.xml was not
// well-formed XML for anyone. Every code point XML 1.0 forbids (and the few it discourages) is
// refused in the form, in either format; text that is allowed arrives whole.
TEST_F(Open311Test, Finding3_ForbiddenCodePointsAreRefusedAndTheFeedStaysWellFormed) {
  const std::string form = "api_key=key-ok&service_code=event:0111&lat=29.55&long=106.57";
  for (const char* bad : {"%EF%BF%BE%EF%BF%BF", "%01", "%0B", "%7F", "%C2%85", "%EF%B7%90",
                          "%F0%9F%BF%BE", "%F4%8F%BF%BF", "%ED%A0%80", "%FF"}) {
    for (const char* ext : {"json", "xml"}) {
      auto res = Post(form + "&description=water" + bad + "here", ext);
      EXPECT_EQ(res.result_int(), 400) << bad << " " << res.body();
      EXPECT_NE(res.body().find("description_invalid"), std::string::npos) << res.body();
    }
  }
  // Tab, LF, CR, CJK, U+FFFD, U+E000, U+10000 and an emoji are text.
  const std::string good = "a%09b%0D%0Ac+%E7%A7%AF%E6%B0%B4%EF%BF%BD%EE%80%80%F0%90%80%80%F0%9F%98%80";
  auto filed = Post(form + "&description=" + good);
  ASSERT_EQ(filed.result_int(), 201) << filed.body();
  const std::string want = "a\tb\r\nc 积水\xef\xbf\xbd\xee\x80\x80\xf0\x90\x80\x80\xf0\x9f\x98\x80";
  auto list = Json(Get("/open311/v2/requests.json")).as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(std::string(list[0].at("description").as_string()), want);
  const std::string feed = Get("/open311/v2/requests.xml").body();
  EXPECT_EQ(test::XmlProblem(feed), "") << feed;
  EXPECT_NE(feed.find("<description>" + want + "</description>"), std::string::npos) << feed;
}

// Text stored before the check (or by a path that skips the web layer) is written as XML
// Chars all the same: the encoder replaces what XML 1.0 forbids.
TEST_F(Open311Test, Finding3_StoredForbiddenCodePointsAreReplacedInTheFeed) {
  dispatcher::ReportFiling f;
  f.category = "event:0111";
  f.lat = 29.55;
  f.lon = 106.57;
  f.district = "500103";
  f.description = std::string("x\x01\x1f\x7f\xc2\x85\xef\xbf\xbe\xef\xbf\xbf\xef\xb7\x90\xf4\x8f\xbf\xbf<&]]>y");
  ASSERT_TRUE(disp_->FileReport(f).status.ok());
  for (const std::string target : {"/open311/v2/requests.xml", "/open311/v2/requests.json"}) {
    auto res = Get(target);
    ASSERT_EQ(res.result_int(), 200) << res.body();
    if (target.ends_with(".xml")) {
      EXPECT_EQ(test::XmlProblem(res.body()), "") << res.body();
      std::string replaced = "x";
      for (int i = 0; i < 8; ++i) replaced += "\xef\xbf\xbd";
      EXPECT_NE(res.body().find("<description>" + replaced + "&lt;&amp;]]&gt;y</description>"),
                std::string::npos)
          << res.body();
    } else {
      EXPECT_EQ(Json(res).as_array()[0].at("description").as_string(), f.description);
    }
  }
}

// Every code point (and stray bytes) through both encoders: XML gets only Chars, markup
// escaped; JSON parses and gives back the text (invalid bytes as U+FFFD).
TEST(EscapeTest, Finding3_EveryCodePointEncodesToValidXmlAndJson) {
  std::string all;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) all += test::Utf8Of(cp);
  all += "\x80\xc0\xaf\xff";
  const std::string doc = R"(<?xml version="1.0" encoding="utf-8"?><d>)" + XmlEscape(all) + "</d>";
  EXPECT_EQ(test::XmlProblem(doc), "");
  boost::system::error_code ec;
  const json::value v = json::parse(JsonEscape(all), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(std::string(v.as_string()), ValidUtf8(all));
  // What text allows passes unchanged (markup aside); any other code point becomes one U+FFFD
  // (a surrogate, not being UTF-8, one per byte).
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const std::string c = test::Utf8Of(cp);
    if (cp == '<' || cp == '>' || cp == '&' || cp == '"' || cp == '\'') continue;
    std::string want = c;
    if (!IsTextCodePoint(cp)) {
      want.clear();
      for (size_t i = 0; i < (cp >= 0xd800 && cp <= 0xdfff ? 3 : 1); ++i) want += "\xef\xbf\xbd";
    }
    ASSERT_EQ(XmlEscape(c), want) << std::hex << cp;
  }
}

TEST(EscapeTest, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(JsonEscape("x\xff"), "\"x\xef\xbf\xbd\"");
  EXPECT_EQ(XmlEscape("<\xff>"), "&lt;\xef\xbf\xbd&gt;");
}

TEST(XmlEscapeTest, EscapesMarkupAndReplacesControls) {
  EXPECT_EQ(XmlEscape(R"(<a href="x">&'</a>)"), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  EXPECT_EQ(XmlEscape(std::string("a\x01\x1f\tb\n", 6)), "a\xef\xbf\xbd\xef\xbf\xbd\tb\n");
}

}  // namespace
}  // namespace yiwang::web
