// The alarm engine under the shipped default rules: duration, repeat, level upgrade, clear with
// hysteresis, flapping, event-time order, replayed buffers, offline detection, manhole covers,
// ancient-tree baselines, and where an alarm's asset belongs.

#include "dispatcher/alarm_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "dispatcher/dispatch_config.h"
#include "tests/dispatcher/test_util.h"

namespace yiwang::dispatcher {
namespace {

namespace v1 = yiwang::v1;
using namespace std::chrono_literals;
using testing::Local;

constexpr const char* kSeptic = "sim-septic-500105-0001";
constexpr const char* kCover = "sim-cover-500106-0001";
constexpr const char* kTree = "sim-tree-500103-0001";

const Timestamp kT0 = Local(2026, 11, 16, 10, 0);  // a Monday morning

AlarmRules Compile(const v1::DispatchConfig& cfg) {
  AlarmRules rules;
  Status s = AlarmRules::Create(cfg, &rules);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return rules;
}

const AlarmRules& DefaultRules() {
  static const AlarmRules rules = Compile(DefaultDispatchConfig());
  return rules;
}

// The default rules, but every device watched for going offline from its first event (the
// default waits until an unbound device has been heard from for an hour).
const AlarmRules& WatchAllRules() {
  static const AlarmRules rules = [] {
    v1::DispatchConfig cfg = DefaultDispatchConfig();
    cfg.mutable_offline()->set_min_reporting_seconds(0);
    return Compile(cfg);
  }();
  return rules;
}

v1::SensorEvent Event(const std::string& device, Timestamp t) {
  static uint64_t seq = 0;
  v1::SensorEvent ev;
  ev.set_device_id(device);
  ev.set_seq(++seq);
  *ev.mutable_observed_at() = ToProto(t);
  ev.mutable_location()->set_lat(29.57);
  ev.mutable_location()->set_lon(106.55);
  return ev;
}

v1::SensorEvent Gas(Timestamp t, double ch4, double h2s = 1.0, const std::string& dev = kSeptic) {
  v1::SensorEvent ev = Event(dev, t);
  ev.mutable_septic_tank_gas()->set_ch4_percent_lel(ch4);
  ev.mutable_septic_tank_gas()->set_h2s_ppm(h2s);
  ev.mutable_septic_tank_gas()->set_nh3_ppm(5);
  return ev;
}

v1::SensorEvent Cover(Timestamp t, double tilt, bool displaced, bool lid_open, double water,
                      const std::string& dev = kCover) {
  v1::SensorEvent ev = Event(dev, t);
  v1::ManholeCover* c = ev.mutable_manhole_cover();
  c->set_tilt_deg(tilt);
  c->set_displaced(displaced);
  c->set_lid_open(lid_open);
  c->set_water_level_cm(water);
  return ev;
}

v1::SensorEvent Tree(Timestamp t, double tilt, double vibration = 10,
                     const std::string& dev = kTree) {
  v1::SensorEvent ev = Event(dev, t);
  ev.mutable_ancient_tree()->set_tilt_deg(tilt);
  ev.mutable_ancient_tree()->set_vibration_mg(vibration);
  ev.mutable_ancient_tree()->set_soil_moisture_pct(30);
  return ev;
}

v1::SensorEvent Health(Timestamp t, double battery, const std::string& dev) {
  v1::SensorEvent ev = Event(dev, t);
  ev.mutable_device_health()->set_battery_pct(battery);
  ev.mutable_device_health()->set_rssi_dbm(-80);
  return ev;
}

// One device's state through a sequence of events, like the driver keeps it.
class Device {
 public:
  explicit Device(const AlarmRules& rules = DefaultRules()) : rules_(rules) {}

  // Feeds one event received `delay` after it was observed (or at `received`).
  std::vector<v1::AlarmSignal> Feed(const v1::SensorEvent& ev,
                                    std::optional<Timestamp> received = std::nullopt) {
    const Timestamp at = received.value_or(FromProto(ev.observed_at()) + 200ms);
    AlarmDecision d = Evaluate(state_, ev, at, rules_);
    state_ = d.next;
    use_ = d.use;
    all_.insert(all_.end(), d.signals.begin(), d.signals.end());
    return d.signals;
  }
  std::vector<v1::AlarmSignal> CheckOffline(Timestamp now) {
    AlarmDecision d = dispatcher::CheckOffline(state_, now, rules_);
    state_ = d.next;
    all_.insert(all_.end(), d.signals.begin(), d.signals.end());
    return d.signals;
  }

