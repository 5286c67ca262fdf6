#include "ingest/validation.h"

#include <cmath>

#include "store/key_codec.h"

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
    case Reject::kReplay: return "replay";
    case Reject::kStorageFull: return "storage_full";
    case Reject::kOverloaded: return "overloaded";
    case Reject::kShuttingDown: return "shutting_down";
  }
  return "unknown";
}

bool ValidDeviceId(std::string_view id) { return !id.empty() && store::DeviceIdChars(id); }

namespace {

// 2000-01-01T00:00:00Z: nothing observed earlier belongs to this platform.
constexpr int64_t kEarliestObservedSeconds = 946684800;

struct Range {
  const char* field;
  double lo, hi;
};

// Checks one optional reading; returns kNone if absent or fine.
Verdict CheckReading(bool has, double v, Range r, int* present) {
  if (!has) return {};
  ++*present;
  if (!std::isfinite(v)) return {Reject::kReadingNotFinite, r.field};
  if (v < r.lo || v > r.hi) return {Reject::kReadingOutOfRange, r.field};
  return {};
}

#define YW_CHECK(has, v, field, lo, hi)                                  \
  do {                                                                   \
    Verdict vr = CheckReading((has), (v), Range{field, lo, hi}, &present); \
    if (vr.reject != Reject::kNone) return vr;                           \
  } while (0)

Verdict CheckPayload(const yiwang::v1::SensorEvent& e) {
  int present = 0;
  switch (e.payload_case()) {
    case yiwang::v1::SensorEvent::kSepticTankGas: {
      const auto& p = e.septic_tank_gas();
      YW_CHECK(p.has_ch4_percent_lel(), p.ch4_percent_lel(), "septicTankGas.ch4PercentLel", 0, 100);
      YW_CHECK(p.has_h2s_ppm(), p.h2s_ppm(), "septicTankGas.h2sPpm", 0, 1000);
      YW_CHECK(p.has_nh3_ppm(), p.nh3_ppm(), "septicTankGas.nh3Ppm", 0, 1000);
      break;
    }
    case yiwang::v1::SensorEvent::kManholeCover: {
      const auto& p = e.manhole_cover();
      YW_CHECK(p.has_tilt_deg(), p.tilt_deg(), "manholeCover.tiltDeg", 0, 180);
      YW_CHECK(p.has_water_level_cm(), p.water_level_cm(), "manholeCover.waterLevelCm", -100, 10000);
      present += p.has_displaced() + p.has_lid_open();
      break;
    }
    case yiwang::v1::SensorEvent::kAncientTree: {
      const auto& p = e.ancient_tree();
      YW_CHECK(p.has_tilt_deg(), p.tilt_deg(), "ancientTree.tiltDeg", 0, 90);
      YW_CHECK(p.has_vibration_mg(), p.vibration_mg(), "ancientTree.vibrationMg", 0, 100000);
      YW_CHECK(p.has_soil_moisture_pct(), p.soil_moisture_pct(), "ancientTree.soilMoisturePct", 0, 100);
      YW_CHECK(p.has_soil_temp_c(), p.soil_temp_c(), "ancientTree.soilTempC", -50, 80);
      break;
    }
    case yiwang::v1::SensorEvent::kDeviceHealth: {
      const auto& p = e.device_health();
      YW_CHECK(p.has_battery_pct(), p.battery_pct(), "deviceHealth.batteryPct", 0, 100);
      YW_CHECK(p.has_rssi_dbm(), p.rssi_dbm(), "deviceHealth.rssiDbm", -150, 0);
      break;
    }
    case yiwang::v1::SensorEvent::PAYLOAD_NOT_SET:
      return {Reject::kMissingPayload, "payload"};
  }
  if (present == 0) return {Reject::kEmptyPayload, "payload"};
  return {};
}

#undef YW_CHECK

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

}  // namespace yiwang::ingest
