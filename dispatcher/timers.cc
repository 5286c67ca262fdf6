// Timers: SLA checks that raise 督办 escalations (each due timer fires once, also across
// restarts) and offline checks of devices that stopped reporting.

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

void Dispatcher::Impl::FireTimers(Timestamp now) {
  // SLA checks: each due timer runs in its own write, removed in the same WriteSet as the
  // escalation it raises, so a due timer fires exactly once, also across restarts.
  while (!sla_timers_.empty() && sla_timers_.begin()->first <= Ms(now)) {
    const auto [due_ms, id] = *sla_timers_.begin();
    PendingBatch b;
    v1::Case c;
    bool handled = false;
    if (WorkingCase(b, id, &c).ok()) {
      if (auto cmd = DueEscalation(c, now)) {
        ApplyResult r = Stage(b, id, *cmd, now);
        handled = r.ok();
        if (!r.ok()) log_->warn("[case {}] escalation refused: {}", id, r.error().message);
      }
    }
    if (!handled) {
      // Nothing due (the case moved on): drop the stale timer, re-arm what the case needs.
      b.ws.Delete(tables::kTimers, keys::SlaTimer(due_ms, id));
      std::optional<Timestamp> next;
      if (c.state() != v1::CASE_STATE_UNSPECIFIED) next = NextCheck(c);
      if (next && Ms(*next) > due_ms) b.ws.Put(tables::kTimers, keys::SlaTimer(Ms(*next), id), "");
      b.after.push_back([this, due = due_ms, id = id, next] {
        sla_timers_.erase({due, id});
        if (next && Ms(*next) > due) sla_timers_.insert({Ms(*next), id});
      });
    }
    if (!Commit(b, true).ok()) return;  // retried on the next pass
  }

  // Offline checks (server time), against the in-memory device states.
  PendingBatch b;
  std::vector<std::pair<std::string, v1::AlarmState>> changed;
  while (!offline_.empty() && offline_.top().first <= Ms(now) && changed.size() < 1000) {
    auto [at_ms, device] = offline_.top();
    offline_.pop();
    m_offline_timers_.Set(static_cast<int64_t>(offline_.size()));
    const auto due = offline_due_.find(device);
    if (due == offline_due_.end() || due->second != at_ms) continue;  // stale entry
    offline_due_.erase(due);
    auto it = alarm_states_.find(device);
    if (it == alarm_states_.end()) continue;
    auto at = OfflineAt(it->second, rules_);
    if (!at) continue;
    if (Ms(*at) > Ms(now)) {  // it reported since this entry was armed
      ArmOffline(device, it->second);
      continue;
    }
    AlarmDecision d = CheckOffline(it->second, now, rules_);
    for (const auto& sig : d.signals) OnSignal(b, sig, now);
    changed.emplace_back(device, std::move(d.next));
  }
  if (changed.empty()) return;
  {
    std::unordered_map<std::string, v1::AlarmState> newer(changed.begin(), changed.end());
    for (const auto& [device, st] : changed) dirty_.insert(device);
    AddCheckpoint(b, cursor_.load(), &newer);
  }
  if (!Commit(b, true).ok()) {
    for (auto& [device, st] : changed) ArmOffline(device, alarm_states_[device]);
    return;
  }
  for (auto& [device, st] : changed) {
    ArmOffline(device, st);
    alarm_states_[device] = std::move(st);
  }
  CheckpointDone(cursor_.load());
}

void Dispatcher::Impl::ArmOffline(const std::string& device, const v1::AlarmState& st) {
  const auto at = OfflineAt(st, rules_);
  if (!at) return;  // an entry left for it is dropped when it comes due
  const int64_t at_ms = Ms(*at);
  auto [it, inserted] = offline_due_.try_emplace(device, at_ms);
  if (!inserted && it->second <= at_ms) return;  // an earlier entry re-arms when due
  it->second = at_ms;
  offline_.push({at_ms, device});  // an entry for a later time, if any, is now stale
  m_offline_timers_.Set(static_cast<int64_t>(offline_.size()));
}

}  // namespace yiwang::dispatcher
