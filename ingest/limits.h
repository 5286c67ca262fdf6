#pragma once
// Limits of the sensor ingest edge. Defaults are the named constants; ServerConfig.ingest
// overrides them (see proto/yiwang/v1/config.proto).

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace yiwang::ingest {

constexpr size_t kDefaultMaxFrameBytes = 1u << 20;       // 1 MiB
constexpr size_t kDefaultMaxEventsPerBatch = 10000;
constexpr size_t kDefaultMaxInflightEvents = 20000;      // per connection
constexpr std::chrono::seconds kDefaultIdleTimeout{120};
constexpr size_t kDefaultMaxConnections = 20000;
constexpr std::chrono::seconds kDefaultFutureSkewFlag{300};
constexpr std::chrono::seconds kDefaultFutureSkewReject{86400};
constexpr size_t kMaxWriteQueueFrames = 1024;            // acks waiting to be written, per connection
constexpr uint32_t kDefaultMaxNewDevicesPerHour = 10000;   // per device token

struct IngestLimits {
  size_t max_frame_bytes = kDefaultMaxFrameBytes;
  size_t max_events_per_batch = kDefaultMaxEventsPerBatch;
  size_t max_inflight_events = kDefaultMaxInflightEvents;
  std::chrono::seconds idle_timeout = kDefaultIdleTimeout;
  size_t max_connections = kDefaultMaxConnections;
  std::chrono::seconds future_skew_flag = kDefaultFutureSkewFlag;
  std::chrono::seconds future_skew_reject = kDefaultFutureSkewReject;
  // Device ids a token may bring in per hour (ingest/new_device_budget.h); 0: no bound.
  uint32_t max_new_devices_per_hour = kDefaultMaxNewDevicesPerHour;
};

}  // namespace yiwang::ingest
