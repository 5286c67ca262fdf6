#include "dispatcher/kpi.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

constexpr v1::SlaStage kStages[] = {v1::SLA_STAGE_ACCEPT, v1::SLA_STAGE_DISPATCH,
                                    v1::SLA_STAGE_HANDLE, v1::SLA_STAGE_CLOSE};

int64_t Seconds(Timestamp from, Timestamp to) {
  // Apply never moves time backwards within a case; a negative span would be a corrupt record,
  // and counting it as zero keeps the sums sane.
  if (to <= from) return 0;
  return std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
}

// True if `stage`'s run ended in this transition: the same run was running before and has
// finished after. (Restarting a stage never abandons a running run: see case_machine.h.)
bool FinishedNow(const v1::Case& before, const v1::Case& next, v1::SlaStage stage) {
  const v1::StageClock& was = ClockOf(before, stage);
  const v1::StageClock& is = ClockOf(next, stage);
  return was.run() > 0 && !was.has_finished_at() && is.run() == was.run() && is.has_finished_at();
}

// The level of a finished stage run at its finish (UNSPECIFIED if never started).
v1::SlaLevel FinishLevel(const v1::Case& c, v1::SlaStage stage) {
  // Evaluate reports a finished stage at its finish time, whatever `now` is.
  return Evaluate(c, FromProto(c.updated_at())).Level(stage);
}

bool OnTime(const v1::Case& c, v1::SlaStage stage) {
  return ClockOf(c, stage).has_finished_at() && FinishLevel(c, stage) < v1::SLA_LEVEL_RED;
}

bool Empty(const v1::KpiCounters& c) { return c.ByteSizeLong() == 0; }

