#include "dispatcher/dispatcher.h"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/journal.h"
#include "store/key_codec.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;
using store::Table;
using store::WriteSet;

namespace {

constexpr std::string_view kCursorKey = "cursor";
// Beyond this many dirty alarm states a checkpoint is written whatever the interval.
constexpr size_t kMaxDirtyStates = 100000;
using SteadyClock = std::chrono::steady_clock;
constexpr std::string_view kSystemActor = "system:dispatcher";
// The district of a sensor case whose device has no known district: the municipality. No
// route covers it, so the command centre dispatches it by hand.
constexpr std::string_view kUnlocatedDistrict = "500000";

int64_t Ms(Timestamp t) { return t.time_since_epoch().count(); }


std::string U64Bytes(uint64_t v) {
  std::string s;
  store::PutFixed64BE(&s, v);
  return s;
}

// Tracking codes: 10 characters of an alphabet without look-alikes (no 0/O, 1/I/L).
std::string NewTrackingCode() {
  static constexpr char kAlphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
  unsigned char raw[10];
  RAND_bytes(raw, sizeof raw);
  std::string code;
  for (unsigned char b : raw) code.push_back(kAlphabet[b % (sizeof kAlphabet - 1)]);
  return code;
}

// The hour-or-minute window of a dedup rule, as a duration ("24h", "30m"); zero if unset.
Duration DedupWindow(const v1::DedupRule& rule) {
  auto limit = ParseTimeLimit(rule.window());
  if (!limit || limit->working_time()) return Duration(0);
  const double minutes =
      limit->unit == TimeLimit::Unit::kHours ? limit->value * 60 : limit->value;
  return Duration(static_cast<int64_t>(minutes * 60'000));
}

}  // namespace

// A unit of work being assembled: the writes of one WriteSet and what to do once they are
// durable. Cases touched more than once in one batch (a sensor case filed, accepted and
// transferred) are read from `cases`, not the store.
struct PendingBatch {
  WriteSet ws;
  std::unordered_map<std::string, v1::Case> cases;
  std::unordered_map<std::string, std::optional<std::string>> open_alarms;  // key -> case id
  std::map<std::string, v1::KpiCounters> kpi;  // kpi key -> row after this batch
  std::unordered_map<std::string, v1::AlarmState> alarms;
  std::vector<v1::LiveUpdate> live;
  std::vector<std::function<void()>> after;  // in-memory updates once durable
  std::map<std::string, uint64_t> case_seqs;  // day -> next number
};

class Dispatcher::Impl {
 public:
  Impl(store::EventStore* store, v1::DispatchConfig config, DispatcherOptions options,
       std::shared_ptr<spdlog::logger> logger, Metrics* metrics)
      : store_(store),
        config_(std::move(config)),
        opts_(std::move(options)),
        log_(std::move(logger)),
        m_events_(metrics->GetCounter("yiwang_dispatch_events_judged_total",
                                      "Stored events judged by the alarm engine")),
        m_signals_(metrics->GetCounter("yiwang_dispatch_alarm_signals_total",
                                       "Alarm signals (raise, update, clear)")),
        m_transitions_(metrics->GetCounter("yiwang_dispatch_transitions_total",
                                           "Case transitions written")),
        m_refused_(metrics->GetCounter("yiwang_dispatch_commands_refused_total",
                                       "Commands the case machine refused")),
        m_escalations_(metrics->GetCounter("yiwang_dispatch_escalations_total",
                                           "督办 escalations raised by the SLA clock")),
        m_write_errors_(metrics->GetCounter("yiwang_dispatch_write_errors_total",
                                            "Dispatcher writes refused by the store")),
        m_lag_(metrics->GetGauge("yiwang_dispatch_lag_events",
                                 "Events stored but not judged yet")),
        m_offline_timers_(metrics->GetGauge(
            "yiwang_dispatch_offline_timers",
            "Offline timers armed (about one per device that reports; stale ones included)")) {
  }

  Status Init();
  void Start() { thread_ = std::thread([this] { Loop(); }); }
  void Stop();

  // Runs `fn` on the dispatcher thread and waits for it. Unavailable after Stop.
  template <typename R>
  R RunOnThread(std::function<R()> fn, R stopped) {
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto fut = task->get_future();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return stopped;
      tasks_.push_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return fut.get();
  }

  void NotifyCommitted(uint64_t last_arrival_id) {
    uint64_t prev = committed_.load();
    while (prev < last_arrival_id && !committed_.compare_exchange_weak(prev, last_arrival_id)) {
    }
    cv_.notify_one();
  }

  // --- dispatcher thread ---
  void Loop();
  // Judges up to max_events_per_batch stored events after the cursor; false if none.
  bool JudgeEvents();
  void FireTimers(Timestamp now);
  Status Commit(PendingBatch& b, bool sync);
  // Adds the dirty alarm states (from `newer` where it has them) and `cursor` to `b`.
  void AddCheckpoint(PendingBatch& b, uint64_t cursor,
                     const std::unordered_map<std::string, v1::AlarmState>* newer);
  void CheckpointDone(uint64_t cursor);
  // On stop: writes what is dirty, so a clean restart judges nothing again.
  void FinalCheckpoint();

  // Case access inside a batch.
  Status WorkingCase(PendingBatch& b, const std::string& id, v1::Case* out);
  // Applies and stages one transition; the ApplyResult tells whether the machine took it.
  ApplyResult Stage(PendingBatch& b, const std::string& id, v1::CaseCommand cmd, Timestamp now);
  std::string NewCaseId(PendingBatch& b, Timestamp now);
  // Files a case and, for sensor cases, accepts and transfers it when routable.
  ApplyResult FileStaged(PendingBatch& b, v1::Case filing, const v1::CaseCommand& actor,
                         Timestamp now);
  std::optional<std::string> OpenAlarmCase(PendingBatch& b, const std::string& key);
  void OnSignal(PendingBatch& b, const v1::AlarmSignal& sig, Timestamp now);
  void OnSignalCases(PendingBatch& b, const v1::AlarmSignal& sig, Timestamp now,
                     size_t alarm_at);
  void AddKpi(PendingBatch& b, const std::vector<KpiDelta>& deltas);

  CommandOutcome ExecuteOnThread(const std::string& id, v1::CaseCommand cmd);
  CommandOutcome FileOnThread(v1::Case filing, const v1::CaseCommand& actor);
  ReportOutcome FileReportOnThread(const ReportFiling& f);
  CommandOutcome RateOnThread(const std::string& code, uint32_t stars, std::string comment,
                              bool fixed);
  Status FindNearby(std::string_view category, double lat, double lon, double radius_m,
                    Duration window, Timestamp now,
                    std::vector<std::pair<v1::CaseSummary, double>>* out) const;

  void Publish(const std::vector<v1::LiveUpdate>& updates);

  store::EventStore* store_;
  v1::DispatchConfig config_;
  SlaPolicy policy_ = SlaPolicy::Default();
  AlarmRules rules_;
  DispatcherOptions opts_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<uint64_t> committed_{0};
  uint64_t observer_id_ = 0;  // EventStore::AddCommitObserver; 0 once removed
  std::atomic<uint64_t> cursor_{0};

  // Dispatcher thread only.
  std::unordered_map<std::string, v1::AlarmState> alarm_states_;
  // Offline timers: at most one heap entry per device, armed lazily. A device reporting every
  // few seconds moves its deadline with every batch; pushing each new deadline would keep one
  // stale entry per device per batch until its time came (hundreds of MiB in a long run at
  // 10,000 events/s). Instead offline_due_ holds the time of each device's one entry, which may
  // be earlier than its real deadline; when it comes due, ArmOffline re-arms it at the real one.
  using OfflineItem = std::pair<int64_t, std::string>;
  std::priority_queue<OfflineItem, std::vector<OfflineItem>, std::greater<>> offline_;
  std::unordered_map<std::string, int64_t> offline_due_;
  // Arms `device`'s offline timer for its state `st` (none if OfflineAt has no deadline).
  void ArmOffline(const std::string& device, const v1::AlarmState& st) {
    const auto at = OfflineAt(st, rules_);
    if (!at) return;  // an entry left for it is dropped when it comes due
    const int64_t at_ms = Ms(*at);
    auto [it, inserted] = offline_due_.try_emplace(device, at_ms);
    if (!inserted && it->second <= at_ms) return;  // an earlier entry re-arms when due
    it->second = at_ms;
    offline_.push({at_ms, device});  // an entry for a later time, if any, is now stale
    m_offline_timers_.Set(static_cast<int64_t>(offline_.size()));
  }
  std::set<std::pair<int64_t, std::string>> sla_timers_;
  // Devices whose alarm state changed since the last checkpoint, and that checkpoint's cursor.
  std::unordered_set<std::string> dirty_;
  uint64_t checkpointed_ = 0;
  SteadyClock::time_point next_checkpoint_{};

  // Open cases' summaries (for live gauges and nearby searches): written on the dispatcher
  // thread, read by any thread under open_mu_.
  mutable std::mutex open_mu_;
  std::unordered_map<std::string, v1::CaseSummary> open_;

  std::mutex listeners_mu_;
  std::map<uint64_t, Listener> listeners_;
  uint64_t next_listener_ = 1;

  Counter& m_events_;
  Counter& m_signals_;
  Counter& m_transitions_;
  Counter& m_refused_;
  Counter& m_escalations_;
  Counter& m_write_errors_;
  Gauge& m_lag_;
  Gauge& m_offline_timers_;
};

// ---------------------------------------------------------------------------------------------
// Start-up

Status Dispatcher::Impl::Init() {
  if (Status s = SlaPolicyFromConfig(config_, &policy_); !s.ok()) return s;
  if (Status s = AlarmRules::Create(config_, &rules_); !s.ok()) return s;

  std::string v;
  Status s = store_->Get(Table::kDispatch, kCursorKey, &v);
  if (s.ok() && v.size() == 8) {
    cursor_ = store::DecodeFixed64BE(v.data());
    checkpointed_ = cursor_.load();
  } else if (!s.ok() && s.code() != Status::Code::kNotFound) {
    return s;
  }

  Status parse = Status::Ok();
  s = store_->Scan(Table::kAlarms, "", "", false, [&](std::string_view k, std::string_view val) {
    v1::AlarmState st;
    if (!st.ParseFromArray(val.data(), static_cast<int>(val.size()))) {
      parse = Status::Corruption("alarm state of " + std::string(k));
      return false;
    }
    ArmOffline(std::string(k), st);
    alarm_states_.emplace(std::string(k), std::move(st));
    return true;
  });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;

  s = store_->Scan(Table::kTimers, "", "", false, [&](std::string_view k, std::string_view) {
    if (auto t = keys::ParseSlaTimer(k)) sla_timers_.insert({t->due_ms, t->case_id});
    return true;
  });
  if (!s.ok()) return s;

  // Open cases: the state index of every open state.
  for (int st = v1::CASE_STATE_PENDING_ACCEPT; st <= v1::CASE_STATE_PARKED; ++st) {
    const auto state = static_cast<v1::CaseState>(st);
    if (!keys::IsOpen(state)) continue;
    const std::string prefix = keys::IndexPrefix('s', StateName(state));
    std::string end = prefix;
    end.back() = '\x01';
    s = store_->Scan(Table::kCaseIndex, prefix, end, false,
                     [&](std::string_view, std::string_view val) {
                       v1::CaseSummary sum;
                       if (sum.ParseFromArray(val.data(), static_cast<int>(val.size())))
                         open_.emplace(sum.id(), std::move(sum));
                       return true;
                     });
    if (!s.ok()) return s;
  }
  committed_ = store_->EventCount();
  log_->info("dispatcher: cursor {} of {} events, {} devices, {} open cases, {} SLA timers",
             cursor_.load(), committed_.load(), alarm_states_.size(), open_.size(),
             sla_timers_.size());
  return Status::Ok();
}

void Dispatcher::Impl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------------------------------------
// The loop

void Dispatcher::Impl::Loop() {
  for (;;) {
    std::deque<std::function<void()>> tasks;
    {
      std::unique_lock lock(mu_);
      auto has_work = [&] {
        return stopping_ || !tasks_.empty() || committed_.load() > cursor_.load();
      };
      if (!has_work()) {
        // Sleep until the next timer (or the poll interval).
        auto wake = std::chrono::steady_clock::now() + opts_.poll_interval;
        int64_t next_ms = INT64_MAX;
        if (!sla_timers_.empty()) next_ms = sla_timers_.begin()->first;
        if (!offline_.empty()) next_ms = std::min(next_ms, offline_.top().first);
        if (next_ms != INT64_MAX) {
          const auto until = Duration(next_ms - Ms(opts_.clock.NowMillis()));
          if (until < opts_.poll_interval)
            wake = std::chrono::steady_clock::now() + std::max(until, Duration(0));
        }
        cv_.wait_until(lock, wake, has_work);
      }
      if (stopping_) {
        // Run what callers wait for; leave events for the next start (the cursor says where).
        tasks.swap(tasks_);
        lock.unlock();
        for (auto& t : tasks) t();
        FinalCheckpoint();
        return;
      }
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) t();
    // Events in bounded batches, so commands queued meanwhile wait at most one batch.
    JudgeEvents();
    FireTimers(opts_.clock.NowMillis());
    m_lag_.Set(static_cast<int64_t>(committed_.load() - std::min(committed_.load(), cursor_.load())));
  }
}

Status Dispatcher::Impl::Commit(PendingBatch& b, bool sync) {
  for (auto& [key, row] : b.kpi) b.ws.Put(Table::kKpi, key, row.SerializeAsString());
  for (auto& [day, next] : b.case_seqs) b.ws.Put(Table::kDispatch, "case_seq/" + day, U64Bytes(next));
  Status s = store_->Write(b.ws, sync);
  if (!s.ok()) {
    m_write_errors_.Inc();
    log_->error("dispatcher write refused: {}", s.ToString());
    return s;
  }
  for (auto& fn : b.after) fn();
  Publish(b.live);
  return Status::Ok();
}

void Dispatcher::Impl::Publish(const std::vector<v1::LiveUpdate>& updates) {
  if (updates.empty()) return;
  std::lock_guard lock(listeners_mu_);
  for (const auto& u : updates)
    for (auto& [id, fn] : listeners_) fn(u);
}

// ---------------------------------------------------------------------------------------------
// Cases inside a batch

Status Dispatcher::Impl::WorkingCase(PendingBatch& b, const std::string& id, v1::Case* out) {
  if (auto it = b.cases.find(id); it != b.cases.end()) {
    *out = it->second;
    return Status::Ok();
  }
  std::string v;
  Status s = store_->Get(Table::kCases, id, &v);
  if (!s.ok()) return s;
  if (!out->ParseFromString(v)) return Status::Corruption("case record " + id);
  return Status::Ok();
}

std::optional<std::string> Dispatcher::Impl::OpenAlarmCase(PendingBatch& b,
                                                           const std::string& key) {
  if (auto it = b.open_alarms.find(key); it != b.open_alarms.end()) return it->second;
  std::string v;
  if (store_->Get(Table::kCaseIndex, key, &v).ok()) return v;
  return std::nullopt;
}

void Dispatcher::Impl::AddKpi(PendingBatch& b, const std::vector<KpiDelta>& deltas) {
  for (const KpiDelta& d : deltas) {
    const std::string key = keys::Kpi(d.key);
    auto it = b.kpi.find(key);
    if (it == b.kpi.end()) {
      v1::KpiCounters row;
      std::string v;
      if (store_->Get(Table::kKpi, key, &v).ok()) (void)row.ParseFromString(v);
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
    if (store_->Get(Table::kDispatch, "case_seq/" + day, &v).ok() && v.size() == 8)
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
  b.ws.Put(Table::kCases, id, next.SerializeAsString());
  b.ws.Put(Table::kJournal, keys::Journal(id, t.entry.seq()), t.entry.SerializeAsString());

  auto old_entries = keys::IndexEntries(before);
  auto new_entries = keys::IndexEntries(next);
  for (const auto& [k, v] : old_entries) {
    if (!new_entries.count(k)) {
      b.ws.Delete(Table::kCaseIndex, k);
      if (k[0] == 'w') b.open_alarms[k] = std::nullopt;
    }
  }
  for (const auto& [k, v] : new_entries) {
    auto old = old_entries.find(k);
    if (old == old_entries.end() || old->second != v) b.ws.Put(Table::kCaseIndex, k, v);
    if (k[0] == 'w') b.open_alarms[k] = v;
  }

  const auto old_check = NextCheck(before), new_check = NextCheck(next);
  if (old_check != new_check) {
    if (old_check) b.ws.Delete(Table::kTimers, keys::SlaTimer(Ms(*old_check), id));
    if (new_check) b.ws.Put(Table::kTimers, keys::SlaTimer(Ms(*new_check), id), "");
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
                          SteadyClock::now() >= next_checkpoint_;
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
    b.ws.Put(Table::kAlarms, device, st->SerializeAsString());
  }
  b.ws.Put(Table::kDispatch, std::string(kCursorKey), U64Bytes(cursor));
}

void Dispatcher::Impl::CheckpointDone(uint64_t cursor) {
  dirty_.clear();
  checkpointed_ = cursor;
  next_checkpoint_ = SteadyClock::now() + opts_.checkpoint_interval;
}

void Dispatcher::Impl::FinalCheckpoint() {
  if (dirty_.empty() && checkpointed_ == cursor_.load()) return;
  PendingBatch b;
  AddCheckpoint(b, cursor_.load(), nullptr);
  if (Commit(b, true).ok()) CheckpointDone(cursor_.load());
}

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
      b.ws.Delete(Table::kTimers, keys::SlaTimer(due_ms, id));
      std::optional<Timestamp> next;
      if (c.state() != v1::CASE_STATE_UNSPECIFIED) next = NextCheck(c);
      if (next && Ms(*next) > due_ms) b.ws.Put(Table::kTimers, keys::SlaTimer(Ms(*next), id), "");
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

// ---------------------------------------------------------------------------------------------
// Commands

CommandOutcome Dispatcher::Impl::ExecuteOnThread(const std::string& id, v1::CaseCommand cmd) {
  CommandOutcome out;
  PendingBatch b;
  const Timestamp now = opts_.clock.NowMillis();
  v1::Case current;
  Status s = WorkingCase(b, id, &current);
  if (!s.ok()) {
    out.status = s.code() == Status::Code::kNotFound ? Status::NotFound("no case " + id) : s;
    return out;
  }
  if (cmd.action() == v1::CASE_ACTION_CREATE) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "the case exists already",
                           AllowedActions(current, cmd.actor_role(), cmd.actor_department(),
                                          cmd.actor_id())};
    out.c = std::move(current);
    return out;
  }
  ApplyResult r = Stage(b, id, std::move(cmd), now);
  if (!r.ok()) {
    out.error = r.error();
    out.c = std::move(current);
    return out;
  }
  out.status = Commit(b, true);
  out.c = r.transition().next;
  out.entry = r.transition().entry;
  return out;
}

CommandOutcome Dispatcher::Impl::FileOnThread(v1::Case filing, const v1::CaseCommand& actor) {
  CommandOutcome out;
  PendingBatch b;
  ApplyResult r = FileStaged(b, std::move(filing), actor, opts_.clock.NowMillis());
  if (!r.ok()) {
    out.error = r.error();
    return out;
  }
  out.status = Commit(b, true);
  out.c = r.transition().next;
  out.entry = r.transition().entry;
  return out;
}

Status Dispatcher::Impl::FindNearby(std::string_view category, double lat, double lon,
                                    double radius_m, Duration window, Timestamp now,
                                    std::vector<std::pair<v1::CaseSummary, double>>* out) const {
  out->clear();
  std::lock_guard lock(open_mu_);
  for (const auto& [id, s] : open_) {
    if (s.category() != category) continue;
    if (window.count() > 0 && s.created_ms() < Ms(now) - window.count()) continue;
    const double d = DistanceMeters(lat, lon, s.lat(), s.lon());
    if (d <= radius_m) out->emplace_back(s, d);
  }
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first.id() < b.first.id());
  });
  return Status::Ok();
}

