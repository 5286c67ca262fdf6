#pragma once
// EventStore's implementation, shared by the files that hold its parts (private to store/):
//
//   event_store.cc   the public methods: reads, tokens, meta, table writes, PrepareIngest
//   open.cc          opening RocksDB: options, column families and their tuning, its log
//   writer.cc        the group-commit writer: queue, idempotency, device states, fsync
//   recovery.cc      resuming after a full disk, on a thread of its own
//
// Thread safety: see EventStore::Impl below.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>
#include <spdlog/logger.h>

#include "store/event_store.h"

namespace yiwang::store {

using yiwang::v1::DeviceState;
using yiwang::v1::SeqMark;
using yiwang::v1::StoredEvent;
using yiwang::v1::TokenRecord;

// The store's own column families, in handles_ order; the upper layers' tables follow.
enum Cf : size_t { kDefault = 0, kEvents, kDeviceSeq, kDevices, kTokens, kMeta, kFirstTable };
inline constexpr const char* kCfNames[kFirstTable] = {"default", "events", "device_seq",
                                                      "devices", "tokens", "meta"};
inline constexpr const char* kSchemaVersion = "1";
// meta: the log position of a cluster core (IngestRequest::log_position), u64 big-endian.
inline constexpr const char* kLogPositionKey = "log_position";

// rocksdb::Status as the project's Status (it never leaves the store).
Status FromRocks(const rocksdb::Status& s);

// One group commit being assembled on the writer thread.
struct CommitWork {
  std::vector<std::vector<Outcome>> outcomes;  // per request, per event
  std::unordered_map<std::string, DeviceState> working;  // the devices of this commit
  std::unordered_set<const DeviceState*> changed;        // states with an accepted event
  std::unordered_map<std::string, SeqMark> marks;        // idempotency marks of this commit
  std::vector<const StoredEvent*> committed;              // accepted, in arrival order
  uint64_t next_id = 0;                                   // the next arrival id
  uint64_t log_position = 0;  // written with this commit (IngestRequest::log_position), or 0
  std::string value;                                      // read buffer, reused
};

// Thread safety: the queue (queue_, queued_events_, stopping_) is guarded by mu_, the
// disk-full recovery state by rmu_ (never held across RocksDB calls). The device cache and
// next_arrival_id_ are touched only by the writer thread (after Open). db_ is thread-safe.
// storage_full_ and resumed_ are atomic.
class EventStore::Impl {
 public:
  Impl(StoreOptions options, std::shared_ptr<spdlog::logger> logger, Metrics* metrics)
      : options_(std::move(options)),
        log_(std::move(logger)),
        metrics_(metrics),
        m_commits_(metrics->GetCounter("yiwang_store_commits_total",
                                       "Group commits (one WriteBatch and one fsync each)")),
        m_fsyncs_(metrics->GetCounter("yiwang_store_fsyncs_total", "Synced WAL writes")),
        m_events_written_(metrics->GetCounter("yiwang_store_events_written_total",
                                              "Events written to RocksDB")),
        m_events_per_commit_(metrics->GetHistogram(
            "yiwang_store_events_per_fsync", "Events carried by one fsync",
            {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000})),
        m_commit_seconds_(metrics->GetHistogram("yiwang_store_commit_seconds",
                                                "Time to write and fsync one group commit",
                                                Metrics::LatencyBuckets())),
        m_queue_events_(metrics->GetGauge("yiwang_store_queued_events",
                                          "Events waiting for the writer")),
        m_storage_full_(metrics->GetCounter("yiwang_store_nospace_errors_total",
                                            "Writes refused because the disk was full")),
        m_write_stopped_(metrics->GetGauge(
            "yiwang_store_rocksdb_write_stopped",
            "1 while RocksDB stops writes (too many L0 files, memtables or pending compaction)")),
        m_delayed_write_rate_(metrics->GetGauge(
            "yiwang_store_rocksdb_delayed_write_rate_bytes",
            "Bytes/s RocksDB slows writes to while it delays them; 0 when not delayed")),
        m_stall_micros_(metrics->GetCounter("yiwang_store_rocksdb_stall_micros_total",
                                            "Microseconds writes waited in RocksDB write stalls")),
        m_pending_compaction_bytes_(metrics->GetGauge(
            "yiwang_store_rocksdb_pending_compaction_bytes",
            "RocksDB's estimate of the bytes compaction must rewrite (all column families)")),
        m_memtable_bytes_(metrics->GetGauge(
            "yiwang_store_rocksdb_memtable_bytes",
            "Memory of all memtables, unflushed and being flushed (bounded by the memtable budget)")),
        m_block_cache_bytes_(metrics->GetGauge(
            "yiwang_store_rocksdb_block_cache_bytes",
            "Memory in the block cache: data, index and filter blocks (bounded by its capacity)")),
        m_block_cache_pinned_bytes_(metrics->GetGauge(
            "yiwang_store_rocksdb_block_cache_pinned_bytes",
            "Part of the block cache in use and unevictable (L0 index and filter blocks, reads)")),
        m_table_readers_bytes_(metrics->GetGauge(
            "yiwang_store_rocksdb_table_readers_bytes",
            "Memory of open SST files' readers outside the block cache")) {}

