// The case state machine: every (state, action, role) against an explicit table, scoping,
// and every workflow path.

#include "dispatcher/case_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "dispatcher/journal.h"
#include "tests/dispatcher/test_util.h"

namespace yiwang::dispatcher {
namespace {

using namespace std::chrono_literals;
using testing::CaseRun;
using testing::Cmd;
using testing::Filing;
using testing::Local;
namespace v1 = yiwang::v1;
using A = v1::CaseAction;

// The actors of the tests. The department is the one the fixture case is transferred to; the
// citizen is one of its reporters.
constexpr const char* kDept = "drainage";  // 排水公司
constexpr const char* kOtherDept = "power";
constexpr const char* kCitizen = "citizen-1";

std::string ActorId(v1::Role role) {
  switch (role) {
    case v1::ROLE_DISPATCHER:
      return "disp-1";
    case v1::ROLE_DEPARTMENT:
      return "staff-1";
    case v1::ROLE_SUPERVISOR:
      return "sup-1";
    case v1::ROLE_LEADER:
      return "lead-1";
    case v1::ROLE_ADMIN:
      return "admin-1";
    case v1::ROLE_SYSTEM:
      return "system";
    case v1::ROLE_CITIZEN:
      return kCitizen;
    default:
      return "nobody";
  }
}

Cmd As(A action, v1::Role role) {
  Cmd c(action, role, ActorId(role));
  if (role == v1::ROLE_DEPARTMENT) c.ActorDept(kDept);
  return c;
}

// ---------------------------------------------------------------------------------------------
// The expected table, written out by hand (not derived from the code under test).

// Action names as the table spells them.
const std::map<std::string, A>& Names() {
  static const auto* names = new std::map<std::string, A>{
      {"create", v1::CASE_ACTION_CREATE},
      {"accept", v1::CASE_ACTION_ACCEPT},
      {"reject", v1::CASE_ACTION_REJECT},
      {"transfer", v1::CASE_ACTION_TRANSFER},
      {"return", v1::CASE_ACTION_RETURN},
      {"report", v1::CASE_ACTION_REPORT_HANDLED},
      {"pass", v1::CASE_ACTION_VERIFY_PASS},
      {"fail", v1::CASE_ACTION_VERIFY_FAIL},
      {"close", v1::CASE_ACTION_CLOSE},
      {"ext", v1::CASE_ACTION_REQUEST_EXTENSION},
      {"approve", v1::CASE_ACTION_APPROVE_EXTENSION},
      {"deny", v1::CASE_ACTION_DENY_EXTENSION},
      {"park", v1::CASE_ACTION_PARK},
      {"unpark", v1::CASE_ACTION_UNPARK},
      {"reopen", v1::CASE_ACTION_REOPEN},
      {"escalate", v1::CASE_ACTION_ESCALATE},
      {"alarm", v1::CASE_ACTION_ALARM_UPDATE},
      {"support", v1::CASE_ACTION_SUPPORT},
  };
  return *names;
}

std::set<A> Set(const std::string& words) {
  std::set<A> out;
  std::istringstream in(words);
  for (std::string w; in >> w;) {
    auto it = Names().find(w);
    EXPECT_NE(it, Names().end()) << "bad name in the table: " << w;
    if (it != Names().end()) out.insert(it->second);
  }
  return out;
}

// What each role may ever do (403 for anything else).
const std::map<v1::Role, std::string> kRoleMay = {
    {v1::ROLE_DISPATCHER, "create accept reject transfer approve deny park unpark"},
    {v1::ROLE_DEPARTMENT, "return report ext"},
    {v1::ROLE_SUPERVISOR, "create pass fail close reopen"},
    {v1::ROLE_LEADER, ""},
    {v1::ROLE_ADMIN,
     "create accept reject transfer approve deny park unpark pass fail close reopen"},
    {v1::ROLE_SYSTEM, "create accept transfer escalate alarm"},
    {v1::ROLE_CITIZEN, "create reopen support"},
};

// The fixture states, each reached by real commands (see MakeFixture).
enum class Fx {
  kNone,
  kPendingAccept,
  kRejected,
  kPendingDispatch,
  kHandling,
  kHandlingExtPending,
  kPendingVerify,
  kVerified,
  kClosed,
  kParked,  // parked from handling
};

const char* FxName(Fx f) {
  static const char* names[] = {"none",     "pending_accept", "rejected",       "pending_dispatch",
                                "handling", "handling+ext",   "pending_verify", "verified",
                                "closed",   "parked"};
  return names[static_cast<int>(f)];
}

constexpr bool kOutOfScope = true;

struct Row {
  Fx fx;
  v1::Role role;
  const char* allowed;  // the actions that succeed; the rest of what the role may: 409
  bool out_of_scope;    // every action on the case 403 (not the actor's case); CREATE, which
                        // would file another case, is the state's to refuse (409)
};

// clang-format off
const Row kTable[] = {
  {Fx::kNone, v1::ROLE_DISPATCHER, "create", false},
  {Fx::kNone, v1::ROLE_DEPARTMENT, "", false},
  {Fx::kNone, v1::ROLE_SUPERVISOR, "create", false},
  {Fx::kNone, v1::ROLE_LEADER, "", false},
  {Fx::kNone, v1::ROLE_ADMIN, "create", false},
  {Fx::kNone, v1::ROLE_SYSTEM, "create", false},
  {Fx::kNone, v1::ROLE_CITIZEN, "create", false},

  {Fx::kPendingAccept, v1::ROLE_DISPATCHER, "accept reject", false},
  {Fx::kPendingAccept, v1::ROLE_DEPARTMENT, "", kOutOfScope},  // not transferred yet
  {Fx::kPendingAccept, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kPendingAccept, v1::ROLE_LEADER, "", false},
  {Fx::kPendingAccept, v1::ROLE_ADMIN, "accept reject", false},
  {Fx::kPendingAccept, v1::ROLE_SYSTEM, "accept escalate alarm", false},
  {Fx::kPendingAccept, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kRejected, v1::ROLE_DISPATCHER, "", false},
  {Fx::kRejected, v1::ROLE_DEPARTMENT, "", kOutOfScope},
  {Fx::kRejected, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kRejected, v1::ROLE_LEADER, "", false},
  {Fx::kRejected, v1::ROLE_ADMIN, "", false},
  {Fx::kRejected, v1::ROLE_SYSTEM, "", false},
  {Fx::kRejected, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kPendingDispatch, v1::ROLE_DISPATCHER, "transfer park", false},
  {Fx::kPendingDispatch, v1::ROLE_DEPARTMENT, "", kOutOfScope},
  {Fx::kPendingDispatch, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kPendingDispatch, v1::ROLE_LEADER, "", false},
  {Fx::kPendingDispatch, v1::ROLE_ADMIN, "transfer park", false},
  {Fx::kPendingDispatch, v1::ROLE_SYSTEM, "transfer escalate alarm", false},
  {Fx::kPendingDispatch, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kHandling, v1::ROLE_DISPATCHER, "park", false},
  {Fx::kHandling, v1::ROLE_DEPARTMENT, "return report ext", false},
  {Fx::kHandling, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kHandling, v1::ROLE_LEADER, "", false},
  {Fx::kHandling, v1::ROLE_ADMIN, "park", false},
  {Fx::kHandling, v1::ROLE_SYSTEM, "escalate alarm", false},
  {Fx::kHandling, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kHandlingExtPending, v1::ROLE_DISPATCHER, "approve deny", false},
  {Fx::kHandlingExtPending, v1::ROLE_DEPARTMENT, "report", false},
  {Fx::kHandlingExtPending, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kHandlingExtPending, v1::ROLE_LEADER, "", false},
  {Fx::kHandlingExtPending, v1::ROLE_ADMIN, "approve deny", false},
  {Fx::kHandlingExtPending, v1::ROLE_SYSTEM, "escalate alarm", false},
  {Fx::kHandlingExtPending, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kPendingVerify, v1::ROLE_DISPATCHER, "", false},
  {Fx::kPendingVerify, v1::ROLE_DEPARTMENT, "", false},
  {Fx::kPendingVerify, v1::ROLE_SUPERVISOR, "pass fail", false},
  {Fx::kPendingVerify, v1::ROLE_LEADER, "", false},
  {Fx::kPendingVerify, v1::ROLE_ADMIN, "pass fail", false},
  {Fx::kPendingVerify, v1::ROLE_SYSTEM, "escalate alarm", false},
  {Fx::kPendingVerify, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kVerified, v1::ROLE_DISPATCHER, "", false},
  {Fx::kVerified, v1::ROLE_DEPARTMENT, "", false},
  {Fx::kVerified, v1::ROLE_SUPERVISOR, "close fail", false},
  {Fx::kVerified, v1::ROLE_LEADER, "", false},
  {Fx::kVerified, v1::ROLE_ADMIN, "close fail", false},
  {Fx::kVerified, v1::ROLE_SYSTEM, "escalate alarm", false},
  {Fx::kVerified, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kClosed, v1::ROLE_DISPATCHER, "", false},
  {Fx::kClosed, v1::ROLE_DEPARTMENT, "", false},
  {Fx::kClosed, v1::ROLE_SUPERVISOR, "reopen", false},
  {Fx::kClosed, v1::ROLE_LEADER, "", false},
  {Fx::kClosed, v1::ROLE_ADMIN, "reopen", false},
  {Fx::kClosed, v1::ROLE_SYSTEM, "", false},
  {Fx::kClosed, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public

  {Fx::kParked, v1::ROLE_DISPATCHER, "unpark", false},
  {Fx::kParked, v1::ROLE_DEPARTMENT, "", false},
  {Fx::kParked, v1::ROLE_SUPERVISOR, "", false},
  {Fx::kParked, v1::ROLE_LEADER, "", false},
  {Fx::kParked, v1::ROLE_ADMIN, "unpark", false},
  {Fx::kParked, v1::ROLE_SYSTEM, "escalate alarm", false},
  {Fx::kParked, v1::ROLE_CITIZEN, "", kOutOfScope},  // a sensor case: not public
};
// clang-format on

// The state each allowed action leads to from each fixture (UNPARK: parked from handling).
v1::CaseState ExpectedNext(Fx fx, A a) {
  switch (a) {
    case v1::CASE_ACTION_CREATE:
      return v1::CASE_STATE_PENDING_ACCEPT;
    case v1::CASE_ACTION_ACCEPT:
      return v1::CASE_STATE_PENDING_DISPATCH;
    case v1::CASE_ACTION_REJECT:
      return v1::CASE_STATE_REJECTED;
    case v1::CASE_ACTION_TRANSFER:
      return v1::CASE_STATE_HANDLING;
    case v1::CASE_ACTION_RETURN:
      return v1::CASE_STATE_PENDING_DISPATCH;
    case v1::CASE_ACTION_REPORT_HANDLED:
      return v1::CASE_STATE_PENDING_VERIFY;
    case v1::CASE_ACTION_VERIFY_PASS:
      return v1::CASE_STATE_VERIFIED;
    case v1::CASE_ACTION_VERIFY_FAIL:
      return v1::CASE_STATE_HANDLING;
    case v1::CASE_ACTION_CLOSE:
      return v1::CASE_STATE_CLOSED;
    case v1::CASE_ACTION_REQUEST_EXTENSION:
    case v1::CASE_ACTION_APPROVE_EXTENSION:
    case v1::CASE_ACTION_DENY_EXTENSION:
      return v1::CASE_STATE_HANDLING;
    case v1::CASE_ACTION_PARK:
      return v1::CASE_STATE_PARKED;
    case v1::CASE_ACTION_UNPARK:
      return v1::CASE_STATE_HANDLING;
    case v1::CASE_ACTION_REOPEN:
      return v1::CASE_STATE_HANDLING;
    case v1::CASE_ACTION_ESCALATE:
    case v1::CASE_ACTION_ALARM_UPDATE:
    case v1::CASE_ACTION_SUPPORT:
      switch (fx) {
        case Fx::kPendingAccept:
          return v1::CASE_STATE_PENDING_ACCEPT;
        case Fx::kPendingDispatch:
          return v1::CASE_STATE_PENDING_DISPATCH;
        case Fx::kHandling:
        case Fx::kHandlingExtPending:
          return v1::CASE_STATE_HANDLING;
        case Fx::kPendingVerify:
          return v1::CASE_STATE_PENDING_VERIFY;
        case Fx::kVerified:
          return v1::CASE_STATE_VERIFIED;
        case Fx::kParked:
          return v1::CASE_STATE_PARKED;
        default:
          break;
      }
      break;
    default:
      break;
  }
  ADD_FAILURE() << "no expected next state";
  return v1::CASE_STATE_UNSPECIFIED;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a sensor case (污水井盖 lid open, emergency: 10m / 30m / 6h / 2h wall clock) with a
// linked citizen reporter (which gives the citizen nothing to do on it: a sensor case is not
// public), driven by real commands 10 hours apart, so that at the table's time (30 days later)
// and at every pause, the running stage is overdue and an escalation is due.

const Timestamp kT0 = Local(2026, 11, 16, 9, 0);

v1::Case MakeFixture(Fx fx) {
  CaseRun run(kT0);
  if (fx == Fx::kNone) return run.c();
  const Duration step = 10h;
  auto must = [&](const v1::CaseCommand& c) {
    ApplyResult r = run.Do(c, step);
    EXPECT_TRUE(r.ok()) << FxName(fx) << " fixture: " << ActionName(c.action()) << ": "
                        << r.error().message;
  };
  must(As(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM)
           .Filing(Filing("case-1", v1::SOURCE_SENSOR, "0102", v1::URGENCY_EMERGENCY, {kCitizen})));
  if (fx == Fx::kPendingAccept) return run.c();
  if (fx == Fx::kRejected) {
    must(As(v1::CASE_ACTION_REJECT, v1::ROLE_DISPATCHER).Note("duplicate"));
    return run.c();
  }
  must(As(v1::CASE_ACTION_ACCEPT, v1::ROLE_SYSTEM));
  if (fx == Fx::kPendingDispatch) return run.c();
  must(As(v1::CASE_ACTION_TRANSFER, v1::ROLE_SYSTEM).Dept(kDept));
  if (fx == Fx::kHandling) return run.c();
  if (fx == Fx::kHandlingExtPending) {
    must(As(v1::CASE_ACTION_REQUEST_EXTENSION, v1::ROLE_DEPARTMENT).Note("parts").Extension(3600));
    return run.c();
  }
  if (fx == Fx::kParked) {
    must(As(v1::CASE_ACTION_PARK, v1::ROLE_DISPATCHER).Note("road works"));
    return run.c();
  }
  must(As(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT).Note("lid replaced").Evidence("p1"));
  if (fx == Fx::kPendingVerify) return run.c();
  must(As(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR));
  if (fx == Fx::kVerified) return run.c();
  must(As(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR).TelemetryNormal());
  return run.c();
}

// A command with every field an action could need, valid for `fx`.
v1::CaseCommand ValidCommand(Fx fx, const v1::Case& c, A action, v1::Role role) {
  Cmd cmd = As(action, role);
  cmd.Note("reason").Evidence("photo-1").Dept(kDept).Extension(3600).TelemetryNormal();
  cmd.Filing(Filing("case-new", role == v1::ROLE_CITIZEN ? v1::SOURCE_CITIZEN : v1::SOURCE_SENSOR,
                    "0102", v1::URGENCY_EMERGENCY, {kCitizen}));
  (void)fx;
  cmd.Escalate(StageOf(c.state(), c.parked_from()), v1::SLA_LEVEL_YELLOW);
  v1::CaseCommand out = cmd;
  out.set_alarm_count(c.alarm_count() + 1);
  out.set_alarm_level(v1::URGENCY_EMERGENCY);
  return out;
}

std::vector<A> Sorted(const std::set<A>& s) { return {s.begin(), s.end()}; }

TEST(CaseMachineTableTest, EveryStateActionRole) {
  const SlaPolicy policy = SlaPolicy::Default();
  const Timestamp now = kT0 + 30 * 24h;
  int checked = 0;
  for (const Row& row : kTable) {
    const v1::Case fixture = MakeFixture(row.fx);
    const std::set<A> allowed = row.out_of_scope ? std::set<A>{} : Set(row.allowed);
    const std::set<A> may = Set(kRoleMay.at(row.role));
    // AllowedActions agrees with the table.
    EXPECT_EQ(AllowedActions(fixture, row.role, row.role == v1::ROLE_DEPARTMENT ? kDept : "",
                             ActorId(row.role)),
              Sorted(allowed))
        << FxName(row.fx) << " / " << RoleName(row.role);
    for (int i = v1::CASE_ACTION_CREATE; i <= v1::CASE_ACTION_SUPPORT; ++i) {
      const A a = static_cast<A>(i);
      const std::string where = std::string(FxName(row.fx)) + " / " +
                                std::string(RoleName(row.role)) + " / " +
                                std::string(ActionName(a));
      ApplyResult r = Apply(fixture, ValidCommand(row.fx, fixture, a, row.role), now, policy);
      ++checked;
      EXPECT_EQ(RoleMayTake(row.role, a), may.count(a) == 1) << where;
      if (!may.count(a) || (row.out_of_scope && a != v1::CASE_ACTION_CREATE)) {
        ASSERT_FALSE(r.ok()) << where;
        EXPECT_EQ(r.error().code, ErrorCode::kForbidden) << where << ": " << r.error().message;
      } else if (allowed.count(a)) {
        ASSERT_TRUE(r.ok()) << where << ": " << ErrorCodeName(r.error().code) << ": "
                            << r.error().message;
        EXPECT_EQ(r.transition().next.state(), ExpectedNext(row.fx, a)) << where;
        EXPECT_EQ(r.transition().entry.to_state(), ExpectedNext(row.fx, a)) << where;
      } else {
        ASSERT_FALSE(r.ok()) << where;
        EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition)
            << where << ": " << r.error().message;
        EXPECT_EQ(r.error().allowed, Sorted(allowed)) << where;
      }
    }
  }
  // 10 fixture states x 7 roles x 18 actions.
  EXPECT_EQ(checked, 10 * 7 * 18);
}

TEST(CaseMachineTableTest, TableCoversEveryFixtureAndRole) {
  std::set<std::pair<int, int>> seen;
  for (const Row& row : kTable) seen.insert({static_cast<int>(row.fx), row.role});
  EXPECT_EQ(seen.size(), 10u * 7u);
}

// ---------------------------------------------------------------------------------------------
// Scoping and malformed commands

TEST(CaseMachineTest, OtherDepartmentIsForbidden) {
  const SlaPolicy policy = SlaPolicy::Default();
  const v1::Case c = MakeFixture(Fx::kHandling);
  for (A a : {v1::CASE_ACTION_RETURN, v1::CASE_ACTION_REPORT_HANDLED,
              v1::CASE_ACTION_REQUEST_EXTENSION}) {
    for (const char* dept : {kOtherDept, ""}) {
      Cmd cmd(a, v1::ROLE_DEPARTMENT, "staff-9");
      cmd.ActorDept(dept).Note("x").Evidence("p").Extension(60);
      ApplyResult r = Apply(c, cmd, kT0 + 100h, policy);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, ErrorCode::kForbidden) << ActionName(a) << " by '" << dept << "'";
    }
  }
  EXPECT_TRUE(AllowedActions(c, v1::ROLE_DEPARTMENT, kOtherDept).empty());
  EXPECT_EQ(AllowedActions(c, v1::ROLE_DEPARTMENT, kDept).size(), 3u);
}

// A citizen reopens only a citizen report they filed (CaseMachinePathTest.Reopen): not a sensor
// case, not even one that lists them (a supporter from before 附议 took citizen reports only).
TEST(CaseMachineTest, CitizenOnlyOwnCase) {
  const SlaPolicy policy = SlaPolicy::Default();
  const v1::Case c = MakeFixture(Fx::kClosed);
  for (const char* citizen : {"citizen-2", kCitizen}) {
    ApplyResult r = Apply(c, Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, citizen).Note("no"),
                          kT0 + 100h, policy);
    ASSERT_FALSE(r.ok()) << citizen;
    EXPECT_EQ(r.error().code, ErrorCode::kForbidden) << citizen;
    EXPECT_TRUE(AllowedActions(c, v1::ROLE_CITIZEN, "", citizen).empty()) << citizen;
  }
}

TEST(CaseMachineTest, SystemRoutesOnlySensorCases) {
  CaseRun run(kT0);
  run.Must(Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "disp-1")
               .Filing(Filing("c-hotline", v1::SOURCE_HOTLINE, "event:0111", v1::URGENCY_GENERAL)));
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_SYSTEM, "system"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  // The system may still escalate it.
  EXPECT_EQ(AllowedActions(run.c(), v1::ROLE_SYSTEM, ""), std::vector<A>{v1::CASE_ACTION_ESCALATE});
}

