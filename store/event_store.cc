#include "store/event_store.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include "base/digest.h"
#include "base/fail_stop.h"
#include "store/key_codec.h"
#include "store/sensor_catalogue.h"
#include "store/test_hooks.h"

namespace yiwang::store {

using yiwang::v1::DeviceState;
using yiwang::v1::SeqMark;
using yiwang::v1::StoredEvent;
using yiwang::v1::TokenRecord;

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kDuplicate: return "duplicate";
    case Outcome::kReplay: return "replay";
    case Outcome::kStorageFull: return "storage_full";
    case Outcome::kOverloaded: return "overloaded";
    case Outcome::kStopped: return "stopped";
  }
  return "unknown";
}

std::string TokenHash(std::string_view token) { return Sha256(token); }

namespace {

// The bytes of field 1 (`event`) at the start of a serialised StoredEvent, or nullopt if it
// does not start with it. Protobuf writes known fields in field-number order, and a message
// nested in another is written exactly as it would be alone (deterministic serialisation
// differs only in map order, and SensorEvent has no maps): these are the bytes
// EventFingerprint hashes.
std::optional<std::string_view> LeadingEventBytes(std::string_view stored) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(stored.data()),
                                            static_cast<int>(stored.size()));
  uint32_t len = 0;
  if (in.ReadTag() != WireFormatLite::MakeTag(StoredEvent::kEventFieldNumber,
                                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED) ||
      !in.ReadVarint32(&len))
    return std::nullopt;
  const auto start = static_cast<size_t>(in.CurrentPosition());
  if (len > stored.size() - start) return std::nullopt;
  return stored.substr(start, len);
}

}  // namespace

uint64_t EventFingerprint(const yiwang::v1::SensorEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&cos);
  }
  return Fnv1a64(bytes);
}

void PrepareIngest(IngestRequest* req) {
  if (req->serialized.size() == req->events.size()) return;
  req->serialized.clear();
  req->fingerprints.clear();
  req->serialized.reserve(req->events.size());
  req->fingerprints.reserve(req->events.size());
  for (const auto& se : req->events) {
    std::string& bytes = req->serialized.emplace_back(se.SerializeAsString());
    // The event is serialised once: its fingerprint hashes its bytes inside the StoredEvent's.
    const auto event_bytes = LeadingEventBytes(bytes);
    req->fingerprints.push_back(event_bytes ? Fnv1a64(*event_bytes) : EventFingerprint(se.event()));
  }
}

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

// The store's own column families, in handles_ order; the upper layers' tables follow.
enum Cf : size_t { kDefault = 0, kEvents, kDeviceSeq, kDevices, kTokens, kMeta, kFirstTable };
constexpr const char* kCfNames[kFirstTable] = {"default", "events", "device_seq",
                                               "devices", "tokens", "meta"};
constexpr const char* kSchemaVersion = "1";

// The memtable keeps an insert hint per prefix (memtable_insert_with_hint_prefix_extractor):
// keys that arrive in order under one prefix are appended next to the previous one instead of
// being searched for from the top of the skip list. For `events` every key shares the prefix
// (arrival ids ascend); for `device_seq` the prefix is the device (its seqs ascend); for
// `devices` it is the whole key (each commit writes a new version of a device's state, which
// goes right before the previous one).
class DeviceSeqHintPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "yiwang.DeviceSeqHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 1 + static_cast<uint8_t>(key[0]));
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return !key.empty() && key.size() >= 1u + static_cast<uint8_t>(key[0]);
  }
};

class DeviceStateHintPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "yiwang.DeviceStateHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override { return key; }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

class WholeKeyspacePrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "yiwang.WholeKeyspacePrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 0);
  }
  bool InDomain(const rocksdb::Slice&) const override { return true; }
};

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace(s.ToString());
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(s.ToString());
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(s.ToString());
  return Status::IOError(s.ToString());
}