  // On each /metrics scrape (Metrics::AddScrapeHook): copies RocksDB's stall state and memory
  // use into the metrics above. GetProperty reads memory only, no I/O.
  void ExportRocksDbState();

  // Opens RocksDB (the steps below), recovers the next arrival id; *created if it was new.
  Status Open(bool* created);
  // The database options: logger, statistics, listeners, the memtable budget, test hooks.
  rocksdb::DBOptions DbOptions();
  // A column family's options: compression, the shared block cache, a bloom filter for
  // point lookups, blob files for large values.
  rocksdb::ColumnFamilyOptions ColumnFamilyOptionsFor(
      bool bloom, bool blobs, const std::shared_ptr<rocksdb::Cache>& cache) const;
  // The store's own column families, then the declared tables and those found on disk
  // (*tables, in the order of out's entries after kFirstTable).
  Status ColumnFamilies(bool created, const rocksdb::DBOptions& db_opts,
                        const std::shared_ptr<rocksdb::Cache>& cache,
                        std::vector<rocksdb::ColumnFamilyDescriptor>* out,
                        std::vector<const Table*>* tables);
  // Writes schema_version into a new database, or checks an existing one's.
  Status CheckSchema(bool created);
  // next_arrival_id_ after the last stored event, and log_position_ as committed.
  Status FindNextArrivalId();
  void StartWriter() {
    writer_ = std::thread([this] { WriterLoop(); });
    recovery_ = std::thread([this] { RecoveryLoop(); });
  }
  // Recovery thread: calls Resume() while a disk-full error is unresolved.
  void RecoveryLoop();
  // Writer thread: asks the recovery thread for a Resume(); logs one that is stuck.
  void RequestResume();
  void Submit(IngestRequest req);
  void Stop();
  void WriterLoop();
  // One group commit (writer thread): the steps below, in order.
  void Commit(std::vector<IngestRequest>& batch);
  // While the disk is full and no Resume() has succeeded since: refuses the whole batch with
  // storage_full and returns true.
  bool RefuseWhileFull(std::vector<IngestRequest>& batch);
  // Decides one event (duplicate, replay, or accepted: new or filling a gap) and, if accepted,
  // adds its record to the WriteBatch, its idempotency mark to w->marks and its reading to its
  // device's state.
  Outcome AddEvent(CommitWork* w, IngestRequest& req, size_t i);
  // The marks and changed device states into the WriteBatch, sorted by key.
  void AddMarksAndStates(CommitWork* w);
  // Writes the WriteBatch (fsynced when options_.sync); *seconds is how long it took.
  rocksdb::Status WriteGroup(double* seconds);
  // After a write refused for lack of space: every accepted event becomes storage_full.
  void OnDiskFull(const rocksdb::Status& s, CommitWork* w);
  // After a durable write: counters, the device cache, the commit observers.
  void OnCommitted(CommitWork* w, double seconds);
  // Loads a device's state for the current commit (working set, then cache, then DB).
  DeviceState* WorkingState(const std::string& device_id,
                            std::unordered_map<std::string, DeviceState>* working);

