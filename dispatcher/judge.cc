// Judging: stored events from the cursor through the alarm engine to cases, and the checkpoint
// of alarm states and cursor that makes a restart judge nothing twice.

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

// Beyond this many dirty alarm states a checkpoint is written whatever the interval.
constexpr size_t kMaxDirtyStates = 100000;
// The district of a sensor case whose device has no known district: the municipality. No
// route covers it, so the command centre dispatches it by hand.
constexpr std::string_view kUnlocatedDistrict = "500000";

}  // namespace

void Dispatcher::Impl::OnSignal(PendingBatch& b, const v1::AlarmSignal& sig, Timestamp now) {
  // The alarm is published before the case changes it causes (a console flashes the alarm,
  // then shows its case), though its case id is known only after them.
  const size_t alarm_at = b.live.size();
  b.live.emplace_back();
  OnSignalCases(b, sig, now, alarm_at);
}

void Dispatcher::Impl::OnSignalCases(PendingBatch& b, const v1::AlarmSignal& sig, Timestamp now,
                                     size_t alarm_at) {
  const std::string key = keys::OpenAlarm(sig.asset_id(), sig.alarm_type());
  std::optional<std::string> open_id = OpenAlarmCase(b, key);
  v1::LiveUpdate alarm_update;
  alarm_update.set_kind(v1::LiveUpdate::KIND_ALARM);
  *alarm_update.mutable_alarm() = sig;

  if (open_id) {
    v1::Case c;
    if (WorkingCase(b, *open_id, &c).ok() && keys::IsOpen(c.state())) {
      v1::CaseCommand up;
      up.set_action(v1::CASE_ACTION_ALARM_UPDATE);
      up.set_actor_id(std::string(kSystemActor));
      up.set_actor_role(v1::ROLE_SYSTEM);
      up.set_note(sig.summary());
      const bool clear = sig.kind() == v1::ALARM_SIGNAL_KIND_CLEAR;
      up.set_alarm_count(clear ? c.alarm_count() : c.alarm_count() + 1);
      up.set_alarm_level(sig.urgency());
      up.set_telemetry_normal(clear);
      ApplyResult r = Stage(b, *open_id, up, now);
      if (!r.ok()) log_->warn("[case {}] alarm update refused: {}", *open_id, r.error().message);
      alarm_update.set_case_id(*open_id);
      b.live[alarm_at] = std::move(alarm_update);
      return;
    }
  }
  if (sig.kind() != v1::ALARM_SIGNAL_KIND_RAISE) {
    // An update or clear of an alarm whose case is gone (closed by override): nothing to file.
    b.live[alarm_at] = std::move(alarm_update);
    return;
  }
  v1::Case filing;
  filing.set_source(v1::SOURCE_SENSOR);
  filing.set_category(sig.category());
  const v1::Category* cat = FindCategory(config_, sig.category());
  filing.set_urgency(cat && cat->default_urgency() != v1::URGENCY_UNSPECIFIED
                         ? cat->default_urgency()
                         : (sig.urgency() != v1::URGENCY_UNSPECIFIED ? sig.urgency()
                                                                     : v1::URGENCY_GENERAL));
  filing.set_district(sig.district().empty() ? std::string(kUnlocatedDistrict) : sig.district());
  if (sig.has_location() && (sig.location().lat() != 0 || sig.location().lon() != 0))
    *filing.mutable_location() = sig.location();
  filing.set_description(sig.summary());
  filing.set_asset_id(sig.asset_id());
  filing.set_device_id(sig.device_id());
  filing.set_alarm_type(sig.alarm_type());
  filing.set_alarm_id(sig.alarm_id());
  v1::CaseCommand actor;
  actor.set_actor_id(std::string(kSystemActor));
  actor.set_actor_role(v1::ROLE_SYSTEM);
  ApplyResult r = FileStaged(b, std::move(filing), actor, now);
  if (!r.ok()) {
    log_->warn("alarm {} could not be filed: {}", sig.alarm_id(), r.error().message);
  } else {
    alarm_update.set_case_id(r.transition().next.id());
  }
  b.live[alarm_at] = std::move(alarm_update);
}

// ---------------------------------------------------------------------------------------------
// Events and timers

