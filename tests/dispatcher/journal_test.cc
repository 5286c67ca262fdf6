// The journal hash chain, replay, and a property test over random command sequences.

#include "dispatcher/journal.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <random>

#include "dispatcher/case_machine.h"
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

std::string Bytes(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

const Timestamp kT0 = Local(2026, 11, 16, 9, 0);

// A citizen report through 立案, 派遣, 延期, 处置, 返工, 处置, 核查, 结案.
std::vector<v1::JournalEntry> SampleJournal(v1::Case* final_case = nullptr) {
  CaseRun run(kT0);
  run.Must(Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_CITIZEN, "citizen-1")
               .Filing(Filing("case-42", v1::SOURCE_CITIZEN, "event:0111", v1::URGENCY_GENERAL)));
  run.Must(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "d"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "d").Dept("drainage"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_REQUEST_EXTENSION, v1::ROLE_DEPARTMENT, "s")
               .ActorDept("drainage")
               .Note("rain")
               .Extension(3600),
           1h);
  run.Must(Cmd(v1::CASE_ACTION_APPROVE_EXTENSION, v1::ROLE_DISPATCHER, "d"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "s")
               .ActorDept("drainage")
               .Note("pumped")
               .Evidence("photo-1"),
           3h);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_FAIL, v1::ROLE_SUPERVISOR, "v").Note("still wet"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "s")
               .ActorDept("drainage")
               .Note("pumped again")
               .Evidence("photo-2"),
           20h);
  run.Must(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "v"), 1h);
  run.Must(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "v"), 1h);
  if (final_case) *final_case = run.c();
  return run.journal();
}

void Rehash(std::vector<v1::JournalEntry>* j, size_t from) {
  for (size_t i = from; i < j->size(); ++i) {
    (*j)[i].set_prev_hash(i == 0 ? "" : (*j)[i - 1].hash());
    (*j)[i].set_hash(JournalHash((*j)[i]));
  }
}

TEST(JournalTest, ChainVerifies) {
  std::vector<v1::JournalEntry> j = SampleJournal();
  ASSERT_EQ(j.size(), 10u);
  EXPECT_TRUE(VerifyChain(j).ok());
  EXPECT_EQ(j[0].prev_hash(), "");
  EXPECT_EQ(j[0].action(), v1::CASE_ACTION_CREATE);
  for (size_t i = 1; i < j.size(); ++i) EXPECT_EQ(j[i].prev_hash(), j[i - 1].hash());
}

TEST(JournalTest, TamperedEntryFails) {
  std::vector<v1::JournalEntry> j = SampleJournal();
  j[2].set_note("nothing to see");
  Status s = VerifyChain(j);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("seq 3"), std::string::npos) << s.ToString();
}

TEST(JournalTest, RehashedEntryBreaksTheNextLink) {
  std::vector<v1::JournalEntry> j = SampleJournal();
  j[2].set_department("gas");
  j[2].set_hash(JournalHash(j[2]));
  Status s = VerifyChain(j);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("seq 4"), std::string::npos) << s.ToString();
}

TEST(JournalTest, ReorderedDroppedOrForeignEntriesFail) {
  const std::vector<v1::JournalEntry> good = SampleJournal();
  auto j = good;
  std::swap(j[3], j[4]);
  EXPECT_FALSE(VerifyChain(j).ok());
  j = good;
  j.erase(j.begin() + 1);
  EXPECT_FALSE(VerifyChain(j).ok());
  j = good;
  j.pop_back();  // a truncated journal is still a valid chain (the case's head hash catches it)
  EXPECT_TRUE(VerifyChain(j).ok());
  j = good;
  j[4].set_case_id("case-43");
  Rehash(&j, 4);
  EXPECT_FALSE(VerifyChain(j).ok());
  j = good;
  j[0].set_hash(std::string(32, '\0'));
  EXPECT_FALSE(VerifyChain(j).ok());
  EXPECT_EQ(VerifyChain({}).code(), Status::Code::kInvalidArgument);
}

TEST(JournalTest, ReplayReproducesTheCase) {
  v1::Case final_case;
  const std::vector<v1::JournalEntry> j = SampleJournal(&final_case);
  v1::Case replayed;
  ASSERT_TRUE(ReplayJournal(j, SlaPolicy::Default(), &replayed).ok());
  EXPECT_EQ(Bytes(replayed), Bytes(final_case));
  EXPECT_EQ(replayed.journal_head_hash(), j.back().hash());
}

