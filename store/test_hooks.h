#pragma once
// Test-only hooks into how the store opens RocksDB (StoreOptions::test_hooks). The one store
// header that names RocksDB types: only store/event_store.cc and test support code include it.

#include <memory>

#include <rocksdb/file_system.h>

namespace yiwang::store {

struct StoreTestHooks {
  // Every file RocksDB reads, writes, syncs, renames or deletes goes through this FileSystem
  // (the store opens the database with rocksdb::NewCompositeEnv(file_system)); threads, clock
  // and locking stay the default Env's. Null: the default file system. Must outlive the store.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

}  // namespace yiwang::store
