// CitizenApi::Handle as a plain function of the request, over a real store and dispatcher in a
// temp dir (clock injected): photos in and out (metadata stripped, type by content, limits),
// reports with every field validated, 附议 offers, the public tracking view through the whole
// case loop, ratings and their reopen, per-client rate limits.

#include "web/citizen_api.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "dispatcher/dispatch_config.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "tests/web/test_district_map.h"
#include "tests/web/test_images.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

// A point inside test::kOneDistrictMap's district.
constexpr double kLat = 29.5575, kLon = 106.5770;

class CitizenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = stack_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(DistrictLocator::Parse(test::kOneDistrictMap, &districts_).ok());
    MakeApi({});
  }
  void MakeApi(CitizenLimits limits) {
    api_ = std::make_unique<CitizenApi>(disp_.get(), store_.get(), &districts_, &metrics_,
                                        test::NullLogger(), limits);
  }

  HttpResponse Do(http::verb method, const std::string& target, const std::string& body = {},
                  const std::string& type = "application/json",
                  const std::string& peer = "192.0.2.1") {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(kPeerAddressHeader, peer);
    if (!body.empty()) req.set(http::field::content_type, type);
    req.body() = body;
    req.prepare_payload();
    auto res = api_->Handle(req);
    EXPECT_TRUE(res) << target;
    return res ? std::move(*res) : HttpResponse{};
  }
  HttpResponse Upload(const std::string& bytes, const std::string& type = "image/jpeg",
                      const std::string& peer = "192.0.2.1") {
    return Do(http::verb::post, "/api/v1/photos", bytes, type, peer);
  }
  std::string UploadOk(const std::string& bytes, const std::string& type = "image/jpeg") {
    auto res = Upload(bytes, type);
    EXPECT_EQ(res.result_int(), 201) << res.body();
    return Json(res).at("photoId").as_string().c_str();
  }
  static json::object Json(const HttpResponse& res) {
    auto v = json::parse(res.body());
    return v.is_object() ? v.as_object() : json::object{};
  }
  static std::string Code(const HttpResponse& res) {
    auto o = Json(res);
    if (!o.contains("error")) return "";
    return o.at("error").at("code").as_string().c_str();
  }
  static std::string Field(const HttpResponse& res) {
    auto o = Json(res);
    auto* f = o.contains("error") ? o.at("error").as_object().if_contains("field") : nullptr;
    return f ? f->as_string().c_str() : "";
  }
  HttpResponse Report(json::object body, const std::string& peer = "192.0.2.1") {
    return Do(http::verb::post, "/api/v1/reports", json::serialize(body), "application/json",
              peer);
  }
  static json::object Basic(double lat = kLat, double lon = kLon) {
    return json::object{{"category", "event:0111"},
                        {"description", "路面积水很深"},
                        {"location", json::object{{"lat", lat}, {"lon", lon}}},
                        {"contact", "13800000000"}};
  }
  void Must(const std::string& id, v1::CaseCommand cmd) {
    auto o = disp_->Execute(id, std::move(cmd));
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    ASSERT_FALSE(o.error) << o.error->message;
  }
  static v1::CaseCommand Cmd(v1::CaseAction a, v1::Role role, std::string actor,
                             std::string dept = {}) {
    v1::CaseCommand c;
    c.set_action(a);
    c.set_actor_role(role);
    c.set_actor_id(std::move(actor));
    c.set_actor_department(std::move(dept));
    return c;
  }
  // Accept, transfer, handled (with `photo` as evidence), verify, close.
  void CloseCase(const std::string& id, const std::string& photo, bool accepted = false) {
    if (!accepted) Must(id, Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"));
    auto transfer = Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1");
    if (!accepted) transfer.set_department("cq-drainage");
    if (!accepted) Must(id, transfer);
    auto handled = Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "worker-wang",
                       "cq-drainage");
    handled.set_note("已疏通排水口");
    handled.add_evidence("photo:" + photo);
    Must(id, handled);
    auto verify = Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-li");
    verify.set_note("internal: checked by 李");
    Must(id, verify);
    Must(id, Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-li"));
  }

  // A case filed by an operator (hotline, patrol) at (lat, lon): not public.
  std::string OperatorCase(v1::Source source, const std::string& description,
                           double lat = kLat, double lon = kLon) {
    v1::Case filing;
    filing.set_source(source);
    filing.set_category("event:0111");
    filing.set_description(description);
    filing.set_district("500103");
    filing.mutable_location()->set_lat(lat);
    filing.mutable_location()->set_lon(lon);
    v1::CaseCommand actor;
    actor.set_actor_role(v1::ROLE_DISPATCHER);
    actor.set_actor_id("disp-1");
    auto out = disp_->File(filing, actor);
    EXPECT_TRUE(out.status.ok() && !out.error)
        << out.status.ToString() << (out.error ? out.error->message : "");
    return out.c.id();
  }
  HttpResponse Nearby(double lat, double lon, const std::string& peer = "192.0.2.1",
                      const std::string& category = "event:0111") {
    return Do(http::verb::get,
              "/api/v1/reports/nearby?category=" + category + "&lat=" + std::to_string(lat) +
                  "&lon=" + std::to_string(lon),
              {}, "application/json", peer);
  }
  HttpResponse Rate(const std::string& code, int stars, bool fixed,
                    const std::string& peer = "192.0.2.1") {
    return Do(http::verb::post, "/api/v1/track/" + code + "/rating",
              json::serialize(json::object{{"stars", stars}, {"fixed", fixed}}),
              "application/json", peer);
  }

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db")};
  Metrics& metrics_ = stack_.metrics;
  std::atomic<int64_t>& now_ms_ = stack_.now_ms;
  std::unique_ptr<store::EventStore>& store_ = stack_.store;
  std::unique_ptr<dispatcher::Dispatcher>& disp_ = stack_.dispatcher;
  DistrictLocator districts_;
  std::unique_ptr<CitizenApi> api_;
};

