#pragma once
// The dispatcher's implementation, shared by the files that hold its parts (private to
// dispatcher/; nothing outside includes it):
//
//   dispatcher.cc     start-up, the thread's loop, commit and publish, the public methods
//   staging.cc        one transition staged into a batch: case, journal, indexes, timers, KPIs
//   judge.cc          stored events through the alarm engine to cases; checkpoints
//   timers.cc         SLA escalations and offline checks
//   intake.cc         operator commands, filings, citizen reports (附议) and ratings
//   case_queries.cc   reads: cases, journals, reports, lists, KPIs, live gauges
//   audit.cc          the hash-chain and replay audit
//
// Thread safety: see Dispatcher::Impl below.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <spdlog/logger.h>

#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"
#include "store/tables.h"

namespace yiwang::dispatcher {

// The actor of the system's own transitions (auto-accept, auto-transfer, alarm updates).
inline constexpr std::string_view kSystemActor = "system:dispatcher";
// The `dispatch` table's key of the event cursor (u64 big-endian arrival id).
inline constexpr std::string_view kCursorKey = "cursor";

inline int64_t Ms(Timestamp t) { return t.time_since_epoch().count(); }
// `v` as 8 big-endian bytes.
std::string U64Bytes(uint64_t v);
// The hour-or-minute window of a dedup rule, as a duration ("24h", "30m"); zero if unset.
Duration DedupWindow(const yiwang::v1::DedupRule& rule);

// A unit of work being assembled: the writes of one WriteSet and what to do once they are
// durable. Cases touched more than once in one batch (a sensor case filed, accepted and
// transferred) are read from `cases`, not the store.
struct PendingBatch {
  store::WriteSet ws;
  std::unordered_map<std::string, yiwang::v1::Case> cases;
  std::unordered_map<std::string, std::optional<std::string>> open_alarms;  // key -> case id
  std::map<std::string, yiwang::v1::KpiCounters> kpi;  // kpi key -> row after this batch
  std::unordered_map<std::string, yiwang::v1::AlarmState> alarms;
  std::vector<yiwang::v1::LiveUpdate> live;
  std::vector<std::function<void()>> after;  // in-memory updates once durable
  std::map<std::string, uint64_t> case_seqs;  // day -> next number
};

// Thread safety: tasks_, stopping_ are guarded by mu_; open_ by open_mu_; listeners_ by
// listeners_mu_; committed_ and cursor_ are atomic. Everything else (alarm states, timers,
// the checkpoint bookkeeping) belongs to the dispatcher thread, which also runs every write.
class Dispatcher::Impl {
 public:
  Impl(store::EventStore* store, yiwang::v1::DispatchConfig config, DispatcherOptions options,
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
                     const std::unordered_map<std::string, yiwang::v1::AlarmState>* newer);
  void CheckpointDone(uint64_t cursor);
  // On stop: writes what is dirty, so a clean restart judges nothing again.
  void FinalCheckpoint();

  // Case access inside a batch.
  Status WorkingCase(PendingBatch& b, const std::string& id, yiwang::v1::Case* out);
  // Applies and stages one transition; the ApplyResult tells whether the machine took it.
  ApplyResult Stage(PendingBatch& b, const std::string& id, yiwang::v1::CaseCommand cmd, Timestamp now);
  std::string NewCaseId(PendingBatch& b, Timestamp now);
  // Files a case and, for sensor cases, accepts and transfers it when routable.
  ApplyResult FileStaged(PendingBatch& b, yiwang::v1::Case filing, const yiwang::v1::CaseCommand& actor,
                         Timestamp now);
  std::optional<std::string> OpenAlarmCase(PendingBatch& b, const std::string& key);
  void OnSignal(PendingBatch& b, const yiwang::v1::AlarmSignal& sig, Timestamp now);
  void OnSignalCases(PendingBatch& b, const yiwang::v1::AlarmSignal& sig, Timestamp now,
                     size_t alarm_at);
  void AddKpi(PendingBatch& b, const std::vector<KpiDelta>& deltas);

  CommandOutcome ExecuteOnThread(const std::string& id, yiwang::v1::CaseCommand cmd);
  CommandOutcome FileOnThread(yiwang::v1::Case filing, const yiwang::v1::CaseCommand& actor);
  ReportOutcome FileReportOnThread(const ReportFiling& f);
  CommandOutcome RateOnThread(const std::string& code, uint32_t stars, std::string comment,
                              bool fixed);
  Status FindNearby(std::string_view category, double lat, double lon, double radius_m,
                    Duration window, Timestamp now,
                    std::vector<std::pair<yiwang::v1::CaseSummary, double>>* out) const;

  void Publish(const std::vector<yiwang::v1::LiveUpdate>& updates);

  store::EventStore* store_;
  yiwang::v1::DispatchConfig config_;
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
  std::unordered_map<std::string, yiwang::v1::AlarmState> alarm_states_;
  // Offline timers: at most one heap entry per device, armed lazily. A device reporting every
  // few seconds moves its deadline with every batch; pushing each new deadline would keep one
  // stale entry per device per batch until its time came (hundreds of MiB in a long run at
  // 10,000 events/s). Instead offline_due_ holds the time of each device's one entry, which may
  // be earlier than its real deadline; when it comes due, ArmOffline re-arms it at the real one.
  using OfflineItem = std::pair<int64_t, std::string>;
  std::priority_queue<OfflineItem, std::vector<OfflineItem>, std::greater<>> offline_;
  std::unordered_map<std::string, int64_t> offline_due_;
  // Arms `device`'s offline timer for its state `st` (none if OfflineAt has no deadline).
  void ArmOffline(const std::string& device, const yiwang::v1::AlarmState& st);
  std::set<std::pair<int64_t, std::string>> sla_timers_;
  // Devices whose alarm state changed since the last checkpoint, and that checkpoint's cursor.
  std::unordered_set<std::string> dirty_;
  uint64_t checkpointed_ = 0;
  std::chrono::steady_clock::time_point next_checkpoint_{};

  // Open cases' summaries (for live gauges and nearby searches): written on the dispatcher
  // thread, read by any thread under open_mu_.
  mutable std::mutex open_mu_;
  std::unordered_map<std::string, yiwang::v1::CaseSummary> open_;

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

}  // namespace yiwang::dispatcher
