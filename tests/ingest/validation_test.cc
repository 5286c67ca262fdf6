// ValidateEvent: one table row per rejection reason that validation produces, with a minimal
// bad event; boundaries that must pass; the device-prefix rule; and the future-skew flag vs
// reject thresholds against an injected `now`.

#include "ingest/validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>

#include "tests/support/events.h"

namespace yiwang::ingest {
namespace {

using test::kNowSeconds;
using yiwang::v1::SensorEvent;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

SensorEvent Valid() { return test::GasEvent("cq-500105-0001", 1, 5.0); }

Verdict Check(const SensorEvent& e, std::string_view prefix = "") {
  return ValidateEvent(e, prefix, test::FixedNow(), IngestLimits{});
}

TEST(ValidationTest, ValidEventPasses) {
  Verdict v = Check(Valid());
  EXPECT_EQ(v.reject, Reject::kNone) << RejectName(v.reject);
  EXPECT_FALSE(v.future_flag);
  EXPECT_EQ(Check(test::HealthEvent("d", 1)).reject, Reject::kNone);
  EXPECT_EQ(Check(test::ManholeEvent("d", 1, 0)).reject, Reject::kNone);
}

struct Row {
  const char* name;
  std::function<void(SensorEvent*)> mutate;
  Reject reject;
  const char* detail;
  const char* prefix = "";
};

class RejectTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(RejectTableTest, RejectsWithReasonAndField) {
  const Row& row = GetParam();
  SensorEvent e = Valid();
  row.mutate(&e);
  Verdict v = Check(e, row.prefix);
  EXPECT_EQ(v.reject, row.reject) << "got " << RejectName(v.reject);
  EXPECT_EQ(v.detail, row.detail);
  EXPECT_FALSE(v.future_flag);
}

// One row per validation reason (the first row of each reason is the minimal bad event), then
// variants of the same reason.
const Row kRows[] = {
    {"missing_device_id", [](SensorEvent* e) { e->clear_device_id(); }, Reject::kMissingDeviceId,
     "deviceId"},
    {"invalid_device_id", [](SensorEvent* e) { e->set_device_id("bad id"); },
     Reject::kInvalidDeviceId, "deviceId"},
    {"invalid_device_id_too_long", [](SensorEvent* e) { e->set_device_id(std::string(65, 'a')); },
     Reject::kInvalidDeviceId, "deviceId"},
    {"invalid_device_id_non_ascii", [](SensorEvent* e) { e->set_device_id("井盖-1"); },
     Reject::kInvalidDeviceId, "deviceId"},
    {"invalid_device_id_slash", [](SensorEvent* e) { e->set_device_id("a/b"); },
     Reject::kInvalidDeviceId, "deviceId"},
    {"prefix_not_allowed", [](SensorEvent* e) { e->set_device_id("sh-1"); },
     Reject::kPrefixNotAllowed, "deviceId", "cq-"},
    {"missing_seq", [](SensorEvent* e) { e->set_seq(0); }, Reject::kMissingSeq, "seq"},
    {"missing_observed_at", [](SensorEvent* e) { e->clear_observed_at(); },
     Reject::kMissingObservedAt, "observedAt"},
    {"invalid_observed_at",
     [](SensorEvent* e) { e->mutable_observed_at()->set_seconds(946684799); },
     Reject::kInvalidObservedAt, "observedAt"},
    {"invalid_observed_at_zero", [](SensorEvent* e) { *e->mutable_observed_at() = test::Ts(0); },
     Reject::kInvalidObservedAt, "observedAt"},
    {"invalid_observed_at_negative_nanos",
     [](SensorEvent* e) { e->mutable_observed_at()->set_nanos(-1); }, Reject::kInvalidObservedAt,
     "observedAt"},
    {"invalid_observed_at_big_nanos",
     [](SensorEvent* e) { e->mutable_observed_at()->set_nanos(1000000000); },
     Reject::kInvalidObservedAt, "observedAt"},
    {"observed_at_in_future",
     [](SensorEvent* e) { e->mutable_observed_at()->set_seconds(kNowSeconds + 86401); },
     Reject::kObservedAtInFuture, "observedAt"},
    {"missing_location", [](SensorEvent* e) { e->clear_location(); }, Reject::kMissingLocation,
     "location"},
    {"missing_location_zero_zero",
     [](SensorEvent* e) {
       e->mutable_location()->set_lat(0);
       e->mutable_location()->set_lon(0);
     },
     Reject::kMissingLocation, "location"},
    {"lat_out_of_range", [](SensorEvent* e) { e->mutable_location()->set_lat(90.0001); },
     Reject::kLatOutOfRange, "location.lat"},
    {"lat_out_of_range_negative", [](SensorEvent* e) { e->mutable_location()->set_lat(-91); },
     Reject::kLatOutOfRange, "location.lat"},
    {"lat_nan", [](SensorEvent* e) { e->mutable_location()->set_lat(kNaN); },
     Reject::kLatOutOfRange, "location.lat"},
    {"lon_out_of_range", [](SensorEvent* e) { e->mutable_location()->set_lon(180.5); },
     Reject::kLonOutOfRange, "location.lon"},
    {"lon_infinite", [](SensorEvent* e) { e->mutable_location()->set_lon(-kInf); },
     Reject::kLonOutOfRange, "location.lon"},
    {"missing_payload", [](SensorEvent* e) { e->clear_payload(); }, Reject::kMissingPayload,
     "payload"},
    {"empty_payload", [](SensorEvent* e) { e->mutable_ancient_tree(); }, Reject::kEmptyPayload,
     "payload"},
    {"empty_payload_gas", [](SensorEvent* e) { e->mutable_septic_tank_gas()->Clear(); },
     Reject::kEmptyPayload, "payload"},
    {"empty_payload_health", [](SensorEvent* e) { e->mutable_device_health(); },
     Reject::kEmptyPayload, "payload"},
    {"empty_payload_manhole", [](SensorEvent* e) { e->mutable_manhole_cover(); },
     Reject::kEmptyPayload, "payload"},
    {"reading_not_finite",
     [](SensorEvent* e) { e->mutable_septic_tank_gas()->set_ch4_percent_lel(kNaN); },
     Reject::kReadingNotFinite, "septicTankGas.ch4PercentLel"},
    {"reading_not_finite_inf",
     [](SensorEvent* e) { e->mutable_septic_tank_gas()->set_nh3_ppm(kInf); },
     Reject::kReadingNotFinite, "septicTankGas.nh3Ppm"},
    {"reading_not_finite_tree",
     [](SensorEvent* e) { e->mutable_ancient_tree()->set_soil_temp_c(-kInf); },
     Reject::kReadingNotFinite, "ancientTree.soilTempC"},
    {"reading_out_of_range",
     [](SensorEvent* e) { e->mutable_septic_tank_gas()->set_ch4_percent_lel(100.5); },
     Reject::kReadingOutOfRange, "septicTankGas.ch4PercentLel"},
    {"reading_out_of_range_negative",
     [](SensorEvent* e) { e->mutable_septic_tank_gas()->set_h2s_ppm(-0.1); },
     Reject::kReadingOutOfRange, "septicTankGas.h2sPpm"},
    {"reading_out_of_range_tilt",
     [](SensorEvent* e) { e->mutable_manhole_cover()->set_tilt_deg(180.1); },
     Reject::kReadingOutOfRange, "manholeCover.tiltDeg"},
    {"reading_out_of_range_water",
     [](SensorEvent* e) { e->mutable_manhole_cover()->set_water_level_cm(-100.5); },
     Reject::kReadingOutOfRange, "manholeCover.waterLevelCm"},
    {"reading_out_of_range_tree_tilt",
     [](SensorEvent* e) { e->mutable_ancient_tree()->set_tilt_deg(91); },
     Reject::kReadingOutOfRange, "ancientTree.tiltDeg"},
    {"reading_out_of_range_vibration",
     [](SensorEvent* e) { e->mutable_ancient_tree()->set_vibration_mg(100001); },
     Reject::kReadingOutOfRange, "ancientTree.vibrationMg"},
    {"reading_out_of_range_moisture",
     [](SensorEvent* e) { e->mutable_ancient_tree()->set_soil_moisture_pct(101); },
     Reject::kReadingOutOfRange, "ancientTree.soilMoisturePct"},
    {"reading_out_of_range_battery",
     [](SensorEvent* e) { e->mutable_device_health()->set_battery_pct(100.01); },
     Reject::kReadingOutOfRange, "deviceHealth.batteryPct"},
    {"reading_out_of_range_rssi",
     [](SensorEvent* e) { e->mutable_device_health()->set_rssi_dbm(1); },
     Reject::kReadingOutOfRange, "deviceHealth.rssiDbm"},
};

INSTANTIATE_TEST_SUITE_P(EveryReason, RejectTableTest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           return std::string(info.param.name);
                         });

// Every reason ValidateEvent can produce has a table row. The others come from elsewhere:
// malformed_event (frame codec), replay/storage_full/overloaded/shutting_down (store/service);
// they are covered by ingest_service_test.cc and the integration tests.
TEST(ValidationTest, TableCoversEveryValidationReason) {
  std::set<Reject> covered;
  for (const Row& r : kRows) covered.insert(r.reject);
  for (int i = static_cast<int>(Reject::kMissingDeviceId);
       i <= static_cast<int>(Reject::kReadingOutOfRange); ++i) {
    EXPECT_TRUE(covered.count(static_cast<Reject>(i)))
        << "no table row for " << RejectName(static_cast<Reject>(i));
  }
}

TEST(ValidationTest, RejectNamesAreTheDocumentedCodes) {
  const std::pair<Reject, const char*> kNames[] = {
      {Reject::kNone, "none"},
      {Reject::kMalformedEvent, "malformed_event"},
      {Reject::kMissingDeviceId, "missing_device_id"},
      {Reject::kInvalidDeviceId, "invalid_device_id"},
      {Reject::kPrefixNotAllowed, "prefix_not_allowed"},
      {Reject::kMissingSeq, "missing_seq"},
      {Reject::kMissingObservedAt, "missing_observed_at"},
      {Reject::kInvalidObservedAt, "invalid_observed_at"},
      {Reject::kObservedAtInFuture, "observed_at_in_future"},
      {Reject::kMissingLocation, "missing_location"},
      {Reject::kLatOutOfRange, "lat_out_of_range"},
      {Reject::kLonOutOfRange, "lon_out_of_range"},
      {Reject::kMissingPayload, "missing_payload"},
      {Reject::kEmptyPayload, "empty_payload"},
      {Reject::kReadingNotFinite, "reading_not_finite"},
      {Reject::kReadingOutOfRange, "reading_out_of_range"},
      {Reject::kDistrictNotAllowed, "district_not_allowed"},
      {Reject::kTooManyNewDevices, "too_many_new_devices"},
      {Reject::kReplay, "replay"},
      {Reject::kStorageFull, "storage_full"},
      {Reject::kOverloaded, "overloaded"},
      {Reject::kShuttingDown, "shutting_down"},
      {Reject::kUnavailable, "unavailable"},
  };
  std::set<std::string> seen;
  for (auto [r, name] : kNames) {
    EXPECT_STREQ(RejectName(r), name);
    EXPECT_TRUE(seen.insert(RejectName(r)).second) << "duplicate name " << name;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRejectCount));  // every reason is named above
}