TEST(CaseMachineTest, FilingRules) {
  const SlaPolicy policy = SlaPolicy::Default();
  const Timestamp now = kT0;
  // The system files sensor cases only; a citizen files citizen reports only.
  ApplyResult r = Apply({},
                        Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM, "system")
                            .Filing(Filing("c", v1::SOURCE_CITIZEN, "0301", v1::URGENCY_GENERAL)),
                        now, policy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  r = Apply({},
            Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_CITIZEN, "c-9")
                .Filing(Filing("c", v1::SOURCE_SENSOR, "0302", v1::URGENCY_EMERGENCY)),
            now, policy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  // A citizen's filing lists the citizen as a reporter.
  r = Apply({},
            Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_CITIZEN, "c-9")
                .Filing(Filing("c", v1::SOURCE_CITIZEN, "0301", v1::URGENCY_GENERAL)),
            now, policy);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.transition().next.reporters_size(), 1);
  EXPECT_EQ(r.transition().next.reporters(0), "c-9");
  EXPECT_EQ(r.transition().entry.filing().reporters(0), "c-9");
  // Required fields.
  for (auto mutate : std::vector<void (*)(v1::Case*)>{
           [](v1::Case* f) { f->clear_id(); }, [](v1::Case* f) { f->clear_category(); },
           [](v1::Case* f) { f->clear_district(); }, [](v1::Case* f) { f->clear_source(); },
           [](v1::Case* f) { f->clear_urgency(); },
           [](v1::Case* f) { f->set_id(std::string(kMaxIdBytes + 1, 'x')); },
           [](v1::Case* f) { f->mutable_location()->set_lat(91); }}) {
    v1::Case f = Filing("c", v1::SOURCE_HOTLINE, "0301", v1::URGENCY_GENERAL);
    mutate(&f);
    r = Apply({}, Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "d").Filing(f), now, policy);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
  }
  // Workflow fields in a filing are ignored: the machine owns them.
  v1::Case f = Filing("c", v1::SOURCE_HOTLINE, "0301", v1::URGENCY_GENERAL);
  f.set_state(v1::CASE_STATE_CLOSED);
  f.set_rework_count(7);
  f.set_department("x");
  r = Apply({}, Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "d").Filing(f), now, policy);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.transition().next.state(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(r.transition().next.rework_count(), 0u);
  EXPECT_EQ(r.transition().next.department(), "");
}

