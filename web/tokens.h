#pragma once
// Bearer tokens and the random secrets behind them. A token is a kind prefix and 256 random
// bits: "ywa_" an admin token, "ywd_" a device token (sensors, /ws/sensors), "ywu_" a user's
// API token (scripts acting as that user); 43 base64url characters follow. The store keeps
// only the token's SHA-256 (store::EventStore::PutToken, LookupToken).
//
// Thread safety: free functions; RAND_bytes and the store may be used from any thread.

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/event_store.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::web {

// Creates a bearer token of `kind`, stores its hash, and returns the token (shown once).
// `device_prefix`: the device ids a device token may send for ("" every device); `user`: the
// user name, for TOKEN_KIND_USER only. IOError if there is no randomness; store errors as
// they come.
Status CreateToken(store::EventStore* store, yiwang::v1::TokenKind kind, std::string_view name,
                   std::string_view device_prefix, std::string* token,
                   std::string_view user = {});

// A new secret of `kind` ("ywd_" + 43 base64url characters for a device token) in *token, not
// stored. IOError if there is no randomness.
Status MintToken(yiwang::v1::TokenKind kind, std::string* token);

// `bytes` random bytes (OpenSSL RAND_bytes) as unpadded base64url in *out; false if the
// random generator failed.
[[nodiscard]] bool RandomBase64Url(size_t bytes, std::string* out);

}  // namespace yiwang::web
