#include "dispatcher/case_machine.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "dispatcher/journal.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

using Action = v1::CaseAction;
using State = v1::CaseState;

constexpr Action kFirstAction = v1::CASE_ACTION_CREATE;
constexpr Action kLastAction = v1::CASE_ACTION_SUPPORT;

constexpr uint32_t Bit(Action a) { return 1u << static_cast<unsigned>(a); }

// Which roles may take each action at all: the role table of case_machine.h.
constexpr uint32_t kDispatcherActions =
    Bit(v1::CASE_ACTION_CREATE) | Bit(v1::CASE_ACTION_ACCEPT) | Bit(v1::CASE_ACTION_REJECT) |
    Bit(v1::CASE_ACTION_TRANSFER) | Bit(v1::CASE_ACTION_APPROVE_EXTENSION) |
    Bit(v1::CASE_ACTION_DENY_EXTENSION) | Bit(v1::CASE_ACTION_PARK) | Bit(v1::CASE_ACTION_UNPARK);
constexpr uint32_t kDepartmentActions = Bit(v1::CASE_ACTION_RETURN) |
                                        Bit(v1::CASE_ACTION_REPORT_HANDLED) |
                                        Bit(v1::CASE_ACTION_REQUEST_EXTENSION);
constexpr uint32_t kSupervisorActions =
    Bit(v1::CASE_ACTION_CREATE) | Bit(v1::CASE_ACTION_VERIFY_PASS) |
    Bit(v1::CASE_ACTION_VERIFY_FAIL) | Bit(v1::CASE_ACTION_CLOSE) | Bit(v1::CASE_ACTION_REOPEN);
constexpr uint32_t kSystemActions = Bit(v1::CASE_ACTION_CREATE) | Bit(v1::CASE_ACTION_ACCEPT) |
                                    Bit(v1::CASE_ACTION_TRANSFER) | Bit(v1::CASE_ACTION_ESCALATE) |
                                    Bit(v1::CASE_ACTION_ALARM_UPDATE);
constexpr uint32_t kCitizenActions =
    Bit(v1::CASE_ACTION_CREATE) | Bit(v1::CASE_ACTION_REOPEN) | Bit(v1::CASE_ACTION_SUPPORT);

uint32_t RoleActions(v1::Role role) {
  switch (role) {
    case v1::ROLE_DISPATCHER:
      return kDispatcherActions;
    case v1::ROLE_DEPARTMENT:
      return kDepartmentActions;
    case v1::ROLE_SUPERVISOR:
      return kSupervisorActions;
    case v1::ROLE_ADMIN:
      return kDispatcherActions | kSupervisorActions;
    case v1::ROLE_SYSTEM:
      return kSystemActions;
    case v1::ROLE_CITIZEN:
      return kCitizenActions;
    case v1::ROLE_LEADER:
    default:
      return 0;
  }
}

bool ValidAction(Action a) { return a >= kFirstAction && a <= kLastAction; }

// The running stage's clock may still escalate (it has not reached red in this run).
bool MayEscalate(const v1::Case& c) {
  const v1::SlaStage stage = StageOf(c.state(), c.parked_from());
  if (stage == v1::SLA_STAGE_UNSPECIFIED) return false;
  const v1::StageClock& clock = ClockOf(c, stage);
  return clock.run() > 0 && !clock.has_finished_at() && clock.escalated() < v1::SLA_LEVEL_RED;
}

