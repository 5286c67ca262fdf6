#pragma once
// Helpers every request handler of web/ shares: JSON responses, errors counted by code, the
// JSON body of a request, query parsing. Handlers are plain functions of the request (no
// sockets), so that tests call them directly.
//
// Thread safety: pure functions, except the ones taking `metrics`, which increment a counter in
// it (thread-safe).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <google/protobuf/message.h>

#include "base/metrics.h"
#include "base/text.h"
#include "web/http_server.h"

namespace yiwang::web {

// A response with the server's common headers (Server, Cache-Control: no-store, nosniff),
// keep-alive as the request asks, and `body`; for HEAD the body is dropped (Content-Length
// stays).
HttpResponse MakeResponse(const HttpRequest& req, unsigned status, std::string body,
                          std::string_view content_type = "application/json");
// An error response {"error":{"code","message"}} counted in yiwang_http_errors_total{code}.
// 401 carries WWW-Authenticate: Bearer. `extra_json`, if set, is a JSON member list appended
// inside the error object (e.g. R"("allowed":["accept"])").
HttpResponse ErrorResponse(Metrics* metrics, const HttpRequest& req, unsigned status,
                           std::string_view code, std::string_view message,
                           std::string_view extra_json = {});

// 405 method_not_allowed with the Allow header (RFC 9110 section 15.5.6), counted.
HttpResponse MethodNotAllowedResponse(Metrics* metrics, const HttpRequest& req,
                                      std::string_view allow);

// An error response (as ErrorResponse) that tells the client when to try again: Retry-After
// `retry_after_s` seconds (429 over a limit, 503 busy).
HttpResponse RetryLaterResponse(Metrics* metrics, const HttpRequest& req, unsigned status,
                                std::string_view code, std::string_view message,
                                uint64_t retry_after_s);

// How a route takes its JSON body (JsonObjectBody). The default reads the body whatever its
// declared type.
struct JsonBodyRules {
  // Refuse a body of another media type (IsJsonContentType) with 415 unsupported_media_type
  // "send <what> as application/json": routes that sign a browser in or take anonymous
  // submissions, which no other site may make a visitor's browser send.
  static JsonBodyRules JsonTypeOnly(std::string_view what, std::string_view shape = {}) {
    return {true, what, shape};
  }

  bool json_type_only = false;
  std::string_view what = "the body";
  // Appended to the 400 message to show the expected members, e.g. {"username","password"}.
  std::string_view shape;
};
// The body of `req` as a JSON object. nullopt with *error set to the response to send instead:
// 415 unsupported_media_type (see `rules`), or 400 bad_json when the body is not JSON or is
// JSON but not an object (an empty body included), or 400 duplicate_key when an object at any
// depth names a key twice (web/strict_json.h; the message names the key). All counted like
// ErrorResponse's.
std::optional<boost::json::object> JsonObjectBody(Metrics* metrics, const HttpRequest& req,
                                                  HttpResponse* error,
                                                  const JsonBodyRules& rules = {});

// The client's address as HttpServer saw it on the socket (kPeerAddressHeader, which replaces
// any value the client sent), or "unknown": the key of per-address limits. Behind a reverse
// proxy every client shares the proxy's address.
std::string ClientAddress(const HttpRequest& req);

// A JSON string literal of `s` (quoted, escaped). JSON is UTF-8 (RFC 8259): a byte of `s` that
// does not belong to a valid UTF-8 sequence becomes U+FFFD, so echoing a client's bytes (a
// percent-decoded path, say) never produces a body that JSON parsers refuse.
std::string JsonEscape(std::string_view s);
// protobuf's JSON mapping of `m` (lowerCamelCase; int64 as strings; defaults omitted).
std::string ToJson(const google::protobuf::Message& m);

// Splits a request target into path and query ("/a?b=1" -> "/a", "b=1").
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target);

// Percent-decodes a URL path or one of its segments; nullopt on a bad escape (not exactly two hex
// digits after a '%').
std::optional<std::string> PercentDecodePath(std::string_view s);
// Percent-decodes a query-string value: as a path, and '+' is a space.
std::optional<std::string> PercentDecodeQuery(std::string_view s);
// The non-empty items of a comma-separated list ("a,,b" -> {"a", "b"}): list-valued query
// parameters.
std::vector<std::string> SplitList(std::string_view s);
// Whether the request's media type is application/json (parameters and case ignored). A body
// of any other type is refused on routes that take JSON: a cross-site form or a no-cors fetch
// cannot send this type without a CORS preflight, which this server never grants.
bool IsJsonContentType(const HttpRequest& req);
// The value of cookie `name` in the request's Cookie headers (RFC 6265 section 5.4), if any.
std::optional<std::string_view> CookieValue(const HttpRequest& req, std::string_view name);
// The value of `key` in a query string "a=1&b=2" (decoded), or nullopt if absent/bad.
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);

}  // namespace yiwang::web
