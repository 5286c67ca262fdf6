#pragma once
// Builders of sensor events and other small fixtures shared by the tests. Every value is fixed
// (no clock, no randomness) so that tests are deterministic.

#include <google/protobuf/timestamp.pb.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "yiwang/v1/sensor.pb.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::test {

// The instant unit tests use as "now": 2024-05-01T00:00:00Z.
constexpr int64_t kNowSeconds = 1714521600;
std::chrono::system_clock::time_point FixedNow();

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos = 0);

// A valid septic-tank gas event (CH4 reading `ch4`), observed `observed_seconds`, in Chongqing.
yiwang::v1::SensorEvent GasEvent(const std::string& device_id, uint64_t seq, double ch4 = 5.0,
                                 int64_t observed_seconds = kNowSeconds - 60);
// A valid device-health event.
yiwang::v1::SensorEvent HealthEvent(const std::string& device_id, uint64_t seq,
                                    double battery_pct = 80,
                                    int64_t observed_seconds = kNowSeconds - 60);
// A valid manhole-cover event.
yiwang::v1::SensorEvent ManholeEvent(const std::string& device_id, uint64_t seq, double tilt_deg,
                                     int64_t observed_seconds = kNowSeconds - 60);

// A StoredEvent as ingest hands it to the store: received at `received_seconds`, from token
// "test-token".
yiwang::v1::StoredEvent Stored(const yiwang::v1::SensorEvent& event,
                               int64_t received_seconds = kNowSeconds);

// A deterministic valid event whose payload depends only on (device_id, seq): a resend of the
// same pair is byte-identical (a duplicate, never a replay). `observed_seconds` is used as is.
yiwang::v1::SensorEvent DeterministicEvent(const std::string& device_id, uint64_t seq,
                                           int64_t observed_seconds);

// A logger that drops everything (tests assert on results, not on log lines).
std::shared_ptr<spdlog::logger> NullLogger(const std::string& name = "test");

// Seconds since the epoch of the real clock (integration tests talk to a real server).
int64_t WallSeconds();

}  // namespace yiwang::test