  rocksdb::ColumnFamilyHandle* cf(size_t c) const { return handles_[c]; }
  // The column family of an upper layer's table, or nullptr if it is not open. Declared
  // constants are found by address; another Table of the same name by name.
  rocksdb::ColumnFamilyHandle* cf(const Table& t) const {
    for (const auto& [table, handle] : tables_)
      if (table == &t) return handle;
    for (const auto& [table, handle] : tables_)
      if (table->name == t.name) return handle;
    return nullptr;
  }

  StoreOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  Metrics* metrics_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  uint64_t scrape_hook_ = 0;      // 0: none registered
  uint64_t stall_micros_seen_ = 0;  // STALL_MICROS already added to m_stall_micros_ (hook only)
  // Tests only (StoreOptions::test_hooks): the Env over the test's FileSystem. Declared before
  // db_ so that it outlives the database.
  std::unique_ptr<rocksdb::Env> test_env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // kCfNames, then the tables
  // The open tables: handles_[kFirstTable + i] is tables_[i]'s. Written by Open only.
  std::vector<std::pair<const Table*, rocksdb::ColumnFamilyHandle*>> tables_;
  // Tables found on disk but not declared (opened for scans), owned here.
  std::vector<std::unique_ptr<Table>> undeclared_;
  std::deque<std::string> undeclared_names_;  // a deque: the tables view its strings
  std::atomic<uint64_t> next_arrival_id_{1};
  std::atomic<uint64_t> log_position_{0};  // written by the writer thread only
  std::atomic<bool> storage_full_{false};
  bool created_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IngestRequest> queue_;
  size_t queued_events_ = 0;
  bool stopping_ = false;
  std::thread writer_;
  // Held while the writer calls the observers, so that RemoveCommitObserver waits for a call.
  std::mutex observers_mu_;
  std::map<uint64_t, CommitObserver> observers_;
  uint64_t next_observer_id_ = 1;

  // Recovery from a full disk: guarded by rmu_. Resume() runs on recovery_, never on the
  // writer, because RocksDB's Resume() can hang (see StoreOptions::resume_stuck_warning): the
  // writer must go on answering storage_full.
  std::mutex rmu_;
  std::condition_variable rcv_;
  bool recovery_wanted_ = false;
  bool recovery_stop_ = false;
  bool resuming_ = false;
  std::chrono::steady_clock::time_point resuming_since_{};
  std::chrono::steady_clock::time_point next_stuck_warning_{};
  std::thread recovery_;
  // Set by the recovery thread after a Resume() that succeeded; the writer then tries to write.
  std::atomic<bool> resumed_{false};

  // Writer thread only.
  std::unordered_map<std::string, DeviceState> device_cache_;
  // The commit's WriteBatch, cleared and reused: its buffer keeps its capacity, so a commit
  // does not grow a fresh one by doubling (megabytes for a commit of gateway frames: the
  // copies and page faults of the growth were a quarter of the writer's time at 20 x 100).
  // Released after a commit bigger than kMaxKeptBatchBytes, so a burst does not pin memory.
  static constexpr size_t kMaxKeptBatchBytes = 16u << 20;
  rocksdb::WriteBatch wb_;

  Counter& m_commits_;
  Counter& m_fsyncs_;
  Counter& m_events_written_;
  Histogram& m_events_per_commit_;
  Histogram& m_commit_seconds_;
  Gauge& m_queue_events_;
  Counter& m_storage_full_;
  Gauge& m_write_stopped_;
  Gauge& m_delayed_write_rate_;
  Counter& m_stall_micros_;
  Gauge& m_pending_compaction_bytes_;
  Gauge& m_memtable_bytes_;
  Gauge& m_block_cache_bytes_;
  Gauge& m_block_cache_pinned_bytes_;
  Gauge& m_table_readers_bytes_;
};

}  // namespace yiwang::store