// Step 4: does the case's state allow the action (whoever asks)?
bool StateAllows(const v1::Case& c, Action a) {
  if (a == v1::CASE_ACTION_ESCALATE) return MayEscalate(c);
  if (a == v1::CASE_ACTION_ALARM_UPDATE || a == v1::CASE_ACTION_SUPPORT) {
    // Open cases only: a closed case's problem recurring is a new case.
    return c.state() != v1::CASE_STATE_UNSPECIFIED && c.state() != v1::CASE_STATE_REJECTED &&
           c.state() != v1::CASE_STATE_CLOSED;
  }
  switch (c.state()) {
    case v1::CASE_STATE_UNSPECIFIED:
      return a == v1::CASE_ACTION_CREATE;
    case v1::CASE_STATE_PENDING_ACCEPT:
      return a == v1::CASE_ACTION_ACCEPT || a == v1::CASE_ACTION_REJECT;
    case v1::CASE_STATE_PENDING_DISPATCH:
      return a == v1::CASE_ACTION_TRANSFER || a == v1::CASE_ACTION_PARK;
    case v1::CASE_STATE_HANDLING:
      if (c.extension_pending()) {
        return a == v1::CASE_ACTION_APPROVE_EXTENSION || a == v1::CASE_ACTION_DENY_EXTENSION ||
               a == v1::CASE_ACTION_REPORT_HANDLED;
      }
      return a == v1::CASE_ACTION_RETURN || a == v1::CASE_ACTION_REPORT_HANDLED ||
             a == v1::CASE_ACTION_REQUEST_EXTENSION || a == v1::CASE_ACTION_PARK;
    case v1::CASE_STATE_PENDING_VERIFY:
      return a == v1::CASE_ACTION_VERIFY_PASS || a == v1::CASE_ACTION_VERIFY_FAIL;
    case v1::CASE_STATE_VERIFIED:
      return a == v1::CASE_ACTION_CLOSE || a == v1::CASE_ACTION_VERIFY_FAIL;
    case v1::CASE_STATE_CLOSED:
      return a == v1::CASE_ACTION_REOPEN;
    case v1::CASE_STATE_PARKED:
      return a == v1::CASE_ACTION_UNPARK;
    case v1::CASE_STATE_REJECTED:
    default:
      return false;
  }
}

// Step 3 for an existing case: the actor's scope covers it. Empty string when it does, else
// the reason.
std::string ScopeProblem(const v1::Case& c, v1::Role role, Action a,
                         std::string_view actor_department, std::string_view actor_id) {
  if (a == v1::CASE_ACTION_CREATE || c.state() == v1::CASE_STATE_UNSPECIFIED) return {};
  switch (role) {
    case v1::ROLE_DEPARTMENT:
      if (actor_department.empty() || actor_department != c.department())
        return "department staff may act only on cases of their own department";
      return {};
    case v1::ROLE_CITIZEN:
      // Anyone may join a public case; only its filer (the first reporter of a citizen case:
      // a supporter is appended after) may send it back. A supporter's "not fixed" is their
      // opinion, not a decision over someone else's report.
      if (a == v1::CASE_ACTION_SUPPORT)
        return IsPublicCase(c) ? "" : "citizens may support only citizen reports";
      if (!IsPublicCase(c) || c.reporters().empty() || c.reporters(0) != actor_id)
        return "a citizen may act only on a report they filed";
      return {};
    case v1::ROLE_SYSTEM:
      if ((a == v1::CASE_ACTION_ACCEPT || a == v1::CASE_ACTION_TRANSFER ||
           a == v1::CASE_ACTION_ALARM_UPDATE) &&
          c.source() != v1::SOURCE_SENSOR)
        return "the system accepts, transfers and updates alarms of sensor cases only";
      return {};
    default:
      return {};
  }
}

// Step 3 for CREATE: who may file what.
std::string FilingScopeProblem(const v1::CaseCommand& cmd) {
  if (cmd.actor_role() == v1::ROLE_CITIZEN && cmd.filing().source() != v1::SOURCE_CITIZEN)
    return "a citizen files only citizen reports (source citizen)";
  if (cmd.actor_role() == v1::ROLE_SYSTEM && cmd.filing().source() != v1::SOURCE_SENSOR)
    return "the system files only sensor cases (source sensor)";
  return {};
}

ApplyError Error(ErrorCode code, std::string message) {
  return ApplyError{code, std::move(message), {}};
}

