// KPIs: the deltas of real transitions (every workflow path), the rates computed from them,
// and the roll-up's grouping and filtering.

#include "dispatcher/kpi.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/dispatcher/test_util.h"

namespace yiwang::dispatcher {
namespace {

using namespace std::chrono_literals;
using testing::CaseRun;
using testing::Cmd;
using testing::Filing;
using testing::Local;
namespace v1 = yiwang::v1;

// Category 0302 (septic gas) has wall-clock limits in the default policy: 立案 5m, 派遣 10m,
// 处置 2h, 结案 1h; yellow at 80 %.
constexpr const char* kCategory = "0302";
constexpr const char* kDept = "drainage";
constexpr const char* kOtherDept = "power";

v1::KpiCounters Counters(const std::string& text) {
  v1::KpiCounters c;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &c)) << text;
  return c;
}

#define EXPECT_COUNTERS(got, text) EXPECT_EQ((got).DebugString(), Counters(text).DebugString())

Cmd Dispatcher(v1::CaseAction a) { return Cmd(a, v1::ROLE_DISPATCHER, "disp-1"); }
Cmd Supervisor(v1::CaseAction a) { return Cmd(a, v1::ROLE_SUPERVISOR, "sup-1"); }
Cmd Staff(v1::CaseAction a, const std::string& dept) {
  return Cmd(a, v1::ROLE_DEPARTMENT, "staff-" + dept).ActorDept(dept);
}
Cmd Report(const std::string& dept) {
  return Staff(v1::CASE_ACTION_REPORT_HANDLED, dept).Note("cover replaced").Evidence("photo-1");
}

// One case driven by real commands, with the KPI deltas of every transition kept.
class KpiRun {
 public:
  explicit KpiRun(Timestamp start) : run_(start) {}

  // Applies `cmd` after `dt`, which must succeed, and keeps its deltas.
  void Do(const v1::CaseCommand& cmd, Duration dt = Duration::zero()) {
    const v1::Case before = run_.c();
    run_.Must(cmd, dt);
    last_ = KpiDeltasFor(before, run_.last());
    rows_.insert(rows_.end(), last_.begin(), last_.end());
  }
  // Applies the 督办 due at now + dt (which must be due).
  void Escalate(Duration dt) {
    run_.set_now(run_.now() + dt);
    std::optional<v1::CaseCommand> cmd = DueEscalation(run_.c(), run_.now());
    ASSERT_TRUE(cmd.has_value());
    Do(*cmd);
  }

  v1::KpiCounters Total() const {
    v1::KpiCounters total;
    for (const KpiRow& r : rows_) Add(&total, r.counters);
    return total;
  }
  const std::vector<KpiRow>& rows() const { return rows_; }
  const std::vector<KpiDelta>& last() const { return last_; }
  const CaseRun& run() const { return run_; }

 private:
  CaseRun run_;
  std::vector<KpiRow> rows_;
  std::vector<KpiDelta> last_;
};

v1::Case HotlineFiling(const std::string& id) {
  return Filing(id, v1::SOURCE_HOTLINE, kCategory, v1::URGENCY_URGENT);
}

// Files (hotline), accepts after 2 min, transfers to `dept` after 3 more.
void FileAcceptTransfer(KpiRun& k, const std::string& id, const std::string& dept = kDept) {
  k.Do(Dispatcher(v1::CASE_ACTION_CREATE).Filing(HotlineFiling(id)));
  k.Do(Dispatcher(v1::CASE_ACTION_ACCEPT), 2min);
  k.Do(Dispatcher(v1::CASE_ACTION_TRANSFER).Dept(dept), 3min);
}

TEST(KpiDayTest, IsTheCalendarDayInUtcPlus8) {
  EXPECT_EQ(KpiDay(Local(2026, 11, 20, 0, 0, 0)), "2026-11-20");
  EXPECT_EQ(KpiDay(Local(2026, 11, 19, 23, 59, 59)), "2026-11-19");
  EXPECT_EQ(KpiDay(Local(2026, 1, 1, 7, 30)), "2026-01-01");  // 2025-12-31 23:30 UTC
  EXPECT_EQ(KpiDay(Timestamp{}), "1970-01-01");
}

