#pragma once
// The JSON responses of the API (web/api.h) and the accounts routes (web/auth.h): one shape of
// headers, and one place where errors are counted.

#include <string>
#include <string_view>

#include "store/metrics.h"
#include "web/http_server.h"

namespace yiwang::web {

// A response to `req` with `body`: Server, Content-Type, Cache-Control: no-store, nosniff,
// keep-alive as the request asked. For HEAD the body is dropped and Content-Length kept.
HttpResponse MakeResponse(const HttpRequest& req, unsigned status, std::string body,
                          std::string_view content_type = "application/json");

// An error response: `status` + JsonErrorBody(code, message), counted in
// yiwang_http_errors_total{code}. 401 responses carry `WWW-Authenticate: Bearer`.
HttpResponse ErrorResponse(Metrics* metrics, const HttpRequest& req, unsigned status,
                           std::string_view code, std::string_view message);

// 405 method_not_allowed with the Allow header (RFC 9110 section 15.5.6), counted.
HttpResponse MethodNotAllowedResponse(Metrics* metrics, const HttpRequest& req,
                                      std::string_view allow);

// `s` as a JSON string literal (quoted, escaped).
std::string JsonQuote(std::string_view s);

}  // namespace yiwang::web