TEST_F(CitizenApiTest, JpegComesBackWithoutItsExifGps) {
  const std::string id = UploadOk(test::JpegWithExifGps());
  EXPECT_TRUE(IsPhotoId(id)) << id;
  auto res = Do(http::verb::get, "/api/v1/photos/" + id);
  ASSERT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_type], "image/jpeg");
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  EXPECT_TRUE(res["Content-Security-Policy"].starts_with("default-src 'none'"));
  EXPECT_NE(res[http::field::cache_control].find("max-age=31536000"), std::string::npos);
  EXPECT_EQ(res.body().find("Exif"), std::string::npos);
  EXPECT_EQ(res.body().find(test::kGpsMarker), std::string::npos);
  EXPECT_EQ(res.body(), test::JpegWithExifGps(false));
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/photos/AAAAAAAAAAAAAAAAAAAAAA")), "unknown_photo");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/photos/../../etc")), "unknown_photo");
  EXPECT_EQ(Do(http::verb::delete_, "/api/v1/photos/" + id).result_int(), 405);
}

TEST_F(CitizenApiTest, PngLosesItsTextAndAJpgNamedPngIsStoredAsPng) {
  // The browser labels a file by its name: "photo.jpg" holding a PNG arrives as image/jpeg.
  auto res = Upload(test::PngWithText(), "image/jpeg");
  ASSERT_EQ(res.result_int(), 201) << res.body();
  EXPECT_EQ(Json(res).at("type").as_string(), "image/png");
  const std::string id = Json(res).at("photoId").as_string().c_str();
  auto got = Do(http::verb::get, "/api/v1/photos/" + id);
  EXPECT_EQ(got[http::field::content_type], "image/png");
  EXPECT_EQ(got.body().find("secret"), std::string::npos);
  EXPECT_EQ(got.body(), test::PngWithText(false));
}

