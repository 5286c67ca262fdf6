#include "web/response.h"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

namespace yiwang::web {

namespace http = boost::beast::http;

HttpResponse MakeResponse(const HttpRequest& req, unsigned status, std::string body,
                          std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "yiwang");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  return res;
}

HttpResponse ErrorResponse(Metrics* metrics, const HttpRequest& req, unsigned status,
                           std::string_view code, std::string_view message) {
  metrics
      ->GetCounter("yiwang_http_errors_total", "HTTP API errors, by code",
                   {{"code", std::string(code)}})
      .Inc();
  auto res = MakeResponse(req, status, JsonErrorBody(code, message));
  if (status == 401) res.set(http::field::www_authenticate, "Bearer");
  return res;
}

HttpResponse MethodNotAllowedResponse(Metrics* metrics, const HttpRequest& req,
                                      std::string_view allow) {
  HttpResponse res =
      ErrorResponse(metrics, req, 405, "method_not_allowed", fmt::format("use {}", allow));
  res.set(http::field::allow, allow);
  return res;
}

std::string JsonQuote(std::string_view s) {
  return boost::json::serialize(boost::json::string(s));
}

}  // namespace yiwang::web
