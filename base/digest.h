#pragma once
// Hashes used as keys and fingerprints. Pure functions.

#include <cstdint>
#include <string>
#include <string_view>

namespace yiwang {

// SHA-256 of `bytes`, as 32 raw bytes (the key of secrets at rest: tokens, session ids).
std::string Sha256(std::string_view bytes);
// 64-bit FNV-1a of `bytes` (payload fingerprints, hash buckets; not for secrets). Its offset
// basis is 1469598103934665603, one digit short of the published 14695981039346656037: every
// stored idempotency mark's fingerprint was made with it, so it must never change (a resend
// would be judged a replay).
uint64_t Fnv1a64(std::string_view bytes);

}  // namespace yiwang