TEST_F(CitizenApiTest, BadUploadsGetSpecificErrors) {
  EXPECT_EQ(Code(Upload("this is not an image at all", "image/jpeg")), "unsupported_media_type");
  EXPECT_EQ(Upload("GIF89a\x01\x00\x01\x00", "image/gif").result_int(), 415);
  // A declared type outside the three is refused even with image content.
  EXPECT_EQ(Code(Upload(test::PngWithText(), "text/html")), "unsupported_media_type");
  const std::string jpeg = test::JpegWithExifGps();
  auto truncated = Upload(jpeg.substr(0, jpeg.size() / 2));
  EXPECT_EQ(truncated.result_int(), 400);
  EXPECT_EQ(Code(truncated), "bad_image");
  EXPECT_EQ(Code(Upload(test::Png(20000, 20000), "image/png")), "image_too_large");
  EXPECT_EQ(Code(Upload("", "image/png")), "empty_body");
  std::string big = test::PngWithText();
  big.resize(kMaxPhotoBytes + 1, '\0');
  auto too_big = Upload(big, "image/png");
  EXPECT_EQ(too_big.result_int(), 413);
  EXPECT_EQ(Code(too_big), "photo_too_large");
  EXPECT_EQ(Do(http::verb::get, "/api/v1/photos").result_int(), 405);
  // Each is counted by its code.
  EXPECT_NE(metrics_.RenderPrometheus().find(
                R"(yiwang_http_errors_total{code="unsupported_media_type"} 3)"),
            std::string::npos);
}

TEST_F(CitizenApiTest, PhotosAreRateLimitedPerClientAddress) {
  CitizenLimits limits;
  limits.photos_per_window = 2;
  MakeApi(limits);
  EXPECT_EQ(Upload(test::PngWithText(), "image/png").result_int(), 201);
  EXPECT_EQ(Upload(test::PngWithText(), "image/png").result_int(), 201);
  auto third = Upload(test::PngWithText(), "image/png");
  EXPECT_EQ(third.result_int(), 429);
  EXPECT_EQ(Code(third), "too_many_requests");
  const int retry = std::stoi(std::string(third[http::field::retry_after]));
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 600);
  // Another address has its own quota.
  EXPECT_EQ(Upload(test::PngWithText(), "image/png", "192.0.2.99").result_int(), 201);
}

TEST_F(CitizenApiTest, EveryReportFieldIsValidated) {
  // Well-formed but invalid reports count against the client's quota: room for all of them.
  CitizenLimits limits;
  limits.reports_per_window = 100;
  MakeApi(limits);
  const std::string photo = UploadOk(test::PngWithText(), "image/png");
  struct Case {
    const char* what;
    std::function<void(json::object&)> edit;
    const char* code;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"no category", [](json::object& o) { o.erase("category"); }, "category_missing", "category"},
      {"unknown", [](json::object& o) { o["category"] = "9999"; }, "unknown_category", "category"},
      {"system", [](json::object& o) { o["category"] = "sys:device_offline"; },
       "category_not_for_citizens", "category"},
      {"number category", [](json::object& o) { o["category"] = 7; }, "category_invalid", "category"},
      {"blank", [](json::object& o) { o["description"] = "   "; }, "description_missing",
       "description"},
      {"long", [](json::object& o) { o["description"] = std::string(1001 * 3, 'a').substr(0, 1001); },
       "description_too_long", "description"},
      {"no location", [](json::object& o) { o.erase("location"); }, "location_missing", "location"},
      {"string lat", [](json::object& o) { o["location"] = json::object{{"lat", "29"}, {"lon", 106.5}}; },
       "location_invalid", "location"},
      {"lat 91", [](json::object& o) { o["location"] = json::object{{"lat", 91}, {"lon", 106.5}}; },
       "location_invalid", "location"},
      {"Beijing", [](json::object& o) { o["location"] = json::object{{"lat", 39.9}, {"lon", 116.4}}; },
       "outside_service_area", "location"},
      {"photo ids not array", [](json::object& o) { o["photoIds"] = "x"; }, "photo_ids_invalid",
       "photoIds"},
      {"unknown photo", [](json::object& o) { o["photoIds"] = json::array{"AAAAAAAAAAAAAAAAAAAAAA"}; },
       "unknown_photo", "photoIds"},
      {"four photos", [&](json::object& o) { o["photoIds"] = json::array{photo, photo, photo, photo}; },
       "too_many_photos", "photoIds"},
      {"long contact", [](json::object& o) { o["contact"] = std::string(101, '1'); },
       "contact_too_long", "contact"},
      {"unknown support", [](json::object& o) { o["supportCaseId"] = "C-nope"; },
       "support_case_unavailable", "supportCaseId"},
      {"noLink string", [](json::object& o) { o["noLink"] = "yes"; }, "no_link_invalid", "noLink"},
  };
  for (const auto& c : cases) {
    json::object body = Basic();
    c.edit(body);
    auto res = Report(body);
    EXPECT_EQ(res.result_int(), 400) << c.what << ": " << res.body();
    EXPECT_EQ(Code(res), c.code) << c.what;
    EXPECT_EQ(Field(res), c.field) << c.what;
  }
  EXPECT_EQ(Code(Do(http::verb::post, "/api/v1/reports", "{not json")), "bad_json");
  // Valid JSON of another media type (what a cross-site form or a no-cors fetch can send) is
  // refused; parameters and case of the type do not matter.
  const std::string valid = json::serialize(Basic());
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonp"}) {
    auto res = Do(http::verb::post, "/api/v1/reports", valid, type);
    EXPECT_EQ(res.result_int(), 415) << type;
    EXPECT_EQ(Code(res), "unsupported_media_type") << type;
  }
  EXPECT_EQ(Do(http::verb::post, "/api/v1/reports", valid, "Application/JSON; charset=utf-8")
                .result_int(),
            201);
  // 1000 Chinese characters (3000 bytes) are fine: the limit counts characters.
  json::object body = Basic();
  std::string long_zh;
  for (int i = 0; i < 1000; ++i) long_zh += "水";
  body["description"] = long_zh;
  body["photoIds"] = json::array{photo};
  EXPECT_EQ(Report(body).result_int(), 201);
}

