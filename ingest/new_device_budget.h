#pragma once
// NewDeviceBudget: how many device ids a device token may bring into the platform, per hour.
// Every new device costs a `devices` record, an alarm state and an offline timer in the
// dispatcher, so one frame of 10,000 invented ids must not buy 10,000 of each. A device is new
// until the store has accepted an event of it; at most `per_hour` new ids per token are let
// through in a fixed window of an hour that starts with the token's first new id, the rest
// are refused (Reject::kTooManyNewDevices) until the window ends. Devices already known pass
// without counting.
//
// Known ids are remembered in memory (up to `max_known`; then the memory is cleared and
// rebuilt from the store as ids come back), so a known device costs one lookup in a hash set
// and a store read only the first time it is seen by this process.
//
// Thread safety: Admit may be called from any thread; the mutex is never held across a store
// read.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/clock.h"
#include "ingest/event_sink.h"

namespace yiwang::ingest {

inline constexpr size_t kDefaultMaxKnownDevices = 200000;

class NewDeviceBudget {
 public:
  // `sink` must outlive the budget. `per_hour` 0: no bound.
  NewDeviceBudget(const EventSink* sink, uint32_t per_hour,
                  size_t max_known = kDefaultMaxKnownDevices, Clock clock = {});

  // True if the token `token_id` may send an event of `device_id`: a known device, or a new
  // one while the token's window has room (it is then counted and known from now on).
  bool Admit(std::string_view token_id, std::string_view device_id);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    uint32_t count = 0;
  };
  // Lets the set be searched with a string_view: no allocation per event.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  bool KnownLocked(std::string_view device_id) const;  // REQUIRES: mu_ held
  void RememberLocked(std::string_view device_id);      // REQUIRES: mu_ held

  const EventSink* sink_;
  const uint32_t per_hour_;
  const size_t max_known_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_set<std::string, IdHash, std::equal_to<>> known_;
  std::unordered_map<std::string, Window> windows_;  // by token id: one per device token
};

}  // namespace yiwang::ingest
