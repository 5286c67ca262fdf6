// The dispatcher configuration: the shipped Chongqing default, the merge rule, validation
// messages that name the field, the SLA policy built from it, routing, and `config check`.

#include "dispatcher/dispatch_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "dispatcher/config_check.h"
#include "tests/dispatcher/test_util.h"

namespace yiwang::dispatcher {
namespace {

namespace v1 = yiwang::v1;
using namespace std::chrono_literals;
using testing::Date;
using testing::Local;

v1::DispatchConfig Default() { return DefaultDispatchConfig(); }

v1::Category* MutableCategory(v1::DispatchConfig* cfg, std::string_view code) {
  for (v1::Category& c : *cfg->mutable_categories())
    if (c.code() == code) return &c;
  ADD_FAILURE() << "no category " << code;
  return cfg->add_categories();
}

v1::AlarmRule* MutableRule(v1::DispatchConfig* cfg, std::string_view type) {
  for (v1::AlarmRule& r : *cfg->mutable_alarm_rules())
    if (r.alarm_type() == type) return &r;
  ADD_FAILURE() << "no alarm rule " << type;
  return cfg->add_alarm_rules();
}

// Index of the route (category, district) in the default routing.
int RouteIndex(const v1::DispatchConfig& cfg, std::string_view category,
               std::string_view district = "*") {
  for (int i = 0; i < cfg.routing_size(); ++i)
    if (cfg.routing(i).category() == category && cfg.routing(i).district() == district) return i;
  ADD_FAILURE() << "no route " << category << " " << district;
  return -1;
}

std::string Route(int i) { return "dispatch.routing[" + std::to_string(i) + "]"; }

// --- the shipped default -----------------------------------------------------------------------

TEST(DefaultConfigTest, LoadsAndValidates) {
  const v1::DispatchConfig& cfg = DefaultDispatchConfig();
  Status s = ValidateDispatchConfig(cfg);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cfg.districts_size(), 38);
  // Every district has its 城管局, 园林, 环卫 and 路灯 departments.
  for (const v1::District& d : cfg.districts()) {
    for (const char* prefix : {"cgj-", "yllh-", "hw-", "ld-"}) {
      const std::string id = prefix + d.code();
      EXPECT_TRUE(std::any_of(cfg.departments().begin(), cfg.departments().end(),
                              [&](const v1::Department& dep) { return dep.id() == id; }))
          << id;
    }
  }
  // The categories of the city's category table (the domain reference the default
  // configuration was written from), plus the platform's own.
  for (const char* code : {"0302",       "0101",       "0102",
                           "0103",       "0104",       "0105",
                           "0106",       "0107",       "0108",
                           "0110",       "0111",       "0114",
                           "0401",       "0402",       "0301",
                           "event:0111", "event:0114", "event:0192",
                           "event:0401", "event:0404", "sys:device_offline"}) {
    EXPECT_NE(FindCategory(cfg, code), nullptr) << code;
  }
  EXPECT_EQ(FindCategory(cfg, "0114")->name_zh(), "不明(无主)井盖");
  EXPECT_EQ(FindCategory(cfg, "0302")->sensor(), v1::SENSOR_KIND_SEPTIC_TANK_GAS);
  EXPECT_EQ(FindCategory(cfg, "0302")->default_urgency(), v1::URGENCY_EMERGENCY);
}

TEST(DefaultConfigTest, ParsesTheEmbeddedTextTheSameWay) {
  v1::DispatchConfig parsed;
  ASSERT_TRUE(LoadDispatchConfig(DefaultDispatchConfigJson(), &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), DefaultDispatchConfig().SerializeAsString());
}

TEST(DefaultConfigTest, ResolveWithoutDispatchSectionIsTheDefault) {
  v1::DispatchConfig resolved;
  ASSERT_TRUE(ResolveDispatchConfig(v1::ServerConfig(), &resolved).ok());
  EXPECT_EQ(resolved.SerializeAsString(), DefaultDispatchConfig().SerializeAsString());
}

TEST(DefaultConfigTest, LoadRejectsUnknownFieldsAndBadJson) {
  v1::DispatchConfig cfg;
  Status s = LoadDispatchConfig(R"({"categoriez": []})", &cfg);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("dispatch: ", 0), 0u) << s.message();
  EXPECT_FALSE(LoadDispatchConfig("{", &cfg).ok());
  EXPECT_FALSE(
      LoadDispatchConfig(R"({"alarmRules": [{"sensor": "SENSOR_KIND_NOSE"}]})", &cfg).ok());
}