TEST(KpiTest, HappyPathCountsEveryStageOnTime) {
  KpiRun k(Local(2026, 11, 20, 10, 0));
  FileAcceptTransfer(k, "c-1");
  k.Do(Report(kDept), 1h);
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 10min);
  EXPECT_TRUE(k.last().empty());  // 核查通过 counts nothing by itself
  k.Do(Supervisor(v1::CASE_ACTION_CLOSE), 10min);

  EXPECT_COUNTERS(k.Total(),
                  "filed: 1 accepted: 1 accepted_on_time: 1 dispatched: 1 dispatched_on_time: 1 "
                  "handled: 1 handled_on_time: 1 closed: 1 closed_on_time: 1 "
                  "closed_all_on_time: 1 accept_seconds_sum: 120 accept_seconds_count: 1 "
                  "handle_seconds_sum: 3600 handle_seconds_count: 1 close_seconds_sum: 5100 "
                  "close_seconds_count: 1");

  // Keys: filed and accepted with no department, the rest under the department; all that day.
  ASSERT_EQ(k.rows().size(), 5u);
  for (const KpiRow& r : k.rows()) {
    EXPECT_EQ(r.key.day(), "2026-11-20");
    EXPECT_EQ(r.key.district(), "500105");
    EXPECT_EQ(r.key.category(), kCategory);
    EXPECT_EQ(r.key.source(), v1::SOURCE_HOTLINE);
  }
  EXPECT_EQ(k.rows()[0].key.department(), "");
  EXPECT_EQ(k.rows()[1].key.department(), "");
  EXPECT_EQ(k.rows()[2].key.department(), kDept);
  EXPECT_EQ(k.rows()[4].key.department(), kDept);

  const v1::KpiReport r = ComputeKpis(k.Total());
  EXPECT_DOUBLE_EQ(r.on_time_accept_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.accurate_dispatch_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.on_time_handle_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.close_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.on_time_close_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.close_stage_on_time_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.mean_accept_seconds(), 120.0);
  EXPECT_DOUBLE_EQ(r.mean_handle_seconds(), 3600.0);
  EXPECT_DOUBLE_EQ(r.mean_close_seconds(), 5100.0);
  EXPECT_EQ(r.reworks(), 0);
  EXPECT_EQ(r.overdue(), 0);
}

TEST(KpiTest, LateRejectCountsOverdueAndLeavesRatesAbsent) {
  KpiRun k(Local(2026, 11, 20, 10, 0));
  k.Do(Dispatcher(v1::CASE_ACTION_CREATE).Filing(HotlineFiling("c-2")));
  k.Do(Dispatcher(v1::CASE_ACTION_REJECT).Note("not a city matter"), 6min);  // limit 5m
  EXPECT_COUNTERS(k.Total(), "filed: 1 rejected: 1 overdue: 1");

  const v1::KpiReport r = ComputeKpis(k.Total());
  EXPECT_FALSE(r.has_on_time_accept_rate());
  EXPECT_FALSE(r.has_accurate_dispatch_rate());
  EXPECT_FALSE(r.has_on_time_handle_rate());
  EXPECT_FALSE(r.has_close_rate());
  EXPECT_FALSE(r.has_on_time_close_rate());
  EXPECT_FALSE(r.has_close_stage_on_time_rate());
  EXPECT_FALSE(r.has_mean_accept_seconds());
  EXPECT_FALSE(r.has_mean_handle_seconds());
  EXPECT_FALSE(r.has_mean_close_seconds());
  EXPECT_EQ(r.overdue(), 1);
}

TEST(KpiTest, ZeroCountersGiveNoRates) {
  const v1::KpiReport r = ComputeKpis(v1::KpiCounters());
  EXPECT_FALSE(r.has_on_time_accept_rate());
  EXPECT_FALSE(r.has_accurate_dispatch_rate());
  EXPECT_FALSE(r.has_close_rate());
  EXPECT_FALSE(r.has_mean_close_seconds());
  EXPECT_EQ(r.reworks(), 0);
}