// Finding 3 of issue 19: a description with U+FFFE U+FFFF was accepted and broke the Open311
// XML feed. Every free-text field of a citizen refuses what is not text (base/text.h IsText).
TEST_F(CitizenApiTest, Finding3_FreeTextFieldsRefuseWhatXmlCannotCarry) {
  CitizenLimits limits;
  limits.reports_per_window = 100;
  MakeApi(limits);
  const char* kNotText[] = {"\xef\xbf\xbe\xef\xbf\xbf", "\x01", "\x1b[31m", "\x7f", "\xc2\x85",
                            "\xef\xb7\x90", "\xf3\xbf\xbf\xbf"};
  for (const char* bad : kNotText) {
    json::object body = Basic();
    body["description"] = std::string("路面") + bad + "积水";
    auto res = Report(body);
    EXPECT_EQ(Code(res), "description_invalid") << res.body();
    EXPECT_EQ(Field(res), "description");
    body = Basic();
    body["contact"] = std::string("138") + bad;
    EXPECT_EQ(Code(Report(body)), "contact_invalid");
  }
  auto filed = Report(Basic());
  ASSERT_EQ(filed.result_int(), 201) << filed.body();
  const std::string code = Json(filed).at("trackingCode").as_string().c_str();
  for (const char* bad : kNotText) {
    auto res = Do(http::verb::post, "/api/v1/track/" + code + "/rating",
                  json::serialize(json::object{{"stars", 1}, {"fixed", false},
                                               {"comment", std::string("还是") + bad}}));
    EXPECT_EQ(Code(res), "comment_invalid") << res.body();
  }
  // Tabs and line breaks are text.
  json::object body = Basic();
  body["description"] = "第一行\r\n第二行\t尾";
  EXPECT_EQ(Report(body).result_int(), 201);
}

TEST_F(CitizenApiTest, NearbyCasesAreOfferedAndSupported) {
  auto first = Report(Basic());
  ASSERT_EQ(first.result_int(), 201) << first.body();
  const auto a = Json(first);
  EXPECT_FALSE(a.at("linked").as_bool());
  const std::string case_id = a.at("caseId").as_string().c_str();

  // ~55 m north: within 道路积水's 200 m radius.
  auto near = Do(http::verb::get, "/api/v1/reports/nearby?category=event:0111&lat=29.5580&lon=106.5770");
  ASSERT_EQ(near.result_int(), 200) << near.body();
  auto cases = Json(near).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].at("id").as_string(), case_id);
  EXPECT_EQ(cases[0].at("state").as_string(), "CASE_STATE_PENDING_ACCEPT");
  EXPECT_EQ(cases[0].at("distanceM").to_number<double>(), 100);  // ~56 m, in steps of 50
  EXPECT_EQ(std::string(cases[0].at("description").as_string()), "路面积水很深");
  EXPECT_TRUE(Json(Do(http::verb::get, "/api/v1/reports/nearby?category=event:0401&lat=29.5580&lon=106.5770"))
                  .at("cases").as_array().empty());
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/reports/nearby?category=event:0111&lat=x&lon=1")),
            "location_invalid");
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/reports/nearby?lat=1&lon=1")), "category_missing");

  // Supporting it: linked to the same case.
  json::object support = Basic(29.5580, 106.5770);
  support["supportCaseId"] = case_id;
  auto b = Json(Report(support));
  EXPECT_TRUE(b.at("linked").as_bool());
  EXPECT_EQ(b.at("caseId").as_string(), case_id);
  // Declining the offer files a new case even though one is near.
  json::object fresh = Basic(29.5580, 106.5770);
  fresh["noLink"] = true;
  auto c = Json(Report(fresh));
  EXPECT_FALSE(c.at("linked").as_bool());
  EXPECT_NE(c.at("caseId").as_string(), case_id);
  // Supporting a case far away, or of another category, is refused (with the one error that
  // tells nothing about the case).
  json::object far = Basic(29.59, 106.59);
  far["supportCaseId"] = case_id;
  EXPECT_EQ(Code(Report(far)), "support_case_unavailable");
  json::object other = Basic();
  other["category"] = "event:0401";
  other["supportCaseId"] = case_id;
  EXPECT_EQ(Code(Report(other)), "support_case_unavailable");
}

