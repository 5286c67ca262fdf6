#pragma once
// LatencyHistogram: latencies in microseconds in log-linear buckets (64 per power of two:
// within 1.6 %), filled by every connection at once and read-and-reset by the main thread each
// interval of `yiwang bench soak`. A sample racing with the reset lands in one of the two
// intervals. Internal to tools/.
//
// Thread safety: Record from any thread; TakeSnapshot from one thread at a time.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace yiwang::tools::bench {

class LatencyHistogram {
 public:
  struct Snapshot {
    uint64_t count = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
  };

  void Record(int64_t ns);
  // The samples since the last snapshot, and a reset. Quantiles are the upper edge of their
  // bucket; max is exact.
  Snapshot TakeSnapshot();

 private:
  static constexpr size_t kSub = 64;
  static constexpr size_t kBuckets = kSub + kSub * 58;  // up to 2^64 us

  static size_t Bucket(uint64_t us);
  static uint64_t UpperEdgeUs(size_t bucket);

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_us_{0};
};

}  // namespace yiwang::tools::bench
