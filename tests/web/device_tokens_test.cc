// Finding 4 of issue 19 (the admin side): device tokens could not be listed, revoked or
// rotated, and names were not unique. The routes of web/device_tokens.h through Api::Handle,
// on a real store: list without secrets, unique names, districts, revoke (the token stops
// working, ingest hears of it), rotate (a new secret under the same id, the old one refused).

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "web/api.h"
#include "web/tables.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

constexpr char kBase[] = "/api/v1/admin/device-tokens";

class Finding4_DeviceTokens : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions opts;
    opts.data_dir = dir_.Sub("db");
    opts.tables = store::TablesOf(tables::kAll);
    Status s;
    store_ = store::EventStore::Open(opts, test::NullLogger(), &metrics_, &s);
    ASSERT_TRUE(store_) << s.ToString();
    accounts_ = std::make_unique<Accounts>(store_.get(), &metrics_, test::NullLogger());
    DeviceTokenOptions dt;
    dt.on_revoked = [this](const std::string& hash) { revoked_.push_back(hash); };
    api_ = std::make_unique<Api>(store_.get(), &metrics_, accounts_.get(), test::NullLogger(),
                                 nullptr, nullptr, dt);
    ASSERT_TRUE(CreateToken(store_.get(), v1::TOKEN_KIND_ADMIN, "admin", "", &admin_).ok());
  }

  HttpResponse Do(http::verb method, const std::string& target, const std::string& body = {}) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + admin_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    return api_->Handle(req);
  }
  static json::value Json(const HttpResponse& res) {
    boost::system::error_code ec;
    json::value v = json::parse(res.body(), ec);
    EXPECT_FALSE(ec) << res.body();
    return ec ? json::value() : v;
  }
  static std::string Code(const HttpResponse& res) {
    const json::value v = Json(res);
    const auto* e = v.is_object() ? v.get_object().if_contains("error") : nullptr;
    return e && e->is_object() ? std::string(e->get_object().at("code").as_string()) : "";
  }
  // Creates a token through the API: {token, id}.
  std::pair<std::string, std::string> Create(const std::string& body) {
    HttpResponse res = Do(http::verb::post, kBase, body);
    EXPECT_EQ(res.result_int(), 201u) << res.body();
    const json::value v = Json(res);
    if (!v.is_object()) return {};
    return {std::string(v.at("token").as_string()), std::string(v.at("id").as_string())};
  }
  json::array List() {
    HttpResponse res = Do(http::verb::get, kBase);
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    const json::value v = Json(res);
    return v.is_object() ? v.at("tokens").as_array() : json::array();
  }
  bool Works(const std::string& token) {
    v1::TokenRecord rec;
    return store_->LookupToken(token, &rec).ok() && !rec.revoked();
  }

  test::TempDir dir_;
  Metrics metrics_;
  std::unique_ptr<store::EventStore> store_;
  std::unique_ptr<Accounts> accounts_;
  std::unique_ptr<Api> api_;
  std::string admin_;
  std::vector<std::string> revoked_;  // hashes passed to on_revoked
};

TEST_F(Finding4_DeviceTokens, CreateReturnsTheIdAndListShowsEveryTokenButNoSecret) {
  const auto [jb, jb_id] =
      Create(R"({"name":"jiangbei-gw","devicePrefix":"cq-jb-","districts":["500105"]})");
  const auto [all, all_id] = Create(R"({"name":"everything","devicePrefix":""})");
  EXPECT_EQ(jb_id.size(), 16u);
  EXPECT_NE(jb_id, all_id);
  // A token made before ids existed (no id stored) is listed under its hash's.
  std::string legacy;
  ASSERT_TRUE(CreateToken(store_.get(), v1::TOKEN_KIND_DEVICE, "legacy", "old-", &legacy).ok());
  const std::string legacy_id = Hex(store::TokenHash(legacy).substr(0, 8));

  const json::array tokens = List();
  ASSERT_EQ(tokens.size(), 3u) << json::serialize(tokens);  // not the admin token
  std::set<std::string> ids;
  for (const json::value& t : tokens) {
    const json::object& o = t.as_object();
    ids.insert(std::string(o.at("id").as_string()));
    EXPECT_FALSE(o.contains("token")) << json::serialize(o);
    const std::string text = json::serialize(o);
    for (const std::string& secret : {jb, all, legacy, admin_})
      EXPECT_EQ(text.find(secret.substr(4)), std::string::npos) << text;
    EXPECT_TRUE(o.contains("createdAt"));
    EXPECT_TRUE(o.at("districts").is_array());
  }
  EXPECT_EQ(ids, (std::set<std::string>{jb_id, all_id, legacy_id}));
  // Oldest first (the legacy one may sort anywhere: CreateToken stamps whole seconds).
  std::vector<std::string> names;
  for (const json::value& t : tokens)
    if (t.at("name").as_string() != "legacy") names.emplace_back(t.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"jiangbei-gw", "everything"}));
  const json::object& first =
      tokens[tokens[0].at("name").as_string() == "legacy" ? 1 : 0].as_object();
  EXPECT_EQ(first.at("name").as_string(), "jiangbei-gw");
  EXPECT_EQ(first.at("devicePrefix").as_string(), "cq-jb-");
  EXPECT_EQ(json::serialize(first.at("districts")), R"(["500105"])");
  v1::TokenRecord rec;
  ASSERT_TRUE(store_->LookupToken(jb, &rec).ok());
  EXPECT_EQ(std::vector<std::string>(rec.districts().begin(), rec.districts().end()),
            std::vector<std::string>{"500105"});
}

