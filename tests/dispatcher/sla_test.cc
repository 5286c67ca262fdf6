// Working calendar, time limits, SLA policy, and the yellow/red evaluation.

#include "dispatcher/sla.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/dispatcher/test_util.h"

namespace yiwang::dispatcher {
namespace {

using namespace std::chrono_literals;
using testing::Date;
using testing::Local;
namespace v1 = yiwang::v1;

// 2025's National Day / Mid-Autumn break: Oct 1-8 off, Sun Sep 28 and Sat Oct 11 worked.
WorkCalendar NationalDay2025() {
  WorkCalendarSpec spec;
  for (unsigned d = 1; d <= 8; ++d) spec.holidays.push_back(Date(2025, 10, d));
  spec.makeup_workdays = {Date(2025, 9, 28), Date(2025, 10, 11)};
  WorkCalendar cal;
  EXPECT_TRUE(WorkCalendar::Create(spec, &cal).ok());
  return cal;
}

// --- calendar ---------------------------------------------------------------------------------

TEST(WorkCalendarTest, DefaultDayIsSevenAndAHalfHours) {
  EXPECT_EQ(WorkCalendar().WorkingDayLength(), 7h + 30min);
}

TEST(WorkCalendarTest, WithinOneMorning) {
  WorkCalendar cal;  // 2026-11-16 is a Monday
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 9, 0), 1h), Local(2026, 11, 16, 10, 0));
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 9, 0), 3h), Local(2026, 11, 16, 12, 0));
}

TEST(WorkCalendarTest, LunchBreakDoesNotCount) {
  WorkCalendar cal;
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 11, 0), 2h), Local(2026, 11, 16, 14, 30));
  // Starting inside the break: the clock starts at 13:30.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 12, 30), 30min), Local(2026, 11, 16, 14, 0));
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 16, 11, 0), Local(2026, 11, 16, 14, 0)),
            1h + 30min);
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 16, 12, 0), Local(2026, 11, 16, 13, 30)), 0min);
}

TEST(WorkCalendarTest, BeforeAndAfterHours) {
  WorkCalendar cal;
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 7, 0), 1h), Local(2026, 11, 16, 10, 0));
  // Monday 20:00 + 1h -> Tuesday 10:00.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 20, 0), 1h), Local(2026, 11, 17, 10, 0));
}

TEST(WorkCalendarTest, HalfWorkingDay) {
  SlaPolicy policy = SlaPolicy::Default();
  ResolvedLimit half = policy.Resolve(*ParseTimeLimit("0.5wd"));
  EXPECT_TRUE(half.working_time);
  EXPECT_EQ(half.amount, 3h + 45min);
  // Monday 09:00 + 0.5wd: 09:00-12:00 (3 h) then 45 min after 13:30.
  EXPECT_EQ(policy.calendar().AddWorkingTime(Local(2026, 11, 16, 9, 0), half.amount),
            Local(2026, 11, 16, 14, 15));
  // Monday 15:00 + 0.5wd: 3 h on Monday, 45 min on Tuesday.
  EXPECT_EQ(policy.calendar().AddWorkingTime(Local(2026, 11, 16, 15, 0), half.amount),
            Local(2026, 11, 17, 9, 45));
}

TEST(WorkCalendarTest, OneWorkingDayEndsAtCloseOfBusiness) {
  WorkCalendar cal;
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 16, 9, 0), cal.WorkingDayLength()),
            Local(2026, 11, 16, 18, 0));
}

TEST(WorkCalendarTest, LimitsAcrossDays) {
  WorkCalendar cal;
  // Wednesday 14:00 + 2 working days lands on Friday 14:00.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 18, 14, 0), 2 * cal.WorkingDayLength()),
            Local(2026, 11, 20, 14, 0));
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 18, 14, 0), Local(2026, 11, 20, 14, 0)), 15h);
}

TEST(WorkCalendarTest, WeekendsDoNotCount) {
  WorkCalendar cal;
  // Friday 17:00 + 2h -> Monday 10:00.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 20, 17, 0), 2h), Local(2026, 11, 23, 10, 0));
  // Saturday 10:00 + 1h -> Monday 10:00.
  EXPECT_EQ(cal.AddWorkingTime(Local(2026, 11, 21, 10, 0), 1h), Local(2026, 11, 23, 10, 0));
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 20, 17, 0), Local(2026, 11, 23, 10, 0)), 2h);
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 21, 0, 0), Local(2026, 11, 23, 0, 0)), 0h);
  EXPECT_FALSE(cal.IsWorkingDay(Date(2026, 11, 21)));
  EXPECT_TRUE(cal.IsWorkingDay(Date(2026, 11, 20)));
}

