#include "store/key_codec.h"

#include <cassert>

namespace yiwang::store {

bool DeviceIdChars(std::string_view s) {
  if (s.size() > kMaxDeviceIdLength) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void PutFixed64BE(std::string* dst, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  dst->append(buf, 8);
}

uint64_t DecodeFixed64BE(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EventKey(uint64_t arrival_id) {
  std::string k;
  k.reserve(8);
  PutFixed64BE(&k, arrival_id);
  return k;
}

std::optional<uint64_t> ParseEventKey(std::string_view key) {
  if (key.size() != 8) return std::nullopt;
  return DecodeFixed64BE(key.data());
}

std::string DeviceSeqPrefix(std::string_view device_id) {
  assert(device_id.size() <= kMaxDeviceIdLength);
  std::string k;
  k.reserve(1 + device_id.size() + 8);
  k.push_back(static_cast<char>(device_id.size()));
  k.append(device_id);
  return k;
}

std::string DeviceSeqKey(std::string_view device_id, uint64_t seq) {
  std::string k = DeviceSeqPrefix(device_id);
  PutFixed64BE(&k, seq);
  return k;
}

std::optional<DeviceSeq> ParseDeviceSeqKey(std::string_view key) {
  if (key.empty()) return std::nullopt;
  size_t len = static_cast<uint8_t>(key[0]);
  if (len > kMaxDeviceIdLength || key.size() != 1 + len + 8) return std::nullopt;
  return DeviceSeq{key.substr(1, len), DecodeFixed64BE(key.data() + 1 + len)};
}

}  // namespace yiwang::store