// --- merge rule ----------------------------------------------------------------------------------

TEST(MergeTest, SetTopLevelFieldsReplaceWholesaleOthersKeepTheDefault) {
  v1::DispatchConfig user;
  ASSERT_TRUE(LoadDispatchConfig(R"({
    "routing": [{"category": "*", "district": "*", "department": "cgj-{district}"}],
    "calendar": {"holidays": ["2027-01-01"]},
    "devices": []
  })",
                                 &user)
                  .ok());
  v1::DispatchConfig merged = DefaultDispatchConfig();
  MergeDispatchConfig(user, &merged);
  ASSERT_EQ(merged.routing_size(), 1);  // replaced, not appended
  EXPECT_EQ(merged.calendar().holidays_size(), 1);
  EXPECT_EQ(merged.calendar().hours_size(), 0);  // the whole calendar was replaced
  EXPECT_FALSE(merged.calendar().has_utc_offset_minutes());
  EXPECT_EQ(merged.categories_size(), DefaultDispatchConfig().categories_size());  // kept
  EXPECT_EQ(merged.alarm_rules_size(), DefaultDispatchConfig().alarm_rules_size());
  EXPECT_TRUE(merged.offline().category() == "sys:device_offline");
  EXPECT_TRUE(ValidateDispatchConfig(merged).ok());
  std::string dept;
  ASSERT_TRUE(RouteFor(merged, "0105", "500105", &dept).ok());
  EXPECT_EQ(dept, "cgj-500105");
}

TEST(MergeTest, ServerConfigDispatchSectionIsMergedAndValidated) {
  v1::ServerConfig server;
  server.mutable_dispatch()->add_routing()->set_category("*");  // district and department empty
  v1::DispatchConfig resolved;
  Status s = ResolveDispatchConfig(server, &resolved);
  EXPECT_EQ(s.message(), "dispatch.routing[0].district: unknown district ''");
}

// --- validation: every error names its field -----------------------------------------------------

struct Broken {
  const char* name;
  std::function<void(v1::DispatchConfig*)> mutate;
  std::function<std::string(const v1::DispatchConfig&)> expected;  // the message's start
};

std::function<std::string(const v1::DispatchConfig&)> Is(std::string s) {
  return [s](const v1::DispatchConfig&) { return s; };
}

class ValidationTest : public ::testing::TestWithParam<Broken> {};

TEST_P(ValidationTest, NamesTheField) {
  v1::DispatchConfig cfg = Default();
  GetParam().mutate(&cfg);
  const std::string expected = GetParam().expected(Default());
  Status s = ValidateDispatchConfig(cfg);
  ASSERT_FALSE(s.ok()) << "accepted; want " << expected;
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message().substr(0, expected.size()), expected) << s.message();
}