  int Count(v1::AlarmSignalKind kind) const {
    int n = 0;
    for (const auto& s : all_) n += s.kind() == kind;
    return n;
  }
  const v1::AlarmState& state() const { return state_; }
  EventUse use() const { return use_; }
  const std::vector<v1::AlarmSignal>& all() const { return all_; }

 private:
  const AlarmRules& rules_;
  v1::AlarmState state_;
  EventUse use_ = EventUse::kJudged;
  std::vector<v1::AlarmSignal> all_;
};

// Feeds `ch4` every `step` over [from, to] (both included); returns the signals.
std::vector<v1::AlarmSignal> GasRun(Device* d, Timestamp from, Timestamp to, Duration step,
                                    double ch4, double h2s = 1.0) {
  std::vector<v1::AlarmSignal> out;
  for (Timestamp t = from; t <= to; t += step) {
    auto s = d->Feed(Gas(t, ch4, h2s));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

// --- duration --------------------------------------------------------------------------------

TEST(AlarmEngineTest, GasMustHoldSixtySeconds) {
  Device d;
  EXPECT_TRUE(GasRun(&d, kT0, kT0 + 55s, 5s, 30).empty());
  EXPECT_TRUE(d.Feed(Gas(kT0 + 59s, 30)).empty());  // 59 s above: nothing yet
  EXPECT_EQ(d.use(), EventUse::kJudged);
  auto s = d.Feed(Gas(kT0 + 61s, 30));  // 61 s above: RAISE
  ASSERT_EQ(s.size(), 1u);
  const v1::AlarmSignal& raise = s[0];
  EXPECT_EQ(raise.kind(), v1::ALARM_SIGNAL_KIND_RAISE);
  EXPECT_EQ(raise.alarm_id(), std::string(kSeptic) + "/harmful_gas/1");
  EXPECT_EQ(raise.device_id(), kSeptic);
  EXPECT_EQ(raise.alarm_type(), "harmful_gas");
  EXPECT_EQ(raise.category(), "0302");
  EXPECT_EQ(raise.asset_id(), kSeptic);   // no object code known: the device id
  EXPECT_EQ(raise.district(), "500105");  // from the id's district segment
  EXPECT_EQ(raise.urgency(), v1::URGENCY_URGENT);
  EXPECT_EQ(raise.count(), 1u);
  EXPECT_EQ(FromProto(raise.at()), kT0 + 61s);
  EXPECT_EQ(FromProto(raise.raised_at()), kT0 + 61s);
  EXPECT_EQ(raise.metric(), "ch4PercentLel");
  EXPECT_EQ(raise.value(), 30);
  EXPECT_EQ(raise.threshold(), 25);
  EXPECT_EQ(raise.summary(), "CH4 30 %LEL >= 25 for 61 s");
  EXPECT_DOUBLE_EQ(raise.location().lat(), 29.57);
}

TEST(AlarmEngineTest, ANormalReadingRestartsTheDuration) {
  Device d;
  EXPECT_TRUE(GasRun(&d, kT0, kT0 + 50s, 5s, 30).empty());
  EXPECT_TRUE(d.Feed(Gas(kT0 + 55s, 10)).empty());  // below 25 - 5: normal
  EXPECT_TRUE(GasRun(&d, kT0 + 60s, kT0 + 115s, 5s, 30).empty());
  EXPECT_EQ(d.Feed(Gas(kT0 + 120s, 30)).size(), 1u);  // 60 s since 60 s
}

TEST(AlarmEngineTest, H2sAloneRaises) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 10s, 5, 12);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  EXPECT_EQ(d.all()[0].metric(), "h2sPpm");
  EXPECT_EQ(d.all()[0].summary(), "H2S 12 ppm >= 10 for 60 s");
}

// --- repeat and level --------------------------------------------------------------------------

TEST(AlarmEngineTest, StillAboveUpdatesWithACountEveryRepeatInterval) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 30);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  // repeatSeconds 300: an UPDATE at 360 s and 660 s, nothing in between, never a new RAISE.
  auto s = GasRun(&d, kT0 + 65s, kT0 + 355s, 5s, 30);
  EXPECT_TRUE(s.empty());
  s = d.Feed(Gas(kT0 + 360s, 31));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_UPDATE);
  EXPECT_EQ(s[0].count(), 2u);
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_URGENT);
  EXPECT_EQ(s[0].alarm_id(), std::string(kSeptic) + "/harmful_gas/1");
  EXPECT_EQ(FromProto(s[0].raised_at()), kT0 + 60s);
  GasRun(&d, kT0 + 365s, kT0 + 660s, 5s, 30);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_UPDATE), 2);
  EXPECT_EQ(d.all().back().count(), 3u);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
}

