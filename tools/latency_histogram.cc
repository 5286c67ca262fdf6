#include "tools/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace yiwang::tools::bench {

void LatencyHistogram::Record(int64_t ns) {
  const uint64_t us = ns > 0 ? static_cast<uint64_t>(ns) / 1000 : 0;
  buckets_[Bucket(us)].fetch_add(1, std::memory_order_relaxed);
  uint64_t prev = max_us_.load(std::memory_order_relaxed);
  while (us > prev && !max_us_.compare_exchange_weak(prev, us, std::memory_order_relaxed)) {
  }
}

LatencyHistogram::Snapshot LatencyHistogram::TakeSnapshot() {
  std::array<uint64_t, kBuckets> counts{};
  Snapshot s;
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] = buckets_[i].exchange(0, std::memory_order_relaxed);
    s.count += counts[i];
  }
  s.max_ms = static_cast<double>(max_us_.exchange(0, std::memory_order_relaxed)) / 1e3;
  if (s.count == 0) return s;
  auto quantile = [&](double q) {
    const uint64_t rank =
        std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(s.count))));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts[i];
      if (seen >= rank) return std::min(static_cast<double>(UpperEdgeUs(i)) / 1e3, s.max_ms);
    }
    return s.max_ms;
  };
  s.p50_ms = quantile(0.50);
  s.p99_ms = quantile(0.99);
  return s;
}

size_t LatencyHistogram::Bucket(uint64_t us) {
  if (us < kSub) return us;
  const int e = static_cast<int>(std::bit_width(us)) - 1;  // >= 6
  const int shift = e - 6;
  return kSub + static_cast<size_t>(shift) * kSub + ((us >> shift) - kSub);
}

uint64_t LatencyHistogram::UpperEdgeUs(size_t bucket) {
  if (bucket < kSub) return bucket + 1;
  const size_t shift = (bucket - kSub) / kSub;
  const uint64_t m = kSub + (bucket - kSub) % kSub;
  return (m + 1) << shift;
}

}  // namespace yiwang::tools::bench