// The "as filed" fields of a case (field numbers 1..12 of yiwang.v1.Case).
v1::Case FilingFields(const v1::Case& f) {
  v1::Case out;
  out.set_id(f.id());
  out.set_source(f.source());
  out.set_category(f.category());
  out.set_urgency(f.urgency());
  out.set_district(f.district());
  out.set_grid_cell(f.grid_cell());
  if (f.has_location()) *out.mutable_location() = f.location();
  out.set_description(f.description());
  out.set_asset_id(f.asset_id());
  out.set_device_id(f.device_id());
  out.set_alarm_type(f.alarm_type());
  *out.mutable_reporters() = f.reporters();
  out.set_alarm_id(f.alarm_id());
  return out;
}

std::string CheckId(std::string_view field, std::string_view value) {
  if (value.empty()) return std::string(field) + " is required";
  if (value.size() > kMaxIdBytes)
    return std::string(field) + " is longer than " + std::to_string(kMaxIdBytes) + " bytes";
  return {};
}

std::string CheckFiling(const v1::Case& f) {
  for (auto [field, value] : {std::pair<std::string_view, std::string_view>{"filing.id", f.id()},
                              {"filing.category", f.category()},
                              {"filing.district", f.district()}}) {
    if (std::string p = CheckId(field, value); !p.empty()) return p;
  }
  if (f.source() == v1::SOURCE_UNSPECIFIED || !v1::Source_IsValid(f.source()))
    return "filing.source is required";
  if (f.urgency() == v1::URGENCY_UNSPECIFIED || !v1::Urgency_IsValid(f.urgency()))
    return "filing.urgency is required";
  if (f.has_location()) {
    const double lat = f.location().lat(), lon = f.location().lon();
    if (!std::isfinite(lat) || !std::isfinite(lon) || lat < -90 || lat > 90 || lon < -180 ||
        lon > 180)
      return "filing.location is not a WGS-84 point";
  }
  if (f.description().size() > kMaxNoteBytes) return "filing.description is too long";
  for (const std::string& r : f.reporters())
    if (std::string p = CheckId("filing.reporters[]", r); !p.empty()) return p;
  if (static_cast<size_t>(f.reporters_size()) > kMaxEvidenceRefs)
    return "filing.reporters has too many entries";
  for (auto [field, value] :
       {std::pair<std::string_view, std::string_view>{"filing.grid_cell", f.grid_cell()},
        {"filing.asset_id", f.asset_id()},
        {"filing.device_id", f.device_id()},
        {"filing.alarm_type", f.alarm_type()},
        {"filing.alarm_id", f.alarm_id()}}) {
    if (value.size() > kMaxIdBytes) return std::string(field) + " is too long";
  }
  return {};
}

// Field checks shared by every action.
std::string CheckCommonFields(const v1::CaseCommand& cmd) {
  if (cmd.note().size() > kMaxNoteBytes)
    return "note is longer than " + std::to_string(kMaxNoteBytes) + " bytes";
  if (static_cast<size_t>(cmd.evidence_size()) > kMaxEvidenceRefs)
    return "more than " + std::to_string(kMaxEvidenceRefs) + " evidence refs";
  for (const std::string& ref : cmd.evidence()) {
    if (ref.empty() || ref.size() > kMaxEvidenceRefBytes)
      return "an evidence ref is empty or too long";
  }
  if (cmd.actor_department().size() > kMaxIdBytes) return "actor_department is too long";
  return {};
}

// Ends the SLA pause, if any: the time since paused_at, in the running stage's measure, is
// added to its paused_ms and its deadlines are recomputed. REQUIRES: the state (and
// parked_from) are still those the pause began in.
void Resume(const SlaPolicy& policy, Timestamp now, v1::Case* c) {
  if (!c->has_paused_at()) return;
  const v1::SlaStage stage = StageOf(c->state(), c->parked_from());
  if (stage != v1::SLA_STAGE_UNSPECIFIED) {
    v1::StageClock* clock = MutableClockOf(c, stage);
    const Duration paused = policy.Between(clock->working_time(), FromProto(c->paused_at()), now);
    clock->set_paused_ms(clock->paused_ms() + paused.count());
    RecomputeDeadlines(policy, clock);
  }
  c->clear_paused_at();
}