TEST(KpiTest, ReturnThenRetransferLowersDispatchAccuracyOfTheWrongDepartment) {
  KpiRun k(Local(2026, 11, 20, 10, 0));
  FileAcceptTransfer(k, "c-3", kOtherDept);
  k.Do(Staff(v1::CASE_ACTION_RETURN, kOtherDept).Note("a sewage cover, not ours"), 20min);
  ASSERT_EQ(k.last().size(), 1u);
  EXPECT_EQ(k.last()[0].key.department(), kOtherDept);  // the department returning it
  EXPECT_EQ(k.run().c().department(), "");
  k.Do(Dispatcher(v1::CASE_ACTION_TRANSFER).Dept(kDept), 5min);
  EXPECT_EQ(k.last()[0].key.department(), kDept);

  EXPECT_COUNTERS(k.Total(),
                  "filed: 1 accepted: 1 accepted_on_time: 1 dispatched: 2 dispatched_on_time: 2 "
                  "returned: 1 accept_seconds_sum: 120 accept_seconds_count: 1");
  EXPECT_DOUBLE_EQ(ComputeKpis(k.Total()).accurate_dispatch_rate(), 0.5);  // 1 - 1/2

  const std::vector<KpiRow> by_dept = RollUp(k.rows(), {}, KpiDimension::kDepartment);
  ASSERT_EQ(by_dept.size(), 3u);  // "", drainage, power
  EXPECT_EQ(by_dept[0].key.department(), "");
  EXPECT_EQ(by_dept[1].key.department(), kDept);
  EXPECT_EQ(by_dept[2].key.department(), kOtherDept);
  EXPECT_DOUBLE_EQ(ComputeKpis(by_dept[1].counters).accurate_dispatch_rate(), 1.0);
  EXPECT_DOUBLE_EQ(ComputeKpis(by_dept[2].counters).accurate_dispatch_rate(), 0.0);
  EXPECT_FALSE(ComputeKpis(by_dept[0].counters).has_accurate_dispatch_rate());
}

TEST(KpiTest, ReworkCountsAndTheSecondHandlingRun) {
  KpiRun k(Local(2026, 11, 20, 10, 0));
  FileAcceptTransfer(k, "c-4");
  k.Do(Report(kDept), 1h);
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_FAIL).Note("cover still rocks"), 10min);
  EXPECT_EQ(k.last()[0].key.department(), kDept);
  k.Do(Report(kDept), 30min);  // the 返工 run: 30 min
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 5min);
  k.Do(Supervisor(v1::CASE_ACTION_CLOSE), 5min);

  EXPECT_COUNTERS(k.Total(),
                  "filed: 1 accepted: 1 accepted_on_time: 1 dispatched: 1 dispatched_on_time: 1 "
                  "handled: 2 handled_on_time: 2 closed: 1 closed_on_time: 1 "
                  "closed_all_on_time: 1 reworks: 1 accept_seconds_sum: 120 "
                  "accept_seconds_count: 1 handle_seconds_sum: 5400 handle_seconds_count: 2 "
                  "close_seconds_sum: 6900 close_seconds_count: 1");  // 115 min
  const v1::KpiReport r = ComputeKpis(k.Total());
  EXPECT_EQ(r.reworks(), 1);
  EXPECT_DOUBLE_EQ(r.mean_handle_seconds(), 2700.0);
}

TEST(KpiTest, OverdueEscalationCountsOncePerStageRun) {
  // A sensor case, filed, accepted and transferred by the system.
  KpiRun k(Local(2026, 11, 20, 10, 0));
  const Cmd system_create =
      Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM, "system")
          .Filing(Filing("s-1", v1::SOURCE_SENSOR, kCategory, v1::URGENCY_EMERGENCY));
  k.Do(system_create);
  k.Do(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_SYSTEM, "system"));
  k.Do(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_SYSTEM, "system").Dept(kDept));

  k.Escalate(100min);  // yellow at 96 min of the 2 h 处置 limit
  EXPECT_COUNTERS(k.last()[0].counters, "escalations: 1");
  k.Escalate(25min);  // red at 120 min
  EXPECT_COUNTERS(k.last()[0].counters, "escalations: 1 overdue: 1");
  k.Do(Report(kDept), 5min);  // late, but already counted as overdue by the red 督办
  EXPECT_COUNTERS(k.last()[0].counters,
                  "handled: 1 handle_seconds_sum: 7800 handle_seconds_count: 1");
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 5min);
  k.Do(Supervisor(v1::CASE_ACTION_CLOSE).TelemetryNormal(), 5min);

  EXPECT_COUNTERS(k.Total(),
                  "filed: 1 accepted: 1 accepted_on_time: 1 dispatched: 1 dispatched_on_time: 1 "
                  "handled: 1 closed: 1 closed_on_time: 1 overdue: 1 escalations: 2 "
                  "accept_seconds_count: 1 handle_seconds_sum: 7800 handle_seconds_count: 1 "
                  "close_seconds_sum: 8400 close_seconds_count: 1");
  const v1::KpiReport r = ComputeKpis(k.Total());
  EXPECT_DOUBLE_EQ(r.on_time_handle_rate(), 0.0);
  EXPECT_DOUBLE_EQ(r.close_stage_on_time_rate(), 1.0);  // the 结案 stage itself was on time
  EXPECT_DOUBLE_EQ(r.on_time_close_rate(), 0.0);        // but not every stage: not 按期结案
  EXPECT_EQ(r.overdue(), 1);
}

