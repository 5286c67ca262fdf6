#pragma once
// RateLimiter: at most `max_events` per key (a client address, an API key) in a fixed window
// of `window` that starts with the key's first event. Used for the citizens' anonymous
// submissions (photos, reports), which have no account to hold a quota.
//
// Memory is bounded: beyond `max_keys` remembered keys, keys whose window ended are forgotten
// first, then the ones whose window started earliest.
//
// Thread safety: Acquire may be called from any thread; one mutex covers the map (no I/O).

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"

namespace yiwang::web {

class RateLimiter {
 public:
  // Windows are measured on clock.Steady().
  RateLimiter(uint32_t max_events, std::chrono::seconds window, size_t max_keys = 100000,
              Clock clock = {});

  // Counts one event of `key` and returns 0 if it is within the limit; else counts nothing and
  // returns the seconds until the key's window ends (>= 1, for Retry-After).
  uint64_t Acquire(std::string_view key);

  uint32_t max_events() const { return max_events_; }
  std::chrono::seconds window() const { return window_; }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point start;
    uint32_t count = 0;
  };
  void Evict(std::chrono::steady_clock::time_point now);  // REQUIRES: mu_ held

  const uint32_t max_events_;
  const std::chrono::seconds window_;
  const size_t max_keys_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace yiwang::web