TEST(AlarmEngineTest, RisingToEmergencyUpdatesTheLevel) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 30);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  // CH4 >= 50 from 100 s: emergency once held 60 s, at 160 s.
  EXPECT_TRUE(GasRun(&d, kT0 + 100s, kT0 + 155s, 5s, 55).empty());
  auto s = d.Feed(Gas(kT0 + 160s, 56));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_UPDATE);
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_EMERGENCY);
  EXPECT_EQ(s[0].count(), 2u);
  EXPECT_EQ(s[0].summary(), "CH4 56 %LEL >= 50 for 60 s");
  // Back to 30: still open, still emergency (levels never go down), no new signal.
  EXPECT_TRUE(GasRun(&d, kT0 + 165s, kT0 + 300s, 5s, 30).empty());
  EXPECT_EQ(d.state().rules(0).level(), v1::URGENCY_EMERGENCY);
}

TEST(AlarmEngineTest, EmergencyFromTheStartRaisesAtEmergency) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 70, 25);
  ASSERT_EQ(d.all().size(), 1u);
  EXPECT_EQ(d.all()[0].urgency(), v1::URGENCY_EMERGENCY);
}

// --- clear -------------------------------------------------------------------------------------

TEST(AlarmEngineTest, ClearNeedsNormalBeyondHysteresisForTheClearDuration) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 30);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  // 22 %LEL is below 25 but inside the hysteresis band (20..25): the alarm stays open.
  EXPECT_TRUE(GasRun(&d, kT0 + 65s, kT0 + 365s, 5s, 22).empty());
  // Normal (< 20) from 400 s: CLEAR once normal for 60 s.
  EXPECT_TRUE(GasRun(&d, kT0 + 400s, kT0 + 455s, 5s, 10).empty());
  auto s = d.Feed(Gas(kT0 + 460s, 10));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
  EXPECT_EQ(s[0].alarm_id(), std::string(kSeptic) + "/harmful_gas/1");
  EXPECT_EQ(s[0].summary(), "back to normal for 60 s");
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_URGENT);
  EXPECT_EQ(s[0].category(), "0302");
  EXPECT_EQ(FromProto(s[0].at()), kT0 + 460s);
  EXPECT_TRUE(d.state().rules(0).alarm_id().empty());
  // A new episode is a new alarm.
  GasRun(&d, kT0 + 1000s, kT0 + 1060s, 5s, 30);
  EXPECT_EQ(d.all().back().kind(), v1::ALARM_SIGNAL_KIND_RAISE);
  EXPECT_EQ(d.all().back().alarm_id(), std::string(kSeptic) + "/harmful_gas/2");
}

TEST(AlarmEngineTest, ABriefRelapseRestartsTheClearDuration) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 30);
  GasRun(&d, kT0 + 100s, kT0 + 140s, 5s, 10);
  d.Feed(Gas(kT0 + 145s, 23));  // back into the band
  GasRun(&d, kT0 + 150s, kT0 + 205s, 5s, 10);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 0);
  d.Feed(Gas(kT0 + 210s, 10));
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 1);
}

TEST(AlarmEngineTest, FlappingAroundTheThresholdYieldsOneAlarm) {
  Device d;
  // 24 / 26 %LEL alternating every 5 s for 10 minutes.
  for (int i = 0; i <= 120; ++i) d.Feed(Gas(kT0 + i * 5s, i % 2 ? 24 : 26));
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 0);
  std::string want(kSeptic);
  want += "/harmful_gas/1";
  for (const auto& s : d.all()) EXPECT_EQ(s.alarm_id(), want);
  // And it clears once the gas really goes away.
  GasRun(&d, kT0 + 605s, kT0 + 700s, 5s, 5);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 1);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
}

TEST(AlarmEngineTest, FlappingLidYieldsOneAlarm) {
  Device d;
  for (int i = 0; i < 60; ++i) d.Feed(Cover(kT0 + i * 5s, 1, false, i % 2 == 0, 150));
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 0);
}