TEST_F(CitizenApiTest, TrackingShowsThePublicLoopAndRatingReopens) {
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/track/NOPE234567")), "unknown_tracking_code");
  EXPECT_EQ(Do(http::verb::get, "/api/v1/track/NOPE234567").result_int(), 404);
  EXPECT_EQ(Code(Do(http::verb::get, "/api/v1/track/%2e%2e")), "unknown_tracking_code");
  const std::string before = UploadOk(test::JpegWithExifGps());
  json::object body = Basic();
  body["photoIds"] = json::array{before};
  auto filed = Json(Report(body));
  const std::string code = filed.at("trackingCode").as_string().c_str();
  const std::string id = filed.at("caseId").as_string().c_str();

  auto t = Json(Do(http::verb::get, "/api/v1/track/" + code));
  EXPECT_EQ(t.at("state").as_string(), "CASE_STATE_PENDING_ACCEPT");
  EXPECT_EQ(t.at("stateText").as_string(), "已收到，等待受理");
  EXPECT_EQ(t.at("category").as_string(), "道路积水");
  EXPECT_TRUE(t.at("rating").is_null());
  EXPECT_FALSE(t.at("canRate").as_bool());
  auto rate = [&](int stars, bool fixed, const std::string& comment = "") {
    return Do(http::verb::post, "/api/v1/track/" + code + "/rating",
              json::serialize(json::object{{"stars", stars}, {"fixed", fixed}, {"comment", comment}}));
  };
  EXPECT_EQ(Code(rate(5, true)), "not_closed");
  EXPECT_EQ(rate(5, true).result_int(), 409);

  now_ms_ += 3600'000;
  const std::string after = UploadOk(test::PngWithText(), "image/png");
  CloseCase(id, after);
  auto res = Do(http::verb::get, "/api/v1/track/" + code);
  t = Json(res);
  EXPECT_EQ(t.at("state").as_string(), "CASE_STATE_CLOSED");
  EXPECT_EQ(t.at("stateText").as_string(), "已办结");
  EXPECT_TRUE(t.at("canRate").as_bool());
  ASSERT_EQ(t.at("afterPhotoIds").as_array().size(), 1u);
  EXPECT_EQ(t.at("afterPhotoIds").as_array()[0].as_string(), after);
  std::vector<std::string> actions, texts;
  for (const auto& e : t.at("timeline").as_array()) {
    actions.emplace_back(e.at("action").as_string());
    texts.emplace_back(e.at("text").as_string());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "accept", "transfer", "report_handled",
                                               "verify_pass", "close"}));
  EXPECT_EQ(texts[2], "已派遣至重庆市排水有限公司");
  EXPECT_EQ(texts[3], "已处理：已疏通排水口");
  // Never the contact, an operator's id or an internal note.
  for (const char* secret : {"13800000000", "worker-wang", "sup-li", "disp-1", "internal"})
    EXPECT_EQ(res.body().find(secret), std::string::npos) << secret;

  // Bad ratings.
  EXPECT_EQ(Code(rate(0, true)), "stars_invalid");
  EXPECT_EQ(Code(rate(6, true)), "stars_invalid");
  EXPECT_EQ(Code(Do(http::verb::post, "/api/v1/track/" + code + "/rating", R"({"stars":3})")),
            "fixed_missing");
  EXPECT_EQ(Code(rate(3, true, std::string(501, 'x'))), "comment_too_long");
  EXPECT_EQ(Code(Do(http::verb::post, "/api/v1/track/" + code + "/rating",
                    R"({"stars":3,"fixed":true})", "text/plain")),
            "unsupported_media_type");
  EXPECT_EQ(Code(Do(http::verb::post, "/api/v1/track/NOPE234567/rating",
                    R"({"stars":3,"fixed":true})")),
            "unknown_tracking_code");

  // "Not fixed" reopens the case: back to the department.
  auto reopened = rate(1, false, "还是积水");
  ASSERT_EQ(reopened.result_int(), 200) << reopened.body();
  t = Json(reopened);
  EXPECT_EQ(t.at("state").as_string(), "CASE_STATE_HANDLING");
  EXPECT_EQ(t.at("rating").at("stars").as_int64(), 1);
  EXPECT_FALSE(t.at("rating").at("fixed").as_bool());
  EXPECT_EQ(t.at("timeline").as_array().back().at("action").as_string(), "reopen");
  EXPECT_TRUE(t.at("afterPhotoIds").as_array().empty());  // sent back: no longer the result
  EXPECT_EQ(Code(rate(2, false)), "not_closed");

  // Closed again: one more rating is taken, then no more.
  now_ms_ += 3600'000;
  CloseCase(id, after, /*accepted=*/true);
  EXPECT_TRUE(Json(Do(http::verb::get, "/api/v1/track/" + code)).at("canRate").as_bool());
  auto good = rate(5, true, "修好了");
  ASSERT_EQ(good.result_int(), 200) << good.body();
  EXPECT_EQ(Json(good).at("state").as_string(), "CASE_STATE_CLOSED");
  EXPECT_EQ(Json(good).at("afterPhotoIds").as_array().size(), 1u);
  EXPECT_FALSE(Json(good).at("canRate").as_bool());
  auto again = rate(4, true);
  EXPECT_EQ(again.result_int(), 409);
  EXPECT_EQ(Code(again), "already_rated");
}

