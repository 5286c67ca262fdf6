#pragma once
// Conversions between std::chrono time points and protobuf's Timestamp, and the RFC 3339 text
// every API and record uses. Pure functions.

#include <chrono>
#include <cstdint>
#include <string>

#include <google/protobuf/timestamp.pb.h>

namespace yiwang {

google::protobuf::Timestamp ToProtoTime(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point FromProtoTime(const google::protobuf::Timestamp& ts);
// RFC 3339 in UTC with as many fraction digits as needed ("2026-12-07T14:00:19Z",
// "...19.250Z"): protobuf's canonical JSON form of a Timestamp.
std::string Rfc3339(const google::protobuf::Timestamp& ts);
std::string Rfc3339(std::chrono::system_clock::time_point t);
// Milliseconds since the Unix epoch.
int64_t UnixMillis(std::chrono::system_clock::time_point t);

}  // namespace yiwang