// --- event time --------------------------------------------------------------------------------

TEST(AlarmEngineTest, OutOfOrderOldEventIsIgnored) {
  Device d;
  GasRun(&d, kT0, kT0 + 60s, 5s, 30);
  GasRun(&d, kT0 + 100s, kT0 + 200s, 5s, 5);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 1);
  const v1::AlarmState before = d.state();
  // A late event from before the clear, far over the threshold: must not re-raise.
  auto s = d.Feed(Gas(kT0 + 90s, 80, 30), kT0 + 300s);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(d.use(), EventUse::kOutOfOrder);
  EXPECT_EQ(d.state().rules(0).SerializeAsString(), before.rules(0).SerializeAsString());
  // Many of them, spanning more than the duration: still nothing.
  for (int i = 0; i < 20; ++i) d.Feed(Gas(kT0 + 10s + i * 5s, 80, 30), kT0 + 301s);
  EXPECT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
}

TEST(AlarmEngineTest, EventsAtTheSameInstantAreJudged) {
  Device d;
  d.Feed(Gas(kT0, 30));
  d.Feed(Gas(kT0, 30));
  EXPECT_EQ(d.use(), EventUse::kJudged);
}

TEST(AlarmEngineTest, ReplayedOfflineBufferIsJudgedAsItHappened) {
  Device d;
  d.Feed(Gas(kT0, 5));
  // The gateway was cut off for an hour; its buffer arrives within a second, in order, with
  // an episode of 2 minutes above the threshold an hour ago.
  const Timestamp now = kT0 + 3600s;
  for (int i = 1; i <= 60; ++i) {
    const Timestamp observed = kT0 + i * 10s;
    const double ch4 = (i >= 20 && i < 32) ? 35 : 5;  // above during [200 s, 310 s]
    d.Feed(Gas(observed, ch4), now + i * 10ms);
  }
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_RAISE), 1);
  ASSERT_EQ(d.Count(v1::ALARM_SIGNAL_KIND_CLEAR), 1);
  const v1::AlarmSignal& raise = d.all()[0];
  EXPECT_EQ(FromProto(raise.raised_at()), kT0 + 260s);  // 60 s after 200 s, in event time
  EXPECT_EQ(FromProto(raise.at()), kT0 + 260s);
  const v1::AlarmSignal& clear = d.all()[1];
  EXPECT_EQ(clear.kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
  EXPECT_EQ(FromProto(clear.at()), kT0 + 380s);  // normal from 320 s, for 60 s
  // Liveness follows the server clock, not the old observedAt.
  EXPECT_GE(FromProto(d.state().last_received_at()), now);
}

TEST(AlarmEngineTest, EventsFromTheFarFutureAreNotJudged) {
  Device d;
  d.Feed(Gas(kT0, 5));
  d.Feed(Gas(kT0 + 2h, 80, 30), kT0 + 10s);  // device clock two hours ahead
  EXPECT_EQ(d.use(), EventUse::kFutureSkew);
  // It did not move the device's event time: the next honest reading is judged.
  d.Feed(Gas(kT0 + 20s, 5));
  EXPECT_EQ(d.use(), EventUse::kJudged);
  EXPECT_EQ(FromProto(d.state().last_reading_at()), kT0 + 20s);
}

// --- offline -----------------------------------------------------------------------------------

TEST(AlarmEngineTest, SilentDeviceGoesOfflineOnServerTimeAndComesBack) {
  Device d(WatchAllRules());
  d.Feed(Gas(kT0, 5), kT0 + 1s);
  // septicTankGas reports every 60 s: offline after 3 intervals without an event.
  ASSERT_EQ(OfflineAt(d.state(), WatchAllRules()), kT0 + 1s + 180s);
  EXPECT_TRUE(d.CheckOffline(kT0 + 180s).empty());
  auto s = d.CheckOffline(kT0 + 181s);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_RAISE);
  EXPECT_EQ(s[0].alarm_type(), "device_offline");
  EXPECT_EQ(s[0].category(), "sys:device_offline");
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_GENERAL);
  EXPECT_EQ(s[0].district(), "500105");
  EXPECT_EQ(s[0].alarm_id(), std::string(kSeptic) + "/device_offline/1");
  EXPECT_EQ(FromProto(s[0].at()), kT0 + 181s);
  EXPECT_EQ(s[0].summary(), "no event for 180 s (offline after 3 x 60 s)");
  // Once offline: no second alarm, however long the silence.
  EXPECT_FALSE(OfflineAt(d.state(), WatchAllRules()).has_value());
  EXPECT_TRUE(d.CheckOffline(kT0 + 10h).empty());
  // Any event brings it back (here a health report), then the clock starts again.
  s = d.Feed(Health(kT0 + 10h, 80, kSeptic), kT0 + 10h + 1s);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
  EXPECT_EQ(s[0].alarm_type(), "device_offline");
  EXPECT_EQ(s[0].summary(), "reporting again");
  EXPECT_EQ(OfflineAt(d.state(), WatchAllRules()), kT0 + 10h + 1s + 180s);
}

