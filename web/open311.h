#pragma once
// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) under /open311/v2/, for
// third-party apps, as a plain function of the request. Every route in both formats
// (`.json`, `.xml`):
//
//   GET  discovery                 the endpoint, its formats and this server's contact
//   GET  services                  one service per citizen category: service_code = the
//                                  category code (小类, e.g. "event:0111"), service_name, group
//                                  = 大类, type realtime, metadata false (no extra attributes)
//   GET  services/{code}           the service definition (attributes: none)
//   POST requests                  form-encoded: api_key, service_code, lat, long,
//                                  description, media_url (a photo of this server:
//                                  .../api/v1/photos/{id}), email/phone (kept as the contact,
//                                  never published) -> [{"service_request_id","token"}]
//   GET  requests                  public cases (citizen reports: dispatcher::IsPublicCase);
//                                  filters service_request_id (comma list: then the others
//                                  are ignored), service_code, start_date, end_date
//                                  (RFC 3339; default the last 90 days), status open|closed;
//                                  at most 1000, newest first
//   GET  requests/{id}             one
//   GET  tokens/{token}            [{"service_request_id","token"}]; limited per client
//                                  address with the citizen tracking routes
//                                  (CitizenApi::AdmitTrackingLookup)
//
// service_request_id is the case id (a report that joins an open case nearby, 附议, gets that
// case's id); token is the citizen tracking code of the report. Status: closed for 结案 and 不予
// 立案, open otherwise. api_key: a user's API token (POST /api/v1/admin/users/{name}/tokens) or
// an admin token; reports are filed as citizen reports with client "open311:<user>" and the
// same validation as the JSON API. address_string alone is refused (no geocoder here).
// Errors as the spec says: an array of {"code","description"} (XML <errors><error>) with HTTP
// 400 (bad or missing field), 403 (api_key), 404 (unknown service, request or token), counted in
// yiwang_http_errors_total{code="open311_<status>"}.
//
// Thread safety: Handle may be called from any thread concurrently.

#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "dispatcher/dispatcher.h"
#include "web/auth.h"
#include "web/citizen_api.h"
#include "web/http_server.h"
#include "web/rate_limiter.h"

namespace yiwang::web {

constexpr size_t kMaxOpen311Requests = 1000;

class Open311 {
 public:
  // `citizen`, `dispatcher` and `metrics` must outlive the Open311.
  Open311(CitizenApi* citizen, dispatcher::Dispatcher* dispatcher, Authenticator authenticate,
          Metrics* metrics, std::shared_ptr<spdlog::logger> logger);

  // The response for a path under /open311/v2/; nullopt for any other path.
  std::optional<HttpResponse> Handle(const HttpRequest& req);

  // 404 in Open311's error format (XML when the path ends in .xml): what Router answers for a
  // path below /open311/v2/ that no route of its table matches.
  HttpResponse NotFound(const HttpRequest& req);

 private:
  class Writer;
  HttpResponse Error(const HttpRequest& req, bool xml, unsigned status, std::string_view message);
  // 429 with Retry-After: `retry_s` seconds.
  HttpResponse TooManyRequests(const HttpRequest& req, bool xml, uint64_t retry_s);
  HttpResponse Discovery(const HttpRequest& req, bool xml);
  HttpResponse Services(const HttpRequest& req, bool xml);
  HttpResponse ServiceDefinition(const HttpRequest& req, bool xml, const std::string& code);
  HttpResponse PostRequest(const HttpRequest& req, bool xml);
  HttpResponse GetRequests(const HttpRequest& req, bool xml, std::string_view query);
  HttpResponse GetRequest(const HttpRequest& req, bool xml, const std::string& id);
  HttpResponse GetToken(const HttpRequest& req, bool xml, const std::string& token);

  CitizenApi* citizen_;
  dispatcher::Dispatcher* dispatcher_;
  Authenticator authenticate_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  RateLimiter key_limiter_;  // POST requests per api key: 600 per 10 minutes
};

// `s` escaped for XML text and attribute values. What is not text (base/text.h TextOnly: bytes
// that are not UTF-8, and code points XML 1.0 forbids or discourages, such as controls but tab,
// newline and carriage return, surrogates, U+FFFE and U+FFFF) becomes U+FFFD.
std::string XmlEscape(std::string_view s);

}  // namespace yiwang::web
