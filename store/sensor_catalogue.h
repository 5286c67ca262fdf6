#pragma once
// The sensor catalogue: every payload kind a device may send (SensorEvent.payload) and every
// reading in it, with its JSON name (the wire contract of docs/api.md), label, unit and valid
// range. One table that ingest's validation, the store's device-state update, the alarm
// rules (dispatcher/) and the pages (through GET /api/v1/ui-config) all read, so a new reading
// is added in one place.
//
// It lives in store/ because the store's writer keeps each device's latest reading of every
// kind (DeviceState): the lowest layer that must know the kinds.
//
// Thread safety: immutable tables; any thread.

#include <optional>
#include <span>
#include <string_view>

#include "yiwang/v1/dispatch_config.pb.h"
#include "yiwang/v1/sensor.pb.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::store {

struct SensorMetric {
  std::string_view name;  // JSON name, e.g. "ch4PercentLel"
  yiwang::v1::SensorKind kind;
  bool boolean;            // displaced, lidOpen: read as 1 (true) or 0 (false); no range
  std::string_view label;  // for alarm summaries, e.g. "CH4"
  std::string_view unit;   // in alarm summaries, e.g. "%LEL", "deg"; empty for booleans
  std::string_view symbol; // on charts and pages, e.g. "%LEL", "°"; empty for booleans
  double min, max;         // the valid range (inclusive); a reading outside is rejected
  // The reading, or nullopt if the event carries another payload or lacks the field.
  std::optional<double> (*read)(const yiwang::v1::SensorEvent& ev);
};

struct SensorKindInfo {
  yiwang::v1::SensorKind kind;
  std::string_view json_name;  // the payload's JSON name: "septicTankGas", ...
  yiwang::v1::SensorEvent::PayloadCase payload;
  std::span<const SensorMetric> metrics;
  // Copies the event's payload of this kind into the device's latest-reading field.
  void (*keep_latest)(const yiwang::v1::SensorEvent& ev, yiwang::v1::DeviceState* state);
};

// Every kind, in the order of SensorEvent's payload fields.
std::span<const SensorKindInfo> SensorKinds();
// The kind of `ev`'s payload; nullptr if it has none.
const SensorKindInfo* KindOf(const yiwang::v1::SensorEvent& ev);
// The kind `kind`; nullptr for UNSPECIFIED or an unknown value.
const SensorKindInfo* FindKind(yiwang::v1::SensorKind kind);
// The metric `name` of payload `kind` ("tiltDeg" exists for covers and trees); nullptr if none.
const SensorMetric* FindSensorMetric(std::string_view name, yiwang::v1::SensorKind kind);

// The payload kind of `ev`; SENSOR_KIND_UNSPECIFIED if it has no payload.
yiwang::v1::SensorKind SensorKindOf(const yiwang::v1::SensorEvent& ev);
// The payload's JSON name: "septicTankGas", "manholeCover", "ancientTree", "deviceHealth";
// "none" for UNSPECIFIED.
std::string_view SensorKindJsonName(yiwang::v1::SensorKind kind);

}  // namespace yiwang::store
