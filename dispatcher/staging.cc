// Staging: one transition into a batch (case, journal, indexes, SLA timer, KPIs, live update),
// and filing a case with its automatic 受理 and 转办.

#include <algorithm>
#include <cstdio>

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"
#include "store/key_codec.h"
#include "store/record_scan.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

// ---------------------------------------------------------------------------------------------
// Cases inside a batch

Status Dispatcher::Impl::WorkingCase(PendingBatch& b, const std::string& id, v1::Case* out) {
  if (auto it = b.cases.find(id); it != b.cases.end()) {
    *out = it->second;
    return Status::Ok();
  }
  return store::GetRecord(*store_, tables::kCases, id, out);
}

std::optional<std::string> Dispatcher::Impl::OpenAlarmCase(PendingBatch& b,
                                                           const std::string& key) {
  if (auto it = b.open_alarms.find(key); it != b.open_alarms.end()) return it->second;
  std::string v;
  if (store_->Get(tables::kCaseIndex, key, &v).ok()) return v;
  return std::nullopt;
}

void Dispatcher::Impl::AddKpi(PendingBatch& b, const std::vector<KpiDelta>& deltas) {
  for (const KpiDelta& d : deltas) {
    const std::string key = keys::Kpi(d.key);
    auto it = b.kpi.find(key);
    if (it == b.kpi.end()) {
      v1::KpiCounters row;
      std::string v;
      if (store_->Get(tables::kKpi, key, &v).ok()) (void)row.ParseFromString(v);
      it = b.kpi.emplace(key, std::move(row)).first;
    }
    Add(&it->second, d.counters);
  }
}

std::string Dispatcher::Impl::NewCaseId(PendingBatch& b, Timestamp now) {
  const std::string day = KpiDay(now);  // "YYYY-MM-DD" in UTC+8
  auto it = b.case_seqs.find(day);
  if (it == b.case_seqs.end()) {
    uint64_t next = 1;
    std::string v;
    if (store_->Get(tables::kDispatch, "case_seq/" + day, &v).ok() && v.size() == 8)
      next = store::DecodeFixed64BE(v.data());
    it = b.case_seqs.emplace(day, next).first;
  }
  const uint64_t n = it->second++;
  std::string compact = day.substr(0, 4) + day.substr(5, 2) + day.substr(8, 2);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(n));
  return "YW" + compact + buf;
}

ApplyResult Dispatcher::Impl::Stage(PendingBatch& b, const std::string& id, v1::CaseCommand cmd,
                                    Timestamp now) {
  v1::Case before;
  if (cmd.action() != v1::CASE_ACTION_CREATE) {
    Status s = WorkingCase(b, id, &before);
    if (!s.ok()) {
      return ApplyError{ErrorCode::kInvalidArgument,
                        s.code() == Status::Code::kNotFound ? "no case " + id : s.ToString(),
                        {}};
    }
    // Telemetry is the alarm engine's to say, never the caller's.
    if (cmd.action() == v1::CASE_ACTION_CLOSE) cmd.set_telemetry_normal(before.telemetry_normal());
  }
  ApplyResult r = Apply(before, cmd, now, policy_);
  if (!r.ok()) {
    m_refused_.Inc();
    return r;
  }
  const Transition& t = r.transition();
  const v1::Case& next = t.next;
  b.ws.Put(tables::kCases, id, next.SerializeAsString());
  b.ws.Put(tables::kJournal, keys::Journal(id, t.entry.seq()), t.entry.SerializeAsString());

  auto old_entries = keys::IndexEntries(before);
  auto new_entries = keys::IndexEntries(next);
  for (const auto& [k, v] : old_entries) {
    if (!new_entries.count(k)) {
      b.ws.Delete(tables::kCaseIndex, k);
      if (k[0] == 'w') b.open_alarms[k] = std::nullopt;
    }
  }
  for (const auto& [k, v] : new_entries) {
    auto old = old_entries.find(k);
    if (old == old_entries.end() || old->second != v) b.ws.Put(tables::kCaseIndex, k, v);
    if (k[0] == 'w') b.open_alarms[k] = v;
  }

  const auto old_check = NextCheck(before), new_check = NextCheck(next);
  if (old_check != new_check) {
    if (old_check) b.ws.Delete(tables::kTimers, keys::SlaTimer(Ms(*old_check), id));
    if (new_check) b.ws.Put(tables::kTimers, keys::SlaTimer(Ms(*new_check), id), "");
    b.after.push_back([this, id, o = old_check, n = new_check] {
      if (o) sla_timers_.erase({Ms(*o), id});
      if (n) sla_timers_.insert({Ms(*n), id});
    });
  }
  AddKpi(b, KpiDeltasFor(before, t));

  v1::CaseSummary summary = Summarize(next);
  b.after.push_back([this, summary, open = keys::IsOpen(next.state())] {
    std::lock_guard lock(open_mu_);
    if (open) {
      open_[summary.id()] = summary;
    } else {
      open_.erase(summary.id());
    }
  });
  v1::LiveUpdate u;
  const bool escalation = t.entry.action() == v1::CASE_ACTION_ESCALATE;
  u.set_kind(escalation ? v1::LiveUpdate::KIND_ESCALATION : v1::LiveUpdate::KIND_CASE);
  u.set_case_id(id);
  *u.mutable_case_summary() = std::move(summary);
  *u.mutable_entry() = t.entry;
  b.live.push_back(std::move(u));
  b.after.push_back([this, escalation] {
    m_transitions_.Inc();
    if (escalation) m_escalations_.Inc();
  });
  b.cases[id] = next;
  return r;
}