const Broken kBroken[] = {
    {"UnknownDepartmentInRoute",
     [](v1::DispatchConfig* c) { c->mutable_routing(3)->set_department("xyz"); },
     Is("dispatch.routing[3].department: unknown department 'xyz'")},
    {"BadDuration",
     [](v1::DispatchConfig* c) { MutableCategory(c, "0302")->mutable_limits(0)->set_handle("5x"); },
     Is("dispatch.categories[0302].limits[0].handle: bad duration '5x' (want e.g. 5m, 2h")},
    {"MissingDuration",
     [](v1::DispatchConfig* c) { MutableCategory(c, "0101")->mutable_limits(1)->clear_close(); },
     Is("dispatch.categories[0101].limits[1].close: required")},
    {"DuplicateUrgencyRow",
     [](v1::DispatchConfig* c) {
       v1::Category* cat = MutableCategory(c, "0401");
       *cat->add_limits() = cat->limits(1);
     },
     Is("dispatch.categories[0401].limits[2].urgency: duplicate urgency URGENCY_EMERGENCY")},
    {"NoRouteForACategory",
     [](v1::DispatchConfig* c) { c->mutable_routing()->DeleteSubrange(RouteIndex(*c, "*"), 1); },
     Is("dispatch.routing: no route for category sys:device_offline in district 500101")},
    {"RouteToADepartmentThatDoesNotHandleTheCategory",
     [](v1::DispatchConfig* c) {
       c->mutable_routing(RouteIndex(*c, "0302"))->set_department("cq-gas");
     },
     [](const v1::DispatchConfig& c) {
       return Route(RouteIndex(c, "0302")) + ".department: 'cq-gas' does not handle category 0302";
     }},
    {"RouteToADepartmentThatDoesNotServeTheDistrict",
     [](v1::DispatchConfig* c) {
       v1::Route* r = c->add_routing();
       r->set_category("0401");
       r->set_district("500105");
       r->set_department("yllh-500106");
     },
     [](const v1::DispatchConfig& c) {
       return Route(c.routing_size()) + ".department: 'yllh-500106' does not serve district 500105";
     }},
    {"TemplateExpandsToUnknownDepartment",
     [](v1::DispatchConfig* c) {
       c->mutable_routing(RouteIndex(*c, "0114"))->set_department("zgj-{district}");
     },
     [](const v1::DispatchConfig& c) {
       return Route(RouteIndex(c, "0114")) +
              ".department: unknown department 'zgj-500101' (for district 500101)";
     }},
    {"DuplicateRoute", [](v1::DispatchConfig* c) { *c->add_routing() = c->routing(0); },
     [](const v1::DispatchConfig& c) {
       return Route(c.routing_size()) + ": duplicate of routing[0]";
     }},
    {"RouteWithUnknownCategory",
     [](v1::DispatchConfig* c) { c->mutable_routing(0)->set_category("0999"); },
     Is("dispatch.routing[0].category: unknown category '0999'")},
    {"BadCategoryCode", [](v1::DispatchConfig* c) { c->mutable_categories(0)->set_code("03x2"); },
     Is("dispatch.categories[03x2].code: bad code '03x2'")},
    {"CategoryKindMismatch",
     [](v1::DispatchConfig* c) {
       MutableCategory(c, "event:0401")->set_kind(v1::CATEGORY_KIND_COMPONENT);
     },
     Is("dispatch.categories[event:0401].kind: must be CATEGORY_KIND_EVENT")},
    {"DuplicateCategory", [](v1::DispatchConfig* c) { *c->add_categories() = c->categories(0); },
     Is("dispatch.categories[0302]: duplicate category code")},
    {"DedupWindowInWorkingTime",
     [](v1::DispatchConfig* c) { MutableCategory(c, "0402")->mutable_dedup()->set_window("1wd"); },
     Is("dispatch.categories[0402].dedup.window: bad window '1wd'")},
    {"DedupRadiusNotFinite",
     [](v1::DispatchConfig* c) {
       MutableCategory(c, "0402")->mutable_dedup()->set_radius_m(
           std::numeric_limits<double>::infinity());
     },
     Is("dispatch.categories[0402].dedup.radiusM: want 0..10000 metres")},
    {"FallbackWithoutAnyUrgencyRow",
     [](v1::DispatchConfig* c) { c->mutable_fallback_limits()->RemoveLast(); },
     Is("dispatch.fallbackLimits: needs a row without urgency")},
    {"BadDistrictCode", [](v1::DispatchConfig* c) { c->mutable_districts(2)->set_code("5001030"); },
     Is("dispatch.districts[5001030].code: bad code '5001030'")},
    {"DepartmentServesUnknownDistrict",
     [](v1::DispatchConfig* c) { c->mutable_departments(0)->set_districts(0, "500199"); },
     Is("dispatch.departments[cgj-500101].districts[0]: unknown district '500199'")},
    {"DepartmentHandlesUnknownCategory",
     [](v1::DispatchConfig* c) {
       for (v1::Department& d : *c->mutable_departments())
         if (d.id() == "sgcc-cq") d.add_categories("0109");
     },
     Is("dispatch.departments[sgcc-cq].categories[1]: unknown category '0109'")},
    {"BadDepartmentId",
     [](v1::DispatchConfig* c) { c->mutable_departments(0)->set_id("CGJ 500101"); },
     Is("dispatch.departments[CGJ 500101].id: bad id 'CGJ 500101'")},
    {"ThresholdNotFinite",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "harmful_gas")
           ->mutable_conditions(0)
           ->set_threshold(std::numeric_limits<double>::quiet_NaN());
     },
     Is("dispatch.alarmRules[harmful_gas].conditions[0].threshold: not a finite number")},
    {"UnknownMetric",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "harmful_gas")->mutable_conditions(1)->set_metric("ch5PercentLel");
     },
     Is("dispatch.alarmRules[harmful_gas].conditions[1].metric: unknown metric 'ch5PercentLel' "
        "for septicTankGas")},
    {"MetricOfAnotherSensorKind",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "cover_abnormal")->mutable_conditions(0)->set_metric("vibrationMg");
     },
     Is("dispatch.alarmRules[cover_abnormal].conditions[0].metric: unknown metric 'vibrationMg' "
        "for manholeCover")},
    {"BooleanMetricNeedsIsTrue",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "cover_abnormal")->mutable_conditions(1)->set_comparator(v1::COMPARATOR_GE);
     },
     Is("dispatch.alarmRules[cover_abnormal].conditions[1].comparator: a boolean metric wants "
        "COMPARATOR_IS_TRUE")},
    {"NegativeHysteresis",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "tree_tilt")->mutable_conditions(0)->set_hysteresis(-1);
     },
     Is("dispatch.alarmRules[tree_tilt].conditions[0].hysteresis: want a finite number >= 0")},
    {"DurationTooLong",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "harmful_gas")->mutable_conditions(0)->set_duration_seconds(86401);
     },
     Is("dispatch.alarmRules[harmful_gas].conditions[0].durationSeconds: want 0..86400")},
    {"ConditionWithoutUrgency",
     [](v1::DispatchConfig* c) {
       MutableRule(c, "well_overflow")->mutable_conditions(0)->clear_urgency();
     },
     Is("dispatch.alarmRules[well_overflow].conditions[0].urgency: required")},
    {"DuplicateCondition",
     [](v1::DispatchConfig* c) {
       v1::AlarmRule* r = MutableRule(c, "harmful_gas");
       *r->add_conditions() = r->conditions(0);
     },
     Is("dispatch.alarmRules[harmful_gas].conditions[4]: duplicate condition "
        "'ch4PercentLel>=25'")},
    {"BadAlarmType",
     [](v1::DispatchConfig* c) { c->mutable_alarm_rules(0)->set_alarm_type("Harmful Gas"); },
     Is("dispatch.alarmRules[Harmful Gas].alarmType: bad alarm type 'Harmful Gas'")},
    {"AlarmTypeTakenByOffline",
     [](v1::DispatchConfig* c) { c->mutable_alarm_rules(0)->set_alarm_type("device_offline"); },
     Is("dispatch.alarmRules[device_offline].alarmType: taken by dispatch.offline.alarmType")},
    {"HealthRuleWithoutCategory",
     [](v1::DispatchConfig* c) { MutableRule(c, "low_battery")->clear_category(); },
     Is("dispatch.alarmRules[low_battery].category: required for deviceHealth rules")},
    {"RuleCategoryUnknown",
     [](v1::DispatchConfig* c) { MutableRule(c, "well_overflow")->set_category("event:0193"); },
     Is("dispatch.alarmRules[well_overflow].category: unknown category 'event:0193'")},
    {"SensorKindWithoutInterval",
     [](v1::DispatchConfig* c) { c->mutable_sensor_kinds(1)->set_reporting_interval_seconds(0); },
     Is("dispatch.sensorKinds[SENSOR_KIND_MANHOLE_COVER].reportingIntervalSeconds: want "
        "1..604800")},
    {"SensorKindUnknownDefaultCategory",
     [](v1::DispatchConfig* c) { c->mutable_sensor_kinds(1)->set_default_category("0115"); },
     Is("dispatch.sensorKinds[SENSOR_KIND_MANHOLE_COVER].defaultCategory: unknown category "
        "'0115'")},
    {"OfflineCategoryUnknown",
     [](v1::DispatchConfig* c) { c->mutable_offline()->set_category("sys:offline"); },
     Is("dispatch.offline.category: unknown category 'sys:offline'")},
    {"BadWorkingHours", [](v1::DispatchConfig* c) { c->mutable_calendar()->set_hours(0, "9-12"); },
     Is("dispatch.calendar.hours[0]: bad interval '9-12' (want HH:MM-HH:MM)")},
    {"OverlappingWorkingHours",
     [](v1::DispatchConfig* c) { c->mutable_calendar()->set_hours(1, "11:30-18:00"); },
     Is("dispatch.calendar.hours[1]: overlaps or precedes the previous interval")},
    {"BadHolidayDate",
     [](v1::DispatchConfig* c) { c->mutable_calendar()->set_holidays(0, "2026-02-30"); },
     Is("dispatch.calendar.holidays[0]: bad date '2026-02-30' (want YYYY-MM-DD)")},
    {"MakeupDayIsAHoliday",
     [](v1::DispatchConfig* c) { c->mutable_calendar()->set_makeup_workdays(5, "2026-10-01"); },
     Is("dispatch.calendar.makeupWorkdays[5]: '2026-10-01' is also a holiday")},
    {"BadWeekday",
     [](v1::DispatchConfig* c) { c->mutable_calendar()->set_working_weekdays(0, "Monday"); },
     Is("dispatch.calendar.workingWeekdays[0]: bad weekday 'Monday'")},
    {"UtcOffsetBeyondFourteenHours",
     [](v1::DispatchConfig* c) { c->mutable_calendar()->set_utc_offset_minutes(15 * 60); },
     Is("dispatch.calendar.utcOffsetMinutes: want -840..840")},
    {"DeviceBindingWithIdAndPrefix",
     [](v1::DispatchConfig* c) {
       v1::DeviceBinding* b = c->add_devices();
       b->set_device_id("mh-1");
       b->set_device_prefix("mh-");
     },
     Is("dispatch.devices[mh-1]: set exactly one of deviceId and devicePrefix")},
    {"DeviceBindingBadAssetId",
     [](v1::DispatchConfig* c) {
       v1::DeviceBinding* b = c->add_devices();
       b->set_device_id("mh-1");
       b->set_asset_id("500105010500012");
     },
     Is("dispatch.devices[mh-1].assetId: want the 16-digit object code")},
    {"DeviceBindingUnknownBaselineMetric",
     [](v1::DispatchConfig* c) {
       v1::DeviceBinding* b = c->add_devices();
       b->set_device_prefix("tree-");
       (*b->mutable_baselines())["tilt"] = 3;
     },
     Is("dispatch.devices[tree-].baselines: unknown metric 'tilt'")},
    {"FutureSkewTooLarge",
     [](v1::DispatchConfig* c) { c->mutable_alarm_options()->set_max_future_skew_seconds(86401); },
     Is("dispatch.alarmOptions.maxFutureSkewSeconds: want 0..86400")},
};

