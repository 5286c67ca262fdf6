#include "web/http_util.h"

#include <algorithm>
#include <cctype>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include "base/text.h"
#include "web/strict_json.h"

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
                           std::string_view code, std::string_view message,
                           std::string_view extra_json) {
  metrics
      ->GetCounter("yiwang_http_errors_total", "HTTP API errors, by code",
                   {{"code", std::string(code)}})
      .Inc();
  std::string body = JsonErrorBody(code, message);
  if (!extra_json.empty()) {
    body.resize(body.size() - 2);  // the closing "}}"
    body += ',';
    body += extra_json;
    body += "}}";
  }
  auto res = MakeResponse(req, status, std::move(body));
  if (status == 401) res.set(http::field::www_authenticate, "Bearer");
  return res;
}

HttpResponse MethodNotAllowedResponse(Metrics* metrics, const HttpRequest& req,
                                      std::string_view allow) {
  HttpResponse res =
      ErrorResponse(metrics, req, 405, "method_not_allowed", "use " + std::string(allow));
  res.set(http::field::allow, allow);
  return res;
}

HttpResponse RetryLaterResponse(Metrics* metrics, const HttpRequest& req, unsigned status,
                                std::string_view code, std::string_view message,
                                uint64_t retry_after_s) {
  HttpResponse res = ErrorResponse(metrics, req, status, code, message);
  res.set(http::field::retry_after, std::to_string(retry_after_s));
  return res;
}

std::optional<boost::json::object> JsonObjectBody(Metrics* metrics, const HttpRequest& req,
                                                  HttpResponse* error,
                                                  const JsonBodyRules& rules) {
  if (rules.json_type_only && !IsJsonContentType(req)) {
    *error = ErrorResponse(metrics, req, 415, "unsupported_media_type",
                           fmt::format("send {} as application/json", rules.what));
    return std::nullopt;
  }
  boost::json::value body;
  std::string duplicate;
  const auto ec = ParseStrictJson(req.body(), &body, &duplicate);
  if (!duplicate.empty()) {
    // The last copy would win in boost::json, the first in other readers: refused.
    *error = ErrorResponse(metrics, req, 400, "duplicate_key",
                           fmt::format("the key {} appears twice in one object",
                                       JsonEscape(duplicate)));
    return std::nullopt;
  }
  if (ec || !body.is_object()) {
    std::string message = "the body must be a JSON object";
    if (!rules.shape.empty()) message.append(" ").append(rules.shape);
    *error = ErrorResponse(metrics, req, 400, "bad_json", message);
    return std::nullopt;
  }
  return std::move(body.get_object());
}

std::string ClientAddress(const HttpRequest& req) {
  const std::string_view address = req[kPeerAddressHeader];
  return address.empty() ? std::string("unknown") : std::string(address);
}

std::string JsonEscape(std::string_view s) {
  return boost::json::serialize(boost::json::string(ValidUtf8(s)));
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

namespace {
// One decoder for both URL parts: %XX (exactly two hex digits) is that byte; in a query string
// (RFC 3986 leaves it to the form encoding) '+' is also a space.
std::optional<std::string> Unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      const std::optional<std::string> byte = Unhex(s.substr(i + 1, 2));
      if (!byte || byte->size() != 1) return std::nullopt;
      out += *byte;
      i += 2;
    } else {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}
}  // namespace

std::optional<std::string> PercentDecodePath(std::string_view s) { return Unescape(s, false); }

std::optional<std::string> PercentDecodeQuery(std::string_view s) { return Unescape(s, true); }

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t c = s.find(',');
    std::string_view item = s.substr(0, c);
    if (!item.empty()) out.emplace_back(item);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key) {
      return PercentDecodeQuery(eq == std::string_view::npos ? std::string_view{}
                                                             : pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> CookieValue(const HttpRequest& req, std::string_view name) {
  auto [begin, end] = req.equal_range(http::field::cookie);
  for (auto it = begin; it != end; ++it) {
    std::string_view rest = it->value();
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return value;
    }
  }
  return std::nullopt;
}

bool IsJsonContentType(const HttpRequest& req) {
  std::string_view type = req[http::field::content_type];
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  return type.size() == kJson.size() &&
         std::equal(type.begin(), type.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

}  // namespace yiwang::web