TEST(ValidationTest, BoundaryValuesPass) {
  auto ok = [](std::function<void(SensorEvent*)> mutate) {
    SensorEvent e = Valid();
    mutate(&e);
    Verdict v = Check(e);
    return v.reject == Reject::kNone ? std::string("ok") : std::string(RejectName(v.reject));
  };
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_location()->set_lat(90); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_location()->set_lat(-90); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_location()->set_lon(180); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_location()->set_lon(-180); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_location()->set_lat(0); }), "ok");  // 0,0 is a place
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_septic_tank_gas()->set_ch4_percent_lel(0); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_septic_tank_gas()->set_ch4_percent_lel(100); }),
            "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_manhole_cover()->set_water_level_cm(-100); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_manhole_cover()->set_displaced(false); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_ancient_tree()->set_soil_temp_c(-50); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_device_health()->set_rssi_dbm(-150); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_device_health()->set_rssi_dbm(0); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { *e->mutable_observed_at() = test::Ts(946684800); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->mutable_observed_at()->set_nanos(999999999); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->set_seq(UINT64_MAX); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->set_device_id(std::string(64, 'a')); }), "ok");
  EXPECT_EQ(ok([](SensorEvent* e) { e->set_device_id("AZaz09._:-"); }), "ok");
}

TEST(ValidationTest, ChecksRunInFieldOrder) {
  SensorEvent e;  // everything missing: the device id is reported first
  EXPECT_EQ(Check(e).reject, Reject::kMissingDeviceId);
  e.set_device_id("d");
  EXPECT_EQ(Check(e).reject, Reject::kMissingSeq);
  e.set_seq(1);
  EXPECT_EQ(Check(e).reject, Reject::kMissingObservedAt);
}