INSTANTIATE_TEST_SUITE_P(Broken, ValidationTest, ::testing::ValuesIn(kBroken),
                         [](const ::testing::TestParamInfo<Broken>& info) {
                           return std::string(info.param.name);
                         });

// --- SLA policy from the configuration -------------------------------------------------------

TEST(SlaFromConfigTest, MatchesTheBuiltInTable) {
  SlaPolicy from_config = SlaPolicy::Default();
  ASSERT_TRUE(SlaPolicyFromConfig(DefaultDispatchConfig(), &from_config).ok());
  const SlaPolicy builtin = SlaPolicy::Default();
  std::vector<std::string> codes = {"*", "9999", "sys:device_offline"};
  for (const v1::Category& c : DefaultDispatchConfig().categories()) codes.push_back(c.code());
  for (const std::string& code : codes) {
    for (auto urgency : {v1::URGENCY_UNSPECIFIED, v1::URGENCY_GENERAL, v1::URGENCY_URGENT,
                         v1::URGENCY_EMERGENCY}) {
      for (auto stage : {v1::SLA_STAGE_ACCEPT, v1::SLA_STAGE_DISPATCH, v1::SLA_STAGE_HANDLE,
                         v1::SLA_STAGE_CLOSE}) {
        const ResolvedLimit a = from_config.LimitFor(code, urgency, stage);
        const ResolvedLimit b = builtin.LimitFor(code, urgency, stage);
        EXPECT_EQ(a.spec, b.spec) << code << " " << urgency << " " << stage;
        EXPECT_EQ(a.amount, b.amount) << code << " " << urgency << " " << stage;
        EXPECT_EQ(a.working_time, b.working_time) << code << " " << urgency << " " << stage;
      }
    }
  }
}