TEST(CaseMachineTest, MalformedCommands) {
  const SlaPolicy policy = SlaPolicy::Default();
  const v1::Case c = MakeFixture(Fx::kPendingAccept);
  ApplyResult r = Apply(c, Cmd(v1::CASE_ACTION_UNSPECIFIED, v1::ROLE_ADMIN, "a"), kT0, policy);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = Apply(c, Cmd(static_cast<A>(99), v1::ROLE_ADMIN, "a"), kT0, policy);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = Apply(c, Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_ADMIN, ""), kT0, policy);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = Apply(c, Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_UNSPECIFIED, "a"), kT0, policy);
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  r = Apply(c, Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_ADMIN, "a").Note(std::string(5000, 'x')), kT0,
            policy);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = Apply(c, Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_ADMIN, "a").Evidence(""), kT0, policy);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(CaseMachineTest, LeaderMayDoNothing) {
  for (int i = v1::CASE_ACTION_CREATE; i <= v1::CASE_ACTION_SUPPORT; ++i)
    EXPECT_FALSE(RoleMayTake(v1::ROLE_LEADER, static_cast<A>(i)));
}

TEST(CaseMachineTest, ActionNamesRoundTrip) {
  for (int i = v1::CASE_ACTION_CREATE; i <= v1::CASE_ACTION_SUPPORT; ++i) {
    const A a = static_cast<A>(i);
    EXPECT_EQ(ParseActionName(ActionName(a)), a);
  }
  EXPECT_EQ(ParseActionName("unspecified"), std::nullopt);
  EXPECT_EQ(ParseActionName("ACCEPT"), std::nullopt);
  EXPECT_EQ(ActionName(static_cast<A>(99)), "unknown");
  EXPECT_STREQ(ErrorCodeName(ErrorCode::kIllegalTransition), "illegal_transition");
}