TEST_F(CitizenApiTest, ReportsAreRateLimitedPerClientAddress) {
  CitizenLimits limits;
  limits.reports_per_window = 2;
  MakeApi(limits);
  json::object body = Basic();
  body["noLink"] = true;
  EXPECT_EQ(Report(body).result_int(), 201);
  EXPECT_EQ(Report(body).result_int(), 201);
  auto third = Report(body);
  EXPECT_EQ(third.result_int(), 429);
  EXPECT_FALSE(third[http::field::retry_after].empty());
  EXPECT_EQ(Report(body, "198.51.100.7").result_int(), 201);
}

// Issue 19, finding 1: GET /api/v1/reports/nearby showed anyone hotline and patrol cases
// (the operator's text naming a caller and a phone number, the id, the state) with the
// distance to the metre, and 300 queries met no limit. Now: what Open311 publishes only, the
// distance in steps of 50 m, a limit per client address.
TEST_F(CitizenApiTest, Finding1NearbyShowsOnlyPublicCasesCoarselyAndIsThrottled) {
  CitizenLimits limits;
  limits.nearby_per_window = 3;
  MakeApi(limits);
  const std::string hotline = OperatorCase(v1::SOURCE_HOTLINE, "来电人张三 13912345678 反映积水");
  const std::string patrol = OperatorCase(v1::SOURCE_PATROL, "监督员王五巡查发现积水");
  json::object body = Basic();
  body["noLink"] = true;
  auto filed = Report(body);
  ASSERT_EQ(filed.result_int(), 201) << filed.body();
  const std::string citizen = Json(filed).at("caseId").as_string().c_str();

  auto res = Nearby(29.5580, 106.5770);  // ~56 m north
  ASSERT_EQ(res.result_int(), 200) << res.body();
  const auto cases = Json(res).at("cases").as_array();
  ASSERT_EQ(cases.size(), 1u) << res.body();
  EXPECT_EQ(cases[0].at("id").as_string(), citizen);
  EXPECT_EQ(cases[0].at("distanceM").to_number<double>(), 100);  // 56 m: "within 100 m"
  for (const std::string& hidden : {hotline, patrol, std::string("张三"),
                                    std::string("13912345678"), std::string("王五")})
    EXPECT_EQ(res.body().find(hidden), std::string::npos) << hidden;
  // Right on the spot: the first step.
  EXPECT_EQ(Json(Nearby(kLat, kLon)).at("cases").as_array()[0].at("distanceM").to_number<double>(),
            50);

  EXPECT_EQ(Nearby(kLat, kLon).result_int(), 200);  // the third of 3
  auto limited = Nearby(kLat, kLon);
  EXPECT_EQ(limited.result_int(), 429);
  EXPECT_EQ(Code(limited), "too_many_requests");
  EXPECT_GT(std::stoi(std::string(limited[http::field::retry_after])), 0);
  EXPECT_EQ(Nearby(kLat, kLon, "198.51.100.7").result_int(), 200);  // another address
}

