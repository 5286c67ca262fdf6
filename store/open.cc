// Opening the database: RocksDB's options, the column families and how each is tuned, its
// log (into the store's logger), and its state in /metrics.

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include "store/internal/event_store_impl.h"
#include "store/key_codec.h"
#include "store/test_hooks.h"

namespace yiwang::store {

namespace {

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

}  // namespace

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

  const rocksdb::DBOptions db_opts = DbOptions();
  const auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  std::vector<const Table*> tables;
  if (Status cs = ColumnFamilies(*created, db_opts, cache, &descs, &tables); !cs.ok()) return cs;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_opts, options_.data_dir, descs, &handles_, &raw);
  if (!s.ok()) return FromRocks(s);
  db_.reset(raw);
  for (size_t i = 0; i < tables.size(); ++i)
    tables_.emplace_back(tables[i], handles_[kFirstTable + i]);
  if (Status cs = CheckSchema(*created); !cs.ok()) return cs;
  if (Status ns = FindNextArrivalId(); !ns.ok()) return ns;
  log_->info("opened {} ({}), {} events stored", options_.data_dir,
             *created ? "created" : "recovered", next_arrival_id_.load() - 1);
  return Status::Ok();
}

rocksdb::DBOptions EventStore::Impl::DbOptions() {
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

  // One memtable budget across all column families (StoreOptions::memtable_budget_bytes):
  // without it each column family may hold up to 2 x write_buffer_bytes.
  db_opts.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options_.memtable_budget_bytes);
  return db_opts;
}

rocksdb::ColumnFamilyOptions EventStore::Impl::ColumnFamilyOptionsFor(
    bool bloom, bool blobs, const std::shared_ptr<rocksdb::Cache>& cache) const {
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
}

Status EventStore::Impl::ColumnFamilies(bool created, const rocksdb::DBOptions& db_opts,
                                        const std::shared_ptr<rocksdb::Cache>& cache,
                                        std::vector<rocksdb::ColumnFamilyDescriptor>* out,
                                        std::vector<const Table*>* tables) {
  auto cf_options = [&](bool bloom, bool blobs) {
    return ColumnFamilyOptionsFor(bloom, blobs, cache);
  };
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
    out->emplace_back(kCfNames[i], cf_opts);
  }
  // The upper layers' tables: those declared, then those on disk that nobody declared.
  auto listed = [&](std::string_view name) {
    if (std::find(std::begin(kCfNames), std::end(kCfNames), name) != std::end(kCfNames))
      return true;
    return std::any_of(tables->begin(), tables->end(),
                       [&](const Table* t) { return t->name == name; });
  };
  for (const Table* t : options_.tables)
    if (!listed(t->name)) tables->push_back(t);
  std::vector<std::string> on_disk;
  if (!created) {
    rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_opts, options_.data_dir, &on_disk);
    if (!ls.ok()) return FromRocks(ls);
  }
  for (const std::string& name : on_disk) {
    if (listed(name)) continue;
    undeclared_names_.push_back(name);
    undeclared_.push_back(
        std::make_unique<Table>(Table{undeclared_names_.back(), TableAccess::kScans}));
    tables->push_back(undeclared_.back().get());
  }
  for (const Table* t : *tables) {
    out->emplace_back(std::string(t->name), cf_options(t->access != TableAccess::kScans,
                                                       t->access == TableAccess::kLargeValues));
  }
  return Status::Ok();
}

Status EventStore::Impl::CheckSchema(bool created) {
  rocksdb::Status s;
  if (created) {
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

  return Status::Ok();
}

Status EventStore::Impl::FindNextArrivalId() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  it->SeekToLast();
  if (it->Valid()) {
    auto id = ParseEventKey(it->key().ToStringView());
    if (!id) return Status::Corruption("bad events key");
    next_arrival_id_ = *id + 1;
  }
  if (!it->status().ok()) return FromRocks(it->status());
  std::string position;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), kLogPositionKey, &position);
  if (s.ok()) {
    if (position.size() != 8) return Status::Corruption("bad log_position");
    log_position_ = DecodeFixed64BE(position.data());
  } else if (!s.IsNotFound()) {
    return FromRocks(s);
  }
  return Status::Ok();
}

}  // namespace yiwang::store