// ---------------------------------------------------------------------------------------------
// Paths

// A citizen report of 道路积水 (event:0111, general: 0.5wd / 0.5wd / 1wd / 1wd, working time).
CaseRun FiledCitizenReport(Timestamp t = kT0) {
  CaseRun run(t);
  run.Must(Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_CITIZEN, kCitizen)
               .Filing(Filing("case-7", v1::SOURCE_CITIZEN, "event:0111", v1::URGENCY_GENERAL)));
  return run;
}

TEST(CaseMachinePathTest, HappyPath) {
  CaseRun run = FiledCitizenReport();  // Monday 09:00
  const v1::Case& c = run.c();
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(c.journal_seq(), 1u);
  EXPECT_EQ(FromProto(c.created_at()), kT0);
  EXPECT_EQ(c.sla_accept().run(), 1u);
  EXPECT_TRUE(c.sla_accept().working_time());
  EXPECT_EQ(c.sla_accept().limit_spec(), "0.5wd");
  EXPECT_EQ(FromProto(c.sla_accept().deadline()), Local(2026, 11, 16, 14, 15));
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifyCommandCentre);
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kScheduleSlaCheck);
  EXPECT_EQ(run.last().effects.back().at, Local(2026, 11, 16, 12, 0));  // 80 % = 3 h

  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 1h);  // 立案
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_DISPATCH);
  EXPECT_EQ(FromProto(c.sla_accept().finished_at()), kT0 + 1h);
  EXPECT_EQ(c.sla_dispatch().run(), 1u);
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifyReporters);

  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 1h);  // 派遣
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(c.department(), kDept);
  EXPECT_EQ(run.last().entry.department(), kDept);
  EXPECT_EQ(run.last().effects[0], (Effect{Effect::Kind::kNotifyDepartment, kDept}));
  // Handle: 1wd from Monday 11:00 -> Tuesday 11:00.
  EXPECT_EQ(FromProto(c.sla_handle().deadline()), Local(2026, 11, 17, 11, 0));
  EXPECT_EQ(FromProto(run.last().entry.deadline()), Local(2026, 11, 17, 11, 0));

  // 处置 without evidence or note is refused.
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
                             .ActorDept(kDept)
                             .Note("pumped"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = run.Do(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
                 .ActorDept(kDept)
                 .Evidence("photo-9"));
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("pumped, drain cleared")
               .Evidence("photo-9"),
           3h);
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_VERIFY);
  EXPECT_TRUE(c.sla_handle().has_finished_at());
  EXPECT_EQ(c.sla_close().run(), 1u);
  EXPECT_EQ(run.last().entry.evidence(0), "photo-9");
  EXPECT_EQ(run.last().entry.actor_department(), kDept);
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifySupervision);

  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1").Evidence("photo-10"), 1h);
  EXPECT_EQ(c.state(), v1::CASE_STATE_VERIFIED);
  // A citizen case closes without telemetry.
  run.Must(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  EXPECT_EQ(c.state(), v1::CASE_STATE_CLOSED);
  EXPECT_TRUE(c.sla_close().has_finished_at());
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kCancelSlaCheck);
  EXPECT_EQ(c.journal_seq(), 6u);
  EXPECT_EQ(NextCheck(c), std::nullopt);
  const SlaStatus s = Evaluate(c, run.now() + 1000h);
  for (auto st :
       {v1::SLA_STAGE_ACCEPT, v1::SLA_STAGE_DISPATCH, v1::SLA_STAGE_HANDLE, v1::SLA_STAGE_CLOSE})
    EXPECT_EQ(s.Level(st), v1::SLA_LEVEL_ON_TIME) << v1::SlaStage_Name(st);
  EXPECT_TRUE(VerifyChain(run.journal()).ok());
}

