#pragma once
// TokenDirectory: the device-token records of cluster mode (docs/cluster.md, "Tokens"), kept in
// the JetStream key-value bucket YW_TOKENS (replicated like the log) under the hex of
// store::TokenHash(token), each value a serialized yiwang::v1::TokenRecord. Writers (a core's
// admin API, `cluster init`) Put records; every reader (a gateway) watches the bucket into a map
// in memory, so that Lookup is a hash-map lookup and a creation, rotation or revocation written
// anywhere reaches it within about a second (longer only while the bucket elects a leader).
// A value that does not parse is logged and its key dropped from the map (unknown, not trusted).
//
// Thread safety: Lookup, size, WaitReady and Put from any thread concurrently. `on_change` runs
// on the watch's thread, one call at a time, never after the destructor returned; it must not
// destroy the directory.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <spdlog/logger.h>

#include "base/status.h"
#include "store/log/jetstream.h"
#include "store/log/kv.h"
#include "store/log/kv_watch.h"
#include "store/token_book.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::ingest {

class TokenDirectory {
 public:
  struct Options {
    std::string bucket = "YW_TOKENS";
    // Replicas of the bucket if this directory creates it (an existing one with other replicas
    // is refused, as the log's streams are).
    int replicas = 3;
    // Called after the map took a record the bucket delivered (the initial ones included):
    // `hash` is store::TokenHash (raw bytes, what SensorEndpoint::CloseToken takes), `record`
    // null if the key was deleted or its value does not parse. A gateway closes the token's
    // connections when the record is revoked or null.
    std::function<void(const std::string& hash, const yiwang::v1::TokenRecord* record)>
        on_change;
  };

  // Creates the bucket if missing and starts watching it. Errors as KeyValue::EnsureBucket and
  // KvWatch::Start (Unavailable: retry). REQUIRES: `log` outlives the directory.
  static std::unique_ptr<TokenDirectory> Open(log::JetStreamLog* log, Options options,
                                              std::shared_ptr<spdlog::logger> logger,
                                              Status* status);
  ~TokenDirectory();  // stops the watch (promptly, whatever the cluster's state)
  TokenDirectory(const TokenDirectory&) = delete;
  TokenDirectory& operator=(const TokenDirectory&) = delete;

  // Writes the record of the token whose store::TokenHash is `hash` (raw bytes); acknowledged
  // means stored on a quorum of the bucket's replicas. Unavailable: retry (writing the same
  // record twice is harmless). A revocation is a record with revoked = true.
  Status Put(std::string_view hash, const yiwang::v1::TokenRecord& record);
  // Removes the record under `hash` (raw bytes): every directory drops it, and calls on_change
  // with a null record. OK if there was none.
  Status Delete(std::string_view hash);

  // The record of bearer token `token` (the secret) as this directory last saw it. NotFound if
  // unknown. A revoked token is returned with revoked = true, as EventStore::LookupToken does.
  Status Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const;

  // True once the records the bucket held when the directory opened are in the map (at once if
  // already); false if `timeout` passed first. A gateway answers sensors only after it.
  bool WaitReady(std::chrono::milliseconds timeout) const;

  // Records in the map.
  size_t size() const;
  // True if the map holds a record under `hash` (raw bytes).
  bool Contains(const std::string& hash) const;

  // Calls `visit(hash, record)` for every record in the map (under a shared lock: `visit` must
  // not call back into the directory).
  void ForEach(
      const std::function<void(const std::string& hash, const yiwang::v1::TokenRecord& record)>&
          visit) const;

 private:
  TokenDirectory(log::JetStreamLog* log, Options options, std::shared_ptr<spdlog::logger> logger);
  // The watch's callbacks (watch thread).
  void OnEntry(std::string_view key, std::string_view value, bool deleted);
  void OnCaughtUp();

  const Options options_;
  const std::shared_ptr<spdlog::logger> log_;
  log::KeyValue kv_;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, yiwang::v1::TokenRecord> records_;  // by raw hash; mu_

  mutable std::mutex ready_mu_;
  mutable std::condition_variable ready_cv_;
  bool ready_ = false;  // guarded by ready_mu_

  std::unique_ptr<log::KvWatch> watch_;  // last: stopped first, before what its callbacks use
};

// A cluster core's tokens (web's authentication and device-token routes): the records of a
// TokenDirectory, written through it. A write returns once this directory's own watch has
// seen it (read your writes: a token just made is listed, and works, at this core at once; at
// the others within the watch's delay), or Unavailable after `seen_timeout` (written, maybe
// not yet seen). A rotation writes the new record, then deletes the old one.
class ClusterTokenBook final : public store::TokenBook {
 public:
  // `directory` must outlive the book.
  explicit ClusterTokenBook(TokenDirectory* directory,
                            std::chrono::milliseconds seen_timeout = std::chrono::seconds(2))
      : directory_(directory), seen_timeout_(seen_timeout) {}
  Status Put(std::string_view token, const yiwang::v1::TokenRecord& record) override;
  Status Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const override;
  Status Scan(const store::EventStore::TokenVisitor& visit) const override;
  Status Delete(std::string_view hash) override;
  Status Replace(std::string_view old_hash, std::string_view new_token,
                 const yiwang::v1::TokenRecord& record) override;

 private:
  // Waits until `seen` holds or seen_timeout_ passes.
  Status AwaitSeen(const std::function<bool()>& seen) const;

  TokenDirectory* const directory_;
  const std::chrono::milliseconds seen_timeout_;
};

}  // namespace yiwang::ingest