// RocksDB's own log goes to the store's spdlog logger instead of a LOG file in the data dir.
// A LOG file on the data disk breaks disk-full handling: once one of its writes fails with
// ENOSPC, the next line RocksDB logs (the SstFileManager's recovery thread logs as soon as
// space returns) hits an assert in WritableFileWriter and aborts the process (Debian's
// librocksdb keeps asserts). Found by the disk-full fault test.
class SpdlogRocksLogger final : public rocksdb::Logger {
 public:
  SpdlogRocksLogger(std::shared_ptr<spdlog::logger> log, rocksdb::InfoLogLevel level)
      : rocksdb::Logger(level), log_(std::move(log)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    const std::string_view msg(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
    switch (level) {
      case rocksdb::InfoLogLevel::DEBUG_LEVEL: log_->debug("rocksdb: {}", msg); break;
      case rocksdb::InfoLogLevel::WARN_LEVEL: log_->warn("rocksdb: {}", msg); break;
      case rocksdb::InfoLogLevel::ERROR_LEVEL: log_->error("rocksdb: {}", msg); break;
      case rocksdb::InfoLogLevel::FATAL_LEVEL: log_->critical("rocksdb: {}", msg); break;
      default: log_->info("rocksdb: {}", msg); break;
    }
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
};

// The store owns recovery from a full disk: its recovery thread calls DB::Resume() at most every
// nospace_retry_interval. RocksDB's automatic recovery (the SstFileManager's thread) is turned
// off because it waits for free space above a reserve of the memtables' size (64 MiB here)
// and, while it waits, refuses every manual Resume() with Busy: on a small volume ingest would
// never resume. Found by the disk-full fault test.
class ManualNoSpaceRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.IsNoSpace()) *auto_recovery = false;
  }
};

bool TimestampLess(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// One group commit being assembled on the writer thread.
struct CommitWork {
  std::vector<std::vector<Outcome>> outcomes;  // per request, per event
  std::unordered_map<std::string, DeviceState> working;  // the devices of this commit
  std::unordered_set<const DeviceState*> changed;        // states with an accepted event
  std::unordered_map<std::string, SeqMark> marks;        // idempotency marks of this commit
  std::vector<const StoredEvent*> committed;              // accepted, in arrival order
  uint64_t next_id = 0;                                   // the next arrival id
  std::string value;                                      // read buffer, reused
};

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

  Status Open(bool* created);
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

void EventStore::Impl::ExportRocksDbState() {
  uint64_t v = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &v))
    m_write_stopped_.Set(static_cast<int64_t>(v));
  if (db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &v))
    m_delayed_write_rate_.Set(static_cast<int64_t>(v));
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimatePendingCompactionBytes, &v))
    m_pending_compaction_bytes_.Set(static_cast<int64_t>(v));
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &v))
    m_memtable_bytes_.Set(static_cast<int64_t>(v));
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &v))
    m_table_readers_bytes_.Set(static_cast<int64_t>(v));
  // One cache for every column family: any handle reports it.
  if (db_->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &v))
    m_block_cache_bytes_.Set(static_cast<int64_t>(v));
  if (db_->GetIntProperty(rocksdb::DB::Properties::kBlockCachePinnedUsage, &v))
    m_block_cache_pinned_bytes_.Set(static_cast<int64_t>(v));
  const uint64_t stalled = statistics_->getTickerCount(rocksdb::STALL_MICROS);
  if (stalled > stall_micros_seen_) m_stall_micros_.Inc(stalled - stall_micros_seen_);
  stall_micros_seen_ = stalled;
}