TEST(CaseMachinePathTest, Reject) {
  CaseRun run = FiledCitizenReport();
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_REJECT, v1::ROLE_DISPATCHER, "disp-1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);  // a reason is required
  run.Must(Cmd(v1::CASE_ACTION_REJECT, v1::ROLE_DISPATCHER, "disp-1").Note("not in scope"), 5min);
  EXPECT_EQ(run.c().state(), v1::CASE_STATE_REJECTED);
  EXPECT_TRUE(run.c().sla_accept().has_finished_at());
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifyReporters);
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kCancelSlaCheck);
  r = run.Do(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition);
  EXPECT_TRUE(r.error().allowed.empty());
}

TEST(CaseMachinePathTest, ReturnThenRetransfer) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kOtherDept), 10min);
  auto ret = Cmd(v1::CASE_ACTION_RETURN, v1::ROLE_DEPARTMENT, "staff-p").ActorDept(kOtherDept);
  ApplyResult r = run.Do(ret);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);  // 回退 needs a reason
  run.Must(ret.Note("storm drains belong to the drainage company"), 30min);
  const v1::Case& c = run.c();
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_DISPATCH);
  EXPECT_EQ(c.return_count(), 1u);
  EXPECT_EQ(c.department(), "");
  EXPECT_TRUE(c.sla_handle().has_finished_at());
  EXPECT_EQ(c.sla_dispatch().run(), 2u);  // a fresh dispatch clock
  EXPECT_EQ(FromProto(c.sla_dispatch().started_at()), run.now());
  EXPECT_FALSE(c.sla_dispatch().has_finished_at());
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifyCommandCentre);
  // The returning department no longer sees it as theirs.
  EXPECT_TRUE(AllowedActions(c, v1::ROLE_DEPARTMENT, kOtherDept).empty());
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 10min);
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(c.department(), kDept);
  EXPECT_EQ(c.sla_handle().run(), 2u);
}

TEST(CaseMachinePathTest, Rework) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 10min);
  auto report = Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
                    .ActorDept(kDept)
                    .Note("done")
                    .Evidence("p1");
  run.Must(report, 1h);
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_VERIFY_FAIL, v1::ROLE_SUPERVISOR, "sup-1"));
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);  // 返工 needs a reason
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_FAIL, v1::ROLE_SUPERVISOR, "sup-1").Note("still flooded"),
           30min);
  const v1::Case& c = run.c();
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(c.department(), kDept);  // back to the same department
  EXPECT_EQ(c.rework_count(), 1u);
  EXPECT_EQ(c.sla_handle().run(), 2u);
  EXPECT_TRUE(c.sla_close().has_finished_at());
  EXPECT_EQ(run.last().effects[0], (Effect{Effect::Kind::kNotifyDepartment, kDept}));
  run.Must(report, 1h);
  EXPECT_EQ(c.sla_close().run(), 2u);
  // Fail again from VERIFIED.
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_FAIL, v1::ROLE_ADMIN, "admin-1").Note("complaint"), 10min);
  EXPECT_EQ(c.rework_count(), 2u);
  EXPECT_EQ(c.sla_handle().run(), 3u);
}

