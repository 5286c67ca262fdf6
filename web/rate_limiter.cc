#include "web/rate_limiter.h"

#include <algorithm>
#include <vector>

namespace yiwang::web {

RateLimiter::RateLimiter(uint32_t max_events, std::chrono::seconds window, size_t max_keys,
                         Clock clock)
    : max_events_(max_events),
      window_(window),
      max_keys_(std::max<size_t>(max_keys, 1)),
      clock_(std::move(clock)) {}

uint64_t RateLimiter::Acquire(std::string_view key) {
  const auto now = clock_.Steady();
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it != entries_.end() && now - it->second.start >= window_) {
    it->second = Entry{now, 0};
  }
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_) Evict(now);
    it = entries_.emplace(std::string(key), Entry{now, 0}).first;
  }
  if (it->second.count >= max_events_) return SecondsLeft(it->second, now);
  ++it->second.count;
  return 0;
}

uint64_t RateLimiter::RetryAfter(std::string_view key) {
  const auto now = clock_.Steady();
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end() || now - it->second.start >= window_ ||
      it->second.count < max_events_)
    return 0;
  return SecondsLeft(it->second, now);
}

void RateLimiter::Reset(std::string_view key) {
  std::lock_guard lock(mu_);
  entries_.erase(std::string(key));
}

uint64_t RateLimiter::SecondsLeft(const Entry& e, std::chrono::steady_clock::time_point now) const {
  const auto left = window_ - (now - e.start);
  const auto secs = std::chrono::ceil<std::chrono::seconds>(left).count();
  return static_cast<uint64_t>(std::max<int64_t>(secs, 1));
}

void RateLimiter::Evict(std::chrono::steady_clock::time_point now) {
  std::erase_if(entries_, [&](const auto& e) { return now - e.second.start >= window_; });
  if (entries_.size() < max_keys_) return;
  // Still full: forget the earliest-started tenth (at least one).
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::string>> by_start;
  by_start.reserve(entries_.size());
  for (const auto& [k, e] : entries_) by_start.emplace_back(e.start, k);
  const size_t n = std::max<size_t>(by_start.size() / 10, 1);
  std::nth_element(by_start.begin(), by_start.begin() + static_cast<ptrdiff_t>(n - 1),
                   by_start.end());
  for (size_t i = 0; i < n; ++i) entries_.erase(by_start[i].second);
}

}  // namespace yiwang::web