void Finish(v1::SlaStage stage, Timestamp now, v1::Case* c) {
  *MutableClockOf(c, stage)->mutable_finished_at() = ToProto(now);
}

Effect Notify(Effect::Kind kind, std::string department = {}) {
  Effect e;
  e.kind = kind;
  e.department = std::move(department);
  return e;
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kIllegalTransition:
      return "illegal_transition";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
  }
  return "unknown";
}

bool RoleMayTake(v1::Role role, v1::CaseAction action) {
  return ValidAction(action) && (RoleActions(role) & Bit(action)) != 0;
}

std::vector<v1::CaseAction> AllowedActions(const v1::Case& c, v1::Role role,
                                           std::string_view actor_department,
                                           std::string_view actor_id) {
  std::vector<v1::CaseAction> out;
  for (int i = kFirstAction; i <= kLastAction; ++i) {
    const auto a = static_cast<Action>(i);
    if (RoleMayTake(role, a) && StateAllows(c, a) &&
        ScopeProblem(c, role, a, actor_department, actor_id).empty())
      out.push_back(a);
  }
  return out;
}

namespace {

// Steps 1-4 of Apply: whether the command may be applied to the case at all.
std::optional<ApplyError> Refusal(const v1::Case& current, const v1::CaseCommand& cmd) {
  const Action action = cmd.action();
  const v1::Role role = cmd.actor_role();

  // 1. Well-formed.
  if (!ValidAction(action)) return Error(ErrorCode::kInvalidArgument, "unknown action");
  if (std::string p = CheckId("actor_id", cmd.actor_id()); !p.empty())
    return Error(ErrorCode::kInvalidArgument, p);

  // 2. Role.
  if (!RoleMayTake(role, action)) {
    return Error(ErrorCode::kForbidden, "role " + std::string(RoleName(role)) + " may not " +
                                            std::string(ActionName(action)));
  }

  // 3. Scope.
  std::string scope =
      action == v1::CASE_ACTION_CREATE
          ? FilingScopeProblem(cmd)
          : ScopeProblem(current, role, action, cmd.actor_department(), cmd.actor_id());
  if (!scope.empty()) return Error(ErrorCode::kForbidden, scope);

  // 4. State.
  if (!StateAllows(current, action)) {
    ApplyError e = Error(ErrorCode::kIllegalTransition,
                         std::string(ActionName(action)) + " is not allowed in state " +
                             std::string(StateName(current.state())) +
                             (current.extension_pending() ? " (extension pending)" : ""));
    e.allowed = AllowedActions(current, role, cmd.actor_department(), cmd.actor_id());
    return e;
  }
  return std::nullopt;
}

// The journal entry of a command, before the action fills in what it changed.
v1::JournalEntry EntryFor(const v1::CaseCommand& cmd) {
  v1::JournalEntry entry;
  entry.set_action(cmd.action());
  entry.set_actor_id(cmd.actor_id());
  entry.set_actor_role(cmd.actor_role());
  if (cmd.actor_role() == v1::ROLE_DEPARTMENT) entry.set_actor_department(cmd.actor_department());
  entry.set_note(cmd.note());
  *entry.mutable_evidence() = cmd.evidence();
  return entry;
}

// What one action changes: the case (`next`, a copy of `current`), the journal entry and the
// effects. One case per action, in the order of the workflow: read as the transition table, it
// is clearer whole than split into a function per action, which would each take the same six
// arguments. Returns the refusal of an argument that does not fit.
std::optional<ApplyError> ApplyAction(const v1::Case& current, const v1::CaseCommand& cmd,
                                      Timestamp now, const SlaPolicy& policy, v1::Case& next,
                                      v1::JournalEntry& entry, std::vector<Effect>& effects) {
  const Action action = cmd.action();
  const v1::Role role = cmd.actor_role();
  auto need_note = [&](const char* what) -> std::optional<ApplyError> {
    if (cmd.note().empty())
      return Error(ErrorCode::kInvalidArgument,
                   std::string(ActionName(action)) + " requires a note (" + what + ")");
    return std::nullopt;
  };
  const State from = current.state();
  const v1::SlaStage running = StageOf(from, current.parked_from());

  switch (action) {
    case v1::CASE_ACTION_CREATE: {
      if (std::string p = CheckFiling(cmd.filing()); !p.empty())
        return Error(ErrorCode::kInvalidArgument, p);
      next = FilingFields(cmd.filing());
      if (role == v1::ROLE_CITIZEN && std::find(next.reporters().begin(), next.reporters().end(),
                                                cmd.actor_id()) == next.reporters().end()) {
        next.add_reporters(cmd.actor_id());
      }
      *entry.mutable_filing() = next;
      if (next.source() == v1::SOURCE_SENSOR) {
        next.set_alarm_count(1);
        next.set_alarm_level(next.urgency());
      }
      next.set_state(v1::CASE_STATE_PENDING_ACCEPT);
      *next.mutable_created_at() = ToProto(now);
      StartStage(policy, v1::SLA_STAGE_ACCEPT, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifyCommandCentre));
      break;
    }
    case v1::CASE_ACTION_ACCEPT:
      Finish(v1::SLA_STAGE_ACCEPT, now, &next);
      next.set_state(v1::CASE_STATE_PENDING_DISPATCH);
      StartStage(policy, v1::SLA_STAGE_DISPATCH, now, &next);
      if (next.reporters_size() > 0) effects.push_back(Notify(Effect::Kind::kNotifyReporters));
      break;
    case v1::CASE_ACTION_REJECT:
      if (auto e = need_note("the reason")) return *e;
      Finish(v1::SLA_STAGE_ACCEPT, now, &next);
      next.set_state(v1::CASE_STATE_REJECTED);
      if (next.reporters_size() > 0) effects.push_back(Notify(Effect::Kind::kNotifyReporters));
      break;
    case v1::CASE_ACTION_TRANSFER:
      if (cmd.department().empty())
        return Error(ErrorCode::kInvalidArgument, "transfer requires a department");
      if (std::string p = CheckId("department", cmd.department()); !p.empty())
        return Error(ErrorCode::kInvalidArgument, p);
      entry.set_department(cmd.department());
      Finish(v1::SLA_STAGE_DISPATCH, now, &next);
      next.set_department(cmd.department());
      next.set_state(v1::CASE_STATE_HANDLING);
      StartStage(policy, v1::SLA_STAGE_HANDLE, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifyDepartment, cmd.department()));
      break;
    case v1::CASE_ACTION_RETURN:
      if (auto e = need_note("why it is not this department's")) return *e;
      Finish(v1::SLA_STAGE_HANDLE, now, &next);
      next.set_return_count(next.return_count() + 1);
      next.clear_department();
      next.set_state(v1::CASE_STATE_PENDING_DISPATCH);
      StartStage(policy, v1::SLA_STAGE_DISPATCH, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifyCommandCentre));
      break;
    case v1::CASE_ACTION_REPORT_HANDLED:
      if (auto e = need_note("what was done")) return *e;
      if (cmd.evidence().empty())
        return Error(ErrorCode::kInvalidArgument, "report_handled requires evidence (a photo)");
      if (next.extension_pending()) {  // the report withdraws a pending extension request
        Resume(policy, now, &next);
        next.set_extension_pending(false);
        next.set_extension_requested_seconds(0);
      }
      Finish(v1::SLA_STAGE_HANDLE, now, &next);
      next.set_state(v1::CASE_STATE_PENDING_VERIFY);
      StartStage(policy, v1::SLA_STAGE_CLOSE, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifySupervision));
      break;
    case v1::CASE_ACTION_VERIFY_PASS:
      next.set_state(v1::CASE_STATE_VERIFIED);
      break;
    case v1::CASE_ACTION_VERIFY_FAIL:
      if (auto e = need_note("what is still wrong")) return *e;
      Finish(v1::SLA_STAGE_CLOSE, now, &next);
      next.set_rework_count(next.rework_count() + 1);
      next.set_state(v1::CASE_STATE_HANDLING);
      StartStage(policy, v1::SLA_STAGE_HANDLE, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifyDepartment, next.department()));
      break;
    case v1::CASE_ACTION_CLOSE:
      entry.set_telemetry_normal(cmd.telemetry_normal());
      entry.set_supervisor_override(cmd.supervisor_override());
      if (next.source() == v1::SOURCE_SENSOR && !cmd.telemetry_normal()) {
        if (!cmd.supervisor_override()) {
          return Error(ErrorCode::kInvalidArgument,
                       "a sensor case closes only with telemetry back to normal "
                       "(telemetry_normal) or a supervisor override with a reason");
        }
        if (auto e = need_note("the reason for the override")) return *e;
      }
      Finish(v1::SLA_STAGE_CLOSE, now, &next);
      next.set_state(v1::CASE_STATE_CLOSED);
      if (next.reporters_size() > 0) effects.push_back(Notify(Effect::Kind::kNotifyReporters));
      break;
    case v1::CASE_ACTION_REQUEST_EXTENSION:
      if (auto e = need_note("the reason")) return *e;
      if (cmd.extension_seconds() <= 0 || cmd.extension_seconds() > kMaxExtensionSeconds) {
        return Error(ErrorCode::kInvalidArgument,
                     "extension_seconds must be in 1.." + std::to_string(kMaxExtensionSeconds));
      }
      entry.set_extension_seconds(cmd.extension_seconds());
      next.set_extension_pending(true);
      next.set_extension_requested_seconds(cmd.extension_seconds());
      *next.mutable_paused_at() = ToProto(now);
      effects.push_back(Notify(Effect::Kind::kNotifyCommandCentre));
      break;
    case v1::CASE_ACTION_APPROVE_EXTENSION: {
      // The approved time is counted in the running stage's measure (working time for a
      // working-time limit).
      const int64_t seconds = next.extension_requested_seconds();
      entry.set_extension_seconds(seconds);
      Resume(policy, now, &next);
      v1::StageClock* clock = MutableClockOf(&next, v1::SLA_STAGE_HANDLE);
      clock->set_limit_ms(clock->limit_ms() + seconds * 1000);
      RecomputeDeadlines(policy, clock);
      next.set_extension_count(next.extension_count() + 1);
      next.set_extension_pending(false);
      next.set_extension_requested_seconds(0);
      effects.push_back(Notify(Effect::Kind::kNotifyDepartment, next.department()));
      break;
    }
    case v1::CASE_ACTION_DENY_EXTENSION:
      if (auto e = need_note("the reason")) return *e;
      Resume(policy, now, &next);
      next.set_extension_pending(false);
      next.set_extension_requested_seconds(0);
      effects.push_back(Notify(Effect::Kind::kNotifyDepartment, next.department()));
      break;
    case v1::CASE_ACTION_PARK:
      if (auto e = need_note("the reason")) return *e;
      next.set_parked_from(from);
      next.set_state(v1::CASE_STATE_PARKED);
      *next.mutable_paused_at() = ToProto(now);
      break;
    case v1::CASE_ACTION_UNPARK:
      Resume(policy, now, &next);  // uses parked_from: before the state changes
      next.set_state(next.parked_from());
      next.clear_parked_from();
      if (!next.department().empty() && next.state() == v1::CASE_STATE_HANDLING)
        effects.push_back(Notify(Effect::Kind::kNotifyDepartment, next.department()));
      break;
    case v1::CASE_ACTION_REOPEN:
      if (auto e = need_note("what is wrong with the result")) return *e;
      next.set_reopen_count(next.reopen_count() + 1);
      next.set_state(v1::CASE_STATE_HANDLING);
      StartStage(policy, v1::SLA_STAGE_HANDLE, now, &next);
      effects.push_back(Notify(Effect::Kind::kNotifyDepartment, next.department()));
      if (next.reporters_size() > 0) effects.push_back(Notify(Effect::Kind::kNotifyReporters));
      break;
    case v1::CASE_ACTION_ALARM_UPDATE:
      if (cmd.alarm_count() < next.alarm_count()) {
        return Error(ErrorCode::kInvalidArgument,
                     "alarm_count may not go down (case has " +
                         std::to_string(next.alarm_count()) + ")");
      }
      entry.set_alarm_count(cmd.alarm_count());
      entry.set_alarm_level(cmd.alarm_level());
      entry.set_telemetry_normal(cmd.telemetry_normal());
      next.set_alarm_count(cmd.alarm_count());
      if (cmd.alarm_level() > next.alarm_level()) next.set_alarm_level(cmd.alarm_level());
      next.set_telemetry_normal(cmd.telemetry_normal());
      break;
    case v1::CASE_ACTION_SUPPORT:
      if (next.reporters_size() >= static_cast<int>(kMaxReporters)) {
        return Error(ErrorCode::kInvalidArgument,
                     "the case has " + std::to_string(kMaxReporters) + " reporters already");
      }
      // A reporter who follows already is journaled again (the support counted) but listed once.
      if (std::find(next.reporters().begin(), next.reporters().end(), cmd.actor_id()) ==
          next.reporters().end())
        next.add_reporters(cmd.actor_id());
      break;
    case v1::CASE_ACTION_ESCALATE: {
      const v1::SlaLevel level = cmd.escalation_level();
      if (cmd.escalation_stage() != running) {
        return Error(ErrorCode::kInvalidArgument,
                     "escalation_stage must be the running stage " + v1::SlaStage_Name(running));
      }
      if (level != v1::SLA_LEVEL_YELLOW && level != v1::SLA_LEVEL_RED)
        return Error(ErrorCode::kInvalidArgument, "escalation_level must be yellow or red");
      const v1::StageClock& clock = ClockOf(current, running);
      if (level <= clock.escalated()) {
        return Error(ErrorCode::kInvalidArgument, "already escalated to " +
                                                      v1::SlaLevel_Name(clock.escalated()) +
                                                      " in this run of the stage");
      }
      if (Evaluate(current, now).ActiveLevel() < level)
        return Error(ErrorCode::kInvalidArgument, "escalation not due yet");
      entry.set_escalation_stage(running);
      entry.set_escalation_level(level);
      MutableClockOf(&next, running)->set_escalated(level);
      Effect e;
      e.kind = Effect::Kind::kEscalation;
      e.stage = running;
      e.level = level;
      effects.push_back(e);
      break;
    }
    default:
      return Error(ErrorCode::kInvalidArgument, "unknown action");
  }
  return std::nullopt;
}

