#pragma once
// EventStore: the RocksDB database behind everything, and the group-commit writer that is the
// only path by which sensor events are written.
//
// Column families (key layout in store/key_codec.h and docs/architecture.md):
//   events      arrival_id -> StoredEvent        every accepted event, in arrival order
//   device_seq  device,seq -> SeqMark            idempotency mark and per-device index
//   devices     device     -> DeviceState        last seq, last seen, latest readings
//   tokens      sha256     -> TokenRecord        device and admin bearer tokens
//   meta        name       -> bytes              schema version, bootstrap marker
//
// Durability: an ingest commit completes (its callback runs) only after the WriteBatch holding
// the events, their idempotency marks and the device states is in the WAL and fsynced. An fsync
// or write error other than disk-full stops the process (fail-stop): the disk state is unknown.
//
// Thread safety: all public methods may be called from any thread. Reads go straight to
// RocksDB. Ingest writes are serialised on the one writer thread (SubmitIngest); token and meta
// writes are small synced writes of their own, on the caller's thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "base/status.h"
#include "store/options.h"
#include "store/tables.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::store {

// What happened to one submitted event.
enum class Outcome : uint8_t {
  kAccepted,    // stored and durable
  kDuplicate,   // (device, seq) was already stored with the same payload: nothing written
  kReplay,      // (device, seq) was already stored with a different payload: refused
  kStorageFull, // disk full: not stored
  kOverloaded,  // the writer's queue was full: not stored
  kStopped,     // the store is shutting down: not stored
  // Cluster mode: the replicated log did not acknowledge in time (unreachable, electing a
  // leader). It may or may not hold the event: a resend is safe (the same Msg-Id, and the
  // core's (device, seq) check).
  kUnavailable,
};
const char* OutcomeName(Outcome o);

struct IngestRequest {
  // Validated events with received_at and token_name set; arrival_id is assigned by the writer.
  std::vector<yiwang::v1::StoredEvent> events;
  // Filled by PrepareIngest, on the caller's thread, so the single writer thread does not
  // serialise or hash: per event, the StoredEvent's bytes (without arrival_id) and the
  // payload fingerprint. Left empty, the writer prepares the request itself.
  std::vector<std::string> serialized;
  std::vector<uint64_t> fingerprints;
  // Called exactly once, on the writer thread (or the caller's, if refused at once), with one
  // outcome per event. Must not block: post the result to your own executor.
  std::function<void(std::vector<Outcome>)> done;
  // Cluster cores (docs/cluster.md): the sequence of the last log message these events come
  // from (0: none). The store records the highest one committed in the same WriteBatch as the
  // events (even when all of them are duplicates), so that after any crash the store's events
  // and its position in the log agree (LogPosition).
  uint64_t log_position = 0;
};

// Observes committed events, on the writer thread, after the fsync. Used by consumers that
// must see every stored event once (metrics now; the dispatcher later).
using CommitObserver = std::function<void(const std::vector<const yiwang::v1::StoredEvent*>&)>;

class EventStore {
 public:
  // Opens (creating if needed) the database at options.data_dir, recovers, and starts the
  // writer thread. Returns nullptr and sets *status on failure. `metrics` must outlive the
  // store: the writer counts into it, and each scrape copies RocksDB's write-stall state into
  // it (yiwang_store_rocksdb_*, through Metrics::AddScrapeHook).
  static std::unique_ptr<EventStore> Open(const StoreOptions& options,
                                          std::shared_ptr<spdlog::logger> logger, Metrics* metrics,
                                          Status* status);
  // Drains the writer queue (every queued request completes) and closes the database.
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // True if Open created the database (the data dir held no database before).
  bool created() const;

  // --- ingest (group commit) ---
  // Queues `req` for the writer. Never blocks. If the queue is full or the store is stopping,
  // req.done is called at once with kOverloaded / kStopped for every event.
  void SubmitIngest(IngestRequest req);
  // Registers an observer of committed events; returns its id for RemoveCommitObserver.
  uint64_t AddCommitObserver(CommitObserver observer);
  // Removes an observer; once it returns the observer is not running and will not run again
  // (an observer that is destroyed before the store must be removed first).
  void RemoveCommitObserver(uint64_t id);
  // Stops accepting submissions, completes everything already queued, joins the writer.
  // Idempotent; the destructor calls it.
  void StopWriter();
  // True while the last write failed for lack of disk space (ingest refuses with storage_full).
  bool storage_full() const;

