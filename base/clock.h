#pragma once
// Clock: where every component reads the time (wall clock for records and deadlines, steady
// time for intervals). A default-constructed Clock is the system's; tests construct one from a
// function and step it. Copy it freely: it is a value holding an optional function.
//
// In cluster mode (docs/architecture.md) only the edges read a Clock: a handler stamps the
// time a command is judged by, and applying a logged message never reads one.
//
// Thread safety: Now() and Steady() may be called from any thread; an injected function must
// be safe to call from every thread its components run on.

#include <chrono>
#include <functional>
#include <utility>

namespace yiwang {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Millis = std::chrono::sys_time<std::chrono::milliseconds>;

  // The system clock.
  Clock() = default;
  // An injected clock (tests): `now` is the wall time; Steady() follows it.
  explicit Clock(std::function<TimePoint()> now) : now_(std::move(now)) {}

  // Wall-clock time.
  TimePoint Now() const { return now_ ? now_() : std::chrono::system_clock::now(); }
  // Wall-clock time truncated to milliseconds (the dispatcher's Timestamp).
  Millis NowMillis() const { return std::chrono::time_point_cast<std::chrono::milliseconds>(Now()); }
  // Monotonic time for intervals (rate windows, throttles): the steady clock, or for an
  // injected clock its wall time read as steady time (so a test steps both at once).
  std::chrono::steady_clock::time_point Steady() const {
    if (!now_) return std::chrono::steady_clock::now();
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(now_().time_since_epoch()));
  }
  // True for an injected clock.
  bool injected() const { return static_cast<bool>(now_); }

 private:
  std::function<TimePoint()> now_;
};

}  // namespace yiwang