// The city's category table (the domain reference the default configuration was written
// from): code, accept, dispatch, handle (its urgency-independent limits; by-reading categories
// list their main variant).
struct CsvRow {
  const char* code;
  const char* accept;
  const char* dispatch;
  const char* handle;
};
constexpr CsvRow kCsv[] = {
    {"0302", "5m", "10m", "2h"},
    {"0101", "10m", "30m", "6h"},
    {"0102", "10m", "30m", "6h"},
    {"0103", "10m", "30m", "6h"},
    {"0104", "10m", "30m", "6h"},
    {"0105", "10m", "30m", "6h"},
    {"0106", "10m", "30m", "6h"},
    {"0107", "10m", "30m", "6h"},
    {"0108", "10m", "30m", "6h"},
    {"0110", "10m", "30m", "6h"},
    {"0111", "10m", "30m", "6h"},
    {"0114", "10m", "30m", "6h"},
    {"0401", "30m", "1h", "1wd"},
    {"0402", "0.5wd", "0.5wd", "2wd"},
    {"0301", "0.5wd", "0.5wd", "1wd"},
    {"event:0111", "0.5wd", "0.5wd", "1wd"},
    {"event:0114", "0.5wd", "0.5wd", "1wd"},
    {"event:0192", "1h", "1h", "4h"},
    {"event:0401", "10m", "30m", "4h"},
    {"event:0404", "1h", "2h", "1wd"},
};

