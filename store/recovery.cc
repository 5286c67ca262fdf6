// Recovery from a full disk: RocksDB's Resume() on a thread of its own, at most once per
// StoreOptions::nospace_retry_interval, never on the writer (it can hang in RocksDB 7.8).

#include "base/fail_stop.h"
#include "store/internal/event_store_impl.h"

namespace yiwang::store {

void EventStore::Impl::RecoveryLoop() {
  std::unique_lock lock(rmu_);
  for (;;) {
    rcv_.wait(lock, [&] { return recovery_wanted_ || recovery_stop_; });
    if (recovery_stop_) return;
    if (rcv_.wait_for(lock, options_.nospace_retry_interval, [&] { return recovery_stop_; }))
      return;
    resuming_ = true;
    resuming_since_ = std::chrono::steady_clock::now();
    next_stuck_warning_ = resuming_since_ + options_.resume_stuck_warning;
    lock.unlock();
    // RocksDB stops writes after a NoSpace background error until Resume() succeeds; it
    // flushes the memtables and starts a new WAL. Without a background error it returns OK.
    rocksdb::Status rs = db_->Resume();
    lock.lock();
    resuming_ = false;
    rcv_.notify_all();
    if (rs.ok()) {
      recovery_wanted_ = false;
      resumed_ = true;
    } else {
      log_->debug("resume after disk full: {}", rs.ToString());
    }
  }
}

void EventStore::Impl::RequestResume() {
  std::lock_guard lock(rmu_);
  recovery_wanted_ = true;
  rcv_.notify_all();
  const auto now = std::chrono::steady_clock::now();
  if (resuming_ && now >= next_stuck_warning_) {
    next_stuck_warning_ = now + options_.resume_stuck_warning;
    log_->error(
        "RocksDB Resume() has not returned for {} s (a known RocksDB hang after a failed "
        "flush); ingest stays refused with storage_full until the server is restarted",
        std::chrono::duration_cast<std::chrono::seconds>(now - resuming_since_).count());
  }
}

}  // namespace yiwang::store