// The journal entry chained to the case's head, and the SLA timer's effect.
Transition Seal(const v1::Case& current, Timestamp now, v1::Case next, v1::JournalEntry entry,
                std::vector<Effect> effects) {
  const State from = current.state();
  // The journal entry, chained to the case's head.
  *next.mutable_updated_at() = ToProto(now);
  entry.set_case_id(next.id());
  entry.set_seq(current.journal_seq() + 1);
  *entry.mutable_time() = ToProto(now);
  entry.set_from_state(from);
  entry.set_to_state(next.state());
  const v1::SlaStage after = StageOf(next.state(), next.parked_from());
  if (after != v1::SLA_STAGE_UNSPECIFIED)
    *entry.mutable_deadline() = ClockOf(next, after).deadline();
  entry.set_prev_hash(current.journal_head_hash());
  entry.set_hash(JournalHash(entry));
  next.set_journal_seq(entry.seq());
  next.set_journal_head_hash(entry.hash());

  // The SLA timer follows NextCheck.
  const std::optional<Timestamp> before_check = NextCheck(current);
  const std::optional<Timestamp> after_check = NextCheck(next);
  if (after_check != before_check) {
    Effect e;
    e.kind = after_check ? Effect::Kind::kScheduleSlaCheck : Effect::Kind::kCancelSlaCheck;
    if (after_check) e.at = *after_check;
    effects.push_back(e);
  }
  return Transition{std::move(next), std::move(entry), std::move(effects)};
}

}  // namespace