TEST(JournalTest, ReplayCatchesAForgedButRehashedChain) {
  std::vector<v1::JournalEntry> j = SampleJournal();
  // Rewrite history consistently: claim the case went straight from handling to closed.
  j[5].set_to_state(v1::CASE_STATE_CLOSED);
  Rehash(&j, 5);
  ASSERT_TRUE(VerifyChain(j).ok());
  v1::Case replayed;
  Status s = ReplayJournal(j, SlaPolicy::Default(), &replayed);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("seq 6"), std::string::npos) << s.ToString();
  // An action the state does not allow, re-hashed, is refused by replay too.
  j = SampleJournal();
  j[1].set_action(v1::CASE_ACTION_CLOSE);
  j[1].set_actor_role(v1::ROLE_SUPERVISOR);
  Rehash(&j, 1);
  s = ReplayJournal(j, SlaPolicy::Default(), &replayed);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("illegal_transition"), std::string::npos) << s.ToString();
}

TEST(JournalTest, ReplayUnderAnotherPolicyDiverges) {
  const std::vector<v1::JournalEntry> j = SampleJournal();
  WorkCalendarSpec spec;
  spec.holidays = {testing::Date(2026, 11, 17)};  // a day off the original calendar lacked
  WorkCalendar cal;
  ASSERT_TRUE(WorkCalendar::Create(spec, &cal).ok());
  SlaPolicy other = SlaPolicy::Default();
  ASSERT_TRUE(SlaPolicy::Create(SlaPolicy::Default().rules(), cal, &other).ok());
  v1::Case replayed;
  EXPECT_EQ(ReplayJournal(j, other, &replayed).code(), Status::Code::kCorruption);
}

TEST(JournalTest, CommandFromEntryRoundTrips) {
  const std::vector<v1::JournalEntry> j = SampleJournal();
  const v1::CaseCommand cmd = CommandFromEntry(j[3]);
  EXPECT_EQ(cmd.action(), v1::CASE_ACTION_REQUEST_EXTENSION);
  EXPECT_EQ(cmd.actor_department(), "drainage");
  EXPECT_EQ(cmd.extension_seconds(), 3600);
  EXPECT_EQ(cmd.note(), "rain");
  EXPECT_TRUE(CommandFromEntry(j[0]).has_filing());
}

// ---------------------------------------------------------------------------------------------
// Property test: random command sequences (fixed seed).

class RandomWalk {
 public:
  explicit RandomWalk(uint64_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int>(v.size()) - 1)];
  }

  Duration Advance() {
    switch (Uniform(0, 9)) {
      case 0:
      case 1:
      case 2:
        return std::chrono::seconds(Uniform(0, 60));
      case 3:
      case 4:
      case 5:
        return std::chrono::minutes(Uniform(1, 120));
      case 6:
      case 7:
      case 8:
        return std::chrono::hours(Uniform(1, 24));
      default:
        return std::chrono::hours(24 * Uniform(1, 10));
    }
  }

  v1::CaseCommand Creation() {
    static const std::vector<std::string> kCategories = {
        "0302",       "0101",       "0102",          "0111",       "0401",
        "0402",       "0301",       "event:0111",    "event:0114", "event:0192",
        "event:0401", "event:0404", "device_offline"};
    const v1::Role role =
        Pick(std::vector<v1::Role>{v1::ROLE_SYSTEM, v1::ROLE_DISPATCHER, v1::ROLE_SUPERVISOR,
                                   v1::ROLE_CITIZEN, v1::ROLE_ADMIN});
    v1::Source source = static_cast<v1::Source>(Uniform(1, 4));
    if (role == v1::ROLE_SYSTEM) source = v1::SOURCE_SENSOR;
    if (role == v1::ROLE_CITIZEN) source = v1::SOURCE_CITIZEN;
    std::vector<std::string> reporters;
    if (Chance(0.5)) reporters.push_back("citizen-1");
    return Cmd(v1::CASE_ACTION_CREATE, role, role == v1::ROLE_CITIZEN ? "citizen-1" : "actor")
        .Filing(Filing("case-r", source, Pick(kCategories), static_cast<v1::Urgency>(Uniform(1, 3)),
                       reporters));
  }

  // Mostly an action some actor may take now, with valid arguments; sometimes anything.
  v1::CaseCommand Next(const v1::Case& c, Timestamp now) {
    if (Chance(0.65)) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        const v1::Role role = static_cast<v1::Role>(Uniform(1, 7));
        const std::string dept = c.department().empty() ? Pick(kDepts) : c.department();
        const std::string id = role == v1::ROLE_CITIZEN ? "citizen-1" : "actor";
        const std::vector<A> allowed = AllowedActions(c, role, dept, id);
        if (allowed.empty()) continue;
        const A action = Pick(allowed);
        if (action == v1::CASE_ACTION_ESCALATE && Chance(0.8)) {
          if (auto due = DueEscalation(c, now)) return *due;
        }
        Cmd cmd(action, role, id);
        if (role == v1::ROLE_DEPARTMENT) cmd.ActorDept(dept);
        if (Chance(0.9)) cmd.Note("because");
        if (Chance(0.9)) cmd.Evidence("photo");
        cmd.Dept(Pick(kDepts));
        cmd.Extension(Chance(0.9) ? Uniform(60, 7 * 86400) : -Uniform(0, 5));
        if (Chance(0.7)) cmd.TelemetryNormal();
        if (Chance(0.5)) cmd.Override();
        cmd.Escalate(static_cast<v1::SlaStage>(Uniform(0, 4)),
                     static_cast<v1::SlaLevel>(Uniform(0, 3)));
        return cmd;
      }
    }
    Cmd cmd(static_cast<A>(Uniform(0, 17)), static_cast<v1::Role>(Uniform(0, 8)),
            Chance(0.95) ? Pick(std::vector<std::string>{"citizen-1", "actor", "x"}) : "");
    cmd.ActorDept(Chance(0.5) ? c.department() : Pick(kDepts));
    if (Chance(0.5)) cmd.Note("n");
    if (Chance(0.5)) cmd.Evidence("e");
    if (Chance(0.5)) cmd.Dept(Pick(kDepts));
    cmd.Extension(Uniform(-10, 40 * 86400));
    if (Chance(0.5)) cmd.TelemetryNormal();
    if (Chance(0.5)) cmd.Override();
    cmd.Escalate(static_cast<v1::SlaStage>(Uniform(0, 4)),
                 static_cast<v1::SlaLevel>(Uniform(0, 3)));
    return cmd;
  }

 private:
  const std::vector<std::string> kDepts = {"drainage", "power", "gas", "cgj-500105"};
  std::mt19937_64 rng_;
};

