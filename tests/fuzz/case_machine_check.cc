// CaseMachine (fuzz_harness.h): random command sequences through dispatcher::Apply, each
// answer compared with a small model of the documented transition table. The model is written
// from case_machine.h's table and docs/workflow.md, not from case_machine.cc: where the two
// disagree, one of them is wrong.

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "dispatcher/case_machine.h"
#include "dispatcher/journal.h"
#include "dispatcher/sla.h"
#include "tests/fuzz/fuzz_harness.h"

// GCC 12 at -O2 warns falsely (-Warray-bounds) on `std::string(...) + literal` in the messages
// below once they are inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

namespace yiwang::fuzz {

namespace {

namespace v1 = yiwang::v1;
using dispatcher::Timestamp;
using A = v1::CaseAction;
using S = v1::CaseState;

// 2024-05-01T00:00:00Z, as the other harnesses.
constexpr int64_t kStartMs = 1714521600000;
constexpr size_t kMaxSteps = 96;
constexpr size_t kStepBytes = 6;

// The role table (case_machine.h): which roles may take each action at all.
bool RoleMay(v1::Role role, A a) {
  auto in = [a](std::initializer_list<A> l) { return std::find(l.begin(), l.end(), a) != l.end(); };
  const std::initializer_list<A> dispatcher = {
      v1::CASE_ACTION_CREATE,           v1::CASE_ACTION_ACCEPT,         v1::CASE_ACTION_REJECT,
      v1::CASE_ACTION_TRANSFER,         v1::CASE_ACTION_APPROVE_EXTENSION,
      v1::CASE_ACTION_DENY_EXTENSION,   v1::CASE_ACTION_PARK,           v1::CASE_ACTION_UNPARK};
  const std::initializer_list<A> supervisor = {v1::CASE_ACTION_CREATE, v1::CASE_ACTION_VERIFY_PASS,
                                               v1::CASE_ACTION_VERIFY_FAIL, v1::CASE_ACTION_CLOSE,
                                               v1::CASE_ACTION_REOPEN};
  switch (role) {
    case v1::ROLE_DISPATCHER: return in(dispatcher);
    case v1::ROLE_DEPARTMENT:
      return in({v1::CASE_ACTION_RETURN, v1::CASE_ACTION_REPORT_HANDLED,
                 v1::CASE_ACTION_REQUEST_EXTENSION});
    case v1::ROLE_SUPERVISOR: return in(supervisor);
    case v1::ROLE_ADMIN: return in(dispatcher) || in(supervisor);
    case v1::ROLE_SYSTEM:
      return in({v1::CASE_ACTION_CREATE, v1::CASE_ACTION_ACCEPT, v1::CASE_ACTION_TRANSFER,
                 v1::CASE_ACTION_ESCALATE, v1::CASE_ACTION_ALARM_UPDATE});
    case v1::ROLE_CITIZEN:
      return in({v1::CASE_ACTION_CREATE, v1::CASE_ACTION_REOPEN, v1::CASE_ACTION_SUPPORT});
    default: return false;  // leader, unspecified
  }
}

v1::SlaStage StageOfState(S s, S parked_from) {
  switch (s) {
    case v1::CASE_STATE_PENDING_ACCEPT: return v1::SLA_STAGE_ACCEPT;
    case v1::CASE_STATE_PENDING_DISPATCH: return v1::SLA_STAGE_DISPATCH;
    case v1::CASE_STATE_HANDLING: return v1::SLA_STAGE_HANDLE;
    case v1::CASE_STATE_PENDING_VERIFY:
    case v1::CASE_STATE_VERIFIED: return v1::SLA_STAGE_CLOSE;
    case v1::CASE_STATE_PARKED: return StageOfState(parked_from, v1::CASE_STATE_UNSPECIFIED);
    default: return v1::SLA_STAGE_UNSPECIFIED;
  }
}

const v1::StageClock& Clock(const v1::Case& c, v1::SlaStage s) {
  switch (s) {
    case v1::SLA_STAGE_ACCEPT: return c.sla_accept();
    case v1::SLA_STAGE_DISPATCH: return c.sla_dispatch();
    case v1::SLA_STAGE_HANDLE: return c.sla_handle();
    default: return c.sla_close();
  }
}

// The case as the model sees it.
struct Model {
  S state = v1::CASE_STATE_UNSPECIFIED;
  S parked_from = v1::CASE_STATE_UNSPECIFIED;
  bool extension_pending = false;
  int64_t extension_requested = 0;
  std::string department;
  std::vector<std::string> reporters;
  v1::Source source = v1::SOURCE_UNSPECIFIED;
  uint32_t alarm_count = 0;
  v1::Urgency alarm_level = v1::URGENCY_UNSPECIFIED;
  bool telemetry_normal = false;
  uint32_t returns = 0, reworks = 0, reopens = 0, extensions = 0;
  std::array<uint32_t, 5> run{};               // per SlaStage
  std::array<v1::SlaLevel, 5> escalated{};     // per SlaStage, in its current run
  std::array<bool, 5> finished{};              // per SlaStage, in its current run

