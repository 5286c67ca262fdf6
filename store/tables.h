#pragma once
// Tables: the record kinds beyond sensor events (cases, journals, indexes, timers, alarm state,
// KPI rows, users, sessions, citizen reports, photos), each a RocksDB column family, and
// WriteSet: one atomic multi-table change (one WriteBatch). Keys are built by their owners with
// the big-endian helpers of store/key_codec.h; values are serialised protobuf records.
//
// Nothing here exposes RocksDB. EventStore (store/event_store.h) applies a WriteSet and reads
// the tables.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yiwang::store {

enum class Table : uint8_t {
  kCases = 0,   // case id -> yiwang.v1.Case
  kJournal,     // case id, u64 seq -> yiwang.v1.JournalEntry (the hash chain)
  kCaseIndex,   // index name, value, ..., case id -> empty (state, district, department,
                // category, source, spatial cell, deadline, open alarm, tracking code, ...)
  kTimers,      // u64 due ms, kind, id -> empty (SLA checks, offline checks)
  kAlarms,      // device id -> yiwang.v1.AlarmState (the alarm engine's per-device state)
  kKpi,         // day, district, department, category, source -> yiwang.v1.KpiCounters
  kUsers,       // user name -> operator account
  kSessions,    // SHA-256 of the session id -> session
  kReports,     // tracking code -> citizen report
  kBlobs,       // blob id -> bytes (photos), stored in RocksDB blob files
  kDispatch,    // dispatcher bookkeeping: cursor, counters ("name" -> bytes)
};
inline constexpr size_t kTableCount = 11;

// The column family name of a table ("cases", "journal", ...).
const char* TableName(Table t);

// One atomic change across tables. Operations apply in the order added; a Put after a Delete
// of the same key wins, and vice versa.
class WriteSet {
 public:
  struct Op {
    Table table;
    bool erase;
    std::string key;
    std::string value;
  };

  void Put(Table t, std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    ops_.push_back({t, false, std::move(key), std::move(value)});
  }
  void Delete(Table t, std::string key) {
    bytes_ += key.size();
    ops_.push_back({t, true, std::move(key), {}});
  }
  // Appends every operation of `other` after this set's own.
  void Append(WriteSet other) {
    for (auto& op : other.ops_) ops_.push_back(std::move(op));
    bytes_ += other.bytes_;
  }
  void Clear() {
    ops_.clear();
    bytes_ = 0;
  }

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  size_t bytes() const { return bytes_; }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  size_t bytes_ = 0;
};

}  // namespace yiwang::store
