// The dispatcher driver over a real store: alarms become routed cases, repeats and clears fold
// into them, citizen reports link (附议), timers fire once across restarts, lists and stats
// read the indexes, and the audit replays every journal. The clock is injected.

#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"

#include <atomic>
#include <future>

#include <gtest/gtest.h>

#include "dispatcher/dispatch_config.h"
#include "store/event_store.h"
#include "store/key_codec.h"
#include "tests/support/dispatch_stack.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"

namespace yiwang::dispatcher {
namespace {

namespace v1 = yiwang::v1;
using store::EventStore;
using test::kNowSeconds;

constexpr char kGas[] = "sim-septic-500105-0001";  // 江北区 (500105) by its id

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenAll(); }
  void TearDown() override { CloseAll(); }

  void OpenAll() {
    Status s = stack_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void CloseAll() { stack_.Close(); }
  void Restart() {
    CloseAll();
    OpenAll();
  }

  // Stores events (received now) and waits until the dispatcher judged them.
  void Ingest(std::vector<v1::SensorEvent> events) { stack_.Ingest(std::move(events)); }
  void AdvanceTo(int64_t seconds) { now_ms_ = seconds * 1000; }

  std::vector<v1::CaseSummary> All(CaseQuery q = {}) {
    q.limit = 1000;
    CasePage page;
    EXPECT_TRUE(disp_->ListCases(q, &page).ok());
    return page.cases;
  }
  v1::Case Get(const std::string& id) {
    v1::Case c;
    EXPECT_TRUE(disp_->GetCase(id, &c).ok()) << id;
    return c;
  }
  // Three readings over 61 s at `ch4`, starting at `t0` (seconds since kNowSeconds).
  void GasEpisode(uint64_t* seq, int64_t t0, double ch4) {
    for (int64_t dt : {0, 30, 61}) {
      AdvanceTo(kNowSeconds + t0 + dt);
      Ingest({test::GasEvent(kGas, ++*seq, ch4, kNowSeconds + t0 + dt)});
    }
  }
  // Binds kGas in the configuration, so that it is watched for going offline from its first
  // event (an unbound device only after an hour of reports).
  void BindGasDevice() {
    stack_.config.add_devices()->set_device_id(kGas);
    Restart();
  }
  void ExpectAuditClean() {
    std::vector<std::string> problems;
    uint64_t checked = 0;
    ASSERT_TRUE(disp_->Audit(&problems, &checked).ok());
    EXPECT_TRUE(problems.empty()) << problems.front();
  }

  test::TempDir dir_;
  test::DispatchStack stack_{dir_.Sub("db")};
  std::atomic<int64_t>& now_ms_ = stack_.now_ms;
  std::unique_ptr<EventStore>& store_ = stack_.store;
  std::unique_ptr<Dispatcher>& disp_ = stack_.dispatcher;
};

v1::CaseCommand Actor(v1::CaseAction a, v1::Role role, std::string id, std::string dept = {}) {
  v1::CaseCommand c;
  c.set_action(a);
  c.set_actor_role(role);
  c.set_actor_id(std::move(id));
  c.set_actor_department(std::move(dept));
  return c;
}

TEST_F(DispatcherTest, GasAlarmBecomesOneRoutedCaseThatRepeatsAndClears) {
  uint64_t seq = 0;
  GasEpisode(&seq, 0, 30);  // CH4 30 %LEL for 61 s: fires
  auto cases = All();
  ASSERT_EQ(cases.size(), 1u);
  const std::string id = cases[0].id();
  v1::Case c = Get(id);
  EXPECT_EQ(c.source(), v1::SOURCE_SENSOR);
  EXPECT_EQ(c.category(), "0302");
  EXPECT_EQ(c.district(), "500105");
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);  // accepted and transferred by the system
  EXPECT_EQ(c.department(), "hw-500105");
  EXPECT_EQ(c.device_id(), kGas);
  EXPECT_EQ(c.alarm_count(), 1u);
  EXPECT_FALSE(c.telemetry_normal());
  EXPECT_EQ(id.substr(0, 2), "YW");

  // Still high 5 minutes later: a repeat updates the case, never a second case.
  for (int64_t t : {200, 300, 400}) {
    AdvanceTo(kNowSeconds + t);
    Ingest({test::GasEvent(kGas, ++seq, 31, kNowSeconds + t)});
  }
  ASSERT_EQ(All().size(), 1u);
  EXPECT_GE(Get(id).alarm_count(), 2u);