TEST(ValidationTest, ValidDeviceId) {
  EXPECT_TRUE(ValidDeviceId("a"));
  EXPECT_TRUE(ValidDeviceId("cq-500105-0101-000001"));
  EXPECT_TRUE(ValidDeviceId("gw.1:sensor_2"));
  EXPECT_TRUE(ValidDeviceId(std::string(64, '9')));
  EXPECT_FALSE(ValidDeviceId(""));
  EXPECT_FALSE(ValidDeviceId(std::string(65, '9')));
  EXPECT_FALSE(ValidDeviceId("a b"));
  EXPECT_FALSE(ValidDeviceId(std::string("a\0b", 3)));
  EXPECT_FALSE(ValidDeviceId("a\n"));
  EXPECT_FALSE(ValidDeviceId("a%2F"));
  EXPECT_FALSE(ValidDeviceId("ä"));
}

TEST(ValidationTest, PrefixRule) {
  auto with = [](const std::string& id, std::string_view prefix) {
    SensorEvent e = Valid();
    e.set_device_id(id);
    return Check(e, prefix).reject;
  };
  EXPECT_EQ(with("anything-1", ""), Reject::kNone);  // empty prefix allows every device
  EXPECT_EQ(with("cq-500105-0001", "cq-500105-"), Reject::kNone);
  EXPECT_EQ(with("cq-500105-", "cq-500105-"), Reject::kNone);  // the prefix itself
  EXPECT_EQ(with("cq-500106-0001", "cq-500105-"), Reject::kPrefixNotAllowed);
  EXPECT_EQ(with("cq-500105", "cq-500105-"), Reject::kPrefixNotAllowed);       // shorter
  EXPECT_EQ(with("CQ-500105-0001", "cq-500105-"), Reject::kPrefixNotAllowed);  // case matters
  EXPECT_EQ(with("x-cq-500105-1", "cq-500105-"), Reject::kPrefixNotAllowed);   // not a substring
  // An invalid id is reported as invalid, not as outside the prefix.
  EXPECT_EQ(with("cq-500105-bad id", "cq-500105-"), Reject::kInvalidDeviceId);
}

