#pragma once
// The case state machine: the pure core of the dispatcher: decide here, write in the
// driver (dispatcher/staging.cc).
//
//   Apply(case, command, now, policy) -> Transition {next case, journal entry, effects}
//                                      | ApplyError {forbidden | illegal_transition |
//                                                    invalid_argument}
//
// No I/O, no clock reads, no randomness: the same inputs give the same bytes, which is what
// lets ReplayJournal (dispatcher/journal.h) rebuild a case from its journal. The driver (later)
// persists `next` and `entry` in one WriteBatch, then performs the effects.
//
// A command is checked in this order, and the first failure is returned:
//   1. well-formed: a known action and an actor id              -> invalid_argument
//   2. the role may take the action at all (RoleMayTake)        -> forbidden (HTTP 403)
//   3. scope: department staff only on their department's case;
//      a citizen supports (附议) only public cases (IsPublicCase)
//      and reopens only a citizen report they filed (the first
//      of its reporters); the system only accepts/transfers/files
//      sensor cases; a citizen files only citizen reports       -> forbidden (HTTP 403)
//   4. the case's state allows the action                       -> illegal_transition (HTTP 409),
//                                                                  with AllowedActions
//   5. the action's arguments (reason, department, evidence,
//      telemetry, extension length, escalation due)             -> invalid_argument (HTTP 400)
//
// States and actions (roles in brackets; D dispatcher, P department, S supervisor, A admin,
// Y system, C citizen; A may do what D and S may; the leader may do nothing):
//   (none)            CREATE [D S A Y C]                    -> PENDING_ACCEPT
//   PENDING_ACCEPT    ACCEPT [D A Y]                        -> PENDING_DISPATCH
//                     REJECT [D A]                          -> REJECTED
//   PENDING_DISPATCH  TRANSFER [D A Y]                      -> HANDLING
//                     PARK [D A]                            -> PARKED
//   HANDLING          RETURN [P]                            -> PENDING_DISPATCH
//                     REPORT_HANDLED [P]                    -> PENDING_VERIFY
//                     REQUEST_EXTENSION [P]                 -> HANDLING, extension pending
//                     PARK [D A]                            -> PARKED
//   HANDLING, extension pending:
//                     APPROVE_EXTENSION, DENY_EXTENSION [D A] -> HANDLING
//                     REPORT_HANDLED [P] (withdraws the request) -> PENDING_VERIFY
//   PENDING_VERIFY    VERIFY_PASS [S A]                     -> VERIFIED
//                     VERIFY_FAIL [S A]                     -> HANDLING (返工, same department)
//   VERIFIED          CLOSE [S A]                           -> CLOSED
//                     VERIFY_FAIL [S A]                     -> HANDLING
//   CLOSED            REOPEN [S A C]                        -> HANDLING (same department)
//                       (C: the citizen who filed the report, not a supporter)
//   PARKED            UNPARK [D A]                          -> the state it was parked from
//   REJECTED          (terminal)
//   any state with a running SLA stage (not CLOSED, REJECTED):
//                     ESCALATE [Y], while the stage has not reached red -> no state change
//   any open state (not CLOSED, REJECTED):
//                     ALARM_UPDATE [Y] (sensor cases): alarm_count, alarm_level,
//                       telemetry_normal (the alarm cleared)          -> no state change
//                     SUPPORT [C] (附议) of a public case: the actor joins the reporters
//                                                           -> no state change
//
// SLA stages (dispatcher/sla.h): CREATE starts 立案; ACCEPT ends it and starts 派遣; TRANSFER
// ends 派遣 and starts 处置; REPORT_HANDLED ends 处置 and starts 结案; CLOSE ends 结案.
// A stage that is entered again starts a new run with a fresh limit: RETURN restarts 派遣,
// VERIFY_FAIL and REOPEN restart 处置. PARK and REQUEST_EXTENSION pause the running stage;
// UNPARK, APPROVE_EXTENSION, DENY_EXTENSION (and REPORT_HANDLED withdrawing a request) resume
// it, shifting its deadline by the paused time; APPROVE_EXTENSION adds the requested time.
//
// Thread safety: every function here is pure and may be called from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dispatcher/sla.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::dispatcher {

// Limits on command fields (the web layer enforces its own, smaller ones first).
inline constexpr size_t kMaxIdBytes = 128;  // case, actor, department ids
inline constexpr size_t kMaxNoteBytes = 4096;
inline constexpr size_t kMaxEvidenceRefs = 32;
inline constexpr size_t kMaxEvidenceRefBytes = 512;
inline constexpr int64_t kMaxExtensionSeconds = 30 * 24 * 3600;
inline constexpr size_t kMaxReporters = 1000;  // 附议 followers of one case

