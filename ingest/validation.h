#pragma once
// Validation of one sensor event: a pure function, no I/O, no clock (the caller passes `now`).

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <google/protobuf/repeated_field.h>

#include "ingest/limits.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::ingest {

// Why an event was refused. The names (RejectName) are the public `reason` codes of IngestAck.
enum class Reject {
  kNone = 0,
  kMalformedEvent,        // JSON event that does not parse as a SensorEvent
  kMissingDeviceId,
  kInvalidDeviceId,       // longer than 64 or outside [A-Za-z0-9._:-]
  kPrefixNotAllowed,      // deviceId outside the token's devicePrefix
  kMissingSeq,            // seq absent or 0
  kMissingObservedAt,
  kInvalidObservedAt,     // before 2000-01-01 or nanos out of range
  kObservedAtInFuture,    // later than now + future_skew_reject
  kMissingLocation,       // absent, or (0, 0): a receiver without a fix
  kLatOutOfRange,
  kLonOutOfRange,
  kMissingPayload,        // no septicTankGas / manholeCover / ancientTree / deviceHealth
  kEmptyPayload,          // the payload has no reading at all
  kReadingNotFinite,      // NaN or infinity
  kReadingOutOfRange,     // physically absurd value
  kDistrictNotAllowed,    // names or lies in a district outside the token's districts
  kTooManyNewDevices,     // a new deviceId beyond the token's new-device budget (this hour)
  kReplay,                // (deviceId, seq) stored before with a different payload
  kStorageFull,           // disk full: not stored, retry later
  kOverloaded,            // server queue full: not stored, retry later
  kShuttingDown,          // server stopping: not stored, retry after reconnect
  kUnavailable,           // cluster mode: the log did not acknowledge in time; resend
};
const char* RejectName(Reject r);
// Reasons are 1..kRejectCount-1 (0 is kNone).
inline constexpr int kRejectCount = static_cast<int>(Reject::kUnavailable) + 1;

struct Verdict {
  Reject reject = Reject::kNone;
  std::string detail;           // the offending field (JSON name), for the ack
  bool future_flag = false;     // accepted, but observedAt is later than now + future_skew_flag
};

// Checks `event` as sent by a device holding a token limited to `device_prefix`.
Verdict ValidateEvent(const yiwang::v1::SensorEvent& event, std::string_view device_prefix,
                      std::chrono::system_clock::time_point now, const IngestLimits& limits);

// Where an event belongs, for tokens scoped to districts. Ingest knows neither the dispatch
// configuration nor the district map, so whoever wires the server supplies both (`yiwang serve`:
// the dispatcher's alarm rules and web's district locator):
//   of_device: the district the device's cases are filed in, from its configured binding or a
//              district code its id carries ("cq-jb-septic-500103-0099" -> "500103"); "" if
//              neither names one.
//   of_point:  the district a WGS-84 point lies in; "" outside every district (or no map).
struct DistrictLookup {
  std::function<std::string(std::string_view device_id)> of_device;
  std::function<std::string(double lat, double lon)> of_point;
};

// For a token scoped to `districts` (empty: any district, always passes): kDistrictNotAllowed
// when the event's device names another district (detail "deviceId") or its location lies in
// another district (detail "location"). A scoped token's events are refused ("deviceId") when
// `lookup.of_device` is missing: what cannot be checked is not let through. Without
// `of_point` the location is not checked.
Verdict CheckDistrictScope(const yiwang::v1::SensorEvent& event,
                           const google::protobuf::RepeatedPtrField<std::string>& districts,
                           const DistrictLookup& lookup);

// True if `id` is a valid device id (1..64 chars of [A-Za-z0-9._:-]).
bool ValidDeviceId(std::string_view id);

}  // namespace yiwang::ingest
