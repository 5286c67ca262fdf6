#pragma once
// CitizenApi: the public API of the citizen portal (随手拍: photos and reports; tracking and
// rating), a plain function of the request like CaseApi. No account: citizens are anonymous, so
// every submission is rate limited per client address (kPeerAddressHeader, set by HttpServer
// from the socket). The routing and the limits are in web/citizen_api.cc; the routes' work in
// web/citizen_photos.cc, web/citizen_reports.cc and web/citizen_tracking.cc.
//
//   POST /api/v1/photos                  raw image body (<= 10 MB) -> 201 {"photoId","type",
//                                        "width","height","bytes"}; sniffed by content,
//                                        metadata stripped (web/image_sanitizer.h)
//   GET  /api/v1/photos/{id}             the stored image: its sniffed type, nosniff,
//                                        CSP default-src 'none', cached for a year
//   POST /api/v1/reports                 {"category","description","location":{"lat","lon"},
//                                        "photoIds","contact","supportCaseId","noLink"}
//                                        -> 201 {"trackingCode","caseId","linked"}
//   GET  /api/v1/reports/nearby?category=&lat=&lon=
//                                        -> {"cases":[{"id","category","description",
//                                        "distanceM","state","stateText"}]} (open public
//                                        cases of the category within its 附议 radius,
//                                        nearest first; distanceM rounded up to 50 m)
//   GET  /api/v1/track/{code}            the public view of a report (below)
//   POST /api/v1/track/{code}/rating     {"stars":1-5,"comment","fixed"} -> the public view
//
// Public cases are Open311's (dispatcher::IsPublicCase: citizen reports); hotline, patrol and
// sensor cases are never shown or supported here. A supportCaseId that is not one the nearby
// list would offer at the report's point gets one error, whatever the id names (a hidden case,
// one of another category or far away, none), so that it tells nothing about other cases.
// A supporter's "not fixed" rating is recorded, only the reporter's reopens the case.
//
// The public view never shows the reporter's contact, operators' names or internal notes:
// its timeline is a fixed plain-words text per action (zh "text", en "textEn"), plus the
// department's name on a transfer, the reason of a rejection and the department's note on
// "handled" (written for the citizen); afterPhotoIds are the evidence of the latest "handled"
// unless the case was sent back since. Every error is {"error":{"code","message"}} counted by
// code; field errors also carry "field". Documented in docs/api.md.
//
// Thread safety: Handle may be called from any thread concurrently (the rate limiters lock).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "dispatcher/dispatcher.h"
#include "store/event_store.h"
#include "web/district_locator.h"
#include "web/http_server.h"
#include "web/image_sanitizer.h"
#include "web/rate_limiter.h"

namespace yiwang::web {

constexpr size_t kMaxPhotoBytes = 10u << 20;  // the route's body limit in HttpServer too
constexpr size_t kMaxReportPhotos = 3;
constexpr size_t kMaxDescriptionChars = 1000;
constexpr size_t kMaxContactChars = 100;
constexpr size_t kMaxRatingCommentChars = 500;
constexpr size_t kMaxNearbyCases = 5;

struct CitizenLimits {
  size_t max_photo_bytes = kMaxPhotoBytes;
  uint64_t max_photo_pixels = kDefaultMaxImagePixels;
  // Per client address, in a fixed window: 30 photos, 10 reports, 10 ratings, 60 nearby
  // queries, 120 tracking lookups and 20 wrong tracking codes per 10 minutes. An address that
  // tried that many wrong codes gets 429 for every lookup until its window ends, right codes
  // too (else the answer would still tell a right guess from a wrong one).
  uint32_t photos_per_window = 30;
  uint32_t reports_per_window = 10;
  uint32_t ratings_per_window = 10;
  uint32_t nearby_per_window = 60;
  uint32_t tracking_lookups_per_window = 120;
  uint32_t wrong_codes_per_window = 20;
  std::chrono::seconds window{600};
};

// A report as a client sent it (JSON API or Open311), before validation.
struct ReportRequest {
  std::string category;
  std::string description;
  std::optional<double> lat, lon;
  std::vector<std::string> photo_ids;
  std::string contact;
  std::string support_case;
  bool no_link = false;
  std::string client;  // for limits and audit
};

// Why a report was not filed: HTTP status, error code, the field at fault ("" if none).
struct ReportError {
  unsigned status = 400;
  std::string code;
  std::string field;
  std::string message;
};

class CitizenApi {
 public:
  // `dispatcher`, `store`, `districts` and `metrics` must outlive the CitizenApi. An empty
  // locator (the district map is not installed) makes every report 503 service_area_unavailable.
  CitizenApi(dispatcher::Dispatcher* dispatcher, store::EventStore* store,
             const DistrictLocator* districts, Metrics* metrics,
             std::shared_ptr<spdlog::logger> logger, CitizenLimits limits = {});