std::optional<double> Ratio(int64_t num, int64_t den) {
  if (den == 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

template <typename T>
bool Selects(const std::vector<T>& allowed, const T& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

std::string KpiDay(Timestamp t) {
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(t + kKpiUtcOffset);
  const std::chrono::year_month_day ymd{day};
  const int y = std::clamp(static_cast<int>(ymd.year()), 0, 9999);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::vector<KpiDelta> KpiDeltasFor(const v1::Case& before, const Transition& t) {
  const v1::Case& next = t.next;
  const v1::JournalEntry& entry = t.entry;
  const Timestamp now = FromProto(entry.time());
  KpiDelta d;
  v1::KpiCounters& c = d.counters;

  switch (entry.action()) {
    case v1::CASE_ACTION_CREATE:
      c.set_filed(1);
      break;
    case v1::CASE_ACTION_ACCEPT:
      c.set_accepted(1);
      c.set_accepted_on_time(OnTime(next, v1::SLA_STAGE_ACCEPT) ? 1 : 0);
      c.set_accept_seconds_sum(Seconds(FromProto(next.created_at()), now));
      c.set_accept_seconds_count(1);
      break;
    case v1::CASE_ACTION_REJECT:
      c.set_rejected(1);
      break;
    case v1::CASE_ACTION_TRANSFER:
      c.set_dispatched(1);
      c.set_dispatched_on_time(OnTime(next, v1::SLA_STAGE_DISPATCH) ? 1 : 0);
      break;
    case v1::CASE_ACTION_RETURN:
      c.set_returned(1);
      break;
    case v1::CASE_ACTION_REPORT_HANDLED:
      c.set_handled(1);
      c.set_handled_on_time(OnTime(next, v1::SLA_STAGE_HANDLE) ? 1 : 0);
      // The run that just finished: started at the transfer, 返工 or reopen.
      c.set_handle_seconds_sum(Seconds(FromProto(before.sla_handle().started_at()), now));
      c.set_handle_seconds_count(1);
      break;
    case v1::CASE_ACTION_VERIFY_FAIL:
      c.set_reworks(1);
      break;
    case v1::CASE_ACTION_CLOSE: {
      c.set_closed(1);
      c.set_closed_on_time(OnTime(next, v1::SLA_STAGE_CLOSE) ? 1 : 0);
      // 按期结案: the latest run of every stage the case went through finished on time (all
      // four have finished once a case closes). Earlier runs (before a 回退 or 返工) are not
      // kept in the case; each of them counted under `overdue` when it went red.
      bool all = true;
      for (v1::SlaStage stage : kStages) {
        if (ClockOf(next, stage).run() > 0 && !OnTime(next, stage)) all = false;
      }
      c.set_closed_all_on_time(all ? 1 : 0);
      c.set_close_seconds_sum(Seconds(FromProto(next.created_at()), now));
      c.set_close_seconds_count(1);
      break;
    }
    case v1::CASE_ACTION_REOPEN:
      c.set_reopened(1);
      break;
    case v1::CASE_ACTION_ESCALATE:
      c.set_escalations(1);
      if (entry.escalation_level() == v1::SLA_LEVEL_RED) c.set_overdue(1);
      break;
    default:
      break;
  }

  // A run finishing late without its red 督办 (the timer had not fired yet) still went red:
  // count it here, so every red run counts exactly once (ESCALATE RED, or this).
  for (v1::SlaStage stage : kStages) {
    if (FinishedNow(before, next, stage) && FinishLevel(next, stage) == v1::SLA_LEVEL_RED &&
        ClockOf(before, stage).escalated() < v1::SLA_LEVEL_RED) {
      c.set_overdue(c.overdue() + 1);
    }
  }

  if (Empty(c)) return {};
  d.key.set_day(KpiDay(now));
  d.key.set_district(next.district());
  d.key.set_department(!next.department().empty() ? next.department() : before.department());
  d.key.set_category(next.category());
  d.key.set_source(next.source());
  std::vector<KpiDelta> out;
  out.push_back(std::move(d));
  return out;
}

void Add(v1::KpiCounters* into, const v1::KpiCounters& delta) {
  assert(into != nullptr);
  // Reflection, so a counter added to the proto is summed without touching this code; every
  // field of KpiCounters is an int64 (kpi_test checks it).
  const google::protobuf::Descriptor* desc = v1::KpiCounters::descriptor();
  const google::protobuf::Reflection* refl = v1::KpiCounters::GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = desc->field(i);
    assert(f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_INT64 && !f->is_repeated());
    const int64_t add = refl->GetInt64(delta, f);
    if (add != 0) refl->SetInt64(into, f, refl->GetInt64(*into, f) + add);
  }
}

v1::KpiReport ComputeKpis(const v1::KpiCounters& c) {
  v1::KpiReport r;
  *r.mutable_counters() = c;
  if (auto v = Ratio(c.accepted_on_time(), c.accepted())) r.set_on_time_accept_rate(*v);
  if (auto v = Ratio(c.returned(), c.dispatched())) r.set_accurate_dispatch_rate(1.0 - *v);
  if (auto v = Ratio(c.handled_on_time(), c.handled())) r.set_on_time_handle_rate(*v);
  if (auto v = Ratio(c.closed(), c.accepted())) r.set_close_rate(*v);
  if (auto v = Ratio(c.closed_all_on_time(), c.closed())) r.set_on_time_close_rate(*v);
  if (auto v = Ratio(c.closed_on_time(), c.closed())) r.set_close_stage_on_time_rate(*v);
  if (auto v = Ratio(c.accept_seconds_sum(), c.accept_seconds_count()))
    r.set_mean_accept_seconds(*v);
  if (auto v = Ratio(c.handle_seconds_sum(), c.handle_seconds_count()))
    r.set_mean_handle_seconds(*v);
  if (auto v = Ratio(c.close_seconds_sum(), c.close_seconds_count())) r.set_mean_close_seconds(*v);
  r.set_reworks(c.reworks());
  r.set_overdue(c.overdue());
  return r;
}

bool KpiFilter::Matches(const v1::KpiKey& key) const {
  if (!Selects(districts, key.district())) return false;
  if (!Selects(departments, key.department())) return false;
  if (!Selects(categories, key.category())) return false;
  if (!Selects(sources, key.source())) return false;
  if (!day_from.empty() && key.day() < day_from) return false;
  if (!day_to.empty() && key.day() > day_to) return false;
  return true;
}

std::vector<KpiRow> RollUp(const std::vector<KpiRow>& rows, const KpiFilter& filter,
                           KpiDimension by) {
  // Ordered by (source number, string value): only one of the two varies per dimension.
  std::map<std::pair<int, std::string>, KpiRow> groups;
  if (by == KpiDimension::kNone) groups[{0, {}}];  // the total is present even when empty
  for (const KpiRow& row : rows) {
    if (!filter.Matches(row.key)) continue;
    v1::KpiKey key;
    std::pair<int, std::string> order{0, {}};
    switch (by) {
      case KpiDimension::kNone:
        break;
      case KpiDimension::kDistrict:
        key.set_district(row.key.district());
        order.second = row.key.district();
        break;
      case KpiDimension::kDepartment:
        key.set_department(row.key.department());
        order.second = row.key.department();
        break;
      case KpiDimension::kCategory:
        key.set_category(row.key.category());
        order.second = row.key.category();
        break;
      case KpiDimension::kSource:
        key.set_source(row.key.source());
        order.first = row.key.source();
        break;
      case KpiDimension::kDay:
        key.set_day(row.key.day());
        order.second = row.key.day();
        break;
    }
    KpiRow& group = groups[order];
    group.key = std::move(key);
    Add(&group.counters, row.counters);
  }
  std::vector<KpiRow> out;
  out.reserve(groups.size());
  for (auto& [order, row] : groups) out.push_back(std::move(row));
  return out;
}

}  // namespace yiwang::dispatcher