bool Dispatcher::Impl::JudgeEvents() {
  const uint64_t from = cursor_.load() + 1;
  if (from > committed_.load()) return false;
  std::vector<v1::StoredEvent> events;
  Status s = store_->ScanEvents(from, opts_.max_events_per_batch, &events);
  if (!s.ok() || events.empty()) {
    if (!s.ok()) log_->error("reading events after {}: {}", from - 1, s.ToString());
    return false;
  }
  const Timestamp now = opts_.clock.NowMillis();
  PendingBatch b;
  uint64_t signals = 0;
  for (const v1::StoredEvent& se : events) {
    const std::string& device = se.event().device_id();
    // The batch's state of the device, else its committed one (read, not copied: Evaluate
    // builds the next state; alarm_states_ changes only once the batch is committed).
    auto it = b.alarms.find(device);
    const v1::AlarmState* prev = &v1::AlarmState::default_instance();
    if (it != b.alarms.end()) {
      prev = &it->second;
    } else if (auto stored = alarm_states_.find(device); stored != alarm_states_.end()) {
      prev = &stored->second;
    }
    AlarmDecision d = Evaluate(*prev, se.event(), FromProto(se.received_at()), rules_);
    if (it != b.alarms.end()) {
      it->second = std::move(d.next);
    } else {
      b.alarms.emplace(device, std::move(d.next));
    }
    for (const v1::AlarmSignal& sig : d.signals) {
      OnSignal(b, sig, now);
      ++signals;
    }
  }
  const uint64_t last = events.back().arrival_id();
  // Alarm states and the cursor are checkpointed, not written per batch: a batch that changed a
  // case writes the checkpoint in the same WriteSet (so no case change is ever judged twice);
  // otherwise at most every checkpoint_interval. After a crash the dispatcher judges the events
  // after the last checkpoint again, which (Evaluate being deterministic, and no case having
  // changed since) rebuilds the same states.
  const bool changed_cases = !b.cases.empty();
  const bool checkpoint = changed_cases || dirty_.size() + b.alarms.size() > kMaxDirtyStates ||
                          std::chrono::steady_clock::now() >= next_checkpoint_;
  if (checkpoint) {
    for (const auto& [device, st] : b.alarms) dirty_.insert(device);
    AddCheckpoint(b, last, &b.alarms);
  }
  // Unsynced: everything here is derived from durable events; a crash loses it only together
  // with every later write. A batch that filed or changed cases is synced, so a case once shown
  // live is never lost.
  if (!Commit(b, changed_cases).ok()) return false;
  for (auto& [device, st] : b.alarms) {
    ArmOffline(device, st);
    if (!checkpoint) dirty_.insert(device);
    alarm_states_[device] = std::move(st);
  }
  cursor_ = last;
  if (checkpoint) CheckpointDone(last);
  m_events_.Inc(events.size());
  m_signals_.Inc(signals);
  return true;
}

void Dispatcher::Impl::AddCheckpoint(
    PendingBatch& b, uint64_t cursor,
    const std::unordered_map<std::string, v1::AlarmState>* newer) {
  for (const std::string& device : dirty_) {
    const v1::AlarmState* st = nullptr;
    if (newer) {
      if (auto it = newer->find(device); it != newer->end()) st = &it->second;
    }
    if (!st) {
      auto it = alarm_states_.find(device);
      if (it == alarm_states_.end()) continue;
      st = &it->second;
    }
    b.ws.Put(tables::kAlarms, device, st->SerializeAsString());
  }
  b.ws.Put(tables::kDispatch, std::string(kCursorKey), U64Bytes(cursor));
}

void Dispatcher::Impl::CheckpointDone(uint64_t cursor) {
  dirty_.clear();
  checkpointed_ = cursor;
  next_checkpoint_ = std::chrono::steady_clock::now() + opts_.checkpoint_interval;
}

void Dispatcher::Impl::FinalCheckpoint() {
  if (dirty_.empty() && checkpointed_ == cursor_.load()) return;
  PendingBatch b;
  AddCheckpoint(b, cursor_.load(), nullptr);
  if (Commit(b, true).ok()) CheckpointDone(cursor_.load());
}

}  // namespace yiwang::dispatcher