  bool Open() const {
    return state != v1::CASE_STATE_UNSPECIFIED && state != v1::CASE_STATE_REJECTED &&
           state != v1::CASE_STATE_CLOSED;
  }
  v1::SlaStage Running() const { return StageOfState(state, parked_from); }
  bool StateAllows(A a) const {
    switch (a) {
      case v1::CASE_ACTION_ESCALATE: {
        const v1::SlaStage st = Running();
        return st != v1::SLA_STAGE_UNSPECIFIED && escalated[st] < v1::SLA_LEVEL_RED;
      }
      case v1::CASE_ACTION_ALARM_UPDATE:
      case v1::CASE_ACTION_SUPPORT: return Open();
      default: break;
    }
    switch (state) {
      case v1::CASE_STATE_UNSPECIFIED: return a == v1::CASE_ACTION_CREATE;
      case v1::CASE_STATE_PENDING_ACCEPT:
        return a == v1::CASE_ACTION_ACCEPT || a == v1::CASE_ACTION_REJECT;
      case v1::CASE_STATE_PENDING_DISPATCH:
        return a == v1::CASE_ACTION_TRANSFER || a == v1::CASE_ACTION_PARK;
      case v1::CASE_STATE_HANDLING:
        if (extension_pending)
          return a == v1::CASE_ACTION_APPROVE_EXTENSION || a == v1::CASE_ACTION_DENY_EXTENSION ||
                 a == v1::CASE_ACTION_REPORT_HANDLED;
        return a == v1::CASE_ACTION_RETURN || a == v1::CASE_ACTION_REPORT_HANDLED ||
               a == v1::CASE_ACTION_REQUEST_EXTENSION || a == v1::CASE_ACTION_PARK;
      case v1::CASE_STATE_PENDING_VERIFY:
        return a == v1::CASE_ACTION_VERIFY_PASS || a == v1::CASE_ACTION_VERIFY_FAIL;
      case v1::CASE_STATE_VERIFIED:
        return a == v1::CASE_ACTION_CLOSE || a == v1::CASE_ACTION_VERIFY_FAIL;
      case v1::CASE_STATE_CLOSED: return a == v1::CASE_ACTION_REOPEN;
      case v1::CASE_STATE_PARKED: return a == v1::CASE_ACTION_UNPARK;
      default: return false;
    }
  }
  // Scope of an existing case (CREATE and the empty case have none).
  bool InScope(const v1::CaseCommand& cmd, A a) const {
    if (a == v1::CASE_ACTION_CREATE || state == v1::CASE_STATE_UNSPECIFIED) return true;
    switch (cmd.actor_role()) {
      case v1::ROLE_DEPARTMENT:
        return !cmd.actor_department().empty() && cmd.actor_department() == department;
      case v1::ROLE_CITIZEN:
        // Citizen reports only; support by anyone, anything else by the one who filed it.
        if (source != v1::SOURCE_CITIZEN) return false;
        return a == v1::CASE_ACTION_SUPPORT ||
               (!reporters.empty() && reporters.front() == cmd.actor_id());
      case v1::ROLE_SYSTEM:
        return !(a == v1::CASE_ACTION_ACCEPT || a == v1::CASE_ACTION_TRANSFER ||
                 a == v1::CASE_ACTION_ALARM_UPDATE) ||
               source == v1::SOURCE_SENSOR;
      default: return true;
    }
  }
  std::vector<A> Allowed(const v1::CaseCommand& cmd) const {
    std::vector<A> out;
    for (int i = v1::CASE_ACTION_CREATE; i <= v1::CASE_ACTION_SUPPORT; ++i) {
      const A a = static_cast<A>(i);
      if (RoleMay(cmd.actor_role(), a) && StateAllows(a) && InScope(cmd, a)) out.push_back(a);
    }
    return out;
  }
  void Start(v1::SlaStage s) {
    ++run[s];
    escalated[s] = v1::SLA_LEVEL_UNSPECIFIED;
    finished[s] = false;
  }
};

enum class Expect { kOk, kForbidden, kIllegal, kInvalid, kOkOrInvalid };

// What the documented rules say about `cmd` on the model's case (step by step, in the
// documented order).
Expect Predict(const Model& m, const v1::CaseCommand& cmd) {
  const A a = cmd.action();
  if (a < v1::CASE_ACTION_CREATE || a > v1::CASE_ACTION_SUPPORT) return Expect::kInvalid;
  if (cmd.actor_id().empty() || cmd.actor_id().size() > dispatcher::kMaxIdBytes)
    return Expect::kInvalid;
  if (!RoleMay(cmd.actor_role(), a)) return Expect::kForbidden;
  if (a == v1::CASE_ACTION_CREATE) {
    if (cmd.actor_role() == v1::ROLE_CITIZEN && cmd.filing().source() != v1::SOURCE_CITIZEN)
      return Expect::kForbidden;
    if (cmd.actor_role() == v1::ROLE_SYSTEM && cmd.filing().source() != v1::SOURCE_SENSOR)
      return Expect::kForbidden;
  } else if (!m.InScope(cmd, a)) {
    return Expect::kForbidden;
  }
  if (!m.StateAllows(a)) return Expect::kIllegal;
  if (cmd.note().size() > dispatcher::kMaxNoteBytes ||
      static_cast<size_t>(cmd.evidence_size()) > dispatcher::kMaxEvidenceRefs ||
      cmd.actor_department().size() > dispatcher::kMaxIdBytes)
    return Expect::kInvalid;
  for (const auto& e : cmd.evidence())
    if (e.empty() || e.size() > dispatcher::kMaxEvidenceRefBytes) return Expect::kInvalid;
  const bool note = !cmd.note().empty();
  switch (a) {
    case v1::CASE_ACTION_CREATE: {
      const v1::Case& f = cmd.filing();
      if (f.source() == v1::SOURCE_UNSPECIFIED || f.urgency() == v1::URGENCY_UNSPECIFIED)
        return Expect::kInvalid;
      if (f.has_location() && (f.location().lat() < -90 || f.location().lat() > 90))
        return Expect::kInvalid;
      return Expect::kOk;
    }
    case v1::CASE_ACTION_TRANSFER:
      return cmd.department().empty() || cmd.department().size() > dispatcher::kMaxIdBytes
                 ? Expect::kInvalid
                 : Expect::kOk;
    case v1::CASE_ACTION_REPORT_HANDLED:
      return note && cmd.evidence_size() > 0 ? Expect::kOk : Expect::kInvalid;
    case v1::CASE_ACTION_REJECT:
    case v1::CASE_ACTION_RETURN:
    case v1::CASE_ACTION_VERIFY_FAIL:
    case v1::CASE_ACTION_DENY_EXTENSION:
    case v1::CASE_ACTION_PARK:
    case v1::CASE_ACTION_REOPEN: return note ? Expect::kOk : Expect::kInvalid;
    case v1::CASE_ACTION_REQUEST_EXTENSION:
      return note && cmd.extension_seconds() > 0 &&
                     cmd.extension_seconds() <= dispatcher::kMaxExtensionSeconds
                 ? Expect::kOk
                 : Expect::kInvalid;
    case v1::CASE_ACTION_CLOSE:
      if (m.source == v1::SOURCE_SENSOR && !cmd.telemetry_normal() &&
          !(cmd.supervisor_override() && note))
        return Expect::kInvalid;
      return Expect::kOk;
    case v1::CASE_ACTION_ALARM_UPDATE:
      return cmd.alarm_count() < m.alarm_count ? Expect::kInvalid : Expect::kOk;
    case v1::CASE_ACTION_ESCALATE: {
      const v1::SlaStage st = m.Running();
      const v1::SlaLevel level = cmd.escalation_level();
      if (cmd.escalation_stage() != st ||
          (level != v1::SLA_LEVEL_YELLOW && level != v1::SLA_LEVEL_RED) ||
          level <= m.escalated[st])
        return Expect::kInvalid;
      return Expect::kOkOrInvalid;  // due or not: that is the SLA clock's to say
    }
    default: return Expect::kOk;  // accept, verify_pass, approve_extension, unpark, support
  }
}

// The model after a successful `cmd`.
void Advance(Model* m, const v1::CaseCommand& cmd) {
  const S from = m->state;
  switch (cmd.action()) {
    case v1::CASE_ACTION_CREATE: {
      const v1::Case& f = cmd.filing();
      m->source = f.source();
      m->reporters.assign(f.reporters().begin(), f.reporters().end());
      if (cmd.actor_role() == v1::ROLE_CITIZEN &&
          std::find(m->reporters.begin(), m->reporters.end(), cmd.actor_id()) ==
              m->reporters.end())
        m->reporters.push_back(cmd.actor_id());
      if (f.source() == v1::SOURCE_SENSOR) {
        m->alarm_count = 1;
        m->alarm_level = f.urgency();
      }
      m->state = v1::CASE_STATE_PENDING_ACCEPT;
      m->Start(v1::SLA_STAGE_ACCEPT);
      break;
    }
    case v1::CASE_ACTION_ACCEPT:
      m->finished[v1::SLA_STAGE_ACCEPT] = true;
      m->state = v1::CASE_STATE_PENDING_DISPATCH;
      m->Start(v1::SLA_STAGE_DISPATCH);
      break;
    case v1::CASE_ACTION_REJECT:
      m->finished[v1::SLA_STAGE_ACCEPT] = true;
      m->state = v1::CASE_STATE_REJECTED;
      break;
    case v1::CASE_ACTION_TRANSFER:
      m->finished[v1::SLA_STAGE_DISPATCH] = true;
      m->department = cmd.department();
      m->state = v1::CASE_STATE_HANDLING;
      m->Start(v1::SLA_STAGE_HANDLE);
      break;
    case v1::CASE_ACTION_RETURN:
      m->finished[v1::SLA_STAGE_HANDLE] = true;
      ++m->returns;
      m->department.clear();
      m->state = v1::CASE_STATE_PENDING_DISPATCH;
      m->Start(v1::SLA_STAGE_DISPATCH);
      break;
    case v1::CASE_ACTION_REPORT_HANDLED:
      m->extension_pending = false;
      m->extension_requested = 0;
      m->finished[v1::SLA_STAGE_HANDLE] = true;
      m->state = v1::CASE_STATE_PENDING_VERIFY;
      m->Start(v1::SLA_STAGE_CLOSE);
      break;
    case v1::CASE_ACTION_VERIFY_PASS: m->state = v1::CASE_STATE_VERIFIED; break;
    case v1::CASE_ACTION_VERIFY_FAIL:
      m->finished[v1::SLA_STAGE_CLOSE] = true;
      ++m->reworks;
      m->state = v1::CASE_STATE_HANDLING;
      m->Start(v1::SLA_STAGE_HANDLE);
      break;
    case v1::CASE_ACTION_CLOSE:
      m->finished[v1::SLA_STAGE_CLOSE] = true;
      m->state = v1::CASE_STATE_CLOSED;
      break;
    case v1::CASE_ACTION_REQUEST_EXTENSION:
      m->extension_pending = true;
      m->extension_requested = cmd.extension_seconds();
      break;
    case v1::CASE_ACTION_APPROVE_EXTENSION:
      ++m->extensions;
      m->extension_pending = false;
      m->extension_requested = 0;
      break;
    case v1::CASE_ACTION_DENY_EXTENSION:
      m->extension_pending = false;
      m->extension_requested = 0;
      break;
    case v1::CASE_ACTION_PARK:
      m->parked_from = from;
      m->state = v1::CASE_STATE_PARKED;
      break;
    case v1::CASE_ACTION_UNPARK:
      m->state = m->parked_from;
      m->parked_from = v1::CASE_STATE_UNSPECIFIED;
      break;
    case v1::CASE_ACTION_REOPEN:
      ++m->reopens;
      m->state = v1::CASE_STATE_HANDLING;
      m->Start(v1::SLA_STAGE_HANDLE);
      break;
    case v1::CASE_ACTION_ALARM_UPDATE:
      m->alarm_count = cmd.alarm_count();
      if (cmd.alarm_level() > m->alarm_level) m->alarm_level = cmd.alarm_level();
      m->telemetry_normal = cmd.telemetry_normal();
      break;
    case v1::CASE_ACTION_SUPPORT:
      if (std::find(m->reporters.begin(), m->reporters.end(), cmd.actor_id()) ==
          m->reporters.end())
        m->reporters.push_back(cmd.actor_id());
      break;
    case v1::CASE_ACTION_ESCALATE:
      m->escalated[cmd.escalation_stage()] = cmd.escalation_level();
      break;
    default: break;
  }
}

// Compares the machine's case with the model; "" if they agree.
std::string Compare(const Model& m, const v1::Case& c) {
  auto differs = [](const char* what, auto want, auto got) {
    return std::string(what) + ": model " + std::to_string(want) + ", machine " +
           std::to_string(got);
  };
  if (c.state() != m.state) return differs("state", m.state, c.state());
  if (c.parked_from() != m.parked_from) return differs("parked_from", m.parked_from, c.parked_from());
  if (c.extension_pending() != m.extension_pending)
    return differs("extension_pending", m.extension_pending, c.extension_pending());
  if (c.extension_requested_seconds() != m.extension_requested)
    return differs("extension_requested_seconds", m.extension_requested,
                   c.extension_requested_seconds());
  if (c.department() != m.department)
    return "department: model '" + m.department + "', machine '" + c.department() + "'";
  if (!std::equal(c.reporters().begin(), c.reporters().end(), m.reporters.begin(),
                  m.reporters.end()))
    return "reporters differ from the model's";
  if (c.alarm_count() != m.alarm_count) return differs("alarm_count", m.alarm_count, c.alarm_count());
  if (c.alarm_level() != m.alarm_level) return differs("alarm_level", m.alarm_level, c.alarm_level());
  if (c.telemetry_normal() != m.telemetry_normal)
    return differs("telemetry_normal", m.telemetry_normal, c.telemetry_normal());
  if (c.return_count() != m.returns) return differs("return_count", m.returns, c.return_count());
  if (c.rework_count() != m.reworks) return differs("rework_count", m.reworks, c.rework_count());
  if (c.reopen_count() != m.reopens) return differs("reopen_count", m.reopens, c.reopen_count());
  if (c.extension_count() != m.extensions)
    return differs("extension_count", m.extensions, c.extension_count());
  // SLA clocks.
  const v1::SlaStage running = m.Running();
  for (int s = v1::SLA_STAGE_ACCEPT; s <= v1::SLA_STAGE_CLOSE; ++s) {
    const v1::StageClock& k = Clock(c, static_cast<v1::SlaStage>(s));
    if (k.run() != m.run[s]) return differs("run of stage", m.run[s], k.run()) + " #" + std::to_string(s);
    if (k.run() == 0) continue;
    const Timestamp start = dispatcher::FromProto(k.started_at());
    const Timestamp deadline = dispatcher::FromProto(k.deadline());
    const Timestamp yellow = dispatcher::FromProto(k.yellow_at());
    if (!k.has_started_at() || !k.has_deadline() || !k.has_yellow_at())
      return "stage " + std::to_string(s) + " runs without start, deadline or yellow_at";
    if (k.limit_ms() <= 0 || k.paused_ms() < 0) return "stage limit or pause not positive";
    if (!(start <= yellow && yellow <= deadline))
      return "stage " + std::to_string(s) + ": not started_at <= yellow_at <= deadline";
    if (k.has_finished_at() != m.finished[s])
      return differs("finished of stage", m.finished[s], k.has_finished_at()) + " #" +
             std::to_string(s);
    if (k.has_finished_at() && dispatcher::FromProto(k.finished_at()) < start)
      return "a stage finished before it started";
    if (s == running && k.escalated() != m.escalated[s])
      return differs("escalated", m.escalated[s], k.escalated());
  }
  const bool paused = m.state == v1::CASE_STATE_PARKED || m.extension_pending;
  if (c.has_paused_at() != paused) return differs("paused", paused, c.has_paused_at());
  return "";
}

// Reads the fuzz input one byte at a time (zeros past the end).
struct Reader {
  std::string_view d;
  size_t i = 0;
  uint8_t Next() { return i < d.size() ? static_cast<uint8_t>(d[i++]) : 0; }
};

v1::CaseCommand Decode(Reader* r) {
  static const std::string kLong(dispatcher::kMaxIdBytes + 1, 'x');
  static const std::string kLongNote(dispatcher::kMaxNoteBytes + 1, 'n');
  static const char* kActors[] = {"", "disp-1", "dept-1", "sup-1", "c-1", "c-2", "sys"};
  static const char* kDepartments[] = {"", "dept-a", "dept-b"};
  static const char* kCategories[] = {"0302", "0101", "event:0111", "event:0401"};
  static const int64_t kExtensions[] = {0, 3600, dispatcher::kMaxExtensionSeconds,
                                        dispatcher::kMaxExtensionSeconds + 1};
  const uint8_t b0 = r->Next(), b1 = r->Next(), b2 = r->Next(), b3 = r->Next(), b4 = r->Next(),
                b5 = r->Next();
  v1::CaseCommand cmd;
  cmd.set_action(static_cast<A>(b0 % (v1::CASE_ACTION_SUPPORT + 1)));
  cmd.set_actor_role(static_cast<v1::Role>(b1 % 8));
  const unsigned actor = b1 >> 3 & 7;
  cmd.set_actor_id(actor == 7 ? kLong : kActors[actor]);
  if (b2 & 1) cmd.set_note(b3 & 0x80 ? kLongNote : "note");
  if (b2 & 2) cmd.add_evidence("photo:1");
  if ((b2 & 0x0c) == 0x0c) cmd.add_evidence("");
  const unsigned dep = b2 >> 4 & 3;
  cmd.set_department(dep == 3 ? kLong : kDepartments[dep]);
  cmd.set_telemetry_normal(b2 & 0x40);
  cmd.set_supervisor_override(b2 & 0x80);
  const unsigned adep = b3 & 3;
  cmd.set_actor_department(adep == 3 ? kLong : kDepartments[adep]);
  cmd.set_extension_seconds(kExtensions[b3 >> 2 & 3]);
  cmd.set_escalation_stage(static_cast<v1::SlaStage>(b3 >> 4 & 3 ? (b3 >> 4 & 3) + (b5 & 1) : 0));
  cmd.set_escalation_level(static_cast<v1::SlaLevel>(b5 >> 1 & 3));
  cmd.set_alarm_count(b5);
  cmd.set_alarm_level(static_cast<v1::Urgency>(b5 >> 6));
  if (cmd.action() == v1::CASE_ACTION_CREATE) {
    v1::Case* f = cmd.mutable_filing();
    f->set_id("YW-FUZZ-1");
    f->set_source(static_cast<v1::Source>((b5 & 7) % 5));
    f->set_urgency(static_cast<v1::Urgency>(b5 >> 3 & 3));
    f->set_category(kCategories[b5 >> 5 & 3]);
    f->set_district("500103");
    if (b3 & 0x40) {
      f->mutable_location()->set_lat(b3 & 0x20 ? 91 : 29.557);
      f->mutable_location()->set_lon(106.577);
    }
    if (b4 & 0x80) f->add_reporters("c-1");
  }
  return cmd;  // b4's low bits are the time step (StepSeconds)
}

int64_t StepSeconds(uint8_t b4) {
  static const int64_t kSteps[] = {0,     1,      59,         60,          600,       1800,
                                   3600,  5400,   4 * 3600,   86400,       3 * 86400, 7 * 86400,
                                   -60,   -86400, 30 * 86400, 100 * 86400};
  return kSteps[b4 & 15];
}

const char* Name(Expect e) {
  switch (e) {
    case Expect::kOk: return "ok";
    case Expect::kForbidden: return "forbidden";
    case Expect::kIllegal: return "illegal_transition";
    case Expect::kInvalid: return "invalid_argument";
    default: return "ok or invalid_argument";
  }
}

}  // namespace

std::string CaseMachine(std::string_view data) {
  static const dispatcher::SlaPolicy policy = dispatcher::SlaPolicy::Default();
  Reader r{data};
  Model m;
  v1::Case c;
  std::vector<v1::JournalEntry> journal;
  Timestamp now{dispatcher::Duration(kStartMs)};
  for (size_t step = 0; step < kMaxSteps && r.i < data.size(); ++step) {
    const uint8_t b4 = r.i + 4 < data.size() ? static_cast<uint8_t>(data[r.i + 4]) : 0;
    const v1::CaseCommand cmd = Decode(&r);
    now += std::chrono::seconds(StepSeconds(b4));
    // Where a finding happened; built only for one (under ASan each allocation costs
    // microseconds, and a sequence has up to kMaxSteps steps). `c` is still the case before
    // the step wherever it is called.
    auto at = [&] {
      return "step " + std::to_string(step) + " (" +
             std::string(dispatcher::ActionName(cmd.action())) + " by " +
             std::string(dispatcher::RoleName(cmd.actor_role())) + " in " +
             std::string(dispatcher::StateName(c.state())) + "): ";
    };
    // AllowedActions agrees with the model whatever the command.
    const auto allowed_now =
        dispatcher::AllowedActions(c, cmd.actor_role(), cmd.actor_department(), cmd.actor_id());
    const std::vector<A> model_allowed = m.Allowed(cmd);
    if (allowed_now != model_allowed) return at() + "AllowedActions differs from the model";

    const Expect want = Predict(m, cmd);
    dispatcher::ApplyResult res = dispatcher::Apply(c, cmd, now, policy);
    if (!res.ok()) {
      const dispatcher::ApplyError& e = res.error();
      if (e.message.empty()) return at() + "an error without a message";
      Expect got = e.code == dispatcher::ErrorCode::kForbidden          ? Expect::kForbidden
                   : e.code == dispatcher::ErrorCode::kIllegalTransition ? Expect::kIllegal
                                                                         : Expect::kInvalid;
      if (got != want && !(want == Expect::kOkOrInvalid && got == Expect::kInvalid))
        return at() + "machine says " + Name(got) + " (" + e.message + "), model " + Name(want);
      if (got == Expect::kIllegal && e.allowed != model_allowed)
        return at() + "the allowed list of the 409 differs from the model";
      if (got != Expect::kIllegal && !e.allowed.empty()) return at() + "allowed list outside a 409";
      continue;
    }
    if (want != Expect::kOk && want != Expect::kOkOrInvalid)
      return at() + "machine applied it, model says " + Name(want);
    dispatcher::Transition t = std::move(res).transition();
    const v1::JournalEntry& e = t.entry;
    const Timestamp last = c.state() == v1::CASE_STATE_UNSPECIFIED
                               ? now
                               : std::max(now, dispatcher::FromProto(c.updated_at()));
    if (e.seq() != c.journal_seq() + 1 || e.prev_hash() != c.journal_head_hash())
      return at() + "entry not chained to the case's head";
    if (e.hash() != dispatcher::JournalHash(e) || t.next.journal_head_hash() != e.hash() ||
        t.next.journal_seq() != e.seq())
      return at() + "entry hash or case head wrong";
    if (e.action() != cmd.action() || e.actor_id() != cmd.actor_id() ||
        e.actor_role() != cmd.actor_role() || e.from_state() != c.state() ||
        e.to_state() != t.next.state() || e.note() != cmd.note())
      return at() + "entry does not record the command";
    if (dispatcher::FromProto(e.time()) != last || dispatcher::FromProto(t.next.updated_at()) != last)
      return at() + "entry time or updated_at is not max(now, last update)";
    if (!t.next.has_created_at() ||
        (c.has_created_at() && (t.next.created_at().seconds() != c.created_at().seconds() ||
                                t.next.created_at().nanos() != c.created_at().nanos())))
      return at() + "created_at missing or changed";
    if (t.next.id() != "YW-FUZZ-1") return at() + "case id changed";
    Advance(&m, cmd);
    if (std::string d = Compare(m, t.next); !d.empty()) return at() + d;
    now = last;
    c = std::move(t.next);
    journal.push_back(std::move(t.entry));
  }
  if (journal.empty()) return "";
  if (Status s = dispatcher::VerifyChain(journal); !s.ok())
    return "VerifyChain: " + s.ToString();
  v1::Case replayed;
  if (Status s = dispatcher::ReplayJournal(journal, policy, &replayed); !s.ok())
    return "ReplayJournal: " + s.ToString();
  if (replayed.SerializeAsString() != c.SerializeAsString())
    return "ReplayJournal does not reproduce the case byte for byte";
  return "";
}

}  // namespace yiwang::fuzz