TEST_F(Finding4_DeviceTokens, NamesAreUnique) {
  Create(R"({"name":"gw-7","devicePrefix":"cq-"})");
  HttpResponse res = Do(http::verb::post, kBase, R"({"name":"gw-7","devicePrefix":"other-"})");
  EXPECT_EQ(res.result_int(), 409u) << res.body();
  EXPECT_EQ(Code(res), "duplicate_name");
  EXPECT_EQ(List().size(), 1u);
}

TEST_F(Finding4_DeviceTokens, BodyIsChecked) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"name":"a","devicePrefix":"","district":["500105"]})", "unknown_field"},
      {R"({"name":"a","devicePrefix":"","districts":"500105"})", "bad_districts"},
      {R"({"name":"a","devicePrefix":"","districts":["500105","500105"]})", "bad_districts"},
      {R"({"name":"a","devicePrefix":"","districts":["999999"]})", "unknown_district"},
      {R"({"name":"a","devicePrefix":"","districts":[500105]})", "unknown_district"},
      {R"({"name":"a\u0007","devicePrefix":""})", "bad_name"},
  };
  for (const auto& [body, code] : cases) {
    HttpResponse res = Do(http::verb::post, kBase, body);
    EXPECT_EQ(res.result_int(), 400u) << body;
    EXPECT_EQ(Code(res), code) << body;
  }
  EXPECT_TRUE(List().empty());
}

TEST_F(Finding4_DeviceTokens, RevokeStopsTheTokenAndTellsWhoListens) {
  const auto [token, id] = Create(R"({"name":"gw","devicePrefix":"cq-"})");
  const auto [other, other_id] = Create(R"({"name":"gw2","devicePrefix":"cq-"})");
  ASSERT_TRUE(Works(token));
  HttpResponse res = Do(http::verb::delete_, std::string(kBase) + "/" + id);
  EXPECT_EQ(res.result_int(), 204u) << res.body();
  EXPECT_FALSE(Works(token));
  EXPECT_TRUE(Works(other));
  EXPECT_EQ(revoked_, std::vector<std::string>{store::TokenHash(token)});
  EXPECT_EQ(List().size(), 1u);
  // Gone: a second revocation, an unknown id, and the id of a token that is not a device token.
  for (const std::string& bad : {id, std::string("0123456789abcdef"),
                                 Hex(store::TokenHash(admin_).substr(0, 8))}) {
    res = Do(http::verb::delete_, std::string(kBase) + "/" + bad);
    EXPECT_EQ(res.result_int(), 404u) << bad;
    EXPECT_EQ(Code(res), "token_not_found") << bad;
  }
  EXPECT_TRUE(Works(admin_));
}

TEST_F(Finding4_DeviceTokens, RotateGivesANewSecretUnderTheSameId) {
  const auto [token, id] =
      Create(R"({"name":"gw","devicePrefix":"cq-jb-","districts":["500105"]})");
  HttpResponse res = Do(http::verb::post, std::string(kBase) + "/" + id + "/rotate");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const json::object o = Json(res).as_object();
  const std::string fresh(o.at("token").as_string());
  EXPECT_NE(fresh, token);
  EXPECT_EQ(fresh.substr(0, 4), "ywd_");
  EXPECT_EQ(o.at("id").as_string(), id);
  EXPECT_TRUE(o.contains("rotatedAt"));
  EXPECT_FALSE(Works(token));
  ASSERT_TRUE(Works(fresh));
  EXPECT_EQ(revoked_, std::vector<std::string>{store::TokenHash(token)});
  v1::TokenRecord rec;
  ASSERT_TRUE(store_->LookupToken(fresh, &rec).ok());
  EXPECT_EQ(rec.name(), "gw");
  EXPECT_EQ(rec.device_prefix(), "cq-jb-");
  EXPECT_EQ(rec.districts_size(), 1);
  const json::array tokens = List();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].at("id").as_string(), id);

  // A token made before ids existed keeps the id it was listed under.
  std::string legacy;
  ASSERT_TRUE(CreateToken(store_.get(), v1::TOKEN_KIND_DEVICE, "legacy", "old-", &legacy).ok());
  const std::string legacy_id = Hex(store::TokenHash(legacy).substr(0, 8));
  res = Do(http::verb::post, std::string(kBase) + "/" + legacy_id + "/rotate");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("id").as_string(), legacy_id);
  EXPECT_FALSE(Works(legacy));
  res = Do(http::verb::delete_, std::string(kBase) + "/" + legacy_id);
  EXPECT_EQ(res.result_int(), 204u);
  // Unknown id.
  res = Do(http::verb::post, std::string(kBase) + "/" + legacy_id + "/rotate");
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(Code(res), "token_not_found");
}

TEST_F(Finding4_DeviceTokens, MethodsOfEachRoute) {
  const auto [token, id] = Create(R"({"name":"gw","devicePrefix":"cq-"})");
  const std::string one = std::string(kBase) + "/" + id;
  struct Case {
    http::verb method;
    std::string target;
    const char* allow;
  };
  for (const Case& c : {Case{http::verb::put, kBase, "GET, HEAD, POST"},
                        Case{http::verb::delete_, kBase, "GET, HEAD, POST"},
                        Case{http::verb::get, one, "DELETE"},
                        Case{http::verb::post, one, "DELETE"},
                        Case{http::verb::get, one + "/rotate", "POST"},
                        Case{http::verb::delete_, one + "/rotate", "POST"}}) {
    HttpResponse res = Do(c.method, c.target);
    EXPECT_EQ(res.result_int(), 405u) << c.target;
    EXPECT_EQ(res[http::field::allow], c.allow) << c.target;
  }
  EXPECT_TRUE(Works(token));
  EXPECT_EQ(Do(http::verb::get, one + "/rotate/x").result_int(), 404u);
}

}  // namespace
}  // namespace yiwang::web
