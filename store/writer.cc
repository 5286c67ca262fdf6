// The group-commit writer (one thread): takes what is queued, decides each event (duplicate,
// replay, accepted), writes events, idempotency marks and device states in one WriteBatch with
// one fsync, then completes every request.

#include <algorithm>
#include <optional>

#include "base/fail_stop.h"
#include "store/internal/event_store_impl.h"
#include "store/key_codec.h"
#include "store/sensor_catalogue.h"

namespace yiwang::store {

namespace {

// Protobuf's wire format lets fields be appended to a serialised message: the writer adds
// arrival_id (field 3) and, rarely, a flag (field 5) to the bytes prepared on an I/O thread.
void AppendVarintField(std::string* bytes, uint32_t field, uint64_t value) {
  auto put = [bytes](uint64_t v) {
    while (v >= 0x80) {
      bytes->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes->push_back(static_cast<char>(v));
  };
  put(static_cast<uint64_t>(field) << 3);  // wire type 0: varint
  put(value);
}

bool TimestampLess(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// An accepted event's mark on its device's state: counts, times and, unless it fills a gap
// (out of order: older than the newest), its position and reading (the sensor catalogue's).
void KeepInDeviceState(const StoredEvent& se, bool out_of_order, DeviceState* st) {
  const auto& ev = se.event();
  st->set_event_count(st->event_count() + 1);
  if (!st->has_last_seen() || TimestampLess(st->last_seen(), se.received_at()))
    *st->mutable_last_seen() = se.received_at();
  if (out_of_order) return;
  st->set_last_seq(ev.seq());
  *st->mutable_last_observed() = ev.observed_at();
  *st->mutable_location() = ev.location();
  if (const SensorKindInfo* kind = KindOf(ev)) {
    kind->keep_latest(ev, st);
    if (kind->kind != yiwang::v1::SENSOR_KIND_DEVICE_HEALTH)
      st->set_kind(std::string(kind->json_name));
  }
}

}  // namespace

void EventStore::Impl::Submit(IngestRequest req) {
  const size_t n = req.events.size();
  Outcome refusal;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      refusal = Outcome::kStopped;
    } else if (queued_events_ + n > options_.max_queued_events && queued_events_ > 0) {
      refusal = Outcome::kOverloaded;
    } else {
      queued_events_ += n;
      m_queue_events_.Set(static_cast<int64_t>(queued_events_));
      queue_.push_back(std::move(req));
      cv_.notify_one();
      return;
    }
  }
  req.done(std::vector<Outcome>(n, refusal));
}

void EventStore::Impl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  std::unique_lock lock(rmu_);
  recovery_stop_ = true;
  rcv_.notify_all();
  if (!rcv_.wait_for(lock, std::chrono::seconds(5), [&] { return !resuming_; })) {
    // Resume() hangs (a RocksDB bug): the database cannot be closed cleanly. Everything acked
    // is on disk; a restart recovers it.
    FailStop(*log_, "RocksDB Resume() does not return: stopping without closing the database");
  }
  lock.unlock();
  if (recovery_.joinable()) recovery_.join();
}

void EventStore::Impl::WriterLoop() {
  std::vector<IngestRequest> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping and drained
      size_t n = 0;
      while (!queue_.empty() &&
             (batch.empty() || n + queue_.front().events.size() <= options_.max_events_per_commit)) {
        n += queue_.front().events.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= n;
      m_queue_events_.Set(static_cast<int64_t>(queued_events_));
    }
    Commit(batch);
  }
}