TEST(WorkCalendarTest, HolidaysDoNotCount) {
  WorkCalendar cal = NationalDay2025();
  EXPECT_FALSE(cal.IsWorkingDay(Date(2025, 10, 1)));  // a Wednesday
  EXPECT_FALSE(cal.IsWorkingDay(Date(2025, 10, 8)));
  EXPECT_TRUE(cal.IsWorkingDay(Date(2025, 10, 9)));
  // Tuesday Sep 30 17:00 + 2h: 1 h that day, then nothing until Thursday Oct 9.
  EXPECT_EQ(cal.AddWorkingTime(Local(2025, 9, 30, 17, 0), 2h), Local(2025, 10, 9, 10, 0));
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2025, 10, 1), Local(2025, 10, 9)), 0h);
}

TEST(WorkCalendarTest, MakeUpWorkdaysCount) {
  WorkCalendar cal = NationalDay2025();
  EXPECT_TRUE(cal.IsWorkingDay(Date(2025, 9, 28)));   // Sunday, 调休
  EXPECT_TRUE(cal.IsWorkingDay(Date(2025, 10, 11)));  // Saturday, 调休
  EXPECT_FALSE(cal.IsWorkingDay(Date(2025, 9, 27)));  // an ordinary Saturday
  // Saturday Sep 27 10:00 + 1h -> Sunday Sep 28 10:00 (a make-up day).
  EXPECT_EQ(cal.AddWorkingTime(Local(2025, 9, 27, 10, 0), 1h), Local(2025, 9, 28, 10, 0));
  // Friday Oct 10 (a working day after the break) 17:00 + 2h -> Saturday Oct 11 10:00.
  EXPECT_EQ(cal.AddWorkingTime(Local(2025, 10, 10, 17, 0), 2h), Local(2025, 10, 11, 10, 0));
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2025, 9, 27), Local(2025, 9, 29)), 7h + 30min);
}

TEST(WorkCalendarTest, ZeroAndNegative) {
  WorkCalendar cal;
  const Timestamp sat = Local(2026, 11, 21, 10, 0);
  EXPECT_EQ(cal.AddWorkingTime(sat, 0ms), sat);
  EXPECT_EQ(cal.AddWorkingTime(sat, -1h), sat);
  EXPECT_EQ(cal.WorkingTimeBetween(Local(2026, 11, 16, 11, 0), Local(2026, 11, 16, 10, 0)), 0ms);
}

TEST(WorkCalendarTest, UsesLocalTime) {
  WorkCalendar cal;
  // 09:00 in Chongqing is 01:00 UTC.
  const Timestamp utc_1am = Timestamp(std::chrono::sys_days(Date(2026, 11, 16))) + 1h;
  EXPECT_EQ(cal.AddWorkingTime(utc_1am - 1h, 1min), utc_1am + 1min);
}

TEST(WorkCalendarTest, AddAndBetweenAgree) {
  WorkCalendar cal = NationalDay2025();
  std::mt19937_64 rng(7);
  const Timestamp base = Local(2025, 9, 20);
  for (int i = 0; i < 2000; ++i) {
    const Timestamp a = base + Duration(rng() % (40LL * 24 * 3600 * 1000));
    const Duration d(rng() % (20LL * 3600 * 1000));
    const Timestamp b = cal.AddWorkingTime(a, d);
    ASSERT_GE(b, a);
    ASSERT_EQ(cal.WorkingTimeBetween(a, b), d) << i;
    if (d > 0ms) {
      ASSERT_LT(cal.WorkingTimeBetween(a, b - 1ms), d) << "not the earliest: " << i;
    }
  }
}

TEST(WorkCalendarTest, CreateRejectsBadSpecs) {
  WorkCalendar cal;
  WorkCalendarSpec spec;
  spec.hours = {{9 * 60, 12 * 60}, {11 * 60, 18 * 60}};
  EXPECT_EQ(WorkCalendar::Create(spec, &cal).code(), Status::Code::kInvalidArgument);
  spec.hours = {{9 * 60, 9 * 60}};
  EXPECT_FALSE(WorkCalendar::Create(spec, &cal).ok());
  spec.hours = {{9 * 60, 25 * 60}};
  EXPECT_FALSE(WorkCalendar::Create(spec, &cal).ok());
  spec.hours = {};
  EXPECT_FALSE(WorkCalendar::Create(spec, &cal).ok());
  spec = WorkCalendarSpec{};
  spec.working_weekdays = {};
  EXPECT_FALSE(WorkCalendar::Create(spec, &cal).ok());
  spec = WorkCalendarSpec{};
  spec.holidays = {Date(2025, 10, 11)};
  spec.makeup_workdays = {Date(2025, 10, 11)};
  Status s = WorkCalendar::Create(spec, &cal);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2025-10-11"), std::string::npos) << s.ToString();
  spec = WorkCalendarSpec{};
  spec.holidays = {std::chrono::year{2025} / 2 / 30};
  EXPECT_FALSE(WorkCalendar::Create(spec, &cal).ok());
  EXPECT_TRUE(WorkCalendar::Create(WorkCalendarSpec{}, &cal).ok());
}

