#pragma once
// Key codec for every RocksDB key. Integers are big-endian fixed width, so byte order equals
// numeric order; strings are length-prefixed (u8) so that one device's keys share a prefix and
// no device id is a prefix of another's key range.
//
//   events      : u64 arrival_id
//   device_seq  : u8 len | device_id | u64 seq
//   devices     : device_id
//   tokens      : 32-byte SHA-256 of the token
//   meta        : ASCII name

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yiwang::store {

constexpr size_t kMaxDeviceIdLength = 64;

// True if `s` is at most kMaxDeviceIdLength characters of [A-Za-z0-9._:-] (empty allowed): the
// alphabet of device ids and of device-token prefixes.
bool DeviceIdChars(std::string_view s);

void PutFixed64BE(std::string* dst, uint64_t v);
// REQUIRES: p points at 8 readable bytes.
uint64_t DecodeFixed64BE(const char* p);

std::string EventKey(uint64_t arrival_id);
std::optional<uint64_t> ParseEventKey(std::string_view key);

// REQUIRES: device_id.size() <= kMaxDeviceIdLength (validated at ingest).
std::string DeviceSeqKey(std::string_view device_id, uint64_t seq);
// The prefix shared by every device_seq key of `device_id`.
std::string DeviceSeqPrefix(std::string_view device_id);
struct DeviceSeq {
  std::string_view device_id;  // points into the parsed key
  uint64_t seq;
};
std::optional<DeviceSeq> ParseDeviceSeqKey(std::string_view key);

}  // namespace yiwang::store
