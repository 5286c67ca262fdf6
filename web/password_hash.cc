#include "web/password_hash.h"

#include <chrono>
#include <string>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace yiwang::web {

namespace v1 = yiwang::v1;

namespace {

constexpr size_t kSaltBytes = 32;
constexpr size_t kDerivedKeyBytes = 32;

bool ScryptParamsSane(uint32_t log2_n, uint32_t r, uint32_t p) {
  return log2_n >= 10 && log2_n <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

bool Scrypt(std::string_view password, std::string_view salt, uint32_t log2_n, uint32_t r,
            uint32_t p, unsigned char* out, size_t out_len) {
  const uint64_t n = uint64_t{1} << log2_n;
  // OpenSSL's bound: 128 * r * (N + 2) for V plus 128 * r * p for B; a little more for slack.
  const uint64_t maxmem = 128 * uint64_t{r} * (n + 2) + 128 * uint64_t{r} * p + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                        maxmem, out, out_len) == 1;
}

}  // namespace

Status HashPassword(std::string_view password, const ScryptParams& params, v1::ScryptHash* out) {
  if (!ScryptParamsSane(params.log2_n, params.r, params.p))
    return Status::InvalidArgument("scrypt parameters out of range");
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return Status::IOError("no randomness for a salt");
  unsigned char dk[kDerivedKeyBytes];
  const std::string_view salt_view(reinterpret_cast<const char*>(salt), sizeof salt);
  if (!Scrypt(password, salt_view, params.log2_n, params.r, params.p, dk, sizeof dk))
    return Status::IOError("EVP_PBE_scrypt failed");
  out->set_log2_n(params.log2_n);
  out->set_r(params.r);
  out->set_p(params.p);
  out->set_salt(std::string(salt_view));
  out->set_dk(reinterpret_cast<const char*>(dk), sizeof dk);
  OPENSSL_cleanse(dk, sizeof dk);
  return Status::Ok();
}

bool VerifyPassword(std::string_view password, const v1::ScryptHash& hash) {
  if (!ScryptParamsSane(hash.log2_n(), hash.r(), hash.p()) || hash.dk().size() != kDerivedKeyBytes)
    return false;
  unsigned char dk[kDerivedKeyBytes];
  if (!Scrypt(password, hash.salt(), hash.log2_n(), hash.r(), hash.p(), dk, sizeof dk))
    return false;
  const bool equal = CRYPTO_memcmp(dk, hash.dk().data(), sizeof dk) == 0;
  OPENSSL_cleanse(dk, sizeof dk);
  return equal;
}

PasswordHasher::PasswordHasher(ScryptParams params, size_t max_concurrent, Metrics* metrics,
                               std::shared_ptr<spdlog::logger> logger)
    : params_(params),
      max_concurrent_(max_concurrent),
      log_(std::move(logger)),
      m_hash_seconds_(metrics->GetHistogram("yiwang_auth_password_hash_seconds",
                                            "Time of one scrypt password hash",
                                            Metrics::LatencyBuckets())) {}

Status PasswordHasher::Hash(std::string_view password, v1::ScryptHash* out) const {
  return HashPassword(password, params_, out);
}

bool PasswordHasher::Verify(std::string_view password, const v1::ScryptHash* hash) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool match = VerifyPassword(password, hash ? *hash : DummyHash()) && hash;
  m_hash_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return match;
}

const v1::ScryptHash& PasswordHasher::DummyHash() {
  std::call_once(dummy_once_, [this] {
    if (!HashPassword("no such user: a dummy password", params_, &dummy_hash_).ok())
      log_->warn("could not compute the dummy password hash");
  });
  return dummy_hash_;
}

}  // namespace yiwang::web