// --- limits -----------------------------------------------------------------------------------

TEST(TimeLimitTest, Parses) {
  struct Case {
    const char* text;
    TimeLimit::Unit unit;
    double value;
  } cases[] = {
      {"5m", TimeLimit::Unit::kMinutes, 5},           {"2h", TimeLimit::Unit::kHours, 2},
      {"0.5wd", TimeLimit::Unit::kWorkingDays, 0.5},  {"1wd", TimeLimit::Unit::kWorkingDays, 1},
      {"1.5wh", TimeLimit::Unit::kWorkingHours, 1.5},
  };
  for (const auto& c : cases) {
    auto limit = ParseTimeLimit(c.text);
    ASSERT_TRUE(limit) << c.text;
    EXPECT_EQ(limit->unit, c.unit) << c.text;
    EXPECT_EQ(limit->value, c.value) << c.text;
    EXPECT_EQ(limit->ToString(), c.text);
  }
  for (const char* bad :
       {"", "5", "m", "-1h", "1d", "0h", "1.2.3h", "400wd", "5 m", "1e3m", "h5", "0.5WD"}) {
    EXPECT_FALSE(ParseTimeLimit(bad)) << bad;
  }
}

TEST(SlaPolicyTest, DefaultsFromCategoriesCsv) {
  SlaPolicy p = SlaPolicy::Default();
  auto wall = [](Duration d) { return std::make_pair(false, d); };
  auto work = [](Duration d) { return std::make_pair(true, d); };
  auto get = [&](const char* cat, v1::Urgency u, v1::SlaStage s) {
    ResolvedLimit l = p.LimitFor(cat, u, s);
    return std::make_pair(l.working_time, l.amount);
  };
  const Duration wd = 7h + 30min;
  // 0302 公厕化粪池 septic gas: 5m, 10m, 2h.
  EXPECT_EQ(get("0302", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_ACCEPT), wall(5min));
  EXPECT_EQ(get("0302", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_DISPATCH), wall(10min));
  EXPECT_EQ(get("0302", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE), wall(2h));
  // Manhole covers: displaced / lid open (emergency) 6 h; tilt only (general) 2 working days.
  for (const char* code :
       {"0101", "0102", "0103", "0104", "0105", "0106", "0107", "0108", "0110", "0111", "0114"}) {
    EXPECT_EQ(get(code, v1::URGENCY_EMERGENCY, v1::SLA_STAGE_ACCEPT), wall(10min)) << code;
    EXPECT_EQ(get(code, v1::URGENCY_EMERGENCY, v1::SLA_STAGE_DISPATCH), wall(30min)) << code;
    EXPECT_EQ(get(code, v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE), wall(6h)) << code;
    EXPECT_EQ(get(code, v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(2 * wd)) << code;
  }
  // 古树名木: general 1 wd, emergency 4 h.
  EXPECT_EQ(get("0401", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(wd));
  EXPECT_EQ(get("0401", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE), wall(4h));
  EXPECT_EQ(get("0401", v1::URGENCY_GENERAL, v1::SLA_STAGE_DISPATCH), wall(1h));
  EXPECT_EQ(get("0402", v1::URGENCY_GENERAL, v1::SLA_STAGE_ACCEPT), work(wd / 2));
  EXPECT_EQ(get("0402", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(2 * wd));
  EXPECT_EQ(get("0301", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(wd));
  EXPECT_EQ(get("event:0111", v1::URGENCY_GENERAL, v1::SLA_STAGE_ACCEPT), work(wd / 2));
  EXPECT_EQ(get("event:0114", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(wd));
  EXPECT_EQ(get("event:0192", v1::URGENCY_URGENT, v1::SLA_STAGE_HANDLE), wall(4h));
  EXPECT_EQ(get("event:0401", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_ACCEPT), wall(10min));
  EXPECT_EQ(get("event:0401", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE), wall(4h));
  EXPECT_EQ(get("event:0404", v1::URGENCY_URGENT, v1::SLA_STAGE_DISPATCH), wall(2h));
  EXPECT_EQ(get("event:0404", v1::URGENCY_URGENT, v1::SLA_STAGE_HANDLE), work(wd));
  // Unknown categories fall back per urgency.
  EXPECT_EQ(get("device_offline", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_ACCEPT), wall(10min));
  EXPECT_EQ(get("device_offline", v1::URGENCY_URGENT, v1::SLA_STAGE_ACCEPT), wall(1h));
  EXPECT_EQ(get("device_offline", v1::URGENCY_GENERAL, v1::SLA_STAGE_HANDLE), work(2 * wd));
  EXPECT_EQ(p.LimitFor("0402", v1::URGENCY_GENERAL, v1::SLA_STAGE_ACCEPT).spec, "0.5wd");
}

TEST(SlaPolicyTest, CreateValidates) {
  const StageLimits l{*ParseTimeLimit("1h"), *ParseTimeLimit("1h"), *ParseTimeLimit("1wd"),
                      *ParseTimeLimit("1wd")};
  SlaPolicy p = SlaPolicy::Default();
  EXPECT_FALSE(SlaPolicy::Create({{"0302", v1::URGENCY_UNSPECIFIED, l}}, WorkCalendar(), &p).ok())
      << "no fallback rule";
  EXPECT_FALSE(
      SlaPolicy::Create({{"*", v1::URGENCY_UNSPECIFIED, l}, {"*", v1::URGENCY_UNSPECIFIED, l}},
                        WorkCalendar(), &p)
          .ok())
      << "duplicate";
  StageLimits bad = l;
  bad.handle.value = 0;
  EXPECT_FALSE(SlaPolicy::Create({{"*", v1::URGENCY_UNSPECIFIED, bad}}, WorkCalendar(), &p).ok());
  EXPECT_FALSE(SlaPolicy::Create({{"", v1::URGENCY_UNSPECIFIED, l}}, WorkCalendar(), &p).ok());
  ASSERT_TRUE(SlaPolicy::Create({{"*", v1::URGENCY_UNSPECIFIED, l}}, WorkCalendar(), &p).ok());
  EXPECT_EQ(p.LimitFor("0302", v1::URGENCY_EMERGENCY, v1::SLA_STAGE_HANDLE).amount, 7h + 30min);
}

// --- evaluation -------------------------------------------------------------------------------

// A case whose accept stage (wall clock, 10 min) started at `t0`.
v1::Case CaseAcceptStarted(const SlaPolicy& p, Timestamp t0, const char* category = "0102",
                           v1::Urgency urgency = v1::URGENCY_EMERGENCY) {
  v1::Case c;
  c.set_category(category);
  c.set_urgency(urgency);
  c.set_state(v1::CASE_STATE_PENDING_ACCEPT);
  StartStage(p, v1::SLA_STAGE_ACCEPT, t0, &c);
  return c;
}

TEST(SlaEvaluateTest, YellowAtEightyPercentRedAtDeadline) {
  SlaPolicy p = SlaPolicy::Default();
  const Timestamp t0 = Local(2026, 11, 16, 10, 0);
  v1::Case c = CaseAcceptStarted(p, t0);
  EXPECT_EQ(FromProto(c.sla_accept().deadline()), t0 + 10min);
  EXPECT_EQ(FromProto(c.sla_accept().yellow_at()), t0 + 8min);
  EXPECT_EQ(Evaluate(c, t0).ActiveLevel(), v1::SLA_LEVEL_ON_TIME);
  EXPECT_EQ(Evaluate(c, t0 + 8min - 1ms).ActiveLevel(), v1::SLA_LEVEL_ON_TIME);
  EXPECT_EQ(Evaluate(c, t0 + 8min).ActiveLevel(), v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(Evaluate(c, t0 + 10min - 1ms).ActiveLevel(), v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(Evaluate(c, t0 + 10min).ActiveLevel(), v1::SLA_LEVEL_RED);
  SlaStatus s = Evaluate(c, t0);
  EXPECT_EQ(s.active, v1::SLA_STAGE_ACCEPT);
  EXPECT_EQ(s.Level(v1::SLA_STAGE_HANDLE), v1::SLA_LEVEL_UNSPECIFIED);
  EXPECT_FALSE(s.paused);
}

TEST(SlaEvaluateTest, WorkingTimeYellow) {
  SlaPolicy p = SlaPolicy::Default();
  // 0402 行道树 accept: 0.5wd = 3h45m; 80 % = 3 h. Started Friday 16:00.
  const Timestamp t0 = Local(2026, 11, 20, 16, 0);
  v1::Case c = CaseAcceptStarted(p, t0, "0402", v1::URGENCY_GENERAL);
  EXPECT_EQ(FromProto(c.sla_accept().yellow_at()), Local(2026, 11, 23, 10, 0));
  EXPECT_EQ(FromProto(c.sla_accept().deadline()), Local(2026, 11, 23, 10, 45));
  EXPECT_EQ(Evaluate(c, Local(2026, 11, 22, 23, 0)).ActiveLevel(), v1::SLA_LEVEL_ON_TIME);
}

TEST(SlaEvaluateTest, NextCheckAndDueEscalation) {
  SlaPolicy p = SlaPolicy::Default();
  const Timestamp t0 = Local(2026, 11, 16, 10, 0);
  v1::Case c = CaseAcceptStarted(p, t0);
  EXPECT_EQ(NextCheck(c), t0 + 8min);
  EXPECT_FALSE(DueEscalation(c, t0 + 7min));
  auto due = DueEscalation(c, t0 + 8min);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->action(), v1::CASE_ACTION_ESCALATE);
  EXPECT_EQ(due->actor_role(), v1::ROLE_SYSTEM);
  EXPECT_EQ(due->escalation_stage(), v1::SLA_STAGE_ACCEPT);
  EXPECT_EQ(due->escalation_level(), v1::SLA_LEVEL_YELLOW);
  c.mutable_sla_accept()->set_escalated(v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(NextCheck(c), t0 + 10min);
  EXPECT_FALSE(DueEscalation(c, t0 + 9min));
  c.mutable_sla_accept()->set_escalated(v1::SLA_LEVEL_RED);
  EXPECT_EQ(NextCheck(c), std::nullopt);
  EXPECT_FALSE(DueEscalation(c, t0 + 100h));
}

TEST(SlaEvaluateTest, BothDueRaisesRedOnly) {
  SlaPolicy p = SlaPolicy::Default();
  const Timestamp t0 = Local(2026, 11, 16, 10, 0);
  v1::Case c = CaseAcceptStarted(p, t0);
  auto due = DueEscalation(c, t0 + 1h);  // e.g. the server was down through both
  ASSERT_TRUE(due);
  EXPECT_EQ(due->escalation_level(), v1::SLA_LEVEL_RED);
}

TEST(SlaEvaluateTest, FinishedStageKeepsItsLevel) {
  SlaPolicy p = SlaPolicy::Default();
  const Timestamp t0 = Local(2026, 11, 16, 10, 0);
  v1::Case c = CaseAcceptStarted(p, t0);
  *c.mutable_sla_accept()->mutable_finished_at() = ToProto(t0 + 9min);
  c.set_state(v1::CASE_STATE_REJECTED);
  SlaStatus s = Evaluate(c, t0 + 100h);
  EXPECT_EQ(s.active, v1::SLA_STAGE_UNSPECIFIED);
  EXPECT_EQ(s.Level(v1::SLA_STAGE_ACCEPT), v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(NextCheck(c), std::nullopt);
}

TEST(SlaEvaluateTest, PauseFreezesStatus) {
  SlaPolicy p = SlaPolicy::Default();
  const Timestamp t0 = Local(2026, 11, 16, 10, 0);
  v1::Case c = CaseAcceptStarted(p, t0);
  *c.mutable_paused_at() = ToProto(t0 + 5min);
  EXPECT_EQ(Evaluate(c, t0 + 100h).ActiveLevel(), v1::SLA_LEVEL_ON_TIME);
  EXPECT_TRUE(Evaluate(c, t0 + 100h).paused);
  EXPECT_EQ(NextCheck(c), std::nullopt);
  // Paused after yellow was reached but before it was raised: due at once.
  *c.mutable_paused_at() = ToProto(t0 + 9min);
  EXPECT_EQ(NextCheck(c), t0 + 9min);
  auto due = DueEscalation(c, t0 + 100h);
  ASSERT_TRUE(due);
  EXPECT_EQ(due->escalation_level(), v1::SLA_LEVEL_YELLOW);
}

TEST(SlaEvaluateTest, ToProtoRoundTrip) {
  for (int64_t ms : {0LL, 1LL, 999LL, 1000LL, -1LL, -1001LL, 1763280000123LL}) {
    const Timestamp t{Duration(ms)};
    google::protobuf::Timestamp p = ToProto(t);
    EXPECT_GE(p.nanos(), 0);
    EXPECT_LT(p.nanos(), 1'000'000'000);
    EXPECT_EQ(FromProto(p), t) << ms;
  }
}

}  // namespace
}  // namespace yiwang::dispatcher