TEST(AlarmEngineTest, OldEventsStillProveTheDeviceAlive) {
  Device d(WatchAllRules());
  d.Feed(Gas(kT0 + 100s, 5), kT0 + 100s);
  d.Feed(Gas(kT0, 5), kT0 + 150s);  // out of order, but received
  EXPECT_EQ(d.use(), EventUse::kOutOfOrder);
  EXPECT_EQ(OfflineAt(d.state(), WatchAllRules()), kT0 + 150s + 180s);
}

TEST(AlarmEngineTest, OfflineIntervalPerKindAndPerBinding) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  cfg.mutable_offline()->set_min_reporting_seconds(0);
  v1::DeviceBinding* b = cfg.add_devices();
  b->set_device_prefix("slow-");
  b->set_reporting_interval_seconds(3600);
  const AlarmRules rules = Compile(cfg);
  Device cover(rules), slow(rules), health_only(rules);
  cover.Feed(Cover(kT0, 1, false, false, 150), kT0);
  EXPECT_EQ(OfflineAt(cover.state(), rules), kT0 + 900s);  // 3 x 300 s
  slow.Feed(Cover(kT0, 1, false, false, 150, "slow-cover-1"), kT0);
  EXPECT_EQ(OfflineAt(slow.state(), rules), kT0 + 3h);
  health_only.Feed(Health(kT0, 90, "gw-7"), kT0);
  EXPECT_EQ(OfflineAt(health_only.state(), rules), kT0 + 3h);  // deviceHealth: 3 x 3600 s
}

// Finding 4 of issue 19: one frame of 50 never-seen ids produced 50 sys:device_offline cases
// three minutes later. Now only devices the configuration binds are watched from their first
// event; others once they have been heard from over min_reporting_seconds (an hour).
TEST(Finding4_OfflineCases, IdsSentOnceRaiseNoOfflineCase) {
  for (int i = 0; i < 50; ++i) {
    Device d;
    d.Feed(Gas(kT0, 5, 1.0, "sim-septic-500105-" + std::to_string(9000 + i)), kT0 + 1s);
    EXPECT_FALSE(OfflineAt(d.state(), DefaultRules()).has_value()) << i;
    EXPECT_TRUE(d.CheckOffline(kT0 + 181s).empty()) << i;
    EXPECT_TRUE(d.CheckOffline(kT0 + 24h).empty()) << i;
  }
}

TEST(Finding4_OfflineCases, BoundDevicesAreWatchedFromTheirFirstEvent) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  cfg.add_devices()->set_device_prefix("bound-");
  const AlarmRules rules = Compile(cfg);
  Device d(rules);
  d.Feed(Gas(kT0, 5, 1.0, "bound-septic-500105-0001"), kT0 + 1s);
  EXPECT_EQ(OfflineAt(d.state(), rules), kT0 + 1s + 180s);
  EXPECT_EQ(d.CheckOffline(kT0 + 182s).size(), 1u);
}

TEST(Finding4_OfflineCases, OthersOnceHeardFromForAnHour) {
  Device d;
  for (Timestamp t = kT0; t < kT0 + 1h; t += 60s) {
    d.Feed(Gas(t, 5), t);
    EXPECT_FALSE(OfflineAt(d.state(), DefaultRules()).has_value());
  }
  EXPECT_TRUE(d.CheckOffline(kT0 + 2h).empty());  // went silent before its hour was up
  d.Feed(Gas(kT0 + 2h, 5), kT0 + 2h);  // now heard from over two hours
  EXPECT_EQ(OfflineAt(d.state(), DefaultRules()), kT0 + 2h + 180s);
  EXPECT_EQ(d.CheckOffline(kT0 + 2h + 180s).size(), 1u);
}