ReportOutcome Dispatcher::Impl::FileReportOnThread(const ReportFiling& f) {
  ReportOutcome out;
  const Timestamp now = opts_.clock.NowMillis();
  const v1::Category* cat = FindCategory(config_, f.category);
  if (!cat) {
    out.status = Status::InvalidArgument("category: unknown category " + f.category);
    return out;
  }
  PendingBatch b;
  std::string code;
  for (int i = 0; i < 5; ++i) {
    code = NewTrackingCode();
    std::string v;
    if (store_->Get(Table::kReports, code, &v).code() == Status::Code::kNotFound) break;
  }
  v1::CitizenReport report;
  report.set_tracking_code(code);
  report.set_category(f.category);
  report.set_description(f.description);
  report.mutable_location()->set_lat(f.lat);
  report.mutable_location()->set_lon(f.lon);
  for (const auto& p : f.photo_ids) report.add_photo_ids(p);
  report.set_contact(f.contact);
  report.set_client(f.client);
  *report.mutable_created_at() = ToProto(now);

  // 附议: the named case, else the nearest open case of the category within the dedup rule.
  std::string target = f.support_case;
  if (target.empty() && !f.no_link && cat->dedup().radius_m() > 0) {
    std::vector<std::pair<v1::CaseSummary, double>> near;
    (void)FindNearby(f.category, f.lat, f.lon, cat->dedup().radius_m(), DedupWindow(cat->dedup()),
                     now, &near);
    if (!near.empty()) target = near.front().first.id();
  }
  const std::string reporter = "report:" + code;
  ApplyResult r = ApplyError{};
  if (!target.empty()) {
    v1::CaseCommand support;
    support.set_action(v1::CASE_ACTION_SUPPORT);
    support.set_actor_id(reporter);
    support.set_actor_role(v1::ROLE_CITIZEN);
    support.set_note(f.description.substr(0, kMaxNoteBytes));
    for (const auto& p : f.photo_ids) support.add_evidence("photo:" + p);
    v1::Case existing;
    if (!WorkingCase(b, target, &existing).ok()) {
      out.status = Status::NotFound("supportCaseId: no case " + target);
      return out;
    }
    r = Stage(b, target, support, now);
    if (!r.ok()) {
      out.error = r.error();
      return out;
    }
    report.set_linked(true);
  } else {
    v1::Case filing;
    filing.set_source(f.source);
    filing.set_category(f.category);
    filing.set_district(f.district);
    filing.mutable_location()->set_lat(f.lat);
    filing.mutable_location()->set_lon(f.lon);
    filing.set_description(f.description);
    filing.add_reporters(reporter);
    v1::CaseCommand actor;
    actor.set_actor_id(reporter);
    actor.set_actor_role(v1::ROLE_CITIZEN);
    for (const auto& p : f.photo_ids) actor.add_evidence("photo:" + p);
    r = FileStaged(b, std::move(filing), actor, now);
    if (!r.ok()) {
      out.error = r.error();
      return out;
    }
  }
  report.set_case_id(r.transition().next.id());
  b.ws.Put(Table::kReports, code, report.SerializeAsString());
  out.status = Commit(b, true);
  out.report = std::move(report);
  return out;
}

