#include "dispatcher/dispatcher.h"

#include <algorithm>
#include <thread>

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"
#include "store/key_codec.h"
#include "store/record_scan.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

std::string U64Bytes(uint64_t v) {
  std::string s;
  store::PutFixed64BE(&s, v);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Start-up

Status Dispatcher::Impl::Init() {
  if (Status s = SlaPolicyFromConfig(config_, &policy_); !s.ok()) return s;
  if (Status s = AlarmRules::Create(config_, &rules_); !s.ok()) return s;

  std::string v;
  Status s = store_->Get(tables::kDispatch, kCursorKey, &v);
  if (s.ok() && v.size() == 8) {
    cursor_ = store::DecodeFixed64BE(v.data());
    checkpointed_ = cursor_.load();
  } else if (!s.ok() && s.code() != Status::Code::kNotFound) {
    return s;
  }

  s = store::ScanRecords<v1::AlarmState>(*store_, tables::kAlarms, "", "",
                                         [&](std::string_view k, v1::AlarmState&& st) {
                                           ArmOffline(std::string(k), st);
                                           alarm_states_.emplace(std::string(k), std::move(st));
                                           return true;
                                         });
  if (!s.ok()) return s;

  s = store_->Scan(tables::kTimers, "", "", false, [&](std::string_view k, std::string_view) {
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
    s = store::ScanRecords<v1::CaseSummary>(*store_, tables::kCaseIndex, prefix, end,
                                            [&](std::string_view, v1::CaseSummary&& sum) {
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
  for (auto& [key, row] : b.kpi) b.ws.Put(tables::kKpi, key, row.SerializeAsString());
  for (auto& [day, next] : b.case_seqs) b.ws.Put(tables::kDispatch, "case_seq/" + day, U64Bytes(next));
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
// Public surface

Dispatcher::Dispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dispatcher::~Dispatcher() { Stop(); }

std::unique_ptr<Dispatcher> Dispatcher::Open(store::EventStore* store,
                                             const v1::DispatchConfig& config,
                                             DispatcherOptions options,
                                             std::shared_ptr<spdlog::logger> logger,
                                             Metrics* metrics, Status* status) {
  for (const store::Table* t : tables::kAll) {
    if (!store->HasTable(*t)) {
      *status = Status::InvalidArgument("the store was opened without the dispatcher's table " +
                                        std::string(t->name) + " (dispatcher/tables.h)");
      return nullptr;
    }
  }
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