DeviceState* EventStore::Impl::WorkingState(
    const std::string& device_id, std::unordered_map<std::string, DeviceState>* working) {
  auto it = working->find(device_id);
  if (it != working->end()) return &it->second;
  DeviceState& st = (*working)[device_id];
  auto cached = device_cache_.find(device_id);
  if (cached != device_cache_.end()) {
    // Moved out, not copied; Commit moves it back after the write (or drops it on failure,
    // and the next commit reads it from the DB again).
    st = std::move(cached->second);
    device_cache_.erase(cached);
    return &st;
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kDevices), device_id, &value);
  if (s.ok()) {
    if (!st.ParseFromString(value)) log_->error("corrupt device state for a device; resetting");
  } else if (!s.IsNotFound()) {
    FailStop(*log_, "reading device state failed: " + s.ToString());
  }
  st.set_device_id(device_id);
  return &st;
}

void EventStore::Impl::Commit(std::vector<IngestRequest>& batch) {
  if (RefuseWhileFull(batch)) return;
  CommitWork w;
  w.outcomes.resize(batch.size());
  w.next_id = next_arrival_id_.load(std::memory_order_relaxed);
  wb_.Clear();
  uint64_t position = 0;
  for (size_t r = 0; r < batch.size(); ++r) {
    IngestRequest& req = batch[r];
    PrepareIngest(&req);  // a no-op when the caller prepared it
    w.outcomes[r].reserve(req.events.size());
    for (size_t i = 0; i < req.events.size(); ++i) w.outcomes[r].push_back(AddEvent(&w, req, i));
    position = std::max(position, req.log_position);
  }
  const bool advances = position > log_position_.load(std::memory_order_relaxed);
  if (w.committed.empty() && !advances) {
    // Nothing to write (only duplicates and replays): the states are unchanged; keep them.
    for (auto& [id, st] : w.working) device_cache_[id] = std::move(st);
  } else {
    AddMarksAndStates(&w);
    if (advances) {
      std::string value;
      PutFixed64BE(&value, position);
      wb_.Put(cf(kMeta), kLogPositionKey, value);
      w.log_position = position;
    }
    double seconds = 0;
    const rocksdb::Status s = WriteGroup(&seconds);
    if (s.IsNoSpace() || (!s.ok() && storage_full_.load())) {
      OnDiskFull(s, &w);
    } else if (!s.ok()) {
      // The WAL may or may not hold the batch; nothing is acked and the process stops so that a
      // restart recovers from what is really on disk.
      FailStop(*log_, "write failed, nothing of it acknowledged: " + s.ToString());
    } else {
      OnCommitted(&w, seconds);
    }
  }
  for (size_t r = 0; r < batch.size(); ++r) batch[r].done(std::move(w.outcomes[r]));
}

bool EventStore::Impl::RefuseWhileFull(std::vector<IngestRequest>& batch) {
  // After a disk-full error: refuse at once until the recovery thread's Resume() succeeded,
  // then try to write again (which may fail again and start another round).
  if (!storage_full_.load() || resumed_.exchange(false)) return false;
  RequestResume();
  for (auto& req : batch) req.done(std::vector<Outcome>(req.events.size(), Outcome::kStorageFull));
  return true;
}

Outcome EventStore::Impl::AddEvent(CommitWork* w, IngestRequest& req, size_t i) {
  StoredEvent& se = req.events[i];
  const auto& ev = se.event();
  DeviceState* st = WorkingState(ev.device_id(), &w->working);
  const uint64_t fp = req.fingerprints[i];
  std::string mark_key = DeviceSeqKey(ev.device_id(), ev.seq());
  bool out_of_order = false;
  if (ev.seq() <= st->last_seq()) {
    // Possibly a resend: look for the idempotency mark (this commit first, then the DB).
    std::optional<SeqMark> existing;
    if (auto p = w->marks.find(mark_key); p != w->marks.end()) {
      existing = p->second;
    } else {
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kDeviceSeq), mark_key, &w->value);
      if (s.ok()) {
        SeqMark m;
        m.ParseFromString(w->value);
        existing = m;
      } else if (!s.IsNotFound()) {
        FailStop(*log_, "reading idempotency mark failed: " + s.ToString());
      }
    }
    if (existing) return existing->fingerprint() == fp ? Outcome::kDuplicate : Outcome::kReplay;
    out_of_order = true;  // a gap being filled: stored, flagged
  }
  se.set_arrival_id(w->next_id++);
  std::string& bytes = req.serialized[i];
  AppendVarintField(&bytes, StoredEvent::kArrivalIdFieldNumber, se.arrival_id());
  if (out_of_order) {
    se.add_flags(yiwang::v1::EVENT_FLAG_OUT_OF_ORDER);
    AppendVarintField(&bytes, StoredEvent::kFlagsFieldNumber, yiwang::v1::EVENT_FLAG_OUT_OF_ORDER);
  }
  SeqMark mark;
  mark.set_arrival_id(se.arrival_id());
  mark.set_fingerprint(fp);
  // Arrival ids ascend, so event keys go into the memtable in order.
  wb_.Put(cf(kEvents), EventKey(se.arrival_id()), bytes);
  w->marks[std::move(mark_key)] = mark;
  w->changed.insert(st);
  KeepInDeviceState(se, out_of_order, st);
  w->committed.push_back(&se);
  return Outcome::kAccepted;
}