TEST(Finding4_OfflineCases, TheSpanIsConfigurable) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  cfg.mutable_offline()->set_min_reporting_seconds(600);
  const AlarmRules rules = Compile(cfg);
  Device d(rules);
  d.Feed(Gas(kT0, 5), kT0);
  d.Feed(Gas(kT0 + 540s, 5), kT0 + 540s);
  EXPECT_FALSE(OfflineAt(d.state(), rules).has_value());
  d.Feed(Gas(kT0 + 600s, 5), kT0 + 600s);
  EXPECT_EQ(OfflineAt(d.state(), rules), kT0 + 780s);
}

TEST(AlarmEngineTest, OfflineRuleCanBeSwitchedOff) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  cfg.mutable_offline()->set_disabled(true);
  const AlarmRules rules = Compile(cfg);
  Device d(rules);
  d.Feed(Gas(kT0, 5));
  EXPECT_FALSE(OfflineAt(d.state(), rules).has_value());
  EXPECT_TRUE(d.CheckOffline(kT0 + 24h).empty());
}

// --- device health -----------------------------------------------------------------------------

TEST(AlarmEngineTest, HealthEventsNeverRaiseThresholdAlarms) {
  Device d;
  d.Feed(Gas(kT0, 5));
  for (int i = 1; i <= 20; ++i) d.Feed(Health(kT0 + i * 60s, 2, kSeptic));  // battery 2 %
  EXPECT_TRUE(d.all().empty());  // low_battery is off by default
  EXPECT_EQ(d.state().sensor(), v1::SENSOR_KIND_SEPTIC_TANK_GAS);
}

TEST(AlarmEngineTest, LowBatteryAlarmWhenEnabled) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  for (v1::AlarmRule& r : *cfg.mutable_alarm_rules())
    if (r.alarm_type() == "low_battery") r.set_disabled(false);
  const AlarmRules rules = Compile(cfg);
  Device d(rules);
  d.Feed(Tree(kT0, 5));
  auto s = d.Feed(Health(kT0 + 60s, 8, kTree));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].alarm_type(), "low_battery");
  EXPECT_EQ(s[0].category(), "sys:device_low_battery");
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_GENERAL);
  EXPECT_EQ(s[0].district(), "500103");
  // Health and readings are separate streams: a tree reading older than the health event
  // is still in order for the tree rules.
  d.Feed(Tree(kT0 + 30s, 5));
  EXPECT_EQ(d.use(), EventUse::kJudged);
}

// --- manhole covers ----------------------------------------------------------------------------

TEST(AlarmEngineTest, ManholeOpenIsAnImmediateEmergency) {
  Device d;
  EXPECT_TRUE(d.Feed(Cover(kT0, 1.2, false, false, 150)).empty());
  auto s = d.Feed(Cover(kT0 + 10s, 2.0, false, true, 150));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_RAISE);
  EXPECT_EQ(s[0].alarm_type(), "cover_abnormal");
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_EMERGENCY);
  EXPECT_EQ(s[0].category(), "0114");  // owner unknown: 不明井盖 -> the district 城管局
  EXPECT_EQ(s[0].district(), "500106");
  EXPECT_EQ(s[0].summary(), "lid open");
  // Displaced and tilted as well: the same alarm (repeat after 600 s only).
  EXPECT_TRUE(d.Feed(Cover(kT0 + 20s, 40, true, true, 150)).empty());
  auto u = d.Feed(Cover(kT0 + 610s, 40, true, true, 150));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].kind(), v1::ALARM_SIGNAL_KIND_UPDATE);
  EXPECT_EQ(u[0].count(), 2u);
  // Repaired: tilt back under 15 - 3, closed, in place, for 60 s.
  d.Feed(Cover(kT0 + 700s, 1.1, false, false, 150));
  auto c = d.Feed(Cover(kT0 + 760s, 1.1, false, false, 150));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
}

TEST(AlarmEngineTest, TiltedCoverIsAnEmergencyAtOnce) {
  Device d;
  auto s = d.Feed(Cover(kT0, 16, false, false, 150));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].summary(), "tilt 16 deg >= 15");
}

