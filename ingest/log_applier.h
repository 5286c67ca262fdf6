#pragma once
// LogApplier: a cluster core's intake (docs/cluster.md): the sensor events the gateways put into
// the log, applied into the core's own store in the log's order, from the store's
// LogPosition() + 1 on. Where the single process's sensor endpoint submits frames, the applier
// submits what it read of the log, with the sequence of its last message as the request's
// log_position: the store commits the events and the position in one WriteBatch, so after any
// crash the core resumes exactly after what it committed. The store's (deviceId, seq) check
// drops what the log holds twice (a resend the gateway packed with other events).
//
// One request at a time: while one commits, the next gathers what arrived (up to
// max_events_per_request), so catching up applies the history in large commits and a live core
// applies each message within one commit. A request the store refuses (disk full, stopping) is
// retried as it was, never skipped: positions only move over what is committed.
//
// Thread safety: caught_up/WaitCaughtUp from any thread; the applier's work runs on its own
// thread, started by the constructor and stopped by the destructor (after the request in flight
// is answered).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "store/event_store.h"
#include "store/log/follower.h"
#include "store/log/jetstream.h"

namespace yiwang::ingest {

struct LogApplierOptions {
  size_t max_events_per_request = 20000;
  std::chrono::milliseconds retry_wait{200};  // after the log or the store refused
};

class LogApplier {
 public:
  // REQUIRES: `log`, `store` and `metrics` outlive the applier.
  LogApplier(log::JetStreamLog* log, store::EventStore* store, Metrics* metrics,
             std::shared_ptr<spdlog::logger> logger, LogApplierOptions options = {});
  ~LogApplier();
  LogApplier(const LogApplier&) = delete;
  LogApplier& operator=(const LogApplier&) = delete;

  // True once everything the stream held when the applier started is applied.
  bool caught_up() const { return caught_up_.load(); }
  // Waits until caught_up() (true) or `timeout` (false).
  bool WaitCaughtUp(std::chrono::milliseconds timeout) const;

 private:
  void Run();
  // Reads messages after the store's position into *batch: waits for the first, then takes
  // what is there up to max_events_per_request. False if the follower failed (restart it).
  bool Gather(log::LogFollower& follower, std::vector<log::LogMessage>* batch);
  // Commits `batch` (retrying what the store refuses) unless stopping first.
  void Apply(const std::vector<log::LogMessage>& batch);
  // The events of `batch` as one request; messages that do not parse are logged and skipped.
  store::IngestRequest Request(const std::vector<log::LogMessage>& batch);
  void MarkCaughtUp();

  log::JetStreamLog* const log_;
  store::EventStore* const store_;
  const LogApplierOptions options_;
  std::shared_ptr<spdlog::logger> log_out_;
  uint64_t target_ = 0;     // the stream's last sequence when the applier started
  uint64_t pending_ = 0;    // messages after the last one read, as the server said
  std::atomic<bool> stop_{false};
  std::atomic<bool> caught_up_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;

  Counter& m_messages_;
  Counter& m_unreadable_;
  Counter& m_accepted_;
  Counter& m_duplicates_;
  Counter& m_replays_;
  Counter& m_retries_;
  Gauge& m_position_;
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace yiwang::ingest