CommandOutcome Dispatcher::Impl::RateOnThread(const std::string& code, uint32_t stars,
                                              std::string comment, bool fixed) {
  CommandOutcome out;
  std::string v;
  v1::CitizenReport report;
  Status s = store_->Get(Table::kReports, code, &v);
  if (!s.ok() || !report.ParseFromString(v)) {
    out.status = Status::NotFound("no report " + code);
    return out;
  }
  PendingBatch b;
  const Timestamp now = opts_.clock.NowMillis();
  v1::Case c;
  if (Status cs = WorkingCase(b, report.case_id(), &c); !cs.ok()) {
    out.status = cs;
    return out;
  }
  if (c.state() != v1::CASE_STATE_CLOSED) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "a case is rated once it is closed",
                           {}};
    out.c = std::move(c);
    return out;
  }
  // One rating per report, except that a citizen who said "not fixed" (which reopened the
  // case) may rate again once the case is closed again after that rating.
  if (report.rating_stars() != 0 &&
      (report.rating_fixed() || !(FromProto(c.updated_at()) > FromProto(report.rated_at())))) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "this report has been rated already",
                           {}};
    out.c = std::move(c);
    return out;
  }
  if (!fixed) {
    v1::CaseCommand reopen;
    reopen.set_action(v1::CASE_ACTION_REOPEN);
    reopen.set_actor_id("report:" + code);
    reopen.set_actor_role(v1::ROLE_CITIZEN);
    reopen.set_note(comment.empty() ? "市民反馈：问题未解决" : comment);
    ApplyResult r = Stage(b, report.case_id(), reopen, now);
    if (!r.ok()) {
      out.error = r.error();
      out.c = std::move(c);
      return out;
    }
    out.c = r.transition().next;
    out.entry = r.transition().entry;
  } else {
    out.c = c;
  }
  report.set_rating_stars(stars);
  report.set_rating_comment(std::move(comment));
  report.set_rating_fixed(fixed);
  *report.mutable_rated_at() = ToProto(now);
  b.ws.Put(Table::kReports, code, report.SerializeAsString());
  out.status = Commit(b, true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Public surface

Dispatcher::Dispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dispatcher::~Dispatcher() { Stop(); }

std::unique_ptr<Dispatcher> Dispatcher::Open(store::EventStore* store,
                                             const v1::DispatchConfig& config,
                                             DispatcherOptions options,
                                             std::shared_ptr<spdlog::logger> logger,
                                             Metrics* metrics, Status* status) {
  auto impl = std::make_unique<Impl>(store, config, std::move(options), std::move(logger), metrics);
  *status = impl->Init();
  if (!status->ok()) return nullptr;
  impl->Start();
  Impl* raw = impl.get();
  impl->observer_id_ =
      store->AddCommitObserver([raw](const std::vector<const v1::StoredEvent*>& events) {
        if (!events.empty()) raw->NotifyCommitted(events.back()->arrival_id());
      });
  return std::unique_ptr<Dispatcher>(new Dispatcher(std::move(impl)));
}

void Dispatcher::Stop() {
  if (impl_->observer_id_ != 0) {
    impl_->store_->RemoveCommitObserver(impl_->observer_id_);
    impl_->observer_id_ = 0;
  }
  impl_->Stop();
}

CommandOutcome Dispatcher::Execute(std::string_view case_id, v1::CaseCommand cmd) {
  CommandOutcome stopped;
  stopped.status = Status::Unavailable("the dispatcher is stopping");
  return impl_->RunOnThread<CommandOutcome>(
      [this, id = std::string(case_id), cmd = std::move(cmd)]() mutable {
        return impl_->ExecuteOnThread(id, std::move(cmd));
      },
      std::move(stopped));
}

CommandOutcome Dispatcher::File(v1::Case filing, const v1::CaseCommand& actor) {
  CommandOutcome stopped;
  stopped.status = Status::Unavailable("the dispatcher is stopping");
  return impl_->RunOnThread<CommandOutcome>(
      [this, f = std::move(filing), actor]() mutable {
        return impl_->FileOnThread(std::move(f), actor);
      },
      std::move(stopped));
}

ReportOutcome Dispatcher::FileReport(const ReportFiling& filing) {
  ReportOutcome stopped;
  stopped.status = Status::Unavailable("the dispatcher is stopping");
  return impl_->RunOnThread<ReportOutcome>(
      [this, filing] { return impl_->FileReportOnThread(filing); }, std::move(stopped));
}

CommandOutcome Dispatcher::RateReport(std::string_view tracking_code, uint32_t stars,
                                      std::string comment, bool fixed) {
  CommandOutcome stopped;
  stopped.status = Status::Unavailable("the dispatcher is stopping");
  return impl_->RunOnThread<CommandOutcome>(
      [this, code = std::string(tracking_code), stars, c = std::move(comment), fixed]() mutable {
        return impl_->RateOnThread(code, stars, std::move(c), fixed);
      },
      std::move(stopped));
}

void Dispatcher::Sync() {
  const uint64_t target = impl_->store_->EventCount();
  impl_->NotifyCommitted(target);
  for (;;) {
    const bool done = impl_->RunOnThread<bool>(
        [this, target] {
          while (impl_->cursor_.load() < target && impl_->JudgeEvents()) {
          }
          impl_->FireTimers(impl_->opts_.clock.NowMillis());
          return impl_->cursor_.load() >= target;
        },
        true);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status Dispatcher::GetCase(std::string_view id, v1::Case* out) const {
  std::string v;
  Status s = impl_->store_->Get(Table::kCases, id, &v);
  if (!s.ok()) return s;
  if (!out->ParseFromString(v)) return Status::Corruption("case record");
  return Status::Ok();
}

Status ReadJournal(const store::EventStore& store, std::string_view id,
                   std::vector<v1::JournalEntry>* out) {
  out->clear();
  const std::string prefix = keys::JournalPrefix(id);
  std::string end = prefix;
  end.push_back('\xff');
  Status parse = Status::Ok();
  Status s = store.Scan(Table::kJournal, prefix, end, false,
                                 [&](std::string_view k, std::string_view v) {
                                   if (k.size() != prefix.size() + 8) return true;
                                   v1::JournalEntry e;
                                   if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                                     parse = Status::Corruption("journal entry");
                                     return false;
                                   }
                                   out->push_back(std::move(e));
                                   return true;
                                 });
  return s.ok() ? parse : s;
}

Status Dispatcher::GetJournal(std::string_view id, std::vector<v1::JournalEntry>* out) const {
  return ReadJournal(*impl_->store_, id, out);
}

Status Dispatcher::GetReport(std::string_view tracking_code, v1::CitizenReport* out) const {
  std::string v;
  Status s = impl_->store_->Get(Table::kReports, tracking_code, &v);
  if (!s.ok()) return s;
  if (!out->ParseFromString(v)) return Status::Corruption("report record");
  return Status::Ok();
}

namespace {

template <typename T>
bool In(const std::vector<T>& set, const T& v) {
  return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
}

// True if summary `s` passes every filter of `q` (cursor and limit aside) at server time now_ms.
bool Matches(const CaseQuery& q, int64_t now_ms, const v1::CaseSummary& s) {
  if (!In(q.states, s.state()) || !In(q.districts, s.district()) ||
      !In(q.departments, s.department()) || !In(q.categories, s.category()) ||
      !In(q.sources, s.source()))
    return false;
  if (q.open_only && !keys::IsOpen(s.state())) return false;
  if (q.overdue_only &&
      !(keys::IsOpen(s.state()) && !s.paused() && s.deadline_ms() > 0 && s.deadline_ms() < now_ms))
    return false;
  if (q.created_from && s.created_ms() < Ms(*q.created_from)) return false;
  if (q.created_to && s.created_ms() >= Ms(*q.created_to)) return false;
  if (q.bbox) {
    const auto& b = *q.bbox;
    if (s.lon() < b[0] || s.lat() < b[1] || s.lon() > b[2] || s.lat() > b[3]) return false;
  }
  return true;
}

// The case_index prefixes to scan for `q`: the narrowest single-valued index the query allows,
// else every case. A case is under exactly one of the returned prefixes.
std::vector<std::string> IndexPrefixes(const CaseQuery& q) {
  std::vector<std::string> prefixes;
  if (q.states.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('s', StateName(q.states[0])));
  } else if (q.departments.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('p', q.departments[0]));
  } else if (q.districts.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('d', q.districts[0]));
  } else if (q.categories.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('c', q.categories[0]));
  } else if (q.bbox && ((*q.bbox)[2] - (*q.bbox)[0]) * ((*q.bbox)[3] - (*q.bbox)[1]) <= 0.04) {
    const auto& b = *q.bbox;
    for (double lat = std::floor(b[1] * 100) / 100; lat <= b[3]; lat += 0.01)
      for (double lon = std::floor(b[0] * 100) / 100; lon <= b[2]; lon += 0.01)
        prefixes.push_back(keys::IndexPrefix('g', SpatialCell(lat + 0.005, lon + 0.005)));
  } else {
    prefixes.push_back(keys::IndexPrefix('a', ""));
  }
  return prefixes;
}

}  // namespace