TEST(SlaFromConfigTest, MatchesTheDomainCsv) {
  SlaPolicy policy = SlaPolicy::Default();
  ASSERT_TRUE(SlaPolicyFromConfig(DefaultDispatchConfig(), &policy).ok());
  for (const CsvRow& row : kCsv) {
    const SlaRule& rule = policy.RuleFor(row.code, v1::URGENCY_UNSPECIFIED);
    EXPECT_EQ(rule.category, row.code);
    EXPECT_EQ(rule.limits.accept.ToString(), row.accept) << row.code;
    EXPECT_EQ(rule.limits.dispatch.ToString(), row.dispatch) << row.code;
    EXPECT_EQ(rule.limits.handle.ToString(), row.handle) << row.code;
  }
  // The csv notes' variants: covers with tilt or damage only = general, 2 working days; a
  // rapidly tilting or struck ancient tree = emergency, 4 h.
  EXPECT_EQ(policy.LimitFor("0105", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE).spec, "2wd");
  EXPECT_EQ(policy.LimitFor("0105", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE).spec, "6h");
  EXPECT_EQ(policy.LimitFor("0401", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE).spec, "4h");
}

TEST(SlaFromConfigTest, CalendarHas2026HolidaysAndMakeupDays) {
  SlaPolicy policy = SlaPolicy::Default();
  ASSERT_TRUE(SlaPolicyFromConfig(DefaultDispatchConfig(), &policy).ok());
  const WorkCalendar& cal = policy.calendar();
  EXPECT_FALSE(cal.IsWorkingDay(Date(2026, 10, 1)));   // 国庆, a Thursday
  EXPECT_FALSE(cal.IsWorkingDay(Date(2026, 2, 17)));   // 春节
  EXPECT_TRUE(cal.IsWorkingDay(Date(2026, 10, 10)));   // Saturday, 调休
  EXPECT_TRUE(cal.IsWorkingDay(Date(2026, 2, 28)));    // Saturday, 调休
  EXPECT_TRUE(cal.IsWorkingDay(Date(2026, 11, 16)));   // an ordinary Monday
  EXPECT_FALSE(cal.IsWorkingDay(Date(2026, 11, 21)));  // an ordinary Saturday
  // Wednesday 30 Sep 16:00 + 0.5wd: 2 h that day, the holiday week off, then Thursday 8 Oct.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 9, 30, 16, 0), 3h + 45min), Local(2026, 10, 8, 10, 45));
  // Friday 9 Oct 17:00 + 2 h: 1 h that day, 1 h on the make-up Saturday.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 10, 9, 17, 0), 2h), Local(2026, 10, 10, 10, 0));
}