void EventStore::Impl::AddMarksAndStates(CommitWork* w) {
  // Marks and device states go into the batch sorted by key: sorted memtable inserts cost
  // markedly less than scattered ones (measured in docs/benchmarks.md).
  std::vector<const std::pair<const std::string, SeqMark>*> marks;
  marks.reserve(w->marks.size());
  for (const auto& kv : w->marks) marks.push_back(&kv);
  std::sort(marks.begin(), marks.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* kv : marks) wb_.Put(cf(kDeviceSeq), kv->first, kv->second.SerializeAsString());
  std::vector<std::pair<const std::string, DeviceState>*> states;
  states.reserve(w->working.size());
  for (auto& kv : w->working)
    if (w->changed.contains(&kv.second)) states.push_back(&kv);
  std::sort(states.begin(), states.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* kv : states) wb_.Put(cf(kDevices), kv->first, kv->second.SerializeAsString());
}

rocksdb::Status EventStore::Impl::WriteGroup(double* seconds) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  const auto t0 = std::chrono::steady_clock::now();
  rocksdb::Status s = db_->Write(wo, &wb_);
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (wb_.GetDataSize() > kMaxKeptBatchBytes) wb_ = rocksdb::WriteBatch();
  return s;
}

void EventStore::Impl::OnDiskFull(const rocksdb::Status& s, CommitWork* w) {
  if (!storage_full_.exchange(true)) log_->error("disk full: refusing ingest ({})", s.ToString());
  m_storage_full_.Inc();
  resumed_ = false;
  RequestResume();
  for (auto& o : w->outcomes)
    for (auto& x : o)
      if (x == Outcome::kAccepted) x = Outcome::kStorageFull;
  // The working states hold readings that were not written: dropped, read again next time.
}

void EventStore::Impl::OnCommitted(CommitWork* w, double seconds) {
  if (storage_full_.exchange(false)) log_->warn("disk space is back: ingest resumed");
  next_arrival_id_.store(w->next_id, std::memory_order_relaxed);
  if (w->log_position) log_position_.store(w->log_position, std::memory_order_relaxed);
  m_commits_.Inc();
  if (options_.sync) m_fsyncs_.Inc();
  m_events_written_.Inc(w->committed.size());
  m_events_per_commit_.Observe(static_cast<double>(w->committed.size()));
  m_commit_seconds_.Observe(seconds);
  if (device_cache_.size() + w->working.size() > options_.device_cache_entries) {
    device_cache_.clear();  // crude but bounded; misses cost one Get per device per commit
  }
  for (auto& [id, st] : w->working) device_cache_[id] = std::move(st);
  if (w->committed.empty()) return;  // only the log position moved
  std::lock_guard observers(observers_mu_);
  for (const auto& [id, obs] : observers_) obs(w->committed);
}

}  // namespace yiwang::store
