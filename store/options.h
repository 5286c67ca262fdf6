#pragma once
// Every tuning knob of the store, with its default. The defaults are what `yiwang serve` uses.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "store/tables.h"

namespace yiwang::store {

// Defined in store/test_hooks.h (tests only; the one store header that names RocksDB types).
struct StoreTestHooks;

struct StoreOptions {
  // Directory of the RocksDB database. Created if missing.
  std::string data_dir = "./data";

  // The tables of the layers above (store/tables.h), each opened (created if missing) with the
  // tuning its TableAccess asks for. Tables found on disk but not listed are opened too, tuned
  // for scans, so any tool can open any data dir. Each pointer must outlive the store (declare
  // tables as constants). Default: none.
  std::vector<const Table*> tables;

  // fsync the WAL before acknowledging (the durability contract, docs/reliability.md).
  // Only benchmarks that measure the cost of durability turn it off.
  bool sync = true;

  // Memory: RocksDB's share of the process is bounded by these two budgets (docs/architecture.md
  // "Memory"), whatever the volume stored. The block cache also holds every SST file's index
  // and filter blocks (L0's pinned), which otherwise grow with the data. Default 128 MiB.
  size_t block_cache_bytes = 128u << 20;
  // All memtables of all column families together: past 7/8 of it RocksDB flushes the largest
  // one early (a WriteBufferManager). Default 256 MiB.
  size_t memtable_budget_bytes = 256u << 20;
  // Memtable size per column family before a flush. Default 64 MiB.
  size_t write_buffer_bytes = 64u << 20;
  // RocksDB background flush/compaction threads. Default 2 (the machine has 2 cores).
  int max_background_jobs = 2;

  // Group commit: the writer thread takes everything queued, up to this many events, into one
  // WriteBatch with one fsync. Default 20,000.
  size_t max_events_per_commit = 20000;
  // Events queued for the writer at most; a Submit beyond it is refused as overloaded so the
  // caller can push back on its client. Default 200,000.
  size_t max_queued_events = 200000;

  // Entries in the writer's device-state cache (saves a read per event). Default 200,000.
  size_t device_cache_entries = 200000;

  // After a disk-full error the store calls RocksDB's Resume() at most this often (on a
  // recovery thread of its own), and the writer tries the write path again after each Resume()
  // that succeeded. Default 1 s.
  std::chrono::milliseconds nospace_retry_interval{1000};
  // A Resume() still running after this long is logged as stuck, every time again after as
  // long. RocksDB 7.8 can hang in Resume() after a flush failed for lack of space (all
  // background threads idle, the flush it waits for never scheduled); ingest then stays
  // refused with storage_full until a restart, which recovers from disk. Default 10 s.
  std::chrono::milliseconds resume_stuck_warning{10000};

  // TESTS ONLY: replaces parts of RocksDB's environment (store/test_hooks.h), e.g. the file
  // system the power-loss test runs the store on. Default null: the real Env. Never set in
  // `yiwang serve`.
  std::shared_ptr<StoreTestHooks> test_hooks;
};

}  // namespace yiwang::store