// Issue 19, finding 2: 附议 took any case id (hotline, patrol, sensor cases too), and its
// errors told a stranger whether a case existed, its category and its distance. Now only the
// public citizen cases the nearby list offers at the report's point are supported, and every
// other id gets one answer that says nothing about the case. A report that names no case never
// joins a non-public one either.
TEST_F(CitizenApiTest, Finding2SupportOnlyPublicCitizenCasesNearbyWithOneOpaqueError) {
  CitizenLimits limits;
  limits.reports_per_window = 100;
  MakeApi(limits);
  const std::string hotline = OperatorCase(v1::SOURCE_HOTLINE, "来电人张三 13912345678");
  const std::string patrol = OperatorCase(v1::SOURCE_PATROL, "巡查发现积水");
  // Right where the hotline case is: a new case of its own, not joined to the hotline's.
  auto first = Report(Basic());
  ASSERT_EQ(first.result_int(), 201) << first.body();
  EXPECT_FALSE(Json(first).at("linked").as_bool());
  const std::string citizen = Json(first).at("caseId").as_string().c_str();
  EXPECT_NE(citizen, hotline);
  EXPECT_NE(citizen, patrol);

  auto support = [&](const std::string& id, double lat, double lon,
                     const std::string& category = "event:0111") {
    json::object b = Basic(lat, lon);
    b["category"] = category;
    b["supportCaseId"] = id;
    return Report(b);
  };
  const std::vector<std::pair<std::string, HttpResponse>> refused = {
      {"hotline", support(hotline, kLat, kLon)},
      {"patrol", support(patrol, kLat, kLon)},
      {"no such case", support("YW20991231000001", kLat, kLon)},
      {"far away", support(citizen, 29.59, 106.59)},
      {"another category", support(citizen, kLat, kLon, "event:0401")},
  };
  for (const auto& [what, res] : refused) {
    EXPECT_EQ(res.result_int(), 400) << what << ": " << res.body();
    EXPECT_EQ(Code(res), "support_case_unavailable") << what;
    EXPECT_EQ(Field(res), "supportCaseId") << what;
    // The same words whatever the id named: no category, no distance, no existence.
    EXPECT_EQ(res.body(), refused[0].second.body()) << what;
  }
  EXPECT_NE(metrics_.RenderPrometheus().find(
                R"(yiwang_http_errors_total{code="support_case_unavailable"} 5)"),
            std::string::npos);
  disp_->Sync();
  v1::Case c;
  ASSERT_TRUE(disp_->GetCase(hotline, &c).ok());
  EXPECT_EQ(c.reporters_size(), 0);

  // The public citizen case, from close by: joined.
  auto ok = support(citizen, 29.5580, 106.5770);
  ASSERT_EQ(ok.result_int(), 201) << ok.body();
  EXPECT_TRUE(Json(ok).at("linked").as_bool());
  EXPECT_EQ(Json(ok).at("caseId").as_string(), citizen);
}