TEST(KpiTest, OnTimeAndLateCloseAtFixedTimes) {
  std::vector<KpiRow> rows;
  for (auto [id, close_after] : {std::pair<const char*, Duration>{"c-5", 50min}, {"c-6", 61min}}) {
    KpiRun k(Local(2026, 11, 20, 10, 0));
    FileAcceptTransfer(k, id);
    k.Do(Report(kDept), 1h);
    k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 10min);
    k.Do(Supervisor(v1::CASE_ACTION_CLOSE), close_after - 10min);  // 结案 limit 1h from report
    rows.insert(rows.end(), k.rows().begin(), k.rows().end());
  }
  const std::vector<KpiRow> total = RollUp(rows, {}, KpiDimension::kNone);
  ASSERT_EQ(total.size(), 1u);
  const v1::KpiCounters& c = total[0].counters;
  EXPECT_EQ(c.closed(), 2);
  EXPECT_EQ(c.closed_on_time(), 1);
  EXPECT_EQ(c.closed_all_on_time(), 1);
  EXPECT_EQ(c.overdue(), 1);  // the late 结案 run, counted when it finished
  EXPECT_EQ(c.close_seconds_sum(), (65 + 50) * 60 + (65 + 61) * 60);
  const v1::KpiReport r = ComputeKpis(c);
  EXPECT_DOUBLE_EQ(r.close_rate(), 1.0);
  EXPECT_DOUBLE_EQ(r.on_time_close_rate(), 0.5);
  EXPECT_DOUBLE_EQ(r.close_stage_on_time_rate(), 0.5);
  EXPECT_DOUBLE_EQ(r.mean_close_seconds(), (115 * 60 + 126 * 60) / 2.0);
}

TEST(KpiTest, ParkExtensionAndReopenPaths) {
  KpiRun k(Local(2026, 11, 20, 10, 0));
  FileAcceptTransfer(k, "c-7");
  k.Do(Dispatcher(v1::CASE_ACTION_PARK).Note("awaiting parts"), 10min);
  EXPECT_TRUE(k.last().empty());
  k.Do(Dispatcher(v1::CASE_ACTION_UNPARK), 3h);  // paused: the 2 h limit is not spent
  EXPECT_TRUE(k.last().empty());
  k.Do(Staff(v1::CASE_ACTION_REQUEST_EXTENSION, kDept).Note("crane").Extension(3600), 10min);
  EXPECT_TRUE(k.last().empty());
  k.Do(Dispatcher(v1::CASE_ACTION_APPROVE_EXTENSION), 10min);
  EXPECT_TRUE(k.last().empty());
  k.Do(Report(kDept), 1h);
  // On time (the pauses do not spend the limit); the time is wall clock, pauses included.
  EXPECT_COUNTERS(k.last()[0].counters,
                  "handled: 1 handled_on_time: 1 handle_seconds_sum: 16200 "
                  "handle_seconds_count: 1");
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 5min);
  k.Do(Supervisor(v1::CASE_ACTION_CLOSE), 5min);
  k.Do(Supervisor(v1::CASE_ACTION_REOPEN).Note("smell is back"), 1h);
  EXPECT_COUNTERS(k.last()[0].counters, "reopened: 1");
  EXPECT_EQ(k.last()[0].key.department(), kDept);
  k.Do(Report(kDept), 30min);
  k.Do(Supervisor(v1::CASE_ACTION_VERIFY_PASS), 5min);
  k.Do(Supervisor(v1::CASE_ACTION_CLOSE), 5min);

  const v1::KpiCounters t = k.Total();
  EXPECT_EQ(t.closed(), 2);
  EXPECT_EQ(t.reopened(), 1);
  EXPECT_EQ(t.handled(), 2);
  EXPECT_EQ(t.overdue(), 0);
  EXPECT_DOUBLE_EQ(ComputeKpis(t).close_rate(), 2.0);  // not clamped: closed twice
}

