// StaticFiles as a plain function of the request: page routes, safe path joining (traversal,
// encoded traversal, symlink escape), MIME types, ETag/304, HEAD, methods and the security
// headers; and its place in Api's routing (after the API routes).

#include "web/static_files.h"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/events.h"
#include "tests/support/temp_dir.h"
#include "web/api.h"
#include "web/http_util.h"
#include "web/auth.h"
#include "web/tables.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string ErrorCode(const HttpResponse& res) {
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body(), ec);
  if (ec || !v.is_object() || !v.as_object().contains("error")) return "<not an error body>";
  return std::string(v.at("error").at("code").as_string());
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "static";
    WriteFile(root_ / "index.html", "<!doctype html><title>console</title>");
    WriteFile(root_ / "report.html", "<!doctype html><title>report</title>");
    WriteFile(root_ / "track.html", "<!doctype html><title>track</title>");
    WriteFile(root_ / "js" / "app.js", "export const x = 1;\n");
    WriteFile(root_ / "css" / "base.css", "body{}");
    WriteFile(root_ / "data" / "districts.geojson", "{}");
    WriteFile(root_ / "lib" / "leaflet" / "images" / "marker icon.png", "\x89PNG");
    WriteFile(root_ / ".secret", "hidden");
    WriteFile(dir_.path() / "outside.txt", "not for the web");
    fs::create_directories(root_ / "emptydir");
    fs::create_symlink(dir_.path() / "outside.txt", root_ / "escape.txt");
    fs::create_symlink(dir_.path(), root_ / "escape-dir");
    fs::create_symlink(root_ / "js" / "app.js", root_ / "inside-link.js");
    files_ = std::make_unique<StaticFiles>(StaticOptions{root_, {}});
  }

  HttpResponse Do(http::verb method, const std::string& target,
                  const std::string& if_none_match = {}) {
    HttpRequest req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!if_none_match.empty()) req.set(http::field::if_none_match, if_none_match);
    auto res = files_->Handle(req);
    EXPECT_TRUE(res.has_value()) << target;
    return res ? std::move(*res) : HttpResponse{};
  }
  HttpResponse Get(const std::string& target) { return Do(http::verb::get, target); }

  test::TempDir dir_;
  fs::path root_;
  std::unique_ptr<StaticFiles> files_;
};

TEST_F(StaticFilesTest, PageRoutes) {
  EXPECT_EQ(Get("/").body(), "<!doctype html><title>console</title>");
  EXPECT_EQ(Get("/?lang=en").body(), "<!doctype html><title>console</title>");
  EXPECT_EQ(Get("/report").body(), "<!doctype html><title>report</title>");
  EXPECT_EQ(Get("/track").body(), "<!doctype html><title>track</title>");
  EXPECT_EQ(Get("/track/YW-20261122-ABCD").body(), "<!doctype html><title>track</title>");
  for (const char* t : {"/", "/report", "/track", "/track/x"}) {
    EXPECT_EQ(Get(t).result_int(), 200u) << t;
    EXPECT_EQ(Get(t)[http::field::content_type], "text/html; charset=utf-8") << t;
  }
}

TEST_F(StaticFilesTest, OtherPathsAreNotItsBusiness) {
  HttpRequest req{http::verb::get, "/api/v1/ui-config", 11};
  for (const char* t : {"/api/v1/ui-config", "/healthz", "/report/", "/reports", "/track/a/b",
                        "/track/", "/static", "/index.html", "/trackx"}) {
    req.target(t);
    EXPECT_FALSE(files_->Handle(req).has_value()) << t;
  }
}

TEST_F(StaticFilesTest, ServesFilesWithTheirMimeType) {
  struct Case {
    const char* target;
    const char* type;
  };
  for (const Case& c : {Case{"/static/js/app.js", "text/javascript; charset=utf-8"},
                        Case{"/static/css/base.css", "text/css; charset=utf-8"},
                        Case{"/static/data/districts.geojson", "application/geo+json"},
                        Case{"/static/index.html", "text/html; charset=utf-8"},
                        Case{"/static/lib/leaflet/images/marker%20icon.png", "image/png"},
                        Case{"/static/inside-link.js", "text/javascript; charset=utf-8"}}) {
    HttpResponse res = Get(c.target);
    EXPECT_EQ(res.result_int(), 200u) << c.target;
    EXPECT_EQ(res[http::field::content_type], c.type) << c.target;
  }
  EXPECT_EQ(Get("/static/js/app.js").body(), "export const x = 1;\n");
}