TEST(CaseMachinePathTest, ExtensionApproved) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 1h);  // Mon 10:00
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 1h);  // 11:00
  const Timestamp handle_deadline = Local(2026, 11, 17, 11, 0);                            // +1wd
  ASSERT_EQ(FromProto(run.c().sla_handle().deadline()), handle_deadline);
  auto req =
      Cmd(v1::CASE_ACTION_REQUEST_EXTENSION, v1::ROLE_DEPARTMENT, "staff-1").ActorDept(kDept);
  EXPECT_EQ(run.Do(Cmd(req).Note("parts on order")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(run.Do(Cmd(req).Note("x").Extension(-1)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(run.Do(Cmd(req).Note("x").Extension(kMaxExtensionSeconds + 1)).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(run.Do(Cmd(req).Extension(3600)).error().code, ErrorCode::kInvalidArgument);
  run.Must(req.Note("parts on order").Extension(2 * 3600), 1h);  // Mon 12:00 (lunch)
  const v1::Case& c = run.c();
  EXPECT_TRUE(c.extension_pending());
  EXPECT_EQ(c.extension_requested_seconds(), 7200);
  EXPECT_TRUE(c.has_paused_at());
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kNotifyCommandCentre);
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kCancelSlaCheck);  // frozen
  EXPECT_TRUE(Evaluate(c, run.now() + 100h).paused);
  // While pending: no 回退, no second request, no 挂账.
  ApplyResult r = run.Do(
      Cmd(v1::CASE_ACTION_RETURN, v1::ROLE_DEPARTMENT, "staff-1").ActorDept(kDept).Note("x"));
  EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition);
  EXPECT_EQ(r.error().allowed, std::vector<A>{v1::CASE_ACTION_REPORT_HANDLED});
  // Approved at 15:30: paused 12:00-15:30 = 2 working hours (lunch excluded), plus 2 h granted.
  run.Must(Cmd(v1::CASE_ACTION_APPROVE_EXTENSION, v1::ROLE_DISPATCHER, "disp-1"), 3h + 30min);
  EXPECT_FALSE(c.extension_pending());
  EXPECT_FALSE(c.has_paused_at());
  EXPECT_EQ(c.extension_count(), 1u);
  EXPECT_EQ(c.sla_handle().paused_ms(), std::chrono::milliseconds(2h).count());
  EXPECT_EQ(c.sla_handle().limit_ms(), std::chrono::milliseconds(7h + 30min + 2h).count());
  EXPECT_EQ(run.last().entry.extension_seconds(), 7200);
  EXPECT_EQ(FromProto(c.sla_handle().deadline()), Local(2026, 11, 17, 16, 30));  // 11:00 + 4 wh
  EXPECT_EQ(run.last().effects[0], (Effect{Effect::Kind::kNotifyDepartment, kDept}));
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kScheduleSlaCheck);
}

TEST(CaseMachinePathTest, ExtensionDenied) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 1h);  // 11:00
  run.Must(Cmd(v1::CASE_ACTION_REQUEST_EXTENSION, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("rain")
               .Extension(86400),
           30min);  // 11:30
  EXPECT_EQ(run.Do(Cmd(v1::CASE_ACTION_DENY_EXTENSION, v1::ROLE_DISPATCHER, "disp-1")).error().code,
            ErrorCode::kInvalidArgument);  // a reason is required
  run.Must(Cmd(v1::CASE_ACTION_DENY_EXTENSION, v1::ROLE_DISPATCHER, "disp-1").Note("no"), 30min);
  const v1::Case& c = run.c();
  EXPECT_FALSE(c.extension_pending());
  EXPECT_EQ(c.extension_count(), 0u);
  EXPECT_EQ(c.sla_handle().limit_ms(), std::chrono::milliseconds(7h + 30min).count());
  // The pending time (11:30-12:00 working) still does not count against the department.
  EXPECT_EQ(c.sla_handle().paused_ms(), std::chrono::milliseconds(30min).count());
  EXPECT_EQ(FromProto(c.sla_handle().deadline()), Local(2026, 11, 17, 11, 30));
  // The department may ask again.
  EXPECT_EQ(AllowedActions(c, v1::ROLE_DEPARTMENT, kDept).size(), 3u);
}

TEST(CaseMachinePathTest, ReportWithdrawsPendingExtension) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 1h);
  run.Must(Cmd(v1::CASE_ACTION_REQUEST_EXTENSION, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("rain")
               .Extension(3600),
           10min);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("done anyway")
               .Evidence("p"),
           20min);
  EXPECT_FALSE(run.c().extension_pending());
  EXPECT_FALSE(run.c().has_paused_at());
  EXPECT_EQ(run.c().sla_handle().paused_ms(), std::chrono::milliseconds(20min).count());
  EXPECT_EQ(run.c().state(), v1::CASE_STATE_PENDING_VERIFY);
}

TEST(CaseMachinePathTest, ParkAndUnpark) {
  // 0102 lid open (emergency, wall clock: dispatch 30 min, handle 6 h).
  CaseRun run(kT0);
  run.Must(As(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM)
               .Filing(Filing("case-9", v1::SOURCE_SENSOR, "0102", v1::URGENCY_EMERGENCY)));
  run.Must(As(v1::CASE_ACTION_ACCEPT, v1::ROLE_SYSTEM), 1min);
  const v1::Case& c = run.c();
  const Timestamp dispatch_deadline = FromProto(c.sla_dispatch().deadline());
  // Park from PENDING_DISPATCH.
  EXPECT_EQ(run.Do(As(v1::CASE_ACTION_PARK, v1::ROLE_DISPATCHER)).error().code,
            ErrorCode::kInvalidArgument);  // a reason is required
  run.Must(As(v1::CASE_ACTION_PARK, v1::ROLE_DISPATCHER).Note("owner unknown"), 5min);
  EXPECT_EQ(c.state(), v1::CASE_STATE_PARKED);
  EXPECT_EQ(c.parked_from(), v1::CASE_STATE_PENDING_DISPATCH);
  ApplyResult r = run.Do(As(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER).Dept(kDept));
  EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition);
  EXPECT_EQ(r.error().allowed, std::vector<A>{v1::CASE_ACTION_UNPARK});
  run.Must(As(v1::CASE_ACTION_UNPARK, v1::ROLE_DISPATCHER), 48h);
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_DISPATCH);
  EXPECT_EQ(c.parked_from(), v1::CASE_STATE_UNSPECIFIED);
  EXPECT_EQ(FromProto(c.sla_dispatch().deadline()), dispatch_deadline + 48h);  // wall clock
  EXPECT_EQ(Evaluate(c, run.now()).ActiveLevel(), v1::SLA_LEVEL_ON_TIME);
  // Park from HANDLING; UNPARK returns there and tells the department.
  run.Must(As(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER).Dept(kDept), 1min);
  run.Must(As(v1::CASE_ACTION_PARK, v1::ROLE_ADMIN).Note("needs budget"), 1h);
  EXPECT_EQ(c.parked_from(), v1::CASE_STATE_HANDLING);
  // Department staff see nothing to do while parked.
  EXPECT_TRUE(AllowedActions(c, v1::ROLE_DEPARTMENT, kDept).empty());
  run.Must(As(v1::CASE_ACTION_UNPARK, v1::ROLE_DISPATCHER), 240h);
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(c.sla_handle().paused_ms(), std::chrono::milliseconds(240h).count());
  EXPECT_EQ(run.last().effects[0], (Effect{Effect::Kind::kNotifyDepartment, kDept}));
}