Status Dispatcher::ListCases(const CaseQuery& q, CasePage* out) const {
  out->cases.clear();
  out->total = 0;
  out->next_cursor.clear();
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  auto matches = [&](const v1::CaseSummary& s) { return Matches(q, now_ms, s); };
  const std::vector<std::string> prefixes = IndexPrefixes(q);

  // Sort key: the index key's suffix (inverted time | id), newest first.
  struct Hit {
    std::string sort;
    v1::CaseSummary summary;
  };
  std::vector<Hit> page;  // the first `limit` hits after the cursor
  const std::string& cursor = q.cursor;
  const size_t limit = std::max<size_t>(1, q.limit);
  Status parse = Status::Ok();
  for (const std::string& prefix : prefixes) {
    std::string end = prefix;
    end.back() = '\x01';
    Status s = impl_->store_->Scan(
        Table::kCaseIndex, prefix, end, false, [&](std::string_view k, std::string_view v) {
          v1::CaseSummary sum;
          if (!sum.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            parse = Status::Corruption("case index entry");
            return false;
          }
          if (!matches(sum)) return true;
          ++out->total;
          std::string sort(k.substr(prefix.size()));
          if (!cursor.empty() && sort <= cursor) return true;
          if (page.size() < limit + 1 || sort < page.back().sort) {
            page.push_back({std::move(sort), std::move(sum)});
            std::sort(page.begin(), page.end(),
                      [](const Hit& a, const Hit& b) { return a.sort < b.sort; });
            if (page.size() > limit + 1) page.pop_back();
          }
          return true;
        });
    if (!s.ok()) return s;
    if (!parse.ok()) return parse;
  }
  if (page.size() > limit) {
    page.pop_back();
    out->next_cursor = page.back().sort;
  }
  for (auto& h : page) out->cases.push_back(std::move(h.summary));
  return Status::Ok();
}

