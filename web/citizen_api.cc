#include "web/citizen_api.h"

#include <cctype>

#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include "web/http_util.h"

namespace yiwang::web {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kPhotos = "/api/v1/photos";
constexpr std::string_view kReports = "/api/v1/reports";
constexpr std::string_view kNearby = "/api/v1/reports/nearby";
constexpr std::string_view kTrack = "/api/v1/track/";
constexpr size_t kMaxTrackingCodeBytes = 32;

bool IsTrackingCode(std::string_view s) {
  if (s.empty() || s.size() > kMaxTrackingCodeBytes) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

}  // namespace

CitizenApi::CitizenApi(dispatcher::Dispatcher* dispatcher, store::EventStore* store,
                       const DistrictLocator* districts, Metrics* metrics,
                       std::shared_ptr<spdlog::logger> logger, CitizenLimits limits)
    : dispatcher_(dispatcher),
      store_(store),
      districts_(districts),
      metrics_(metrics),
      log_(std::move(logger)),
      limits_(limits),
      photo_limiter_(limits.photos_per_window, limits.window),
      report_limiter_(limits.reports_per_window, limits.window),
      rating_limiter_(limits.ratings_per_window, limits.window),
      nearby_limiter_(limits.nearby_per_window, limits.window),
      lookup_limiter_(limits.tracking_lookups_per_window, limits.window),
      wrong_code_limiter_(limits.wrong_codes_per_window, limits.window) {}

HttpResponse CitizenApi::Error(const HttpRequest& req, unsigned status, std::string_view code,
                               std::string_view message, std::string_view field) {
  std::string extra;
  if (!field.empty()) extra = R"("field":)" + JsonEscape(field);
  return ErrorResponse(metrics_, req, status, code, message, extra);
}

HttpResponse CitizenApi::ErrorOf(const HttpRequest& req, const ReportError& e) {
  return Error(req, e.status, e.code, e.message, e.field);
}

std::optional<HttpResponse> CitizenApi::Throttle(const HttpRequest& req, RateLimiter& limiter,
                                                 std::string_view what) {
  const uint64_t retry = limiter.Acquire(ClientAddress(req));
  if (retry == 0) return std::nullopt;
  return RetryLaterResponse(
      metrics_, req, 429, "too_many_requests",
      fmt::format("at most {} {} per {} minutes from one address; retry in {} s",
                  limiter.max_events(), what, limiter.window().count() / 60, retry),
      retry);
}

uint64_t CitizenApi::AdmitTrackingLookup(std::string_view client) {
  if (const uint64_t retry = wrong_code_limiter_.RetryAfter(client)) return retry;
  return lookup_limiter_.Acquire(client);
}

void CitizenApi::CountWrongTrackingCode(std::string_view client) {
  (void)wrong_code_limiter_.Acquire(client);  // over the limit already: nothing more to count
}

HttpResponse CitizenApi::TrackRoute(const HttpRequest& req, std::string_view rest) {
  const std::string client = ClientAddress(req);
  if (const uint64_t retry = AdmitTrackingLookup(client)) {
    return RetryLaterResponse(
        metrics_, req, 429, "too_many_requests",
        fmt::format("at most {} tracking lookups and {} unknown codes per {} minutes from one "
                    "address; retry in {} s",
                    lookup_limiter_.max_events(), wrong_code_limiter_.max_events(),
                    lookup_limiter_.window().count() / 60, retry),
        retry);
  }
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  constexpr std::string_view kRating = "/rating";
  const bool rating = rest.ends_with(kRating);
  if (rating) rest.remove_suffix(kRating.size());
  auto code = PercentDecodePath(rest);
  HttpResponse res;
  if (!code || !IsTrackingCode(*code))
    res = Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
  else if (rating)
    res = req.method() == http::verb::post ? Rate(req, *code)
                                           : MethodNotAllowedResponse(metrics_, req, "POST");
  else
    res = is_get ? Track(req, *code) : MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
  // Every 404 of these routes is unknown_tracking_code.
  if (res.result_int() == 404) CountWrongTrackingCode(client);
  return res;
}

std::optional<HttpResponse> CitizenApi::Handle(const HttpRequest& req) {
  auto [path, query] = SplitTarget(req.target());
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool is_post = req.method() == http::verb::post;

  if (path == kPhotos) {
    if (!is_post) return MethodNotAllowedResponse(metrics_, req, "POST");
    return UploadPhoto(req);
  }
  if (path.starts_with(std::string(kPhotos) + "/")) {
    if (!is_get) return MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
    return GetPhoto(req, path.substr(kPhotos.size() + 1));
  }
  if (path == kReports) {
    if (!is_post) return MethodNotAllowedResponse(metrics_, req, "POST");
    return PostReport(req);
  }
  if (path == kNearby) {
    if (!is_get) return MethodNotAllowedResponse(metrics_, req, "GET, HEAD");
    return Nearby(req, query);
  }
  if (path.starts_with(kTrack)) return TrackRoute(req, path.substr(kTrack.size()));
  return std::nullopt;
}

}  // namespace yiwang::web
