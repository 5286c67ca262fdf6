#pragma once
// Typed reads of tables whose values are one protobuf message type each: GetRecord and
// ScanRecords parse what EventStore::Get and EventStore::Scan return. A value that does not parse
// is Status::Corruption naming the table and the key (hex), so no caller hand-writes that check.
//
// Thread safety: as EventStore::Scan (any thread).

#include <string>
#include <string_view>
#include <utility>

#include "base/status.h"
#include "base/text.h"
#include "store/event_store.h"

namespace yiwang::store {

// The record at `key` of `table` in *out. NotFound if absent; Corruption if it does not parse.
template <typename Record>
Status GetRecord(const EventStore& store, Table table, std::string_view key, Record* out) {
  std::string v;
  if (Status s = store.Get(table, key, &v); !s.ok()) return s;
  if (!out->ParseFromString(v))
    return Status::Corruption(std::string(TableName(table)) + ": unreadable record at key " +
                              Hex(key));
  return Status::Ok();
}

// Visits every record of `table` with begin <= key < end (an empty `end`: to the end), in key
// order (reverse order when `reverse`): visit(std::string_view key, Record&& record) returns
// false to stop. Returns the scan's error, or Corruption for a record that does not parse.
template <typename Record, typename Visit>
Status ScanRecords(const EventStore& store, Table table, std::string_view begin,
                   std::string_view end, Visit&& visit, bool reverse = false) {
  Status parse = Status::Ok();
  Status s = store.Scan(table, begin, end, reverse, [&](std::string_view k, std::string_view v) {
    Record record;
    if (!record.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      parse = Status::Corruption(std::string(TableName(table)) + ": unreadable record at key " +
                                 Hex(k));
      return false;
    }
    return visit(k, std::move(record));
  });
  return s.ok() ? parse : s;
}

}  // namespace yiwang::store