TEST(KpiTest, DayKeyFollowsTheTransitionTime) {
  KpiRun k(Local(2026, 11, 20, 23, 58));
  k.Do(Dispatcher(v1::CASE_ACTION_CREATE).Filing(HotlineFiling("c-8")));
  k.Do(Dispatcher(v1::CASE_ACTION_ACCEPT), 3min);
  ASSERT_EQ(k.rows().size(), 2u);
  EXPECT_EQ(k.rows()[0].key.day(), "2026-11-20");
  EXPECT_EQ(k.rows()[1].key.day(), "2026-11-21");
  const std::vector<KpiRow> by_day = RollUp(k.rows(), {}, KpiDimension::kDay);
  ASSERT_EQ(by_day.size(), 2u);
  EXPECT_EQ(by_day[0].key.day(), "2026-11-20");
  EXPECT_EQ(by_day[0].counters.filed(), 1);
  EXPECT_EQ(by_day[1].counters.accepted(), 1);
}

TEST(KpiAddTest, SumsEveryFieldAndEveryFieldIsAnInt64) {
  const google::protobuf::Descriptor* d = v1::KpiCounters::descriptor();
  const google::protobuf::Reflection* refl = v1::KpiCounters::GetReflection();
  v1::KpiCounters a, b;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    ASSERT_EQ(f->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_INT64) << f->name();
    ASSERT_FALSE(f->is_repeated()) << f->name();
    refl->SetInt64(&a, f, i + 1);
    refl->SetInt64(&b, f, 100 * (i + 1));
  }
  Add(&a, b);
  Add(&a, v1::KpiCounters());
  for (int i = 0; i < d->field_count(); ++i)
    EXPECT_EQ(refl->GetInt64(a, d->field(i)), 101 * (i + 1)) << d->field(i)->name();
}

KpiRow Row(const std::string& day, const std::string& district, const std::string& dept,
           const std::string& category, v1::Source source, int64_t filed) {
  KpiRow r;
  r.key.set_day(day);
  r.key.set_district(district);
  r.key.set_department(dept);
  r.key.set_category(category);
  r.key.set_source(source);
  r.counters.set_filed(filed);
  return r;
}

std::vector<std::pair<std::string, int64_t>> Flat(const std::vector<KpiRow>& rows,
                                                  KpiDimension by) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const KpiRow& r : rows) {
    std::string v;
    switch (by) {
      case KpiDimension::kDistrict:
        v = r.key.district();
        break;
      case KpiDimension::kDepartment:
        v = r.key.department();
        break;
      case KpiDimension::kCategory:
        v = r.key.category();
        break;
      case KpiDimension::kSource:
        v = v1::Source_Name(r.key.source());
        break;
      case KpiDimension::kDay:
        v = r.key.day();
        break;
      case KpiDimension::kNone:
        break;
    }
    out.emplace_back(v, r.counters.filed());
  }
  return out;
}

using Flattened = std::vector<std::pair<std::string, int64_t>>;