TEST(AlarmEngineTest, RisingWaterIsAnOverflowAlarmOfItsOwn) {
  Device d;
  d.Feed(Cover(kT0, 1, false, true, 150));  // lid open: cover_abnormal
  EXPECT_TRUE(d.Feed(Cover(kT0 + 10s, 1, false, true, 25)).empty());
  auto s = d.Feed(Cover(kT0 + 70s, 1, false, true, 20));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].alarm_type(), "well_overflow");
  EXPECT_EQ(s[0].category(), "event:0192");  // 检查井溢水
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_URGENT);
  EXPECT_EQ(s[0].alarm_id(), std::string(kCover) + "/well_overflow/2");
  EXPECT_EQ(s[0].summary(), "water 20 cm below the lid <= 30 for 60 s");
}

TEST(AlarmEngineTest, CoverCategoryFromObjectCodeOrBinding) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  v1::DeviceBinding* prefix = cfg.add_devices();
  prefix->set_device_prefix("drain-");
  prefix->set_category("0102");
  prefix->set_district("500108");
  v1::DeviceBinding* exact = cfg.add_devices();
  exact->set_device_id("drain-77");
  exact->set_category("0103");
  exact->set_asset_id("5001080103000077");
  const AlarmRules rules = Compile(cfg);

  // A 16-digit 部件 object code in the id: 500106 沙坪坝区, 01 公用设施, 05 电力井盖.
  AssetFacts f = rules.FactsFor("mh-5001060105000123", v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(f.category, "0105");
  EXPECT_EQ(f.asset_id, "5001060105000123");
  EXPECT_EQ(f.district, "500106");
  // An object code of a category manhole sensors do not raise: the kind's default.
  f = rules.FactsFor("mh-5001060401000001", v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(f.category, "0114");
  // Prefix binding, and an exact binding winning over it.
  f = rules.FactsFor("drain-12", v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(f.category, "0102");
  EXPECT_EQ(f.district, "500108");
  EXPECT_EQ(f.asset_id, "drain-12");
  f = rules.FactsFor("drain-77", v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(f.category, "0103");
  EXPECT_EQ(f.asset_id, "5001080103000077");
  EXPECT_EQ(f.district, "500108");  // from the binding's object code
  // Nothing known.
  f = rules.FactsFor("cover-9", v1::SENSOR_KIND_MANHOLE_COVER);
  EXPECT_EQ(f.category, "0114");
  EXPECT_EQ(f.asset_id, "cover-9");
  EXPECT_EQ(f.district, "");

  Device d(rules);
  auto s = d.Feed(Cover(kT0, 1, true, false, 150, "mh-5001060105000123"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].category(), "0105");  // routed to the power company
  std::string dept;
  ASSERT_TRUE(RouteFor(cfg, s[0].category(), s[0].district(), &dept).ok());
  EXPECT_EQ(dept, "sgcc-cq");
}

// --- ancient trees -----------------------------------------------------------------------------

TEST(AlarmEngineTest, TreeTiltDriftFromItsLearnedBaseline) {
  Device d;
  // Baseline: the mean of the first three readings, 5.0 deg. Its own lean is no alarm.
  d.Feed(Tree(kT0, 5.0));
  d.Feed(Tree(kT0 + 600s, 5.2));
  d.Feed(Tree(kT0 + 1200s, 4.8));
  ASSERT_EQ(d.state().baselines_size(), 1);
  EXPECT_DOUBLE_EQ(d.state().baselines(0).value(), 5.0);
  EXPECT_TRUE(d.Feed(Tree(kT0 + 1800s, 7.3)).empty());  // 2.3 deg: below 3
  EXPECT_TRUE(d.Feed(Tree(kT0 + 2400s, 8.2)).empty());  // 3.2 deg: pending
  auto s = d.Feed(Tree(kT0 + 2460s, 8.3));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].alarm_type(), "tree_tilt");
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_GENERAL);
  EXPECT_EQ(s[0].category(), "0401");
  EXPECT_EQ(s[0].district(), "500103");
  EXPECT_EQ(s[0].summary(), "tilt 8.3 deg, 3.3 deg from baseline 5 >= 3 for 60 s");
  // Leaning on to 8.5 deg beyond the baseline: emergency.
  d.Feed(Tree(kT0 + 3000s, 13.5));
  s = d.Feed(Tree(kT0 + 3060s, 13.6));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_UPDATE);
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_EMERGENCY);
  // Propped up again: within 3 - 0.5 deg of the baseline for 300 s.
  d.Feed(Tree(kT0 + 4000s, 5.3));
  EXPECT_TRUE(d.Feed(Tree(kT0 + 4200s, 5.2)).empty());
  s = d.Feed(Tree(kT0 + 4300s, 5.1));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
  // The baseline stays what it learned.
  EXPECT_DOUBLE_EQ(d.state().baselines(0).value(), 5.0);
}