  // The response for one of the routes above; nullopt for any other path.
  std::optional<HttpResponse> Handle(const HttpRequest& req);

  // Validates and files a report (every field, the district from the location, the photos
  // exist, the supported case). Shared by the JSON API and Open311. Not rate limited here.
  std::variant<yiwang::v1::CitizenReport, ReportError> FileReport(const ReportRequest& r);

  // Whether a photo `id` is stored.
  bool PhotoExists(std::string_view id) const;

  // Tracking codes can be guessed through every route that takes one: the ones above and
  // Open311's tokens/{token}, which share these limits. Before looking a code up for `client`:
  // 0 if it may (the lookup is counted), else the seconds until it may (for Retry-After): over
  // its lookups, or over its wrong codes, which stop right codes too.
  uint64_t AdmitTrackingLookup(std::string_view client);
  // After a lookup for `client` found no report: one more wrong code.
  void CountWrongTrackingCode(std::string_view client);

  const CitizenLimits& limits() const { return limits_; }

 private:
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message, std::string_view field = {});
  HttpResponse ErrorOf(const HttpRequest& req, const ReportError& e);
  // Nullopt if `limiter` admits the request's client, else 429 with Retry-After.
  std::optional<HttpResponse> Throttle(const HttpRequest& req, RateLimiter& limiter,
                                       std::string_view what);
  // The two tracking routes, throttled by AdmitTrackingLookup; a 404 counts a wrong code.
  HttpResponse TrackRoute(const HttpRequest& req, std::string_view rest);
  // The checks of FileReport (every field, the district from the location, the photos, the
  // supported case): the filing to submit, or why not.
  std::variant<dispatcher::ReportFiling, ReportError> CheckReport(const ReportRequest& r);
  HttpResponse UploadPhoto(const HttpRequest& req);
  HttpResponse GetPhoto(const HttpRequest& req, std::string_view id);
  HttpResponse PostReport(const HttpRequest& req);
  HttpResponse Nearby(const HttpRequest& req, std::string_view query);
  HttpResponse Track(const HttpRequest& req, const std::string& code);
  HttpResponse Rate(const HttpRequest& req, const std::string& code);
  // The public view of a report (see the top of this file); store errors as a response.
  std::variant<std::string, HttpResponse> TrackJson(const HttpRequest& req,
                                                    const std::string& code);

  dispatcher::Dispatcher* dispatcher_;
  store::EventStore* store_;
  const DistrictLocator* districts_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  CitizenLimits limits_;
  RateLimiter photo_limiter_;
  RateLimiter report_limiter_;
  RateLimiter rating_limiter_;
  RateLimiter nearby_limiter_;
  RateLimiter lookup_limiter_;      // tracking lookups per address
  RateLimiter wrong_code_limiter_;  // unknown tracking codes per address
};

// The blob-table key of photo `id` ("photo/" + id) and its stored value (one type byte, then
// the sanitized image).
std::string PhotoKey(std::string_view id);
// Whether `id` has the form of a photo id (22 base64url characters).
bool IsPhotoId(std::string_view id);
// Plain-words state of a case for citizens: zh, en.
std::string_view PublicStateText(yiwang::v1::CaseState state, bool english = false);

}  // namespace yiwang::web