ApplyResult Apply(const v1::Case& current, const v1::CaseCommand& cmd, Timestamp now,
                  const SlaPolicy& policy) {
  if (auto refused = Refusal(current, cmd)) return std::move(*refused);

  // 5. Arguments, then the transition.
  if (std::string p = CheckCommonFields(cmd); !p.empty())
    return Error(ErrorCode::kInvalidArgument, p);
  // Time never runs backwards within a case.
  if (current.state() != v1::CASE_STATE_UNSPECIFIED) {
    const Timestamp last = FromProto(current.updated_at());
    if (now < last) now = last;
  }
  v1::Case next = current;
  v1::JournalEntry entry = EntryFor(cmd);
  std::vector<Effect> effects;
  if (auto refused = ApplyAction(current, cmd, now, policy, next, entry, effects))
    return std::move(*refused);
  return Seal(current, now, std::move(next), std::move(entry), std::move(effects));
}

// ---------------------------------------------------------------------------------------------
// Names

namespace {

constexpr std::array<std::string_view, kLastAction + 1> kActionNames = {"unspecified",
                                                                        "create",
                                                                        "accept",
                                                                        "reject",
                                                                        "transfer",
                                                                        "return",
                                                                        "report_handled",
                                                                        "verify_pass",
                                                                        "verify_fail",
                                                                        "close",
                                                                        "request_extension",
                                                                        "approve_extension",
                                                                        "deny_extension",
                                                                        "park",
                                                                        "unpark",
                                                                        "reopen",
                                                                        "escalate",
                                                                        "alarm_update",
                                                                        "support"};

}  // namespace

