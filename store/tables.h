#pragma once
// Tables: the record kinds of the layers above the store (cases, journals, indexes, accounts,
// photos, ...), each a RocksDB column family, and WriteSet: one atomic multi-table change (one
// WriteBatch). The store knows no table of theirs: each owner declares its tables as constants
// (dispatcher/tables.h, web/tables.h) and whoever opens the store lists them in
// StoreOptions::tables. Keys are built by their owners with the big-endian helpers of
// store/key_codec.h; values are serialised protobuf records.
//
// Nothing here exposes RocksDB. EventStore (store/event_store.h) applies a WriteSet and reads
// the tables.

#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace yiwang::store {

// How a table is read, which decides how the store tunes its column family.
enum class TableAccess : uint8_t {
  kScans,         // mostly by range scans (indexes, journals, timers): no bloom filter
  kPointLookups,  // mostly by key: a bloom filter per SST file
  kLargeValues,   // by key, values up to megabytes (photos): blob files, no compression
};

// A table of an upper layer. Declare it once, as an inline constant of its owner:
//   inline constexpr store::Table kCases{"cases", store::TableAccess::kPointLookups};
// `name` is the column family's name on disk: never rename a table that holds data.
struct Table {
  std::string_view name;
  TableAccess access = TableAccess::kScans;
};

// The column family name of a table ("cases", "journal", ...).
inline std::string_view TableName(const Table& t) { return t.name; }

// The tables of several owners as one list, for StoreOptions::tables:
//   options.tables = store::TablesOf(dispatcher::tables::kAll, web::tables::kAll);
template <typename... Lists>
std::vector<const Table*> TablesOf(const Lists&... lists) {
  std::vector<const Table*> out;
  (out.insert(out.end(), std::begin(lists), std::end(lists)), ...);
  return out;
}

// One atomic change across tables. Operations apply in the order added; a Put after a Delete
// of the same key wins, and vice versa.
class WriteSet {
 public:
  struct Op {
    const Table* table;  // a declared constant: outlives the set
    bool erase;
    std::string key;
    std::string value;
  };

  void Put(const Table& t, std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    ops_.push_back({&t, false, std::move(key), std::move(value)});
  }
  void Delete(const Table& t, std::string key) {
    bytes_ += key.size();
    ops_.push_back({&t, true, std::move(key), {}});
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