// Issue 19, finding 2: a supporter's "not fixed" reopened the closed case, which took the rating
// away from the citizen who reported it. Now a supporter's rating is their opinion, kept with
// their report; only the reporter (or a supervisor) reopens.
TEST_F(CitizenApiTest, Finding2ASupportersNotFixedIsAnOpinionAndTheReporterKeepsTheRating) {
  auto first = Json(Report(Basic()));
  const std::string reporter = first.at("trackingCode").as_string().c_str();
  const std::string id = first.at("caseId").as_string().c_str();
  json::object b = Basic(29.5580, 106.5770);
  b["supportCaseId"] = id;
  auto second = Report(b);
  ASSERT_EQ(second.result_int(), 201) << second.body();
  const std::string supporter = Json(second).at("trackingCode").as_string().c_str();

  now_ms_ += 3600'000;
  CloseCase(id, UploadOk(test::PngWithText(), "image/png"));
  auto opinion = Rate(supporter, 1, false);
  ASSERT_EQ(opinion.result_int(), 200) << opinion.body();
  auto t = Json(opinion);
  EXPECT_EQ(t.at("state").as_string(), "CASE_STATE_CLOSED");
  EXPECT_FALSE(t.at("rating").at("fixed").as_bool());
  EXPECT_EQ(t.at("timeline").as_array().back().at("action").as_string(), "close");
  EXPECT_FALSE(t.at("canRate").as_bool());
  v1::Case c;
  ASSERT_TRUE(disp_->GetCase(id, &c).ok());
  EXPECT_EQ(c.state(), v1::CASE_STATE_CLOSED);
  EXPECT_EQ(c.reopen_count(), 0u);
  // The tracking page tells each which their "not fixed" is.
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/track/" + supporter))["ratingReopens"], false);
  EXPECT_EQ(Json(Do(http::verb::get, "/api/v1/track/" + reporter))["ratingReopens"], true);

  // The reporter still rates, and their "not fixed" reopens it.
  EXPECT_TRUE(Json(Do(http::verb::get, "/api/v1/track/" + reporter)).at("canRate").as_bool());
  auto reopened = Rate(reporter, 2, false);
  ASSERT_EQ(reopened.result_int(), 200) << reopened.body();
  EXPECT_EQ(Json(reopened).at("state").as_string(), "CASE_STATE_HANDLING");
}

// Issue 19, finding 9a: tracking codes could be tried 1,292 a second with no 429. Now lookups
// are limited per client address, and wrong codes (any route that takes a code) far more
// tightly: once an address has tried too many, it gets 429 even for a right code, so the
// answer stops telling right from wrong.
TEST_F(CitizenApiTest, Finding9aTrackingLookupsAreThrottledPerAddress) {
  CitizenLimits limits;
  limits.tracking_lookups_per_window = 5;
  limits.wrong_codes_per_window = 3;
  MakeApi(limits);
  const std::string code = Json(Report(Basic())).at("trackingCode").as_string().c_str();
  const std::string guesser = "203.0.113.9";
  auto get = [&](const std::string& c, const std::string& peer) {
    return Do(http::verb::get, "/api/v1/track/" + c, {}, "application/json", peer);
  };
  EXPECT_EQ(get("NOPE234567", guesser).result_int(), 404);
  EXPECT_EQ(Rate("NOPE234568", 5, true, guesser).result_int(), 404);
  EXPECT_EQ(get("%2e%2e", guesser).result_int(), 404);
  for (const auto& res :
       {get("NOPE234569", guesser), get(code, guesser), Rate(code, 5, true, guesser)}) {
    EXPECT_EQ(res.result_int(), 429) << res.body();
    EXPECT_EQ(Code(res), "too_many_requests");
    EXPECT_GT(std::stoi(std::string(res[http::field::retry_after])), 0);
  }
  // Another address is not affected; it has its own quota of lookups.
  const std::string citizen = "198.51.100.7";
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(code, citizen).result_int(), 200) << i;
  EXPECT_EQ(get(code, citizen).result_int(), 429);
  EXPECT_NE(metrics_.RenderPrometheus().find(
                R"(yiwang_http_errors_total{code="too_many_requests"} 4)"),
            std::string::npos)
      << metrics_.RenderPrometheus();
}

TEST_F(CitizenApiTest, OtherPathsAreNotItsBusiness) {
  HttpRequest req{http::verb::get, "/api/v1/cases", 11};
  EXPECT_FALSE(api_->Handle(req));
  EXPECT_EQ(Do(http::verb::get, "/api/v1/reports").result_int(), 405);
}

}  // namespace
}  // namespace yiwang::web