std::string_view ActionName(v1::CaseAction action) {
  return ValidAction(action) ? kActionNames[action] : "unknown";
}

std::optional<v1::CaseAction> ParseActionName(std::string_view name) {
  for (int i = kFirstAction; i <= kLastAction; ++i)
    if (kActionNames[i] == name) return static_cast<Action>(i);
  return std::nullopt;
}

std::string_view StateName(v1::CaseState state) {
  switch (state) {
    case v1::CASE_STATE_UNSPECIFIED:
      return "none";
    case v1::CASE_STATE_PENDING_ACCEPT:
      return "pending_accept";
    case v1::CASE_STATE_REJECTED:
      return "rejected";
    case v1::CASE_STATE_PENDING_DISPATCH:
      return "pending_dispatch";
    case v1::CASE_STATE_HANDLING:
      return "handling";
    case v1::CASE_STATE_PENDING_VERIFY:
      return "pending_verify";
    case v1::CASE_STATE_VERIFIED:
      return "verified";
    case v1::CASE_STATE_CLOSED:
      return "closed";
    case v1::CASE_STATE_PARKED:
      return "parked";
    default:
      return "unknown";
  }
}

std::string_view RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_DISPATCHER:
      return "dispatcher";
    case v1::ROLE_DEPARTMENT:
      return "department";
    case v1::ROLE_SUPERVISOR:
      return "supervisor";
    case v1::ROLE_LEADER:
      return "leader";
    case v1::ROLE_ADMIN:
      return "admin";
    case v1::ROLE_SYSTEM:
      return "system";
    case v1::ROLE_CITIZEN:
      return "citizen";
    default:
      return "unspecified";
  }
}

}  // namespace yiwang::dispatcher
