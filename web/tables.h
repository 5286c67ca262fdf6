#pragma once
// The web layer's tables (store/tables.h): whoever opens a store for Accounts and CitizenApi
// lists tables::kAll in StoreOptions::tables. Key layouts: docs/architecture.md.

#include "store/tables.h"

namespace yiwang::web::tables {

using store::Table;
using store::TableAccess;

inline constexpr Table kUsers{"users", TableAccess::kPointLookups};      // name -> UserRecord
inline constexpr Table kSessions{"sessions", TableAccess::kPointLookups};  // and per-user index
inline constexpr Table kBlobs{"blobs", TableAccess::kLargeValues};       // photos

inline constexpr const Table* kAll[] = {&kUsers, &kSessions, &kBlobs};

}  // namespace yiwang::web::tables