Status Dispatcher::MatchingCases(const CaseQuery& q, size_t max,
                                 std::vector<v1::CaseSummary>* out, uint64_t* total) const {
  out->clear();
  *total = 0;
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  Status parse = Status::Ok();
  for (const std::string& prefix : IndexPrefixes(q)) {
    std::string end = prefix;
    end.back() = '\x01';
    Status s = impl_->store_->Scan(
        Table::kCaseIndex, prefix, end, false, [&](std::string_view, std::string_view v) {
          v1::CaseSummary sum;
          if (!sum.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            parse = Status::Corruption("case index entry");
            return false;
          }
          if (!Matches(q, now_ms, sum)) return true;
          ++*total;
          if (out->size() < max) out->push_back(std::move(sum));
          return true;
        });
    if (!s.ok()) return s;
    if (!parse.ok()) return parse;
  }
  return Status::Ok();
}

Status Dispatcher::NearbyOpenCases(std::string_view category, double lat, double lon,
                                   double radius_m,
                                   std::vector<std::pair<v1::CaseSummary, double>>* out) const {
  Duration window{0};
  if (radius_m <= 0) {
    const v1::Category* cat = FindCategory(impl_->config_, category);
    if (!cat) return Status::InvalidArgument("category: unknown category");
    radius_m = cat->dedup().radius_m();
    window = DedupWindow(cat->dedup());
  }
  if (radius_m <= 0) {
    out->clear();
    return Status::Ok();
  }
  return impl_->FindNearby(category, lat, lon, radius_m, window, impl_->opts_.clock.NowMillis(), out);
}