  // The department reports handled; the supervisor cannot close while the gas is high.
  v1::CaseCommand handled =
      Actor(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "hw-1", "hw-500105");
  handled.set_note("通风处理");
  handled.add_evidence("photo:vent-1");
  CommandOutcome o = disp_->Execute(id, handled);
  ASSERT_TRUE(o.status.ok() && !o.error) << (o.error ? o.error->message : o.status.ToString());
  o = disp_->Execute(id, Actor(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"));
  ASSERT_FALSE(o.error);
  v1::CaseCommand close = Actor(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1");
  close.set_telemetry_normal(true);  // the caller's word does not count
  o = disp_->Execute(id, close);
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code, ErrorCode::kInvalidArgument);

  // Back to normal for 60 s: the alarm clears, the case records it, and now it closes.
  for (int64_t t : {500, 530, 561}) {
    AdvanceTo(kNowSeconds + t);
    Ingest({test::GasEvent(kGas, ++seq, 5, kNowSeconds + t)});
  }
  EXPECT_TRUE(Get(id).telemetry_normal());
  o = disp_->Execute(id, Actor(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"));
  ASSERT_FALSE(o.error) << o.error->message;
  EXPECT_EQ(o.c.state(), v1::CASE_STATE_CLOSED);

  // A new episode after closing files a new case (the device went quiet for 7 minutes
  // meanwhile, which files a 设备离线 case of its own).
  GasEpisode(&seq, 1000, 40);
  CaseQuery gas;
  gas.categories = {"0302"};
  EXPECT_EQ(All(gas).size(), 2u);
  ExpectAuditClean();
}

TEST_F(DispatcherTest, AlarmStateAndCursorSurviveARestart) {
  uint64_t seq = 0;
  // Pending for 30 s before the restart, firing after it: the pending state was persisted.
  AdvanceTo(kNowSeconds);
  Ingest({test::GasEvent(kGas, ++seq, 30, kNowSeconds)});
  AdvanceTo(kNowSeconds + 30);
  Ingest({test::GasEvent(kGas, ++seq, 30, kNowSeconds + 30)});
  Restart();
  EXPECT_EQ(disp_->cursor(), 2u);
  AdvanceTo(kNowSeconds + 61);
  Ingest({test::GasEvent(kGas, ++seq, 30, kNowSeconds + 61)});
  ASSERT_EQ(All().size(), 1u);
  // Restarting again judges nothing twice.
  Restart();
  disp_->Sync();
  EXPECT_EQ(All().size(), 1u);
  EXPECT_EQ(Get(All()[0].id()).journal_seq(), 3u);  // create, accept, transfer
}

TEST_F(DispatcherTest, EventsStoredWhileTheDispatcherWasDownAreJudgedOnStart) {
  disp_.reset();  // ingest carries on without the dispatcher (as after a crash)
  std::promise<void> done;
  store::IngestRequest req;
  for (int64_t t : {0, 30, 61})
    req.events.push_back(test::Stored(test::GasEvent(kGas, t + 1, 30, kNowSeconds + t),
                                      kNowSeconds + t));
  req.done = [&](std::vector<store::Outcome>) { done.set_value(); };
  store_->SubmitIngest(std::move(req));
  done.get_future().wait();
  Restart();
  disp_->Sync();
  EXPECT_EQ(All().size(), 1u);
}

TEST_F(DispatcherTest, SlaEscalationsFireOnceEvenWhenDueDuringDowntime) {
  uint64_t seq = 0;
  GasEpisode(&seq, 0, 30);
  const std::string id = All()[0].id();
  const v1::Case c = Get(id);
  // 处置 of 0302 is 2 h wall clock: yellow at 96 min, red at 120 min.
  const int64_t deadline = FromProto(c.sla_handle().deadline()).time_since_epoch().count() / 1000;
  Restart();
  disp_.reset();
  store_.reset();
  now_ms_ = (deadline + 3600) * 1000;  // the server was down past the deadline
  OpenAll();
  disp_->Sync();
  std::vector<v1::JournalEntry> journal;
  ASSERT_TRUE(disp_->GetJournal(id, &journal).ok());
  int escalations = 0;
  for (const auto& e : journal) escalations += e.action() == v1::CASE_ACTION_ESCALATE;
  EXPECT_EQ(escalations, 1);  // red only: red implies the missed prediction
  EXPECT_EQ(journal.back().escalation_level(), v1::SLA_LEVEL_RED);
  Restart();
  disp_->Sync();
  ASSERT_TRUE(disp_->GetJournal(id, &journal).ok());
  escalations = 0;
  for (const auto& e : journal) escalations += e.action() == v1::CASE_ACTION_ESCALATE;
  EXPECT_EQ(escalations, 1);
  CaseQuery overdue;
  overdue.overdue_only = true;
  EXPECT_EQ(All(overdue).size(), 1u);
  EXPECT_EQ(disp_->OpenStats({}).overdue, 1u);
  ExpectAuditClean();
}

TEST_F(DispatcherTest, CitizenReportsNearAnOpenCaseLinkAndFarOnesOpenNewCases) {
  ReportFiling f;
  f.category = "event:0111";  // 道路积水, dedup 200 m / 24 h
  f.description = "路口积水很深";
  f.lat = 29.5749;
  f.lon = 106.5743;
  f.district = "500105";
  ReportOutcome first = disp_->FileReport(f);
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  ASSERT_FALSE(first.error);
  EXPECT_FALSE(first.report.linked());
  EXPECT_EQ(first.report.tracking_code().size(), 10u);

  f.lat += 0.0009;  // ~100 m north
  f.description = "这里也积水";
  ReportOutcome second = disp_->FileReport(f);
  ASSERT_TRUE(second.status.ok());
  EXPECT_TRUE(second.report.linked());
  EXPECT_EQ(second.report.case_id(), first.report.case_id());
  const v1::Case c = Get(first.report.case_id());
  EXPECT_EQ(c.reporters_size(), 2);

  f.lat += 0.01;  // > 1 km away
  ReportOutcome third = disp_->FileReport(f);
  EXPECT_FALSE(third.report.linked());
  EXPECT_NE(third.report.case_id(), first.report.case_id());

  f.category = "no-such";
  EXPECT_EQ(disp_->FileReport(f).status.code(), Status::Code::kInvalidArgument);

  // Both reporters' tracking codes follow the one case.
  v1::CitizenReport r;
  ASSERT_TRUE(disp_->GetReport(second.report.tracking_code(), &r).ok());
  EXPECT_EQ(r.case_id(), first.report.case_id());
  ExpectAuditClean();
}

TEST_F(DispatcherTest, ACitizenCaseRunsTheWholeLoopAndTheRatingCanReopenIt) {
  ReportFiling f;
  f.category = "event:0111";
  f.description = "积水";
  f.lat = 29.56;
  f.lon = 106.55;
  f.district = "500103";
  ReportOutcome rep = disp_->FileReport(f);
  ASSERT_TRUE(rep.status.ok());
  const std::string id = rep.report.case_id();
  EXPECT_EQ(Get(id).state(), v1::CASE_STATE_PENDING_ACCEPT);  // citizens' reports wait for 受理

  auto must = [&](v1::CaseCommand cmd) {
    CommandOutcome o = disp_->Execute(id, std::move(cmd));
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    ASSERT_FALSE(o.error) << o.error->message;
  };
  must(Actor(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"));
  v1::CaseCommand transfer = Actor(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1");
  transfer.set_department("cgj-500103");
  must(transfer);
  // Another department may not touch it.
  CommandOutcome o = disp_->Execute(
      id, Actor(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "x", "cgj-500105"));
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code, ErrorCode::kForbidden);
  v1::CaseCommand handled =
      Actor(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "cg-1", "cgj-500103");
  handled.set_note("已疏通");
  handled.add_evidence("photo:after-1");
  must(handled);
  // Rating before closing is refused.
  EXPECT_TRUE(disp_->RateReport(rep.report.tracking_code(), 5, "", true).error);
  must(Actor(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"));
  must(Actor(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"));
  // Not fixed: reopened, back with the department.
  o = disp_->RateReport(rep.report.tracking_code(), 1, "还是积水", false);
  ASSERT_FALSE(o.error);
  EXPECT_EQ(Get(id).state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(Get(id).reopen_count(), 1u);
  v1::CitizenReport r;
  ASSERT_TRUE(disp_->GetReport(rep.report.tracking_code(), &r).ok());
  EXPECT_EQ(r.rating_stars(), 1u);

  // KPIs: the day's row counts the filing, acceptance, dispatch, handling, close, reopen.
  std::vector<KpiRow> rows;
  ASSERT_TRUE(disp_->Stats({}, KpiDimension::kNone, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].counters.filed(), 1);
  EXPECT_EQ(rows[0].counters.accepted(), 1);
  EXPECT_EQ(rows[0].counters.dispatched(), 1);
  EXPECT_EQ(rows[0].counters.closed(), 1);
  EXPECT_EQ(rows[0].counters.reopened(), 1);
  ASSERT_TRUE(disp_->Stats({}, KpiDimension::kDepartment, &rows).ok());
  ExpectAuditClean();
}

// Issue 19, finding 2: a citizen report joined (附议) any open case near it, a hotline or
// patrol case too, and a supporter's "not fixed" reopened the case. Reports join public
// (citizen) cases only; a supporter's rating is recorded without reopening; the reporter's
// reopens.
TEST_F(DispatcherTest, Finding2ReportsJoinOnlyCitizenCasesAndOnlyTheReporterReopens) {
  v1::Case filing;
  filing.set_source(v1::SOURCE_HOTLINE);
  filing.set_category("event:0111");
  filing.set_description("来电人张三 13912345678");
  filing.set_district("500103");
  filing.mutable_location()->set_lat(29.56);
  filing.mutable_location()->set_lon(106.55);
  CommandOutcome hotline =
      disp_->File(filing, Actor(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "disp-1"));
  ASSERT_TRUE(hotline.status.ok() && !hotline.error);

  ReportFiling f;
  f.category = "event:0111";
  f.description = "积水";
  f.lat = 29.56;
  f.lon = 106.55;
  f.district = "500103";
  f.support_case = hotline.c.id();
  ReportOutcome named = disp_->FileReport(f);
  ASSERT_TRUE(named.error);  // the machine refuses: not a citizen case
  EXPECT_EQ(named.error->code, ErrorCode::kForbidden);
  f.support_case.clear();
  ReportOutcome rep = disp_->FileReport(f);  // right on the hotline case
  ASSERT_TRUE(rep.status.ok() && !rep.error);
  EXPECT_FALSE(rep.report.linked());
  EXPECT_NE(rep.report.case_id(), hotline.c.id());
  EXPECT_EQ(Get(hotline.c.id()).reporters_size(), 0);
  const std::string id = rep.report.case_id();
  ReportOutcome sup = disp_->FileReport(f);  // the next one joins the citizen case
  ASSERT_TRUE(sup.status.ok() && !sup.error);
  EXPECT_TRUE(sup.report.linked());
  EXPECT_EQ(sup.report.case_id(), id);

  auto must = [&](v1::CaseCommand cmd) {
    CommandOutcome o = disp_->Execute(id, std::move(cmd));
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    ASSERT_FALSE(o.error) << o.error->message;
  };
  must(Actor(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"));
  v1::CaseCommand transfer = Actor(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1");
  transfer.set_department("cgj-500103");
  must(transfer);
  v1::CaseCommand handled =
      Actor(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "cg-1", "cgj-500103");
  handled.set_note("已疏通");
  handled.add_evidence("photo:after-1");
  must(handled);
  must(Actor(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"));
  must(Actor(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"));

  CommandOutcome o = disp_->RateReport(sup.report.tracking_code(), 1, "没修好", false);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  ASSERT_FALSE(o.error) << o.error->message;
  EXPECT_EQ(Get(id).state(), v1::CASE_STATE_CLOSED);
  v1::CitizenReport r;
  ASSERT_TRUE(disp_->GetReport(sup.report.tracking_code(), &r).ok());
  EXPECT_EQ(r.rating_stars(), 1u);
  EXPECT_FALSE(r.rating_fixed());
  o = disp_->RateReport(rep.report.tracking_code(), 2, "还是积水", false);
  ASSERT_FALSE(o.error) << o.error->message;
  EXPECT_EQ(Get(id).state(), v1::CASE_STATE_HANDLING);
  ExpectAuditClean();
}

TEST_F(DispatcherTest, ListsFilterPageAndCount) {
  for (int i = 0; i < 25; ++i) {
    ReportFiling f;
    f.category = i % 2 ? "event:0111" : "event:0401";
    f.description = "r" + std::to_string(i);
    f.lat = 29.50 + i * 0.02;  // far apart: no linking
    f.lon = 106.50;
    f.district = i < 10 ? "500103" : "500105";
    f.no_link = true;
    AdvanceTo(kNowSeconds + i);
    ASSERT_TRUE(disp_->FileReport(f).status.ok());
  }
  CaseQuery q;
  q.limit = 10;
  CasePage page;
  std::vector<std::string> seen;
  do {
    ASSERT_TRUE(disp_->ListCases(q, &page).ok());
    EXPECT_EQ(page.total, 25u);
    for (auto& s : page.cases) seen.push_back(s.description());
    q.cursor = page.next_cursor;
  } while (!page.next_cursor.empty());
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "r24");  // newest first
  EXPECT_EQ(seen.back(), "r0");

  CaseQuery d;
  d.districts = {"500103"};
  d.categories = {"event:0111"};
  d.limit = 100;
  ASSERT_TRUE(disp_->ListCases(d, &page).ok());
  EXPECT_EQ(page.total, 5u);
  CaseQuery box;
  box.bbox = std::array<double, 4>{106.49, 29.49, 106.51, 29.551};  // r0..r2
  ASSERT_TRUE(disp_->ListCases(box, &page).ok());
  EXPECT_EQ(page.total, 3u);
  CaseQuery st;
  st.states = {v1::CASE_STATE_PENDING_ACCEPT};
  ASSERT_TRUE(disp_->ListCases(st, &page).ok());
  EXPECT_EQ(page.total, 25u);
  EXPECT_EQ(disp_->OpenStats({}).by_state["pending_accept"], 25u);
}

TEST_F(DispatcherTest, ASilentDeviceRaisesOneOfflineCase) {
  BindGasDevice();
  AdvanceTo(kNowSeconds);
  Ingest({test::GasEvent(kGas, 1, 5, kNowSeconds)});
  AdvanceTo(kNowSeconds + 3 * 60 + 1);  // 3 reporting intervals of 60 s
  disp_->Sync();
  auto cases = All();
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].category(), "sys:device_offline");
  AdvanceTo(kNowSeconds + 3600);
  disp_->Sync();
  EXPECT_EQ(All().size(), 1u);
  // The device reports again: the offline alarm clears on its case.
  Ingest({test::GasEvent(kGas, 2, 5, kNowSeconds + 3600)});
  EXPECT_TRUE(Get(cases[0].id()).telemetry_normal());
}

// A device that keeps reporting moves its offline deadline with every batch; the dispatcher
// keeps one timer for it (not one per batch, which grew without bound in a long soak) and still
// raises the offline case on time once it goes silent.
TEST_F(DispatcherTest, AReportingDeviceKeepsOneOfflineTimer) {
  BindGasDevice();
  Gauge& timers = stack_.metrics.GetGauge("yiwang_dispatch_offline_timers", "");
  uint64_t seq = 0;
  int64_t t = kNowSeconds;
  for (int i = 0; i < 40; ++i, t += 20) {  // 20 s apart: never 3 intervals of 60 s silent
    AdvanceTo(t);
    Ingest({test::GasEvent(kGas, ++seq, 5, t)});
    disp_->Sync();
  }
  const int64_t last = t - 20;
  EXPECT_LE(timers.Value(), 2);  // the device's one entry, and at most one stale one
  EXPECT_TRUE(All().empty());
  AdvanceTo(last + 3 * 60 - 1);
  disp_->Sync();
  EXPECT_TRUE(All().empty()) << "offline before 3 silent intervals";
  AdvanceTo(last + 3 * 60 + 1);
  disp_->Sync();
  auto cases = All();
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].category(), "sys:device_offline");
  EXPECT_EQ(timers.Value(), 0);
}

TEST_F(DispatcherTest, AuditFindsATamperedJournal) {
  uint64_t seq = 0;
  GasEpisode(&seq, 0, 30);
  const std::string id = All()[0].id();
  std::vector<v1::JournalEntry> journal;
  ASSERT_TRUE(disp_->GetJournal(id, &journal).ok());
  ASSERT_EQ(journal.size(), 3u);
  v1::JournalEntry e = journal[1];
  e.set_note("nobody accepted this");  // rewritten after the fact
  store::WriteSet ws;
  std::string key(1, static_cast<char>(id.size()));
  key += id;
  store::PutFixed64BE(&key, 2);
  ws.Put(tables::kJournal, key, e.SerializeAsString());
  ASSERT_TRUE(store_->Write(ws).ok());
  std::vector<std::string> problems;
  uint64_t checked = 0;
  ASSERT_TRUE(disp_->Audit(&problems, &checked).ok());
  EXPECT_EQ(checked, 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(id), std::string::npos);
}

TEST_F(DispatcherTest, LiveListenersSeeCasesAndAlarms) {
  std::vector<v1::LiveUpdate> seen;
  std::mutex mu;
  disp_->Subscribe([&](const v1::LiveUpdate& u) {
    std::lock_guard lock(mu);
    seen.push_back(u);
  });
  uint64_t seq = 0;
  GasEpisode(&seq, 0, 30);
  std::lock_guard lock(mu);
  int cases = 0, alarms = 0;
  for (auto& u : seen) {
    cases += u.kind() == v1::LiveUpdate::KIND_CASE;
    alarms += u.kind() == v1::LiveUpdate::KIND_ALARM;
  }
  EXPECT_EQ(cases, 3);  // filed, accepted, transferred
  EXPECT_EQ(alarms, 1);
}

}  // namespace
}  // namespace yiwang::dispatcher
