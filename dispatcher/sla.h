#pragma once
// SLA clock of the case workflow (docs/workflow.md): the working calendar, time
// limits per category x urgency x stage, deadlines, and the yellow/red evaluation that drives
// 督办 escalation.
//
// Everything here is pure: no I/O, no clock reads. Callers pass the time.
//
// Time model. A stage's limit is either wall-clock time ("5m", "2h") or working time ("1.5wh",
// "0.5wd") counted by a WorkCalendar. A stage clock (yiwang.v1.StageClock) stores its start,
// its limit, and the time it was paused (while 挂账 or an extension request is pending), the
// pause measured the same way as the limit. From those:
//   deadline  = Add(started_at, limit + paused)          RED when now >= deadline
//   yellow_at = Add(started_at, limit * 4/5 + paused)    YELLOW when now >= yellow_at
// While paused, a stage is evaluated as of the moment the pause began (its status is frozen).
//
// Thread safety: WorkCalendar and SlaPolicy are immutable after construction; const methods
// may be called from any thread.

#include <google/protobuf/timestamp.pb.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::dispatcher {

// Server time, millisecond resolution (what the dispatcher stores and compares).
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// Protobuf <-> Timestamp. FromProto truncates below a millisecond; an unset field is the epoch.
Timestamp FromProto(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToProto(Timestamp t);

// ---------------------------------------------------------------------------------------------
// Working calendar

// Working hours of one day, as minutes after local midnight: [start_minute, end_minute).
struct WorkInterval {
  int start_minute = 0;
  int end_minute = 0;
};

struct WorkCalendarSpec {
  // Local time = UTC + utc_offset (China Standard Time by default; no daylight saving).
  std::chrono::minutes utc_offset{8 * 60};
  // Working hours of a working day: sorted, non-overlapping, within [0, 1440]. Default
  // 09:00-12:00 and 13:30-18:00 (7.5 h a day).
  std::vector<WorkInterval> hours = {{9 * 60, 12 * 60}, {13 * 60 + 30, 18 * 60}};
  // Working weekdays, indexed by std::chrono::weekday::c_encoding() (0 = Sunday). Default Mon-Fri.
  std::array<bool, 7> working_weekdays = {false, true, true, true, true, true, false};
  // Local dates off work although on a working weekday (法定节假日).
  std::vector<std::chrono::year_month_day> holidays;
  // Local dates worked although on a weekend (调休 make-up working days).
  std::vector<std::chrono::year_month_day> makeup_workdays;
};

// Which instants are working time. A date is a working day if it is a make-up working day, or
// a working weekday that is not a holiday.
class WorkCalendar {
 public:
  // The default spec (Mon-Fri, 09:00-12:00 + 13:30-18:00 UTC+8, no holiday dates).
  WorkCalendar();

  // Builds a calendar. InvalidArgument, naming the problem, if an interval is empty, out of
  // [0, 1440] or overlaps another; no interval or no working weekday is given; the offset is
  // beyond +-14 h; a date is invalid, or both a holiday and a make-up working day.
  [[nodiscard]] static Status Create(const WorkCalendarSpec& spec, WorkCalendar* out);

  // True if `date` (local) is a working day.
  bool IsWorkingDay(std::chrono::year_month_day date) const;
  // Working time in one working day (7.5 h by default): the length of "1wd".
  Duration WorkingDayLength() const { return day_length_; }

  // The earliest instant t >= start such that WorkingTimeBetween(start, t) == amount. An
  // amount <= 0 returns `start` unchanged; a positive amount ends inside (or at the end of) a
  // working interval.
  Timestamp AddWorkingTime(Timestamp start, Duration amount) const;
  // Working time in [a, b); zero when b <= a.
  Duration WorkingTimeBetween(Timestamp a, Timestamp b) const;

  const WorkCalendarSpec& spec() const { return spec_; }

 private:
  explicit WorkCalendar(WorkCalendarSpec spec);
  bool IsWorkingDay(std::chrono::sys_days local_date) const;

  WorkCalendarSpec spec_;
  std::vector<std::chrono::sys_days> holidays_;  // sorted local dates
  std::vector<std::chrono::sys_days> makeup_;    // sorted local dates
  Duration day_length_{0};
};

// ---------------------------------------------------------------------------------------------
// Time limits

// A configured limit: "<number><unit>", unit m (minutes), h (hours) — wall clock —, wh
// (working hours) or wd (working days of WorkingDayLength()). E.g. "5m", "2h", "0.5wd".
struct TimeLimit {
  enum class Unit : uint8_t { kMinutes, kHours, kWorkingHours, kWorkingDays };
  Unit unit = Unit::kMinutes;
  double value = 0;

  bool working_time() const { return unit == Unit::kWorkingHours || unit == Unit::kWorkingDays; }
  // The spec as written by ParseTimeLimit's accepted grammar, e.g. "0.5wd".
  std::string ToString() const;
};

// Parses "5m", "2h", "1.5wh", "0.5wd". Returns nullopt for anything else, a value <= 0, or a
// limit longer than 366 days.
std::optional<TimeLimit> ParseTimeLimit(std::string_view text);

// A limit converted to milliseconds of its measure (working time or wall clock).
struct ResolvedLimit {
  bool working_time = false;
  Duration amount{0};
  std::string spec;  // TimeLimit::ToString(), kept for display
};

// The four stage limits of one rule.
struct StageLimits {
  TimeLimit accept, dispatch, handle, close;
  // The limit of `stage`. REQUIRES: stage is not SLA_STAGE_UNSPECIFIED.
  const TimeLimit& For(yiwang::v1::SlaStage stage) const;
};

// One row of the limit table. category "*" is the fallback for categories without rows;
// urgency URGENCY_UNSPECIFIED matches any urgency without a row of its own.
struct SlaRule {
  std::string category;
  yiwang::v1::Urgency urgency = yiwang::v1::URGENCY_UNSPECIFIED;
  StageLimits limits;
};

// Limits per category x urgency x stage, plus the calendar that counts working time.
class SlaPolicy {
 public:
  // The built-in default: the rows of the reference table of category time limits (accept,
  // dispatch and handle limits; manhole covers and ancient trees with their general-urgency
  // variants), a proposed close limit per row (the table has none), fallbacks per urgency for
  // other categories, and the default WorkCalendar. The table (kDefaultRules in sla.cc) documents each row.
  static SlaPolicy Default();

  // InvalidArgument (naming the row) if a rule has an empty category, a duplicate (category,
  // urgency), or a limit that ParseTimeLimit would refuse; or if there is no ("*", any) rule.
  [[nodiscard]] static Status Create(std::vector<SlaRule> rules, WorkCalendar calendar,
                                     SlaPolicy* out);

  // The rule for (category, urgency): the exact row, else the category's any-urgency row,
  // else ("*", urgency), else ("*", any).
  const SlaRule& RuleFor(std::string_view category, yiwang::v1::Urgency urgency) const;
  // The limit of `stage` for a case of this category and urgency, in its measure.
  // REQUIRES: stage is not SLA_STAGE_UNSPECIFIED.
  ResolvedLimit LimitFor(std::string_view category, yiwang::v1::Urgency urgency,
                         yiwang::v1::SlaStage stage) const;
  // Converts a limit to milliseconds of its measure with this policy's calendar.
  ResolvedLimit Resolve(const TimeLimit& limit) const;

  const WorkCalendar& calendar() const { return calendar_; }
  const std::vector<SlaRule>& rules() const { return rules_; }

  // Adds `amount` of the clock's measure to `start` (working time through the calendar).
  Timestamp Add(bool working_time, Timestamp start, Duration amount) const;
  // Time between a and b in the given measure; zero when b <= a.
  Duration Between(bool working_time, Timestamp a, Timestamp b) const;

 private:
  SlaPolicy() = default;
  std::vector<SlaRule> rules_;
  WorkCalendar calendar_;
};

// ---------------------------------------------------------------------------------------------
// Stage clocks (used by the case machine; pure helpers over yiwang.v1.StageClock)

// The stage whose clock runs in `state` (for PARKED: in the state it was parked from);
// SLA_STAGE_UNSPECIFIED for states without one (REJECTED, CLOSED, none).
yiwang::v1::SlaStage StageOf(yiwang::v1::CaseState state, yiwang::v1::CaseState parked_from);
// The clock of `stage` in `c`. REQUIRES: stage is not SLA_STAGE_UNSPECIFIED.
const yiwang::v1::StageClock& ClockOf(const yiwang::v1::Case& c, yiwang::v1::SlaStage stage);
yiwang::v1::StageClock* MutableClockOf(yiwang::v1::Case* c, yiwang::v1::SlaStage stage);

// (Re)starts `stage` of `c` at `now`: run + 1, the limit from `policy` for the case's category
// and urgency, no pause, no escalation, deadline and yellow_at computed.
void StartStage(const SlaPolicy& policy, yiwang::v1::SlaStage stage, Timestamp now,
                yiwang::v1::Case* c);
// Recomputes deadline and yellow_at of a started clock from started_at, limit_ms, paused_ms.
void RecomputeDeadlines(const SlaPolicy& policy, yiwang::v1::StageClock* clock);

// ---------------------------------------------------------------------------------------------
// Evaluation

struct SlaStatus {
  // Level of each stage, indexed by SlaStage: UNSPECIFIED if the stage never started; for a
  // finished stage, its level when it finished; for the running stage, its level now (as of
  // the pause start while paused).
  std::array<yiwang::v1::SlaLevel, 5> levels{};
  yiwang::v1::SlaStage active = yiwang::v1::SLA_STAGE_UNSPECIFIED;  // the running stage
  bool paused = false;

  yiwang::v1::SlaLevel Level(yiwang::v1::SlaStage stage) const { return levels[stage]; }
  yiwang::v1::SlaLevel ActiveLevel() const { return levels[active]; }
};

// The SLA status of `c` at `now`. Reads only the stored clocks (no policy needed).
SlaStatus Evaluate(const yiwang::v1::Case& c, Timestamp now);

// The next time the running stage needs a 督办 check: its yellow_at if nothing is escalated in
// this run yet, else its deadline if only yellow was raised; nullopt if no stage runs or red
// was raised. While the SLA is paused: nullopt, unless a level reached before the pause began
// was not raised yet (the pause raced the timer), then paused_at. The time may be in the past
// (a check is overdue: fire at once). Invariant: DueEscalation(c, t) has a value exactly when
// NextCheck(c) <= t. The timer wheel arms this; after the escalation is applied the next call
// moves on, so every level is raised at most once per stage run and none is skipped silently.
std::optional<Timestamp> NextCheck(const yiwang::v1::Case& c);

// The actor id of escalations raised by DueEscalation.
inline constexpr std::string_view kSlaActorId = "system:sla";

// The ESCALATE command due at `now`, if any: actor SYSTEM, the running stage, and the highest
// level reached that is above the one already raised (if both yellow and red are due, only red
// is raised: red implies the missed prediction). nullopt if nothing is due.
std::optional<yiwang::v1::CaseCommand> DueEscalation(const yiwang::v1::Case& c, Timestamp now);

}  // namespace yiwang::dispatcher