// Invariants every stored case satisfies.
void CheckInvariants(const v1::Case& c, const SlaPolicy& policy, const std::string& where) {
  const v1::SlaStage active = StageOf(c.state(), c.parked_from());
  for (auto stage :
       {v1::SLA_STAGE_ACCEPT, v1::SLA_STAGE_DISPATCH, v1::SLA_STAGE_HANDLE, v1::SLA_STAGE_CLOSE}) {
    const v1::StageClock& k = ClockOf(c, stage);
    const std::string at = where + " stage " + v1::SlaStage_Name(stage);
    if (k.run() == 0) {
      ASSERT_NE(stage, active) << at;
      continue;
    }
    const Timestamp started = FromProto(k.started_at());
    ASSERT_GT(k.limit_ms(), 0) << at;
    ASSERT_GE(k.paused_ms(), 0) << at;
    ASSERT_LE(started, FromProto(k.yellow_at())) << at;
    ASSERT_LE(FromProto(k.yellow_at()), FromProto(k.deadline())) << at;
    // Deadlines are exactly what the policy computes from start, limit and pause.
    ASSERT_EQ(FromProto(k.deadline()),
              policy.Add(k.working_time(), started, Duration(k.limit_ms() + k.paused_ms())))
        << at;
    ASSERT_EQ(FromProto(k.yellow_at()),
              policy.Add(k.working_time(), started, Duration(k.limit_ms() * 4 / 5 + k.paused_ms())))
        << at;
    // Only the running stage's clock runs.
    ASSERT_EQ(!k.has_finished_at(), stage == active) << at;
    if (k.has_finished_at()) {
      ASSERT_GE(FromProto(k.finished_at()), started) << at;
    }
  }
  ASSERT_EQ(c.has_paused_at(), c.state() == v1::CASE_STATE_PARKED || c.extension_pending())
      << where;
  if (c.extension_pending()) {
    ASSERT_EQ(c.state(), v1::CASE_STATE_HANDLING) << where;
  }
  ASSERT_EQ(c.parked_from() != v1::CASE_STATE_UNSPECIFIED, c.state() == v1::CASE_STATE_PARKED)
      << where;
  const v1::CaseState s = c.state() == v1::CASE_STATE_PARKED ? c.parked_from() : c.state();
  const bool has_dept = s == v1::CASE_STATE_HANDLING || s == v1::CASE_STATE_PENDING_VERIFY ||
                        s == v1::CASE_STATE_VERIFIED || s == v1::CASE_STATE_CLOSED;
  ASSERT_EQ(!c.department().empty(), has_dept) << where;
}