TEST(KpiRollUpTest, GroupsByEachDimensionSorted) {
  const std::vector<KpiRow> rows = {
      Row("2026-11-21", "500105", "drainage", "0302", v1::SOURCE_CITIZEN, 1),
      Row("2026-11-20", "500103", "", "0101", v1::SOURCE_SENSOR, 2),
      Row("2026-11-20", "500105", "power", "0105", v1::SOURCE_SENSOR, 4),
      Row("2026-11-22", "500105", "drainage", "0302", v1::SOURCE_HOTLINE, 8),
      Row("2026-11-21", "500105", "drainage", "0302", v1::SOURCE_CITIZEN, 16),  // repeated key
  };
  EXPECT_EQ(Flat(RollUp(rows, {}, KpiDimension::kDistrict), KpiDimension::kDistrict),
            (Flattened{{"500103", 2}, {"500105", 29}}));
  EXPECT_EQ(Flat(RollUp(rows, {}, KpiDimension::kDepartment), KpiDimension::kDepartment),
            (Flattened{{"", 2}, {"drainage", 25}, {"power", 4}}));
  EXPECT_EQ(Flat(RollUp(rows, {}, KpiDimension::kCategory), KpiDimension::kCategory),
            (Flattened{{"0101", 2}, {"0105", 4}, {"0302", 25}}));
  // Sources by enum number: sensor (1), citizen (2), hotline (4).
  EXPECT_EQ(Flat(RollUp(rows, {}, KpiDimension::kSource), KpiDimension::kSource),
            (Flattened{{"SOURCE_SENSOR", 6}, {"SOURCE_CITIZEN", 17}, {"SOURCE_HOTLINE", 8}}));
  EXPECT_EQ(Flat(RollUp(rows, {}, KpiDimension::kDay), KpiDimension::kDay),
            (Flattened{{"2026-11-20", 6}, {"2026-11-21", 17}, {"2026-11-22", 8}}));
  const std::vector<KpiRow> total = RollUp(rows, {}, KpiDimension::kNone);
  ASSERT_EQ(total.size(), 1u);
  EXPECT_EQ(total[0].counters.filed(), 31);
  EXPECT_EQ(total[0].key.ByteSizeLong(), 0u);

  // Only the grouped field of the key is set.
  const std::vector<KpiRow> by_dept = RollUp(rows, {}, KpiDimension::kDepartment);
  EXPECT_EQ(by_dept[1].key.day(), "");
  EXPECT_EQ(by_dept[1].key.district(), "");
  EXPECT_EQ(by_dept[1].key.source(), v1::SOURCE_UNSPECIFIED);
}

TEST(KpiRollUpTest, FiltersEveryDimension) {
  const std::vector<KpiRow> rows = {
      Row("2026-11-20", "500103", "", "0101", v1::SOURCE_SENSOR, 1),
      Row("2026-11-20", "500105", "power", "0105", v1::SOURCE_SENSOR, 2),
      Row("2026-11-21", "500105", "drainage", "0302", v1::SOURCE_CITIZEN, 4),
      Row("2026-11-22", "500105", "drainage", "0302", v1::SOURCE_HOTLINE, 8),
  };
  // The total of the rows selected by the filter that `edit` makes.
  auto total = [&](auto edit) {
    KpiFilter f;
    edit(f);
    return RollUp(rows, f, KpiDimension::kNone).at(0).counters.filed();
  };
  EXPECT_EQ(total([](KpiFilter&) {}), 15);
  EXPECT_EQ(total([](KpiFilter& f) { f.districts = {"500105"}; }), 14);
  EXPECT_EQ(total([](KpiFilter& f) { f.districts = {"500103", "500105"}; }), 15);
  EXPECT_EQ(total([](KpiFilter& f) { f.departments = {""}; }), 1);  // not with a department
  EXPECT_EQ(total([](KpiFilter& f) { f.departments = {"drainage", "power"}; }), 14);
  EXPECT_EQ(total([](KpiFilter& f) { f.categories = {"0302"}; }), 12);
  EXPECT_EQ(total([](KpiFilter& f) { f.sources = {v1::SOURCE_SENSOR}; }), 3);
  EXPECT_EQ(total([](KpiFilter& f) { f.day_from = "2026-11-21"; }), 12);
  EXPECT_EQ(total([](KpiFilter& f) { f.day_to = "2026-11-21"; }), 7);
  EXPECT_EQ(total([](KpiFilter& f) { f.day_from = f.day_to = "2026-11-21"; }), 4);
  EXPECT_EQ(total([](KpiFilter& f) {
              f.districts = {"500105"};
              f.sources = {v1::SOURCE_SENSOR};
            }),
            2);
  // Nothing matches: still one total row, of zeros.
  EXPECT_EQ(total([](KpiFilter& f) { f.districts = {"500199"}; }), 0);

  KpiFilter f;
  f.sources = {v1::SOURCE_SENSOR};
  EXPECT_EQ(Flat(RollUp(rows, f, KpiDimension::kDistrict), KpiDimension::kDistrict),
            (Flattened{{"500103", 1}, {"500105", 2}}));
  f.districts = {"500199"};
  EXPECT_TRUE(RollUp(rows, f, KpiDimension::kDistrict).empty());
}

}  // namespace
}  // namespace yiwang::dispatcher