ApplyResult Dispatcher::Impl::FileStaged(PendingBatch& b, v1::Case filing,
                                         const v1::CaseCommand& actor, Timestamp now) {
  const std::string id = NewCaseId(b, now);
  filing.set_id(id);
  if (filing.grid_cell().empty() && filing.has_location())
    filing.set_grid_cell(SpatialCell(filing.location().lat(), filing.location().lon()));
  if (filing.urgency() == v1::URGENCY_UNSPECIFIED) {
    const v1::Category* cat = FindCategory(config_, filing.category());
    filing.set_urgency(cat && cat->default_urgency() != v1::URGENCY_UNSPECIFIED
                           ? cat->default_urgency()
                           : v1::URGENCY_GENERAL);
  }
  v1::CaseCommand create = actor;
  create.set_action(v1::CASE_ACTION_CREATE);
  *create.mutable_filing() = std::move(filing);
  ApplyResult r = Stage(b, id, create, now);
  if (!r.ok() || !opts_.auto_dispatch_sensor_cases ||
      r.transition().next.source() != v1::SOURCE_SENSOR)
    return r;

  // 受理 and 转办 by the system, when the route is unambiguous.
  const v1::Case& c = r.transition().next;
  std::string department;
  auto known = [&](const std::string& id) {
    return std::any_of(config_.departments().begin(), config_.departments().end(),
                       [&](const v1::Department& d) { return d.id() == id; });
  };
  if (!RouteFor(config_, c.category(), c.district(), &department).ok() || !known(department)) {
    log_->info("[case {}] no route for {} in {}: left for the command centre", id, c.category(),
               c.district());
    return r;
  }
  v1::CaseCommand accept;
  accept.set_action(v1::CASE_ACTION_ACCEPT);
  accept.set_actor_id(std::string(kSystemActor));
  accept.set_actor_role(v1::ROLE_SYSTEM);
  accept.set_note("传感器告警自动立案");
  ApplyResult a = Stage(b, id, accept, now);
  if (!a.ok()) return r;
  v1::CaseCommand transfer = accept;
  transfer.set_action(v1::CASE_ACTION_TRANSFER);
  transfer.set_department(department);
  transfer.set_note("按权责清单自动派遣");
  ApplyResult t = Stage(b, id, transfer, now);
  return t.ok() ? std::move(t) : std::move(a);
}

}  // namespace yiwang::dispatcher
