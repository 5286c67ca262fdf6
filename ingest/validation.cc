#include "ingest/validation.h"

#include <algorithm>
#include <cmath>

#include "store/key_codec.h"
#include "store/sensor_catalogue.h"

namespace yiwang::ingest {

const char* RejectName(Reject r) {
  switch (r) {
    case Reject::kNone: return "none";
    case Reject::kMalformedEvent: return "malformed_event";
    case Reject::kMissingDeviceId: return "missing_device_id";
    case Reject::kInvalidDeviceId: return "invalid_device_id";
    case Reject::kPrefixNotAllowed: return "prefix_not_allowed";
    case Reject::kMissingSeq: return "missing_seq";
    case Reject::kMissingObservedAt: return "missing_observed_at";
    case Reject::kInvalidObservedAt: return "invalid_observed_at";
    case Reject::kObservedAtInFuture: return "observed_at_in_future";
    case Reject::kMissingLocation: return "missing_location";
    case Reject::kLatOutOfRange: return "lat_out_of_range";
    case Reject::kLonOutOfRange: return "lon_out_of_range";
    case Reject::kMissingPayload: return "missing_payload";
    case Reject::kEmptyPayload: return "empty_payload";
    case Reject::kReadingNotFinite: return "reading_not_finite";
    case Reject::kReadingOutOfRange: return "reading_out_of_range";
    case Reject::kDistrictNotAllowed: return "district_not_allowed";
    case Reject::kTooManyNewDevices: return "too_many_new_devices";
    case Reject::kReplay: return "replay";
    case Reject::kStorageFull: return "storage_full";
    case Reject::kOverloaded: return "overloaded";
    case Reject::kShuttingDown: return "shutting_down";
    case Reject::kUnavailable: return "unavailable";
  }
  return "unknown";
}

bool ValidDeviceId(std::string_view id) { return !id.empty() && store::DeviceIdChars(id); }

namespace {

// 2000-01-01T00:00:00Z: nothing observed earlier belongs to this platform.
constexpr int64_t kEarliestObservedSeconds = 946684800;

// Checks the payload against the sensor catalogue: a known kind, at least one reading, every
// reading finite and within its range. The detail names the field ("septicTankGas.h2sPpm").
Verdict CheckPayload(const yiwang::v1::SensorEvent& e) {
  const store::SensorKindInfo* kind = store::KindOf(e);
  if (!kind) return {Reject::kMissingPayload, "payload"};
  int present = 0;
  for (const store::SensorMetric& m : kind->metrics) {
    const std::optional<double> v = m.read(e);
    if (!v) continue;
    ++present;
    if (!std::isfinite(*v))
      return {Reject::kReadingNotFinite, std::string(kind->json_name) + "." + std::string(m.name)};
    if (*v < m.min || *v > m.max)
      return {Reject::kReadingOutOfRange, std::string(kind->json_name) + "." + std::string(m.name)};
  }
  if (present == 0) return {Reject::kEmptyPayload, "payload"};
  return {};
}

}  // namespace

Verdict ValidateEvent(const yiwang::v1::SensorEvent& e, std::string_view device_prefix,
                      std::chrono::system_clock::time_point now, const IngestLimits& limits) {
  if (e.device_id().empty()) return {Reject::kMissingDeviceId, "deviceId"};
  if (!ValidDeviceId(e.device_id())) return {Reject::kInvalidDeviceId, "deviceId"};
  if (!e.device_id().starts_with(device_prefix)) return {Reject::kPrefixNotAllowed, "deviceId"};
  if (e.seq() == 0) return {Reject::kMissingSeq, "seq"};
  if (!e.has_observed_at()) return {Reject::kMissingObservedAt, "observedAt"};
  const auto& ts = e.observed_at();
  if (ts.seconds() < kEarliestObservedSeconds || ts.nanos() < 0 || ts.nanos() > 999999999)
    return {Reject::kInvalidObservedAt, "observedAt"};
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (ts.seconds() > now_s + limits.future_skew_reject.count())
    return {Reject::kObservedAtInFuture, "observedAt"};
  // (0, 0) is what a receiver without a fix sends (and what "location": {} decodes to).
  if (!e.has_location() || (e.location().lat() == 0 && e.location().lon() == 0))
    return {Reject::kMissingLocation, "location"};
  const double lat = e.location().lat(), lon = e.location().lon();
  if (!std::isfinite(lat) || lat < -90 || lat > 90) return {Reject::kLatOutOfRange, "location.lat"};
  if (!std::isfinite(lon) || lon < -180 || lon > 180)
    return {Reject::kLonOutOfRange, "location.lon"};
  Verdict v = CheckPayload(e);
  if (v.reject != Reject::kNone) return v;
  v.future_flag = ts.seconds() > now_s + limits.future_skew_flag.count();
  return v;
}

Verdict CheckDistrictScope(const yiwang::v1::SensorEvent& e,
                           const google::protobuf::RepeatedPtrField<std::string>& districts,
                           const DistrictLookup& lookup) {
  if (districts.empty()) return {};
  auto allowed = [&](const std::string& code) {
    return std::find(districts.begin(), districts.end(), code) != districts.end();
  };
  if (!lookup.of_device) return {Reject::kDistrictNotAllowed, "deviceId"};
  if (const std::string named = lookup.of_device(e.device_id()); !named.empty() && !allowed(named))
    return {Reject::kDistrictNotAllowed, "deviceId"};
  if (lookup.of_point) {
    const std::string at = lookup.of_point(e.location().lat(), e.location().lon());
    if (!at.empty() && !allowed(at)) return {Reject::kDistrictNotAllowed, "location"};
  }
  return {};
}

}  // namespace yiwang::ingest
