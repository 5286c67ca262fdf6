#pragma once
// Password hashing for operator accounts: scrypt (OpenSSL EVP_PBE_scrypt) with its parameters
// stored next to each hash, so they can be raised later without invalidating stored ones; and
// PasswordHasher, which bounds how many hashes run at once and keeps the dummy hash that a
// sign-in for an unknown user name is checked against.
//
// Costs: with the default parameters (N = 2^15, r = 8, p = 1) one hash takes ~32 MiB and
// ~0.1 s of one core (measured in docs/architecture.md, "Accounts and authentication"). Every
// sign-in costs one, whether the name exists or not, so that the answer's timing does not tell
// names apart.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "base/status.h"
#include "yiwang/v1/account.pb.h"

namespace yiwang::web {

struct ScryptParams {
  uint32_t log2_n = 15;  // N = 32768: 128 * r * N = 32 MiB of memory per hash
  uint32_t r = 8;
  uint32_t p = 1;
};

// The scrypt hash of `password` with `params`, a fresh 32-byte salt (RAND_bytes) and a 32-byte
// derived key. InvalidArgument for parameters outside what VerifyPassword accepts; IOError if
// OpenSSL fails (no randomness, no memory).
[[nodiscard]] Status HashPassword(std::string_view password, const ScryptParams& params,
                                  yiwang::v1::ScryptHash* out);
// True if `password` matches `hash` (constant-time comparison of the derived keys). False for a
// hash with parameters outside what HashPassword may write (log2_n 10..20, r 1..32, p 1..16)
// or a derived key that is not 32 bytes.
bool VerifyPassword(std::string_view password, const yiwang::v1::ScryptHash& hash);

// Thread safety: every method may be called from any thread concurrently. The count of
// sign-in hashes in flight is atomic; the dummy hash is computed once (std::call_once).
class PasswordHasher {
 public:
  // `metrics` must outlive the hasher. Registers yiwang_auth_password_hash_seconds at once, so
  // that it is exported before the first sign-in.
  PasswordHasher(ScryptParams params, size_t max_concurrent, Metrics* metrics,
                 std::shared_ptr<spdlog::logger> logger);
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // One of the `max_concurrent` places for a sign-in's hash, held while the Slot lives.
  class Slot {
   public:
    ~Slot() { in_flight_->fetch_sub(1); }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    // False if `max_concurrent` hashes were running already: answer 503 busy, hash nothing.
    bool ok() const { return ok_; }

   private:
    friend class PasswordHasher;
    Slot(std::atomic<size_t>* in_flight, size_t max)
        : in_flight_(in_flight), ok_(in_flight->fetch_add(1) < max) {}
    std::atomic<size_t>* in_flight_;
    bool ok_;
  };
  // A place for one sign-in's hash (check ok()).
  Slot TakeSlot() { return Slot(&in_flight_, max_concurrent_); }

  // HashPassword with the configured parameters (a new or changed password).
  [[nodiscard]] Status Hash(std::string_view password, yiwang::v1::ScryptHash* out) const;
  // True if `password` matches `*hash`. For a null `hash` (no such user) it checks `password`
  // against the dummy hash and returns false, taking as long as for a real user. The time is
  // observed in yiwang_auth_password_hash_seconds.
  bool Verify(std::string_view password, const yiwang::v1::ScryptHash* hash);

 private:
  const yiwang::v1::ScryptHash& DummyHash();

  const ScryptParams params_;
  const size_t max_concurrent_;
  std::shared_ptr<spdlog::logger> log_;
  Histogram& m_hash_seconds_;
  std::atomic<size_t> in_flight_{0};
  std::once_flag dummy_once_;
  yiwang::v1::ScryptHash dummy_hash_;
};

}  // namespace yiwang::web
