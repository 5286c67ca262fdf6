#pragma once
// How alarm conditions and readings are written in keys and summaries. The readings themselves
// (names, units, ranges, how to read them) are the sensor catalogue's: store/sensor_catalogue.h.
//
// Thread safety: pure functions; any thread.

#include <string>

#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::dispatcher {

// A condition's identity in stored alarm state (ConditionState.key), readable and independent of
// its position in the rule: "ch4PercentLel>=25", "|tiltDeg-baseline|>=3", "lidOpen".
std::string ConditionKey(const yiwang::v1::AlarmCondition& c);

// "%g"-like shortest form of a number for keys and summaries, at most `decimals` decimals,
// trailing zeros dropped: 25 -> "25", 31.25 -> "31.25", 3.40000001 -> "3.4" (decimals 2).
std::string FormatNumber(double v, int decimals = 2);

}  // namespace yiwang::dispatcher