Status EventStore::Impl::Open(bool* created) {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return Status::IOError("cannot create " + options_.data_dir + ": " + ec.message());
  *created = !std::filesystem::exists(std::filesystem::path(options_.data_dir) / "CURRENT");

  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = options_.max_background_jobs;
  db_opts.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_opts.info_log =
      std::make_shared<SpdlogRocksLogger>(log_, rocksdb::InfoLogLevel::WARN_LEVEL);
  db_opts.listeners.push_back(std::make_shared<ManualNoSpaceRecovery>());
  // One writer thread does all ingest writes; pipelined writes only add overhead.
  db_opts.enable_pipelined_write = false;
  // Tickers only (STALL_MICROS for /metrics): no histograms, no timers on the write path.
  statistics_ = rocksdb::CreateDBStatistics();
  statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  db_opts.statistics = statistics_;
  if (options_.test_hooks && options_.test_hooks->file_system) {
    test_env_ = rocksdb::NewCompositeEnv(options_.test_hooks->file_system);
    db_opts.env = test_env_.get();
  }

  auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  // One memtable budget across all column families (StoreOptions::memtable_budget_bytes):
  // without it each column family may hold up to 2 x write_buffer_bytes.
  db_opts.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options_.memtable_budget_bytes);
  auto cf_options = [&](bool bloom, bool blobs) {
    rocksdb::ColumnFamilyOptions cf_opts;
    cf_opts.write_buffer_size = options_.write_buffer_bytes;
    cf_opts.compression = rocksdb::kLZ4Compression;
    cf_opts.bottommost_compression = rocksdb::kZSTD;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    // Index and filter blocks live in the block cache, under its capacity, instead of beside it
    // in every open table reader (they grow with the data stored: ~12 bits per key and an index
    // entry per 4 KiB block). L0's stay pinned: they are read on every lookup.
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    if (blobs) {
      // Large values (photos) go to blob files: compaction moves their keys, not them.
      cf_opts.enable_blob_files = true;
      cf_opts.min_blob_size = 4096;
      cf_opts.compression = rocksdb::kNoCompression;  // JPEG/PNG/WebP are compressed already
      cf_opts.bottommost_compression = rocksdb::kNoCompression;
    }
    return cf_opts;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (size_t i = 0; i < kFirstTable; ++i) {
    // Point lookups on every duplicate check and device update, and token check.
    rocksdb::ColumnFamilyOptions cf_opts =
        cf_options(i == kDeviceSeq || i == kDevices || i == kTokens, false);
    if (i == kEvents) {
      cf_opts.memtable_insert_with_hint_prefix_extractor =
          std::make_shared<WholeKeyspacePrefix>();
    } else if (i == kDeviceSeq) {
      cf_opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<DeviceSeqHintPrefix>();
    } else if (i == kDevices) {
      cf_opts.memtable_insert_with_hint_prefix_extractor =
          std::make_shared<DeviceStateHintPrefix>();
    }
    descs.emplace_back(kCfNames[i], cf_opts);
  }
  // The upper layers' tables: those declared, then those on disk that nobody declared.
  std::vector<const Table*> tables;
  auto listed = [&](std::string_view name) {
    if (std::find(std::begin(kCfNames), std::end(kCfNames), name) != std::end(kCfNames))
      return true;
    return std::any_of(tables.begin(), tables.end(),
                       [&](const Table* t) { return t->name == name; });
  };
  for (const Table* t : options_.tables)
    if (!listed(t->name)) tables.push_back(t);
  std::vector<std::string> on_disk;
  if (!*created) {
    rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_opts, options_.data_dir, &on_disk);
    if (!ls.ok()) return FromRocks(ls);
  }
  for (const std::string& name : on_disk) {
    if (listed(name)) continue;
    undeclared_names_.push_back(name);
    undeclared_.push_back(
        std::make_unique<Table>(Table{undeclared_names_.back(), TableAccess::kScans}));
    tables.push_back(undeclared_.back().get());
  }
  for (const Table* t : tables) {
    descs.emplace_back(std::string(t->name),
                       cf_options(t->access != TableAccess::kScans,
                                  t->access == TableAccess::kLargeValues));
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_opts, options_.data_dir, descs, &handles_, &raw);
  if (!s.ok()) return FromRocks(s);
  db_.reset(raw);
  for (size_t i = 0; i < tables.size(); ++i)
    tables_.emplace_back(tables[i], handles_[kFirstTable + i]);

  if (*created) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Put(wo, cf(kMeta), "schema_version", kSchemaVersion);
    if (!s.ok()) return FromRocks(s);
  } else {
    std::string version;
    s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), "schema_version", &version);
    if (!s.ok()) return Status::Corruption("no schema_version in " + options_.data_dir);
    if (version != kSchemaVersion)
      return Status::InvalidArgument("schema_version " + version + ", this build reads " +
                                     kSchemaVersion);
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  it->SeekToLast();
  if (it->Valid()) {
    auto id = ParseEventKey(it->key().ToStringView());
    if (!id) return Status::Corruption("bad events key");
    next_arrival_id_ = *id + 1;
  }
  if (!it->status().ok()) return FromRocks(it->status());
  log_->info("opened {} ({}), {} events stored", options_.data_dir,
             *created ? "created" : "recovered", next_arrival_id_.load() - 1);
  return Status::Ok();
}

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
  for (size_t r = 0; r < batch.size(); ++r) {
    IngestRequest& req = batch[r];
    PrepareIngest(&req);  // a no-op when the caller prepared it
    w.outcomes[r].reserve(req.events.size());
    for (size_t i = 0; i < req.events.size(); ++i) w.outcomes[r].push_back(AddEvent(&w, req, i));
  }
  if (w.committed.empty()) {
    // Nothing to write (only duplicates and replays): the states are unchanged; keep them.
    for (auto& [id, st] : w.working) device_cache_[id] = std::move(st);
  } else {
    AddMarksAndStates(&w);
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
  m_commits_.Inc();
  if (options_.sync) m_fsyncs_.Inc();
  m_events_written_.Inc(w->committed.size());
  m_events_per_commit_.Observe(static_cast<double>(w->committed.size()));
  m_commit_seconds_.Observe(seconds);
  if (device_cache_.size() + w->working.size() > options_.device_cache_entries) {
    device_cache_.clear();  // crude but bounded; misses cost one Get per device per commit
  }
  for (auto& [id, st] : w->working) device_cache_[id] = std::move(st);
  std::lock_guard observers(observers_mu_);
  for (const auto& [id, obs] : observers_) obs(w->committed);
}

