#pragma once
// The alarm engine: sensor readings in, alarm signals out (docs/workflow.md). Pure, like the
// case machine: no I/O, no clock reads; the caller passes the device's stored state, the event,
// and the server time, and gets the next state and the signals.
//
//   Evaluate(state, event, received_at, rules)  -> {next state, RAISE / UPDATE / CLEAR signals}
//   CheckOffline(state, now, rules)              -> {next state, RAISE of 设备离线}
//
// Rules (dispatch_config.proto AlarmRule / AlarmCondition) judge event time (observedAt), so a
// gateway's replayed offline buffer is judged as it happened:
//  - A condition is pending from its first reading on the alarm side until a reading on the
//    normal side; readings in the hysteresis band keep it pending. It fires on a reading on the
//    alarm side once pending for its duration ("CH4 >= 25 %LEL for 60 s").
//  - One open alarm per (device, alarm type). No alarm open and a condition fires: RAISE, at
//    the highest urgency among the firing conditions. Open: a firing condition of a higher
//    urgency -> UPDATE (level up); else a firing condition `repeat_seconds` after the last
//    signal -> UPDATE (count + 1). Levels never go down while open.
//  - CLEAR once every condition of the rule has read normal (or never read) continuously for
//    `clear_seconds`. A flapping reading (e.g. 24/26 around 25 with hysteresis 5) stays in the
//    band and never clears: it yields one alarm, however long it flaps.
//  - Readings are judged in event-time order per device and stream (readings vs deviceHealth):
//    an event older than the newest judged one is ignored (it must not re-raise), and an event
//    observed more than AlarmOptions.max_future_skew_seconds after its receipt is not judged
//    (it would make every later event look old).
//  - deviceHealth events are judged only by deviceHealth rules (e.g. a low-battery alarm, off
//    by default); every event, judged or not, proves the device alive.
// The offline rule runs on server time: a device silent (no event received) for
// silent_intervals x its reporting interval is offline (one RAISE); its next event CLEARs it.
// It watches the devices the configuration binds (`devices`: an exact id or a prefix), and
// others once they have been heard from over OfflineConfig.min_reporting_seconds (an hour by
// default), so that ids nobody installed, sent once, raise no offline case.
//
// Asset of an alarm (the signal's category, asset_id, district), first match wins. The object
// code is the device's DeviceBinding.asset_id, else a 16-digit 部件 object code in the device id
// (a segment between - _ . : separators, e.g. "mh-5001050105000123").
//   category: the rule's `category` (e.g. well_overflow -> "event:0192"); the binding's; the
//             object code's 小类 (digits 7-10: "0105"), if that category exists and is raised by
//             the device's sensor kind; the sensor kind's default_category (manholeCover:
//             "0114" 不明井盖, which the default routing sends to the district's 城管局).
//   asset_id: the object code; else the device id.
//   district: the binding's; the object code's first six digits; a six-digit segment of the
//             id that is a configured district ("sim-cover-500105-0001" -> "500105"); else
//             empty (the driver then locates the case from its coordinates).
// So a manhole sensor's owner comes from configuration (a binding per device or id prefix) or
// from the object code its id carries; without either it is a 不明井盖.
// Alarm ids are "<device id>/<alarm type>/<n>", n counting the device's alarms from 1.
//
// Contract for the driver (not here yet): process each stored event once, in arrival order per
// device; persist `next` with the case changes the signals cause (one WriteBatch); on RAISE
// while the case of that (asset, alarm type) is still open (e.g. a new episode before the
// previous case closed), update that case rather than filing another; on CLEAR, record that
// the case's telemetry is back to normal; after every decision arm a timer at OfflineAt(next)
// and call CheckOffline when it fires.
//
// Thread safety: AlarmRules is immutable after Create; all functions are pure and may be
// called from any thread.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "dispatcher/condition_text.h"
#include "dispatcher/sla.h"
#include "store/sensor_catalogue.h"
#include "yiwang/v1/dispatch_config.pb.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::dispatcher {

// Where an alarm's asset belongs (see the file comment).
struct AssetFacts {
  std::string category;
  std::string asset_id;
  std::string district;
};

// The alarm part of a DispatchConfig, compiled for evaluation: rules by sensor kind, device
// bindings indexed, defaults applied. Build once per configuration.
class AlarmRules {
 public:
  // No rules: judges nothing, never reports a device offline.
  AlarmRules() = default;

