#include "web/tokens.h"

#include <cstdint>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>

namespace yiwang::web {

namespace {

constexpr size_t kTokenRandomBytes = 32;

std::string Base64Url(const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | p[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

}  // namespace

bool RandomBase64Url(size_t bytes, std::string* out) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) return false;
  *out = Base64Url(raw.data(), raw.size());
  return true;
}

Status MintToken(yiwang::v1::TokenKind kind, std::string* token) {
  std::string random;
  if (!RandomBase64Url(kTokenRandomBytes, &random))
    return Status::IOError("no randomness for a token");
  const char* prefix = kind == yiwang::v1::TOKEN_KIND_ADMIN  ? "ywa_"
                       : kind == yiwang::v1::TOKEN_KIND_USER ? "ywu_"
                                                             : "ywd_";
  *token = prefix + random;
  return Status::Ok();
}

Status CreateToken(store::EventStore* store, yiwang::v1::TokenKind kind, std::string_view name,
                   std::string_view device_prefix, std::string* token, std::string_view user) {
  if (Status s = MintToken(kind, token); !s.ok()) return s;
  yiwang::v1::TokenRecord rec;
  rec.set_name(std::string(name));
  rec.set_kind(kind);
  rec.set_device_prefix(std::string(device_prefix));
  rec.set_user(std::string(user));
  *rec.mutable_created_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return store->PutToken(*token, rec);
}

}  // namespace yiwang::web