Status Dispatcher::Stats(const KpiFilter& filter, KpiDimension by, std::vector<KpiRow>* out,
                         v1::KpiCounters* total) const {
  std::vector<KpiRow> rows;
  std::string begin = filter.day_from;
  std::string end;
  if (!filter.day_to.empty()) {
    end = filter.day_to;
    end.push_back('\x01');  // every key of day_to sorts below "day_to\x01"
  }
  Status parse = Status::Ok();
  Status s = impl_->store_->Scan(Table::kKpi, begin, end, false,
                                 [&](std::string_view k, std::string_view v) {
                                   auto key = keys::ParseKpi(k);
                                   KpiRow row;
                                   if (!key || !row.counters.ParseFromArray(
                                                   v.data(), static_cast<int>(v.size()))) {
                                     parse = Status::Corruption("kpi row");
                                     return false;
                                   }
                                   row.key = std::move(*key);
                                   rows.push_back(std::move(row));
                                   return true;
                                 });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  *out = RollUp(rows, filter, by);
  if (total) *total = RollUp(rows, filter, KpiDimension::kNone).at(0).counters;
  return Status::Ok();
}

OpenCaseStats Dispatcher::OpenStats(const KpiFilter& f) const {
  OpenCaseStats out;
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  std::lock_guard lock(impl_->open_mu_);
  for (const auto& [id, s] : impl_->open_) {
    if (!In(f.districts, s.district()) || !In(f.departments, s.department()) ||
        !In(f.categories, s.category()) || !In(f.sources, s.source()))
      continue;
    ++out.open;
    ++out.by_state[std::string(StateName(s.state()))];
    if (!s.paused() && s.deadline_ms() > 0 && s.deadline_ms() < now_ms) ++out.overdue;
  }
  return out;
}