TEST(SlaFromConfigTest, CalendarDefaultsWhenFieldsAreAbsent) {
  WorkCalendarSpec spec;
  ASSERT_TRUE(CalendarSpecFromConfig(v1::CalendarConfig(), &spec).ok());
  const WorkCalendarSpec defaults;
  EXPECT_EQ(spec.utc_offset, defaults.utc_offset);
  EXPECT_EQ(spec.hours.size(), defaults.hours.size());
  EXPECT_EQ(spec.working_weekdays, defaults.working_weekdays);
  v1::CalendarConfig six_days;
  for (const char* d : {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}) six_days.add_working_weekdays(d);
  six_days.add_hours("08:30-24:00");
  six_days.set_utc_offset_minutes(0);
  ASSERT_TRUE(CalendarSpecFromConfig(six_days, &spec).ok());
  EXPECT_TRUE(spec.working_weekdays[6]);
  EXPECT_FALSE(spec.working_weekdays[0]);
  EXPECT_EQ(spec.hours[0].start_minute, 8 * 60 + 30);
  EXPECT_EQ(spec.hours[0].end_minute, 24 * 60);
  EXPECT_EQ(spec.utc_offset, std::chrono::minutes(0));
}

// --- routing -------------------------------------------------------------------------------------

std::string RouteOf(const v1::DispatchConfig& cfg, std::string_view category,
                    std::string_view district) {
  std::string dept;
  Status s = RouteFor(cfg, category, district, &dept);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dept;
}

TEST(RoutingTest, DefaultRoutesToTheResponsibleDepartment) {
  const v1::DispatchConfig& cfg = DefaultDispatchConfig();
  EXPECT_EQ(RouteOf(cfg, "0105", "500105"), "sgcc-cq");  // power cover: 国网重庆电力
  EXPECT_EQ(RouteOf(cfg, "0114", "500106"), "cgj-500106");  // 不明井盖: 沙坪坝区城市管理局
  EXPECT_EQ(RouteOf(cfg, "0401", "500103"), "yllh-500103");  // 古树: 渝中区园林
  EXPECT_EQ(RouteOf(cfg, "0102", "500101"), "cq-drainage");
  EXPECT_EQ(RouteOf(cfg, "0103", "500243"), "cq-drainage");
  EXPECT_EQ(RouteOf(cfg, "0101", "500112"), "cq-water");
  EXPECT_EQ(RouteOf(cfg, "0106", "500112"), "ld-500112");
  EXPECT_EQ(RouteOf(cfg, "0111", "500108"), "cq-gas");
  EXPECT_EQ(RouteOf(cfg, "0302", "500105"), "hw-500105");
  EXPECT_EQ(RouteOf(cfg, "event:0192", "500105"), "cq-drainage");
  EXPECT_EQ(RouteOf(cfg, "event:0401", "500109"), "cgj-500109");
  EXPECT_EQ(RouteOf(cfg, "sys:device_offline", "500243"), "cgj-500243");
  EXPECT_EQ(FindCategory(cfg, "0114")->name_zh(), "不明(无主)井盖");
}