  // --- reads ---
  // Status::NotFound if the device has never sent an accepted event.
  Status GetDevice(std::string_view device_id, yiwang::v1::DeviceState* out) const;
  // Events of one device, newest (highest seq) first, with seq < before_seq (0 = no bound), at
  // most `limit`. *next_before is the cursor for the next page, or 0 when there is none.
  Status ListDeviceEvents(std::string_view device_id, uint64_t before_seq, size_t limit,
                          std::vector<yiwang::v1::StoredEvent>* out, uint64_t* next_before) const;
  // Events in arrival order with arrival_id >= from, at most `limit` (replay and checks).
  Status ScanEvents(uint64_t from, size_t limit, std::vector<yiwang::v1::StoredEvent>* out) const;
  // Number of events stored (the next arrival id - 1).
  uint64_t EventCount() const;
  // The highest IngestRequest::log_position committed (0: none).
  uint64_t LogPosition() const;

  // --- tokens ---
  // Stores a token record under the SHA-256 of `token` (synced).
  Status PutToken(std::string_view token, const yiwang::v1::TokenRecord& record);
  // NotFound for an unknown token. A revoked token is returned with revoked = true.
  Status LookupToken(std::string_view token, yiwang::v1::TokenRecord* out) const;
  // Visits every token record with its key (TokenHash of the token), in key order; `visit`
  // returns false to stop. Corruption for a record that does not parse.
  using TokenVisitor =
      std::function<bool(std::string_view hash, const yiwang::v1::TokenRecord& record)>;
  Status ScanTokens(const TokenVisitor& visit) const;
  // Deletes the record stored under `hash` (synced): the token stops working at once.
  Status DeleteToken(std::string_view hash);
  // Stores `record` under the hash of `new_token` and deletes the one under `old_hash`, in
  // one synced write: a rotation, after which only the new token works.
  Status ReplaceToken(std::string_view old_hash, std::string_view new_token,
                      const yiwang::v1::TokenRecord& record);

  // --- tables (store/tables.h): cases, journals, indexes, timers, accounts, ... ---
  // Applies `changes` atomically (one WriteBatch, on the caller's thread). With `sync` the WAL
  // is fsynced before it returns; without, a later synced write (or the next ingest commit)
  // makes it durable, and a crash loses it only together with every later write (the WAL is
  // a prefix). NoSpace when the disk is full (nothing applied; storage_full() turns true and
  // the next Write first tries to resume); any other write error stops the process
  // (fail-stop, as for ingest). An empty set is a no-op. InvalidArgument (nothing applied) if
  // a table of the set is not open.
  Status Write(const WriteSet& changes, bool sync = true);
  // NotFound if `key` is not in `table`. InvalidArgument for a table that is not open (not in
  // StoreOptions::tables and not on disk).
  Status Get(const Table& table, std::string_view key, std::string* value) const;
  // Visits the records of `table` with begin <= key < end (an empty `end`: to the end of the
  // table) in key order, or in reverse key order when `reverse`. `visit` returns false to stop.
  // The views are valid only during the call.
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  Status Scan(const Table& table, std::string_view begin, std::string_view end, bool reverse,
              const Visitor& visit) const;
  // True if `table` is open.
  bool HasTable(const Table& table) const;

  // --- meta ---
  Status GetMeta(std::string_view name, std::string* value) const;
  Status PutMeta(std::string_view name, std::string_view value);

  class Impl;

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Serialises and fingerprints `req`'s events (see IngestRequest). Call it on an I/O thread
// before SubmitIngest; idempotent.
void PrepareIngest(IngestRequest* req);

// SHA-256 of a token, as raw 32 bytes (the tokens CF key).
std::string TokenHash(std::string_view token);
// The id of the token stored under `hash`: the record's id, else (a record made before ids
// existed) the first 8 bytes of `hash` in hex.
std::string TokenId(std::string_view hash, const yiwang::v1::TokenRecord& record);
// 64-bit FNV-1a hash of an event's deterministic serialisation (the SeqMark fingerprint).
uint64_t EventFingerprint(const yiwang::v1::SensorEvent& event);

}  // namespace yiwang::store