TEST(ValidationTest, FutureObservedAtIsFlaggedThenRejected) {
  auto at = [](int64_t seconds, IngestLimits limits = {}) {
    SensorEvent e = Valid();
    *e.mutable_observed_at() = test::Ts(seconds, 500000000);
    return ValidateEvent(e, "", test::FixedNow(), limits);
  };
  // Defaults: flag beyond now + 300 s, reject beyond now + 86400 s (whole seconds compared).
  EXPECT_FALSE(at(kNowSeconds).future_flag);
  EXPECT_FALSE(at(kNowSeconds + 300).future_flag);
  EXPECT_EQ(at(kNowSeconds + 301).reject, Reject::kNone);
  EXPECT_TRUE(at(kNowSeconds + 301).future_flag);
  EXPECT_EQ(at(kNowSeconds + 86400).reject, Reject::kNone);
  EXPECT_TRUE(at(kNowSeconds + 86400).future_flag);
  EXPECT_EQ(at(kNowSeconds + 86401).reject, Reject::kObservedAtInFuture);
  // Old events are neither (a gateway's offline buffer).
  EXPECT_FALSE(at(kNowSeconds - 30 * 86400).future_flag);
  EXPECT_EQ(at(kNowSeconds - 30 * 86400).reject, Reject::kNone);

  IngestLimits tight;
  tight.future_skew_flag = std::chrono::seconds(10);
  tight.future_skew_reject = std::chrono::seconds(20);
  EXPECT_FALSE(at(kNowSeconds + 10, tight).future_flag);
  EXPECT_TRUE(at(kNowSeconds + 11, tight).future_flag);
  EXPECT_EQ(at(kNowSeconds + 20, tight).reject, Reject::kNone);
  EXPECT_EQ(at(kNowSeconds + 21, tight).reject, Reject::kObservedAtInFuture);
  // `now` is what the caller passes, not the wall clock.
  SensorEvent e = Valid();
  *e.mutable_observed_at() = test::Ts(kNowSeconds + 1000);
  EXPECT_EQ(ValidateEvent(e, "", test::FixedNow() + std::chrono::seconds(1000), tight).reject,
            Reject::kNone);
}

}  // namespace
}  // namespace yiwang::ingest