// ---------------------------------------------------------------------------------------------

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventStore::~EventStore() {
  if (impl_->scrape_hook_ != 0) impl_->metrics_->RemoveScrapeHook(impl_->scrape_hook_);
  impl_->Stop();
  for (auto* h : impl_->handles_) impl_->db_->DestroyColumnFamilyHandle(h);
  impl_->handles_.clear();
  if (impl_->db_) {
    rocksdb::Status s = impl_->db_->Close();
    if (!s.ok()) impl_->log_->warn("close: {}", s.ToString());
  }
}

std::unique_ptr<EventStore> EventStore::Open(const StoreOptions& options,
                                             std::shared_ptr<spdlog::logger> logger,
                                             Metrics* metrics, Status* status) {
  auto impl = std::make_unique<Impl>(options, std::move(logger), metrics);
  bool created = false;
  *status = impl->Open(&created);
  if (!status->ok()) {
    for (auto* h : impl->handles_) impl->db_->DestroyColumnFamilyHandle(h);
    impl->handles_.clear();
    return nullptr;
  }
  impl->created_ = created;
  Impl* raw = impl.get();
  impl->scrape_hook_ = metrics->AddScrapeHook([raw] { raw->ExportRocksDbState(); });
  impl->StartWriter();
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

bool EventStore::created() const { return impl_->created_; }
void EventStore::SubmitIngest(IngestRequest req) { impl_->Submit(std::move(req)); }
uint64_t EventStore::AddCommitObserver(CommitObserver observer) {
  std::lock_guard lock(impl_->observers_mu_);
  const uint64_t id = impl_->next_observer_id_++;
  impl_->observers_.emplace(id, std::move(observer));
  return id;
}
void EventStore::RemoveCommitObserver(uint64_t id) {
  std::lock_guard lock(impl_->observers_mu_);
  impl_->observers_.erase(id);
}
void EventStore::StopWriter() { impl_->Stop(); }
bool EventStore::storage_full() const { return impl_->storage_full_.load(); }
uint64_t EventStore::EventCount() const { return impl_->next_arrival_id_.load() - 1; }

Status EventStore::GetDevice(std::string_view device_id, DeviceState* out) const {
  if (device_id.empty() || device_id.size() > kMaxDeviceIdLength)
    return Status::NotFound("no such device");
  std::string value;
  rocksdb::Status s =
      impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kDevices), device_id, &value);
  if (!s.ok()) return FromRocks(s);
  if (!out->ParseFromString(value)) return Status::Corruption("device state");
  return Status::Ok();
}

Status EventStore::ListDeviceEvents(std::string_view device_id, uint64_t before_seq, size_t limit,
                                    std::vector<StoredEvent>* out, uint64_t* next_before) const {
  *next_before = 0;
  out->clear();
  if (device_id.empty() || device_id.size() > kMaxDeviceIdLength || limit == 0 ||
      before_seq == 1)
    return Status::Ok();
  const std::string prefix = DeviceSeqPrefix(device_id);
  std::string start = before_seq == 0 ? DeviceSeqKey(device_id, UINT64_MAX)
                                      : DeviceSeqKey(device_id, before_seq - 1);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kDeviceSeq)));
  std::vector<std::string> keys;
  uint64_t last_seq = 0;
  for (it->SeekForPrev(start); it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (keys.size() == limit) {
      *next_before = last_seq;
      break;
    }
    auto ds = ParseDeviceSeqKey(it->key().ToStringView());
    SeqMark mark;
    if (!ds || !mark.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::Corruption("device_seq entry");
    last_seq = ds->seq;
    keys.push_back(EventKey(mark.arrival_id()));
  }
  if (!it->status().ok()) return FromRocks(it->status());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(keys.size(), impl_->cf(kEvents));
  std::vector<rocksdb::Status> st = impl_->db_->MultiGet(rocksdb::ReadOptions(), cfs, slices, &values);
  out->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!st[i].ok()) return FromRocks(st[i]);
    if (!(*out)[i].ParseFromString(values[i])) return Status::Corruption("event record");
  }
  return Status::Ok();
}