// Whether the public may see a case of `source`: citizen reports (随手拍, Open311), whose
// filed text is the citizen's own. Hotline, patrol and sensor cases are written by operators or
// devices (a caller's name and number, equipment readings) and stay internal. The one decision
// behind Open311's lists, the citizen portal's nearby list and which cases citizens may
// support (附议).
constexpr bool IsPublicSource(yiwang::v1::Source source) {
  return source == yiwang::v1::SOURCE_CITIZEN;
}
inline bool IsPublicCase(const yiwang::v1::Case& c) { return IsPublicSource(c.source()); }

enum class ErrorCode : uint8_t {
  kForbidden,          // the actor's role or scope does not allow the action (HTTP 403)
  kIllegalTransition,  // the case's state does not allow the action (HTTP 409)
  kInvalidArgument,    // the command lacks or misstates a field (HTTP 400)
};
// "forbidden", "illegal_transition", "invalid_argument": the API's error codes.
const char* ErrorCodeName(ErrorCode code);

struct ApplyError {
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;  // human-readable, names the field or the rule
  // kIllegalTransition only: the actions this actor may take on the case as it is.
  std::vector<yiwang::v1::CaseAction> allowed;
};

// Something the driver must do after persisting a transition. Pure data.
struct Effect {
  enum class Kind : uint8_t {
    kNotifyCommandCentre,  // the command centre has work: a filed case, 回退, 延期申请
    kNotifyDepartment,     // `department` has work or news: transfer, 返工, reopen, unpark,
                           // extension decided
    kNotifySupervision,    // a case awaits 核查
    kNotifyReporters,      // a change citizens see: accepted, rejected, closed, reopened
    kEscalation,           // 督办 raised for `stage` at `level`: push it live
    kScheduleSlaCheck,     // (re)arm the case's SLA timer at `at` (the time may be past)
    kCancelSlaCheck,       // disarm the case's SLA timer
  };
  Kind kind = Kind::kNotifyCommandCentre;
  std::string department;                                          // kNotifyDepartment
  Timestamp at{};                                                  // kScheduleSlaCheck
  yiwang::v1::SlaStage stage = yiwang::v1::SLA_STAGE_UNSPECIFIED;  // kEscalation
  yiwang::v1::SlaLevel level = yiwang::v1::SLA_LEVEL_UNSPECIFIED;  // kEscalation

  bool operator==(const Effect&) const = default;
};

struct Transition {
  yiwang::v1::Case next;           // the case after the command
  yiwang::v1::JournalEntry entry;  // the entry to append (seq and hashes set)
  std::vector<Effect> effects;     // in the order to perform them
};

// Either a Transition or an ApplyError.
class [[nodiscard]] ApplyResult {
 public:
  ApplyResult(Transition t) : v_(std::move(t)) {}  // NOLINT: implicit by design
  ApplyResult(ApplyError e) : v_(std::move(e)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<Transition>(v_); }
  // REQUIRES: ok().
  const Transition& transition() const& { return std::get<Transition>(v_); }
  Transition&& transition() && { return std::get<Transition>(std::move(v_)); }
  // REQUIRES: !ok().
  const ApplyError& error() const { return std::get<ApplyError>(v_); }

 private:
  std::variant<Transition, ApplyError> v_;
};

// Applies `cmd` to `current` at server time `now` under `policy`.
//
// `current` is the stored case; a default Case (state UNSPECIFIED) for CREATE. `now` earlier
// than current.updated_at is taken as updated_at (a clock stepping back never reorders a
// journal). On success, next.updated_at = entry.time = now; entry.seq = current.journal_seq + 1;
// entry.prev_hash = current.journal_head_hash; next.journal_seq/journal_head_hash follow the
// entry; the effects hold a kScheduleSlaCheck/kCancelSlaCheck whenever NextCheck changed.
// On error nothing is to be written. See the file comment for the rules and error order.
ApplyResult Apply(const yiwang::v1::Case& current, const yiwang::v1::CaseCommand& cmd,
                  Timestamp now, const SlaPolicy& policy);

// The actions the actor may take on `c` now, in CaseAction order (the `allowed` list of a 409).
// `actor_department` matters for ROLE_DEPARTMENT, `actor_id` for ROLE_CITIZEN. ESCALATE is
// listed while the running stage has not reached red (whether it is due needs the time: see
// DueEscalation). CREATE is listed only for a case that does not exist yet.
std::vector<yiwang::v1::CaseAction> AllowedActions(const yiwang::v1::Case& c, yiwang::v1::Role role,
                                                   std::string_view actor_department,
                                                   std::string_view actor_id = {});

// True if `role` may take `action` in some state (step 2 above).
bool RoleMayTake(yiwang::v1::Role role, yiwang::v1::CaseAction action);

// Short lower-case names used in messages and the JSON API: "accept", "report_handled", ...
// "unknown" for values outside the enum.
std::string_view ActionName(yiwang::v1::CaseAction action);
std::optional<yiwang::v1::CaseAction> ParseActionName(std::string_view name);
std::string_view StateName(yiwang::v1::CaseState state);  // "pending_accept", ...; "none"
std::string_view RoleName(yiwang::v1::Role role);         // "dispatcher", ...

}  // namespace yiwang::dispatcher