TEST(AlarmEngineTest, TreeTiltUsesAConfiguredBaselineFromTheFirstReading) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  v1::DeviceBinding* b = cfg.add_devices();
  b->set_device_id("tree-huangjueya-1");
  (*b->mutable_baselines())["tiltDeg"] = 2.0;
  const AlarmRules rules = Compile(cfg);
  Device d(rules);
  d.Feed(Tree(kT0, 6.0, 10, "tree-huangjueya-1"));  // 4 deg beyond the surveyed 2.0
  auto s = d.Feed(Tree(kT0 + 60s, 6.0, 10, "tree-huangjueya-1"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_GENERAL);
  EXPECT_EQ(d.state().baselines_size(), 0);  // nothing learned
}

TEST(AlarmEngineTest, TreeVibrationSpikeIsAnImmediateEmergency) {
  Device d;
  d.Feed(Tree(kT0, 5.0));
  auto s = d.Feed(Tree(kT0 + 60s, 5.0, 2400));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].urgency(), v1::URGENCY_EMERGENCY);
  EXPECT_EQ(s[0].summary(), "vibration 2400 mg >= 500");
  // The spike passes; cleared after 300 s of calm.
  d.Feed(Tree(kT0 + 120s, 5.0, 12));
  s = d.Feed(Tree(kT0 + 420s, 5.0, 15));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind(), v1::ALARM_SIGNAL_KIND_CLEAR);
}

// --- configuration changes and state -----------------------------------------------------------

TEST(AlarmEngineTest, ConditionStateFollowsItsKeyWhenRulesAreReordered) {
  Device before;
  GasRun(&before, kT0, kT0 + 30s, 5s, 30);  // CH4 pending since kT0
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  for (v1::AlarmRule& r : *cfg.mutable_alarm_rules())
    if (r.alarm_type() == "harmful_gas")
      std::reverse(r.mutable_conditions()->begin(), r.mutable_conditions()->end());
  const AlarmRules reordered = Compile(cfg);
  AlarmDecision d = Evaluate(before.state(), Gas(kT0 + 60s, 30), kT0 + 60s, reordered);
  ASSERT_EQ(d.signals.size(), 1u);  // still 60 s since kT0
  EXPECT_EQ(d.signals[0].kind(), v1::ALARM_SIGNAL_KIND_RAISE);
  EXPECT_EQ(d.next.rules(0).conditions(3).key(), "ch4PercentLel>=25");
}

TEST(AlarmEngineTest, StateRoundTripsThroughItsSerialisation) {
  Device d;
  GasRun(&d, kT0, kT0 + 30s, 5s, 30);
  v1::AlarmState stored;
  ASSERT_TRUE(stored.ParseFromString(d.state().SerializeAsString()));  // as after a restart
  AlarmDecision next = Evaluate(stored, Gas(kT0 + 60s, 30), kT0 + 60s, DefaultRules());
  ASSERT_EQ(next.signals.size(), 1u);
}

TEST(AlarmEngineTest, EventWithoutPayloadIsNotJudged) {
  Device d;
  d.Feed(Event(kSeptic, kT0));
  EXPECT_EQ(d.use(), EventUse::kNoPayload);
  EXPECT_TRUE(d.state().has_last_received_at());
}

TEST(AlarmEngineTest, EmptyRulesJudgeNothing) {
  AlarmRules none;
  Device d(none);
  GasRun(&d, kT0, kT0 + 600s, 5s, 90, 90);
  EXPECT_TRUE(d.all().empty());
  EXPECT_FALSE(OfflineAt(d.state(), none).has_value());
}

TEST(AlarmEngineTest, CreateRefusesAnInvalidConfig) {
  v1::DispatchConfig cfg = DefaultDispatchConfig();
  cfg.mutable_alarm_rules(0)->mutable_conditions(0)->set_metric("ch5");
  AlarmRules rules;
  Status s = AlarmRules::Create(cfg, &rules);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace yiwang::dispatcher