Status EventStore::ScanEvents(uint64_t from, size_t limit, std::vector<StoredEvent>* out) const {
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kEvents)));
  for (it->Seek(EventKey(from)); it->Valid() && out->size() < limit; it->Next()) {
    StoredEvent e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::Corruption("event record");
    out->push_back(std::move(e));
  }
  return FromRocks(it->status());
}

Status EventStore::PutToken(std::string_view token, const TokenRecord& record) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      impl_->db_->Put(wo, impl_->cf(kTokens), TokenHash(token), record.SerializeAsString()));
}

Status EventStore::LookupToken(std::string_view token, TokenRecord* out) const {
  std::string value;
  rocksdb::Status s =
      impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kTokens), TokenHash(token), &value);
  if (!s.ok()) return FromRocks(s);
  if (!out->ParseFromString(value)) return Status::Corruption("token record");
  return Status::Ok();
}

Status EventStore::GetMeta(std::string_view name, std::string* value) const {
  return FromRocks(impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), name, value));
}

Status EventStore::PutMeta(std::string_view name, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db_->Put(wo, impl_->cf(kMeta), name, value));
}

Status EventStore::Write(const WriteSet& changes, bool sync) {
  if (changes.empty()) return Status::Ok();
  // After a disk-full error, refuse at once until the recovery thread's Resume() succeeded
  // (Resume() never runs here: it can hang, see the recovery thread).
  if (impl_->storage_full_.load() && !impl_->resumed_.load()) {
    impl_->RequestResume();
    return Status::NoSpace("disk full: waiting for space");
  }
  rocksdb::WriteBatch wb;
  for (const auto& op : changes.ops()) {
    auto* h = impl_->cf(*op.table);
    if (!h) return Status::InvalidArgument("table " + std::string(op.table->name) + " is not open");
    rocksdb::Status s = op.erase ? wb.Delete(h, op.key) : wb.Put(h, op.key, op.value);
    if (!s.ok()) return FromRocks(s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync && impl_->options_.sync;
  rocksdb::Status s = impl_->db_->Write(wo, &wb);
  if (s.ok()) {
    if (wo.sync) impl_->m_fsyncs_.Inc();
    if (impl_->storage_full_.exchange(false)) impl_->log_->warn("disk space is back: writes resumed");
    return Status::Ok();
  }
  if (s.IsNoSpace() || impl_->storage_full_.load()) {
    if (!impl_->storage_full_.exchange(true))
      impl_->log_->error("disk full: refusing writes ({})", s.ToString());
    impl_->m_storage_full_.Inc();
    impl_->resumed_ = false;
    impl_->RequestResume();
    return Status::NoSpace(s.ToString());
  }
  FailStop(*impl_->log_, "table write failed: " + s.ToString());
}

bool EventStore::HasTable(const Table& table) const { return impl_->cf(table) != nullptr; }

Status EventStore::Get(const Table& table, std::string_view key, std::string* value) const {
  auto* h = impl_->cf(table);
  if (!h) return Status::InvalidArgument("table " + std::string(table.name) + " is not open");
  return FromRocks(impl_->db_->Get(rocksdb::ReadOptions(), h, key, value));
}

Status EventStore::Scan(const Table& table, std::string_view begin, std::string_view end,
                        bool reverse, const Visitor& visit) const {
  auto* h = impl_->cf(table);
  if (!h) return Status::InvalidArgument("table " + std::string(table.name) + " is not open");
  std::unique_ptr<rocksdb::Iterator> it(impl_->db_->NewIterator(rocksdb::ReadOptions(), h));
  const rocksdb::Slice lo(begin.data(), begin.size());
  const rocksdb::Slice hi(end.data(), end.size());
  if (!reverse) {
    for (it->Seek(lo); it->Valid(); it->Next()) {
      if (!end.empty() && it->key().compare(hi) >= 0) break;
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  } else {
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(hi);
      if (it->Valid() && it->key().compare(hi) >= 0) it->Prev();
    }
    for (; it->Valid(); it->Prev()) {
      if (it->key().compare(lo) < 0) break;
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  }
  return FromRocks(it->status());
}

}  // namespace yiwang::store