TEST(CaseMachinePathTest, ParkOverWeekendInWorkingTime) {
  CaseRun run = FiledCitizenReport(Local(2026, 11, 20, 9, 0));               // Friday
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 1h);  // Fri 10:00
  const Timestamp deadline = FromProto(run.c().sla_dispatch().deadline());
  EXPECT_EQ(deadline, Local(2026, 11, 20, 15, 15));                                  // 0.5wd
  run.Must(Cmd(v1::CASE_ACTION_PARK, v1::ROLE_DISPATCHER, "disp-1").Note("x"), 7h);  // Fri 17:00
  run.set_now(Local(2026, 11, 23, 10, 0));                                           // Mon 10:00
  run.Must(Cmd(v1::CASE_ACTION_UNPARK, v1::ROLE_DISPATCHER, "disp-1"));
  // Paused 2 working hours (Fri 17-18, Mon 9-10): the deadline moves 2 working hours.
  EXPECT_EQ(run.c().sla_dispatch().paused_ms(), std::chrono::milliseconds(2h).count());
  EXPECT_EQ(FromProto(run.c().sla_dispatch().deadline()), Local(2026, 11, 20, 17, 15));
  // It was already red when parked; it still is.
  EXPECT_EQ(Evaluate(run.c(), run.now()).ActiveLevel(), v1::SLA_LEVEL_RED);
}

TEST(CaseMachinePathTest, Reopen) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 10min);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("done")
               .Evidence("p"),
           1h);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  EXPECT_EQ(run.Do(Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, kCitizen)).error().code,
            ErrorCode::kInvalidArgument);  // the citizen says what is wrong
  run.Must(Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, kCitizen).Note("flooded again"), 24h);
  const v1::Case& c = run.c();
  EXPECT_EQ(c.state(), v1::CASE_STATE_HANDLING);
  EXPECT_EQ(c.department(), kDept);
  EXPECT_EQ(c.reopen_count(), 1u);
  EXPECT_EQ(c.sla_handle().run(), 2u);
  EXPECT_EQ(run.last().effects[0], (Effect{Effect::Kind::kNotifyDepartment, kDept}));
  EXPECT_EQ(run.last().effects[1].kind, Effect::Kind::kNotifyReporters);
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kScheduleSlaCheck);
  // And by a supervisor, after the next close.
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("done again")
               .Evidence("p2"),
           1h);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_SUPERVISOR, "sup-1").Note("spot check failed"));
  EXPECT_EQ(c.reopen_count(), 2u);
  EXPECT_EQ(c.sla_handle().run(), 3u);
}

TEST(CaseMachinePathTest, SensorCloseNeedsTelemetryOrOverride) {
  const SlaPolicy policy = SlaPolicy::Default();
  const v1::Case c = MakeFixture(Fx::kVerified);
  const Timestamp now = kT0 + 100h;
  auto close = [&](const v1::CaseCommand& cmd) { return Apply(c, cmd, now, policy); };
  ApplyResult r = close(As(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("telemetry"), std::string::npos);
  r = close(As(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR).Override());  // no reason
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  r = close(As(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR).Note("why not").Override());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.transition().entry.supervisor_override());
  EXPECT_EQ(r.transition().entry.note(), "why not");
  r = close(As(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR).TelemetryNormal());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.transition().entry.telemetry_normal());
  EXPECT_EQ(r.transition().next.state(), v1::CASE_STATE_CLOSED);
  // Only supervisors (and admins) close at all.
  r = close(As(v1::CASE_ACTION_CLOSE, v1::ROLE_DISPATCHER).TelemetryNormal());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
}

TEST(CaseMachinePathTest, EscalationOncePerLevel) {
  CaseRun run(kT0);
  run.Must(As(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM)
               .Filing(Filing("case-5", v1::SOURCE_SENSOR, "0302", v1::URGENCY_EMERGENCY)));
  // Accept: 5 min, yellow at 4 min.
  auto esc = [](v1::SlaStage s, v1::SlaLevel l) {
    return As(v1::CASE_ACTION_ESCALATE, v1::ROLE_SYSTEM).Escalate(s, l);
  };
  ApplyResult r = run.Do(esc(v1::SLA_STAGE_ACCEPT, v1::SLA_LEVEL_YELLOW), 3min);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);  // not due
  EXPECT_EQ(run.Do(esc(v1::SLA_STAGE_DISPATCH, v1::SLA_LEVEL_YELLOW), 1min).error().code,
            ErrorCode::kInvalidArgument);  // not the running stage
  EXPECT_EQ(run.Do(esc(v1::SLA_STAGE_ACCEPT, v1::SLA_LEVEL_ON_TIME)).error().code,
            ErrorCode::kInvalidArgument);
  run.Must(esc(v1::SLA_STAGE_ACCEPT, v1::SLA_LEVEL_YELLOW));  // 4 min
  const v1::Case& c = run.c();
  EXPECT_EQ(c.state(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(c.sla_accept().escalated(), v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(run.last().entry.escalation_level(), v1::SLA_LEVEL_YELLOW);
  EXPECT_EQ(run.last().effects[0].kind, Effect::Kind::kEscalation);
  EXPECT_EQ(run.last().effects[1], (Effect{Effect::Kind::kScheduleSlaCheck, "", kT0 + 5min}));
  EXPECT_EQ(run.Do(esc(v1::SLA_STAGE_ACCEPT, v1::SLA_LEVEL_YELLOW)).error().code,
            ErrorCode::kInvalidArgument);  // never twice
  EXPECT_FALSE(DueEscalation(c, run.now()));
  auto due = DueEscalation(c, kT0 + 5min);
  ASSERT_TRUE(due);
  run.Must(*due, 1min);
  EXPECT_EQ(c.sla_accept().escalated(), v1::SLA_LEVEL_RED);
  EXPECT_EQ(run.last().effects.back().kind, Effect::Kind::kCancelSlaCheck);
  // After red, nothing more to raise in this run.
  r = run.Do(esc(v1::SLA_STAGE_ACCEPT, v1::SLA_LEVEL_RED));
  EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition);
  // The next stage escalates on its own.
  run.Must(As(v1::CASE_ACTION_ACCEPT, v1::ROLE_SYSTEM));
  EXPECT_EQ(c.sla_dispatch().escalated(), v1::SLA_LEVEL_UNSPECIFIED);
  EXPECT_EQ(NextCheck(c), run.now() + 8min);  // 80 % of 10 min
}

TEST(CaseMachineTest, ClockSteppingBackKeepsJournalOrdered) {
  CaseRun run = FiledCitizenReport();
  run.set_now(kT0 - 1h);
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"));
  EXPECT_EQ(FromProto(run.last().entry.time()), kT0);
  EXPECT_EQ(FromProto(run.c().updated_at()), kT0);
}

TEST(CaseMachineTest, EntryRecordsOnlyWhatApplies) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1")
               .ActorDept("x")
               .Dept(kDept)
               .Extension(5)
               .TelemetryNormal()
               .Escalate(v1::SLA_STAGE_HANDLE, v1::SLA_LEVEL_RED)
               .Note("ok"));
  const v1::JournalEntry& e = run.last().entry;
  EXPECT_EQ(e.note(), "ok");
  EXPECT_EQ(e.actor_department(), "");
  EXPECT_EQ(e.department(), "");
  EXPECT_EQ(e.extension_seconds(), 0);
  EXPECT_FALSE(e.telemetry_normal());
  EXPECT_EQ(e.escalation_stage(), v1::SLA_STAGE_UNSPECIFIED);
  EXPECT_FALSE(e.has_filing());
  EXPECT_EQ(e.seq(), 2u);
  EXPECT_EQ(e.case_id(), "case-7");
  EXPECT_EQ(e.from_state(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(e.to_state(), v1::CASE_STATE_PENDING_DISPATCH);
  EXPECT_EQ(e.prev_hash(), run.journal()[0].hash());
  EXPECT_EQ(e.hash().size(), 32u);
  EXPECT_EQ(run.c().journal_head_hash(), e.hash());
}

}  // namespace
// ---------------------------------------------------------------------------------------------
// Alarm updates and 附议

