#pragma once
// KPIs (考核) of the case workflow, kept incrementally (docs/workflow.md, "考核").
//
//   KpiDeltasFor(before, transition) -> the counters a transition adds, under its KpiKey
//   Add(into, delta)                 -> field-wise sum (what a merge of stored rows does)
//   ComputeKpis(counters)            -> rates and means (yiwang.v1.KpiReport)
//   RollUp(rows, filter, by)         -> filtered rows summed per district | department |
//                                       category | source | day
//
// The driver persists the deltas of a transition in the same WriteBatch as the transition
// itself, as increments of the rows keyed by KpiKey (a merge operator, or read-add-write under
// the single writer); a stats request reads the rows of the requested days and rolls them up.
// Nothing ever scans the cases.
//
// Every counter is an event count (or a time sum) of the transitions counted under the key,
// so a row only grows and rows add up across any grouping. A case's events may fall under
// different keys: it is filed and accepted with no department and on its filing day, handled
// and closed under its department and on later days. Per department, the rates of department
// events (准确派遣率, 按期处置率, 返工) are exact; 结案率 divides closes by acceptances counted
// under the same keys, so it is meaningful by district, category, source and in total.
//
// What each action counts (yiwang.v1.KpiCounters documents each field):
//   CREATE          filed
//   ACCEPT          accepted (+ accepted_on_time), accept_seconds (filed -> now)
//   REJECT          rejected
//   TRANSFER        dispatched (+ dispatched_on_time)
//   RETURN          returned
//   REPORT_HANDLED  handled (+ handled_on_time), handle_seconds (处置 run start -> now)
//   VERIFY_FAIL     reworks
//   CLOSE           closed (+ closed_on_time, closed_all_on_time), close_seconds (filed -> now)
//   REOPEN          reopened
//   ESCALATE        escalations; overdue when the level is RED
// and any action that finishes an SLA stage run late (RED at its finish, dispatcher/sla.h)
// whose red 督办 was not raised yet counts overdue: each stage run that went RED counts once.
// "On time" is the stage run's level at its finish below RED. Other actions count nothing.
//
// Thread safety: every function here is pure and may be called from any thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dispatcher/case_machine.h"
#include "dispatcher/sla.h"
#include "yiwang/v1/case.pb.h"
#include "yiwang/v1/kpi.pb.h"

namespace yiwang::dispatcher {

// KPI days are calendar days in China Standard Time, whatever the work calendar's zone.
inline constexpr std::chrono::hours kKpiUtcOffset{8};

// The KPI day of `t`: "YYYY-MM-DD" of t + 8 h. Years outside 0..9999 are clamped into the
// format's four digits (never reached by server times).
std::string KpiDay(Timestamp t);

// One row: counters under a key. As a delta, the increments a transition adds to the row.
struct KpiRow {
  yiwang::v1::KpiKey key;
  yiwang::v1::KpiCounters counters;
};
using KpiDelta = KpiRow;

// The counters `t` adds, `t` being Apply(before, cmd, ...)'s successful result (for CREATE,
// `before` is the default Case). At most one row today (all of a transition's counts fall under
// one key); empty when the action counts nothing (PARK, UNPARK, VERIFY_PASS, extensions). The
// key: day = KpiDay(t.entry.time), district, category and source of the case, department =
// t.next.department(), or before.department() when the transition clears it (回退).
std::vector<KpiDelta> KpiDeltasFor(const yiwang::v1::Case& before, const Transition& t);

// Adds every field of `delta` to `into`. REQUIRES: into != nullptr.
void Add(yiwang::v1::KpiCounters* into, const yiwang::v1::KpiCounters& delta);

// The rates and means of `c`. A rate or mean whose denominator is zero is left unset (never
// NaN); a rate is not clamped (e.g. 结案率 above 1 where reopened cases closed again).
yiwang::v1::KpiReport ComputeKpis(const yiwang::v1::KpiCounters& c);

// The dimension a roll-up groups by; kNone sums everything into one row.
enum class KpiDimension : uint8_t { kNone, kDistrict, kDepartment, kCategory, kSource, kDay };

// Which rows a roll-up takes. An empty list takes every value; a set list takes the rows whose
// value is in it. Days are compared as "YYYY-MM-DD" strings, both bounds inclusive; an empty
// bound is open.
struct KpiFilter {
  std::vector<std::string> districts;
  std::vector<std::string> departments;  // "" selects the rows with no department
  std::vector<std::string> categories;
  std::vector<yiwang::v1::Source> sources;
  std::string day_from;
  std::string day_to;

  bool Matches(const yiwang::v1::KpiKey& key) const;
};

// Sums the rows matching `filter` per value of `by`: one row per distinct value, its key holding
// only that field (kNone: one row with an empty key, present even when nothing matches), sorted
// by the value (strings bytewise, sources by enum number). Rows may repeat a key (they add up).
std::vector<KpiRow> RollUp(const std::vector<KpiRow>& rows, const KpiFilter& filter,
                           KpiDimension by);

}  // namespace yiwang::dispatcher