TEST(JournalPropertyTest, RandomSequencesReplayExactly) {
  const SlaPolicy policy = SlaPolicy::Default();
  RandomWalk walk(0x59495741'4e470001ULL);  // fixed seed: runs are reproducible
  std::map<v1::CaseState, int> states_seen;
  std::map<A, int> actions_applied;
  int escalations = 0;
  for (int seq = 0; seq < 1000; ++seq) {
    const std::string where_seq = "sequence " + std::to_string(seq);
    Timestamp now = kT0 + std::chrono::minutes(walk.Uniform(0, 60 * 24 * 14));
    v1::Case c;
    std::vector<v1::JournalEntry> journal;
    // Escalation levels raised per (stage, run): must strictly increase.
    std::map<std::pair<int, uint32_t>, std::vector<v1::SlaLevel>> raised;

    auto apply = [&](const v1::CaseCommand& cmd, const std::string& where) -> bool {
      ApplyResult r = Apply(c, cmd, now, policy);
      // Apply agrees with AllowedActions.
      const std::vector<A> allowed =
          AllowedActions(c, cmd.actor_role(), cmd.actor_department(), cmd.actor_id());
      const bool listed = std::find(allowed.begin(), allowed.end(), cmd.action()) != allowed.end();
      if (r.ok()) {
        EXPECT_TRUE(listed) << where;
      } else if (r.error().code == ErrorCode::kIllegalTransition) {
        EXPECT_FALSE(listed) << where;
        EXPECT_EQ(r.error().allowed, allowed) << where;
      } else if (r.error().code == ErrorCode::kForbidden) {
        if (cmd.action() != v1::CASE_ACTION_CREATE) {
          EXPECT_FALSE(listed) << where;
        }
      }
      if (!r.ok()) return false;
      const Transition& t = r.transition();
      EXPECT_EQ(t.entry.seq(), journal.size() + 1) << where;
      if (cmd.action() == v1::CASE_ACTION_ESCALATE) {
        auto& levels = raised[{cmd.escalation_stage(), ClockOf(c, cmd.escalation_stage()).run()}];
        EXPECT_TRUE(levels.empty() || levels.back() < cmd.escalation_level())
            << where << ": escalation level repeated or lowered";
        levels.push_back(cmd.escalation_level());
        ++escalations;
      }
      ++actions_applied[cmd.action()];
      c = t.next;
      journal.push_back(t.entry);
      states_seen[c.state()]++;
      CheckInvariants(c, policy, where);
      return true;
    };

    const v1::CaseCommand create = walk.Creation();
    ASSERT_TRUE(apply(create, where_seq + " create")) << where_seq;
    const int steps = walk.Uniform(1, 60);
    for (int step = 0; step < steps; ++step) {
      const std::string where = where_seq + " step " + std::to_string(step);
      now += walk.Advance();
      // The timer: NextCheck says exactly when an escalation is due (none is lost).
      const std::optional<Timestamp> check = NextCheck(c);
      const std::optional<v1::CaseCommand> due = DueEscalation(c, now);
      ASSERT_EQ(check.has_value() && *check <= now, due.has_value()) << where;
      if (due && walk.Chance(0.7)) {
        ASSERT_TRUE(apply(*due, where + " (timer)")) << where;
        ASSERT_FALSE(DueEscalation(c, now)) << where << ": escalation due twice";
      }
      apply(walk.Next(c, now), where);
      if (::testing::Test::HasFatalFailure()) return;
    }
    // Catch up the timer far in the future: afterwards nothing is due (nothing lost).
    now += 1000h;
    for (int i = 0; i < 3; ++i) {
      if (auto d = DueEscalation(c, now)) {
        ASSERT_TRUE(apply(*d, where_seq + " catch-up"));
      }
    }
    ASSERT_FALSE(DueEscalation(c, now)) << where_seq;
    if (auto check = NextCheck(c)) {
      ASSERT_GT(*check, now) << where_seq;
    }

    // The journal is a valid chain and replays to the same bytes.
    ASSERT_TRUE(VerifyChain(journal).ok()) << where_seq;
    v1::Case replayed;
    Status s = ReplayJournal(journal, policy, &replayed);
    ASSERT_TRUE(s.ok()) << where_seq << ": " << s.ToString();
    ASSERT_EQ(Bytes(replayed), Bytes(c)) << where_seq;
    ASSERT_EQ(c.journal_seq(), journal.size()) << where_seq;
    ASSERT_EQ(c.journal_head_hash(), journal.back().hash()) << where_seq;
  }
  // The walk reached every state and applied every action (the test is not vacuous).
  for (int s = v1::CASE_STATE_PENDING_ACCEPT; s <= v1::CASE_STATE_PARKED; ++s)
    EXPECT_GT(states_seen[static_cast<v1::CaseState>(s)], 0) << v1::CaseState_Name(s);
  for (int a = v1::CASE_ACTION_CREATE; a <= v1::CASE_ACTION_ESCALATE; ++a)
    EXPECT_GT(actions_applied[static_cast<A>(a)], 0) << v1::CaseAction_Name(a);
  EXPECT_GT(escalations, 100);
  int applied = 0;
  for (const auto& [action, n] : actions_applied) applied += n;
  std::cout << "[ stats    ] " << applied << " transitions applied, " << escalations
            << " escalations\n";
}

}  // namespace
}  // namespace yiwang::dispatcher