TEST(CaseMachineTest, AlarmUpdateCountsRepeatsAndRecordsTheClear) {
  CaseRun run(kT0);
  run.Must(Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_SYSTEM, "system")
               .Filing(Filing("c-gas", v1::SOURCE_SENSOR, "0302", v1::URGENCY_URGENT)));
  EXPECT_EQ(run.c().alarm_count(), 1u);
  EXPECT_EQ(run.c().alarm_level(), v1::URGENCY_URGENT);
  EXPECT_FALSE(run.c().telemetry_normal());
  v1::CaseCommand up = Cmd(v1::CASE_ACTION_ALARM_UPDATE, v1::ROLE_SYSTEM, "system");
  up.set_alarm_count(3);
  up.set_alarm_level(v1::URGENCY_EMERGENCY);
  ApplyResult r = run.Do(up);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.transition().next.state(), v1::CASE_STATE_PENDING_ACCEPT);
  EXPECT_EQ(r.transition().next.alarm_count(), 3u);
  EXPECT_EQ(r.transition().next.alarm_level(), v1::URGENCY_EMERGENCY);
  EXPECT_EQ(r.transition().next.urgency(), v1::URGENCY_URGENT);  // the SLA keeps its filing
  EXPECT_EQ(r.transition().entry.alarm_count(), 3u);
  run.Must(up);
  // Counts never go down; a clear keeps the level.
  v1::CaseCommand clear = up;
  clear.set_alarm_level(v1::URGENCY_GENERAL);
  clear.set_telemetry_normal(true);
  clear.set_alarm_count(2);
  r = run.Do(clear);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  clear.set_alarm_count(3);
  run.Must(clear);
  EXPECT_TRUE(run.c().telemetry_normal());
  EXPECT_EQ(run.c().alarm_level(), v1::URGENCY_EMERGENCY);
  // Only for sensor cases, and only by the system.
  up.set_actor_role(v1::ROLE_DISPATCHER);
  r = run.Do(up);
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
}

TEST(CaseMachineTest, SupportAddsAReporterOnceAndOnlyWhileOpen) {
  CaseRun run(kT0);
  run.Must(Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_CITIZEN, "cit-1")
               .Filing(Filing("c-smell", v1::SOURCE_CITIZEN, "event:0114", v1::URGENCY_GENERAL)));
  run.Must(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_CITIZEN, "cit-2").Note("same smell here"));
  run.Must(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_CITIZEN, "cit-2"));
  EXPECT_EQ(std::vector<std::string>(run.c().reporters().begin(), run.c().reporters().end()),
            (std::vector<std::string>{"cit-1", "cit-2"}));
  EXPECT_EQ(run.c().journal_seq(), 3u);
  // A dispatcher may not "support".
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_DISPATCHER, "disp-1"));
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  run.Must(Cmd(v1::CASE_ACTION_REJECT, v1::ROLE_DISPATCHER, "disp-1").Note("not ours"));
  r = run.Do(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_CITIZEN, "cit-3"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kIllegalTransition);
}

// Issue 19, finding 2: any citizen could support (附议) any open case, and any supporter could
// reopen it. Citizens support citizen reports only (the public cases), and of the citizens
// only the one who filed the report reopens it.
TEST(CaseMachineTest, Finding2CitizensSupportOnlyCitizenReportsAndOnlyTheFilerReopens) {
  CaseRun run = FiledCitizenReport();
  run.Must(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_CITIZEN, "citizen-2").Note("me too"));
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp-1").Dept(kDept), 10min);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff-1")
               .ActorDept(kDept)
               .Note("done")
               .Evidence("p"),
           1h);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  run.Must(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup-1"), 10min);
  ApplyResult r = run.Do(Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, "citizen-2").Note("no"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
  EXPECT_TRUE(AllowedActions(run.c(), v1::ROLE_CITIZEN, "", "citizen-2").empty());
  EXPECT_EQ(AllowedActions(run.c(), v1::ROLE_CITIZEN, "", kCitizen),
            std::vector<A>{v1::CASE_ACTION_REOPEN});
  run.Must(Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, kCitizen).Note("flooded again"));

  // Sensor, patrol and hotline cases take no supporters; a citizen listed on one (an old 附议)
  // does not reopen it.
  for (v1::Source source : {v1::SOURCE_SENSOR, v1::SOURCE_PATROL, v1::SOURCE_HOTLINE}) {
    CaseRun other(kT0);
    other.Must(Cmd(v1::CASE_ACTION_CREATE,
                   source == v1::SOURCE_SENSOR ? v1::ROLE_SYSTEM : v1::ROLE_DISPATCHER, "op")
                   .Filing(Filing("case-9", source, "0102", v1::URGENCY_GENERAL, {kCitizen})));
    r = other.Do(Cmd(v1::CASE_ACTION_SUPPORT, v1::ROLE_CITIZEN, "citizen-2").Note("me too"));
    ASSERT_FALSE(r.ok()) << v1::Source_Name(source);
    EXPECT_EQ(r.error().code, ErrorCode::kForbidden) << v1::Source_Name(source);
    EXPECT_TRUE(AllowedActions(other.c(), v1::ROLE_CITIZEN, "", kCitizen).empty());
  }
  const v1::Case closed_sensor_case = MakeFixture(Fx::kClosed);  // kCitizen is listed on it
  r = Apply(closed_sensor_case, Cmd(v1::CASE_ACTION_REOPEN, v1::ROLE_CITIZEN, kCitizen).Note("no"),
            kT0 + 100h, SlaPolicy::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kForbidden);
}

}  // namespace yiwang::dispatcher