std::vector<v1::CaseAction> Dispatcher::AllowedFor(const v1::Case& c, v1::Role role,
                                                   std::string_view department,
                                                   std::string_view actor_id) const {
  std::vector<v1::CaseAction> out;
  for (v1::CaseAction a : AllowedActions(c, role, department, actor_id)) {
    // Actions people take: the system's own are not offered.
    if (a == v1::CASE_ACTION_ESCALATE || a == v1::CASE_ACTION_ALARM_UPDATE) continue;
    out.push_back(a);
  }
  return out;
}

Status AuditCases(const store::EventStore& store, const SlaPolicy& policy,
                  std::vector<std::string>* problems, uint64_t* cases_checked) {
  *cases_checked = 0;
  std::vector<std::pair<std::string, v1::Case>> cases;
  Status s = store.Scan(Table::kCases, "", "", false,
                                 [&](std::string_view k, std::string_view v) {
                                   v1::Case c;
                                   if (!c.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                                     problems->push_back("case " + std::string(k) +
                                                         ": unreadable record");
                                     return true;
                                   }
                                   cases.emplace_back(std::string(k), std::move(c));
                                   return true;
                                 });
  if (!s.ok()) return s;
  for (const auto& [id, stored] : cases) {
    ++*cases_checked;
    std::vector<v1::JournalEntry> journal;
    if (Status js = ReadJournal(store, id, &journal); !js.ok()) {
      problems->push_back("case " + id + ": journal unreadable: " + js.ToString());
      continue;
    }
    v1::Case replayed;
    if (Status rs = ReplayJournal(journal, policy, &replayed); !rs.ok()) {
      problems->push_back("case " + id + ": " + rs.message());
      continue;
    }
    if (replayed.SerializeAsString() != stored.SerializeAsString()) {
      problems->push_back("case " + id + ": the stored case differs from its journal's replay");
      continue;
    }
    if (stored.journal_head_hash() != journal.back().hash()) {
      problems->push_back("case " + id + ": head hash does not match the journal");
      continue;
    }
    for (const auto& [k, v] : keys::IndexEntries(stored)) {
      std::string got;
      if (!store.Get(Table::kCaseIndex, k, &got).ok() || got != v) {
        problems->push_back("case " + id + ": index entry missing or stale");
        break;
      }
    }
  }
  return Status::Ok();
}

Status Dispatcher::Audit(std::vector<std::string>* problems, uint64_t* cases_checked) const {
  return AuditCases(*impl_->store_, impl_->policy_, problems, cases_checked);
}

uint64_t Dispatcher::Subscribe(Listener listener) {
  std::lock_guard lock(impl_->listeners_mu_);
  const uint64_t id = impl_->next_listener_++;
  impl_->listeners_.emplace(id, std::move(listener));
  return id;
}

void Dispatcher::Unsubscribe(uint64_t id) {
  std::lock_guard lock(impl_->listeners_mu_);
  impl_->listeners_.erase(id);
}

const v1::DispatchConfig& Dispatcher::config() const { return impl_->config_; }
const SlaPolicy& Dispatcher::policy() const { return impl_->policy_; }
uint64_t Dispatcher::cursor() const { return impl_->cursor_.load(); }

}  // namespace yiwang::dispatcher
