#pragma once
// The readings alarm rules may test: one entry per SensorEvent payload field, named by its JSON
// name (the public wire contract, docs/api.md), with how to read it from an event.
//
// Thread safety: immutable tables; any thread.

#include <optional>
#include <string>
#include <string_view>

#include "yiwang/v1/dispatch_config.pb.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::dispatcher {

struct SensorMetric {
  std::string_view name;  // JSON name, e.g. "ch4PercentLel"
  yiwang::v1::SensorKind kind;
  bool boolean;            // displaced, lidOpen: read as 1 (true) or 0 (false)
  std::string_view label;  // for alarm summaries, e.g. "CH4"
  std::string_view unit;   // e.g. "%LEL"; empty for booleans
  // The reading, or nullopt if the event carries another payload or lacks the field.
  std::optional<double> (*read)(const yiwang::v1::SensorEvent& ev);
};

// The metric `name` of payload `kind` ("tiltDeg" exists for covers and trees); nullptr if none.
const SensorMetric* FindSensorMetric(std::string_view name, yiwang::v1::SensorKind kind);

// The payload kind of `ev`; SENSOR_KIND_UNSPECIFIED if it has no payload.
yiwang::v1::SensorKind SensorKindOf(const yiwang::v1::SensorEvent& ev);

// The payload's JSON name: "septicTankGas", "manholeCover", "ancientTree", "deviceHealth";
// "none" for UNSPECIFIED.
std::string_view SensorKindJsonName(yiwang::v1::SensorKind kind);

// A condition's identity in stored alarm state (ConditionState.key), readable and independent of
// its position in the rule: "ch4PercentLel>=25", "|tiltDeg-baseline|>=3", "lidOpen".
std::string ConditionKey(const yiwang::v1::AlarmCondition& c);

// "%g"-like shortest form of a number for keys and summaries, at most `decimals` decimals,
// trailing zeros dropped: 25 -> "25", 31.25 -> "31.25", 3.40000001 -> "3.4" (decimals 2).
std::string FormatNumber(double v, int decimals = 2);

}  // namespace yiwang::dispatcher
