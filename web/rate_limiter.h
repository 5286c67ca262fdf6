#pragma once
// RateLimiter: at most `max_events` per key (a client address, an API key, a user name) in a
// fixed window of `window` that starts with the key's first event. Used for the citizens'
// anonymous submissions (photos, reports, ratings), which have no account to hold a quota, for
// Open311 keys, and as the sign-in throttle, which counts only failures: it asks RetryAfter
// before an attempt, counts a failed one with Acquire, and may Reset a key after a success.
//
// Memory is bounded: beyond `max_keys` remembered keys, keys whose window ended are forgotten
// first, then the tenth whose windows started earliest.
//
// Thread safety: every method may be called from any thread; one mutex covers the map (no I/O).

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
  // An event over the limit changes nothing, so a caller that only counts (the sign-in
  // throttle) may ignore the result.
  uint64_t Acquire(std::string_view key);
  // What Acquire would return, counting nothing: 0 if `key` may have an event now, else the
  // seconds until its window ends (>= 1).
  uint64_t RetryAfter(std::string_view key);
  // Forgets `key`: its next event starts a new window.
  void Reset(std::string_view key);

  uint32_t max_events() const { return max_events_; }
  std::chrono::seconds window() const { return window_; }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point start;
    uint32_t count = 0;
  };
  void Evict(std::chrono::steady_clock::time_point now);  // REQUIRES: mu_ held
  // The seconds left in the window of a full `e` (>= 1).
  uint64_t SecondsLeft(const Entry& e, std::chrono::steady_clock::time_point now) const;

  const uint32_t max_events_;
  const std::chrono::seconds window_;
  const size_t max_keys_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace yiwang::web