  // Compiles `cfg`. InvalidArgument (ValidateDispatchConfig's message) if it is invalid.
  [[nodiscard]] static Status Create(const yiwang::v1::DispatchConfig& cfg, AlarmRules* out);

  // The asset facts of device `device_id` of sensor kind `kind` (UNSPECIFIED: unknown yet).
  AssetFacts FactsFor(std::string_view device_id, yiwang::v1::SensorKind kind) const;

 private:
  friend class AlarmEvaluator;  // alarm_engine.cc: Evaluate, OfflineAt, CheckOffline

  struct Condition {
    yiwang::v1::AlarmCondition spec;
    const store::SensorMetric* metric = nullptr;
    std::string key;  // ConditionKey(spec)
  };
  struct Rule {
    std::string alarm_type;
    std::string category;  // empty: the device's asset category
    yiwang::v1::SensorKind sensor = yiwang::v1::SENSOR_KIND_UNSPECIFIED;
    Duration clear{0};
    Duration repeat{0};  // zero: no repeat updates
    std::vector<Condition> conditions;
  };
  struct Kind {
    std::string default_category;
    Duration reporting_interval{0};  // zero: no offline detection
    uint32_t baseline_samples = 3;
    std::vector<size_t> rules;                          // indexes into rules_
    std::vector<const store::SensorMetric*> baseline_metrics;  // used by from_baseline conditions
  };

  // The binding of `device_id` (exact, else the longest prefix); nullptr if none.
  const yiwang::v1::DeviceBinding* BindingFor(std::string_view device_id) const;
  AssetFacts FactsFor(std::string_view device_id, yiwang::v1::SensorKind kind,
                      const yiwang::v1::DeviceBinding* binding) const;

  std::vector<Rule> rules_;      // enabled rules, in configuration order
  std::array<Kind, 5> kinds_{};  // indexed by SensorKind
  std::unordered_map<std::string, yiwang::v1::DeviceBinding> exact_;
  std::vector<yiwang::v1::DeviceBinding> prefixes_;  // longest prefix first
  std::vector<std::string> districts_;               // sorted codes
  std::unordered_map<std::string, yiwang::v1::SensorKind> category_sensor_;
  bool offline_enabled_ = false;
  std::string offline_type_;
  std::string offline_category_;
  yiwang::v1::Urgency offline_urgency_ = yiwang::v1::URGENCY_GENERAL;
  uint32_t silent_intervals_ = 3;
  Duration min_reporting_{std::chrono::hours(1)};  // unbound devices: heard from this long
  Duration max_future_skew_{std::chrono::seconds(300)};
};

// What Evaluate did with the event (for counters; the decision holds the effects).
enum class EventUse : uint8_t {
  kJudged,      // judged by the rules of its payload kind (possibly none fired)
  kOutOfOrder,  // older than the newest event judged for the device: ignored
  kFutureSkew,  // observed too far after its receipt: not judged
  kNoPayload,   // no payload: not judged
};

struct AlarmDecision {
  yiwang::v1::AlarmState next;
  std::vector<yiwang::v1::AlarmSignal> signals;  // in the order they happened
  EventUse use = EventUse::kJudged;
};

// Judges one event of a device. `prev` is the device's stored state (a default AlarmState for a
// device never seen); `received_at` the server time the event was received (StoredEvent's
// received_at), used for liveness and the future-skew check only.
// REQUIRES: prev.device_id() is empty or equals ev.device_id().
AlarmDecision Evaluate(const yiwang::v1::AlarmState& prev, const yiwang::v1::SensorEvent& ev,
                       Timestamp received_at, const AlarmRules& rules);

// When the device counts as offline if nothing more is received: last_received_at +
// silent_intervals x reporting interval (its binding's, else its sensor kind's; deviceHealth's
// for a device that sent health events only). nullopt if the offline rule is off, the device
// never sent anything, its kind has no interval, it is offline already, or no binding names
// it and its events span less than min_reporting_seconds (first to last received).
std::optional<Timestamp> OfflineAt(const yiwang::v1::AlarmState& state, const AlarmRules& rules);

// The offline rule at server time `now`: a RAISE (and the state with the open offline alarm)
// if now >= OfflineAt(state); otherwise no signal and `next` == state.
AlarmDecision CheckOffline(const yiwang::v1::AlarmState& state, Timestamp now,
                           const AlarmRules& rules);

// "RAISE", "UPDATE", "CLEAR".
std::string_view SignalKindName(yiwang::v1::AlarmSignalKind kind);

}  // namespace yiwang::dispatcher
