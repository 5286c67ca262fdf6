#pragma once
// TokenBook: where bearer tokens' records are kept, for the code that checks and manages them
// (web's authentication and its device-token routes): the single process's own store
// (StoreTokenBook, below), or a cluster's token bucket (ingest/token_directory.h,
// ClusterTokenBook), so that a token made at any core works at every core and gateway. Records
// are keyed by store::TokenHash of the secret; the secret itself is never kept.
//
// Thread safety: every method may be called from any thread.

#include <string_view>

#include "base/status.h"
#include "store/event_store.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::store {

class TokenBook {
 public:
  virtual ~TokenBook() = default;
  // Stores `record` under the hash of `token`. Once it returns OK, Lookup finds it.
  virtual Status Put(std::string_view token, const yiwang::v1::TokenRecord& record) = 0;
  // NotFound for an unknown token. A revoked token is returned with revoked = true.
  virtual Status Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const = 0;
  // Every record with its hash, in no promised order; `visit` returns false to stop.
  virtual Status Scan(const EventStore::TokenVisitor& visit) const = 0;
  // Removes the record under `hash`: the token stops working.
  virtual Status Delete(std::string_view hash) = 0;
  // Stores `record` under the hash of `new_token` and removes the one under `old_hash` (a
  // rotation): afterwards only the new token works.
  virtual Status Replace(std::string_view old_hash, std::string_view new_token,
                         const yiwang::v1::TokenRecord& record) = 0;
};

// The token records of an EventStore (its "tokens" column family; every change synced, a
// rotation in one write).
class StoreTokenBook final : public TokenBook {
 public:
  // `store` must outlive the book.
  explicit StoreTokenBook(EventStore* store) : store_(store) {}
  Status Put(std::string_view token, const yiwang::v1::TokenRecord& record) override {
    return store_->PutToken(token, record);
  }
  Status Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const override {
    return store_->LookupToken(token, out);
  }
  Status Scan(const EventStore::TokenVisitor& visit) const override {
    return store_->ScanTokens(visit);
  }
  Status Delete(std::string_view hash) override { return store_->DeleteToken(hash); }
  Status Replace(std::string_view old_hash, std::string_view new_token,
                 const yiwang::v1::TokenRecord& record) override {
    return store_->ReplaceToken(old_hash, new_token, record);
  }

 private:
  EventStore* const store_;
};

}  // namespace yiwang::store