TEST_F(StaticFilesTest, MimeTable) {
  EXPECT_EQ(MimeType("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(MimeType("A.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(MimeType("x.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(MimeType("x.svg"), "image/svg+xml");
  EXPECT_EQ(MimeType("x.webp"), "image/webp");
  EXPECT_EQ(MimeType("x.jpeg"), "image/jpeg");
  EXPECT_EQ(MimeType("LICENSE.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(MimeType("LICENSE"), "application/octet-stream");
  EXPECT_EQ(MimeType(".js"), "application/octet-stream");
  EXPECT_EQ(MimeType("x.exe"), "application/octet-stream");
}

TEST_F(StaticFilesTest, TraversalIsRefusedWithASpecificError) {
  struct Case {
    const char* target;
    unsigned status;
    const char* code;
  };
  for (const Case& c : {
           Case{"/static/../outside.txt", 400, "bad_path"},
           Case{"/static/js/../../outside.txt", 400, "bad_path"},
           Case{"/static/%2e%2e/outside.txt", 400, "bad_path"},
           Case{"/static/%2E%2E%2Foutside.txt", 400, "bad_path"},
           Case{"/static/js/%2e%2e/%2e%2e/outside.txt", 400, "bad_path"},
           Case{"/static/./index.html", 400, "bad_path"},
           Case{"/static//etc/passwd", 400, "bad_path"},
           Case{"/static/%2fetc%2fpasswd", 400, "bad_path"},
           Case{"/static/js//app.js", 400, "bad_path"},
           Case{"/static/..%5coutside.txt", 400, "bad_path"},
           Case{"/static/index.html%00.png", 400, "bad_path"},
           Case{"/static/.secret", 400, "bad_path"},
           Case{"/static/", 400, "bad_path"},
           Case{"/static/%zz", 400, "bad_path_encoding"},
           Case{"/static/index.html%2", 400, "bad_path_encoding"},
           Case{"/static/escape.txt", 403, "forbidden_path"},
           Case{"/static/escape-dir/outside.txt", 403, "forbidden_path"},
           Case{"/static/nope.js", 404, "file_not_found"},
           Case{"/static/emptydir", 404, "file_not_found"},
           Case{"/static/js", 404, "file_not_found"},
       }) {
    HttpResponse res = Get(c.target);
    EXPECT_EQ(res.result_int(), c.status) << c.target;
    EXPECT_EQ(ErrorCode(res), c.code) << c.target;
    EXPECT_EQ(res.body().find("not for the web"), std::string::npos) << c.target;
    EXPECT_EQ(res[http::field::content_type], "application/json") << c.target;
    EXPECT_FALSE(res["Content-Security-Policy"].empty()) << c.target;
  }
}

TEST_F(StaticFilesTest, SafeRelativePath) {
  std::string why;
  EXPECT_EQ(SafeRelativePath("a/b.js", &why), fs::path("a/b.js"));
  EXPECT_EQ(SafeRelativePath("a b/c", &why), fs::path("a b/c"));
  for (const char* bad :
       {"", "/a", "a/", "a//b", "..", "a/..", "../a", ".", "a/./b", ".git/x", "a\\b", "a\nb"}) {
    why.clear();
    EXPECT_FALSE(SafeRelativePath(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
  EXPECT_EQ(PercentDecodePath("a%20b+c"), "a b+c");  // '+' stays in paths
  EXPECT_FALSE(PercentDecodePath("%").has_value());
  EXPECT_FALSE(PercentDecodePath("%4").has_value());
  EXPECT_FALSE(PercentDecodePath("%g0").has_value());
}

TEST_F(StaticFilesTest, EtagGives304) {
  HttpResponse first = Get("/static/js/app.js");
  const std::string etag(first[http::field::etag]);
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(first[http::field::cache_control], "no-cache");

  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    HttpResponse res = Do(http::verb::get, "/static/js/app.js", inm);
    EXPECT_EQ(res.result_int(), 304u) << inm;
    EXPECT_TRUE(res.body().empty()) << inm;
    EXPECT_EQ(res[http::field::etag], etag) << inm;
    EXPECT_FALSE(res["Content-Security-Policy"].empty()) << inm;
  }
  EXPECT_EQ(Do(http::verb::get, "/static/js/app.js", "\"other\"").result_int(), 200u);
  EXPECT_EQ(Do(http::verb::head, "/static/js/app.js", etag).result_int(), 304u);
  EXPECT_EQ(Do(http::verb::get, "/", etag).result_int(), 200u);  // another file's tag

  // A changed file has a new tag: the old one no longer matches.
  WriteFile(root_ / "js" / "app.js", "export const x = 2;  // longer\n");
  HttpResponse changed = Do(http::verb::get, "/static/js/app.js", etag);
  EXPECT_EQ(changed.result_int(), 200u);
  EXPECT_NE(changed[http::field::etag], etag);
}

TEST_F(StaticFilesTest, IfNoneMatchParsing) {
  EXPECT_TRUE(IfNoneMatchHits("\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits(" W/\"a\" ", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits("\"b\",\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits("*", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("\"b\"", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("a", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("", "\"a\""));
}

TEST_F(StaticFilesTest, HeadHasHeadersAndNoBody) {
  HttpResponse get = Get("/static/js/app.js");
  HttpResponse head = Do(http::verb::head, "/static/js/app.js");
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[http::field::content_length], std::to_string(get.body().size()));
  EXPECT_EQ(head[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(head[http::field::etag], get[http::field::etag]);
  HttpResponse page = Do(http::verb::head, "/report");
  EXPECT_EQ(page.result_int(), 200u);
  EXPECT_TRUE(page.body().empty());
}

TEST_F(StaticFilesTest, OnlyGetAndHead) {
  for (http::verb m : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::options,
                       http::verb::patch}) {
    for (const char* t : {"/", "/report", "/static/js/app.js"}) {
      HttpResponse res = Do(m, t);
      EXPECT_EQ(res.result_int(), 405u) << t;
      EXPECT_EQ(res[http::field::allow], "GET, HEAD") << t;
      EXPECT_EQ(ErrorCode(res), "method_not_allowed") << t;
    }
  }
}

TEST_F(StaticFilesTest, SecurityHeadersOnEveryResponse) {
  for (const char* t :
       {"/", "/report", "/track/x", "/static/js/app.js", "/static/nope", "/static/../x"}) {
    HttpResponse res = Get(t);
    const std::string csp(res["Content-Security-Policy"]);
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << t;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << t;
    EXPECT_NE(csp.find("style-src 'self';"), std::string::npos) << t;
    EXPECT_NE(csp.find("img-src 'self' data: blob:;"), std::string::npos) << t;
    EXPECT_NE(csp.find("connect-src 'self' ws: wss:"), std::string::npos) << t;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << t;
    EXPECT_NE(csp.find("base-uri 'self'"), std::string::npos) << t;
    EXPECT_NE(csp.find("form-action 'self'"), std::string::npos) << t;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << t;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << t;
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff") << t;
    EXPECT_EQ(res["Referrer-Policy"], "same-origin") << t;
    EXPECT_EQ(res["X-Frame-Options"], "DENY") << t;
  }
}

TEST_F(StaticFilesTest, TileOriginsJoinImgSrc) {
  StaticFiles with_tiles(
      StaticOptions{root_, {"https://*.tianditu.gov.cn", "http://tiles.local:8081", "bad; x"}});
  const std::string& csp = with_tiles.content_security_policy();
  EXPECT_NE(
      csp.find("img-src 'self' data: blob: https://*.tianditu.gov.cn http://tiles.local:8081;"),
      std::string::npos)
      << csp;
  EXPECT_EQ(csp.find("bad"), std::string::npos) << csp;
  EXPECT_TRUE(IsCspOrigin("https://t0.tianditu.gov.cn"));
  EXPECT_FALSE(IsCspOrigin("https://"));
  EXPECT_FALSE(IsCspOrigin("ftp://x"));
  EXPECT_FALSE(IsCspOrigin("https://x/path"));
  EXPECT_FALSE(IsCspOrigin("https://x; script-src *"));
  EXPECT_FALSE(IsCspOrigin("*"));
}

TEST_F(StaticFilesTest, MissingRootSaysSo) {
  StaticFiles missing(StaticOptions{dir_.path() / "not-built", {}});
  HttpRequest req{http::verb::get, "/", 11};
  auto res = missing.Handle(req);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result_int(), 404u);
  EXPECT_EQ(ErrorCode(*res), "ui_not_installed");
}

// In Api: the API routes come first; pages and /static after them; the rest stays 404.
TEST_F(StaticFilesTest, ApiRoutesPagesAfterTheApi) {
  Metrics metrics;
  store::StoreOptions opts;
  opts.data_dir = dir_.Sub("db");
  opts.tables = store::TablesOf(tables::kAll);
  Status s;
  auto store = store::EventStore::Open(opts, test::NullLogger(), &metrics, &s);
  ASSERT_TRUE(store) << s.ToString();
  WriteFile(root_ / "healthz", "shadow");
  Accounts accounts(store.get(), &metrics, test::NullLogger());
  Api api(store.get(), &metrics, &accounts, test::NullLogger(), files_.get());
  auto get = [&](const char* target) {
    HttpRequest req{http::verb::get, target, 11};
    return api.Handle(req);
  };
  EXPECT_EQ(get("/").body(), "<!doctype html><title>console</title>");
  EXPECT_EQ(get("/static/js/app.js").result_int(), 200u);
  EXPECT_EQ(get("/static/../x").result_int(), 400u);
  EXPECT_NE(get("/healthz").body().find("\"status\":\"ok\""), std::string::npos);
  EXPECT_EQ(ErrorCode(get("/api/v1/no-such-route")), "not_found");
  EXPECT_EQ(ErrorCode(get("/nope")), "not_found");

  Api without_pages(store.get(), &metrics, &accounts, test::NullLogger());
  HttpRequest req{http::verb::get, "/", 11};
  EXPECT_EQ(ErrorCode(without_pages.Handle(req)), "not_found");
}

}  // namespace
}  // namespace yiwang::web
