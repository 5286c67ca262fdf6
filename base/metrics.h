#pragma once
// A small Prometheus-style metrics registry: counters, gauges and histograms with fixed labels,
// rendered in the Prometheus text exposition format (version 0.0.4) by web/'s GET /metrics.
// It lives in store/ because store is the lowest library every component links.
//
// Thread safety: registration (Get*) takes a mutex and returns a reference that stays valid for
// the registry's lifetime; hot-path updates on the returned objects are lock-free atomics.
// Cache the reference: Get* is not meant for every event.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace yiwang {

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

class Histogram {
 public:
  // `bounds` are the upper bounds of the buckets, ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries, the last is +Inf
    double sum;
    uint64_t count;
  };
  Snapshot Snap() const;
  // Estimated quantile (0..1) by linear interpolation inside the bucket.
  double Quantile(double q) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  std::string RenderPrometheus() const;

  // Runs `hook` at the start of every RenderPrometheus, to copy statistics that live elsewhere
  // (RocksDB's) into metrics registered here. Returns the id for RemoveScrapeHook. A hook may
  // update metrics but must not call RenderPrometheus, AddScrapeHook or RemoveScrapeHook.
  uint64_t AddScrapeHook(std::function<void()> hook);
  // Removes a hook; once it returns the hook is not running and will not run again.
  void RemoveScrapeHook(uint64_t id);

  // Buckets for latencies in seconds, 50 us .. 10 s.
  static std::vector<double> LatencyBuckets();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<Labels, size_t> series;  // labels -> index into the typed deque
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Type type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  // Held while hooks run, so that RemoveScrapeHook waits for a running hook.
  mutable std::mutex hooks_mu_;
  std::map<uint64_t, std::function<void()>> hooks_;
  uint64_t next_hook_id_ = 1;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
};

// Registers the process's memory as gauges, refreshed on each scrape: yiwang_process_resident_bytes
// (RSS), yiwang_process_heap_in_use_bytes (malloc'd and not freed) and
// yiwang_process_heap_free_bytes (freed, but kept by malloc rather than given back to the
// system). Returns the scrape hook's id (Metrics::RemoveScrapeHook).
uint64_t ExportProcessMemory(Metrics* metrics);

}  // namespace yiwang