TEST(RoutingTest, MostSpecificRowWinsCategoryFirst) {
  v1::DispatchConfig cfg = Default();
  auto add = [&](const char* category, const char* district, const char* department) {
    v1::Route* r = cfg.add_routing();
    r->set_category(category);
    r->set_district(district);
    r->set_department(department);
  };
  add("0401", "500103", "cgj-500103");  // (category, district) beats (category, *)
  add("*", "500105", "cgj-500105");     // (*, district) loses to (category, *)
  ASSERT_TRUE(ValidateDispatchConfig(cfg).ok());
  EXPECT_EQ(RouteOf(cfg, "0401", "500103"), "cgj-500103");
  EXPECT_EQ(RouteOf(cfg, "0401", "500104"), "yllh-500104");
  EXPECT_EQ(RouteOf(cfg, "0105", "500105"), "sgcc-cq");
  EXPECT_EQ(RouteOf(cfg, "sys:device_offline", "500105"), "cgj-500105");
}

TEST(RoutingTest, NoMatchingRowIsNotFound) {
  v1::DispatchConfig cfg;
  std::string dept;
  EXPECT_EQ(RouteFor(cfg, "0105", "500105", &dept).code(), Status::Code::kNotFound);
}

// --- yiwang config check -------------------------------------------------------------------------

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("yiwang-config-check-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const std::filesystem::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  int Check(const std::string& path) {
    out_.str("");
    err_.str("");
    return RunConfigCheck(path, out_, err_);
  }

  std::filesystem::path dir_;
  std::ostringstream out_, err_;
};

TEST_F(ConfigCheckTest, ServerConfigWithDispatchSection) {
  const std::string path = Write("server.json", R"({
    "ingest": {"maxFrameBytes": 65536},
    "dispatch": {"routing": [{"category": "*", "district": "*", "department": "cgj-{district}"}]}
  })");
  EXPECT_EQ(Check(path), kConfigCheckOk) << err_.str();
  EXPECT_NE(out_.str().find(": ok: 38 districts"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("1 routes"), std::string::npos) << out_.str();
  EXPECT_EQ(err_.str(), "");
}

TEST_F(ConfigCheckTest, BareDispatchSectionSuchAsTheShippedDefault) {
  const std::string path = Write("default.json", std::string(DefaultDispatchConfigJson()));
  EXPECT_EQ(Check(path), kConfigCheckOk) << err_.str();
  EXPECT_NE(out_.str().find("ok (dispatch section)"), std::string::npos) << out_.str();
}

TEST_F(ConfigCheckTest, InvalidConfigNamesTheField) {
  const std::string path = Write("bad.json", R"({
    "dispatch": {"routing": [{"category": "*", "district": "*", "department": "xyz"}]}
  })");
  EXPECT_EQ(Check(path), kConfigCheckInvalid);
  EXPECT_EQ(err_.str(), path + ": dispatch.routing[0].department: unknown department 'xyz'\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ConfigCheckTest, ParseErrorsAndUnknownFields) {
  EXPECT_EQ(Check(Write("syntax.json", "{\"dispatch\": ")), kConfigCheckInvalid);
  EXPECT_NE(err_.str().find("syntax.json: "), std::string::npos);
  EXPECT_EQ(Check(Write("typo.json", R"({"dispatch": {"routeing": []}})")), kConfigCheckInvalid);
  EXPECT_NE(err_.str().find("routeing"), std::string::npos) << err_.str();
}

TEST_F(ConfigCheckTest, UnreadableFile) {
  EXPECT_EQ(Check((dir_ / "missing.json").string()), kConfigCheckUnreadable);
  EXPECT_NE(err_.str().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace yiwang::dispatcher
