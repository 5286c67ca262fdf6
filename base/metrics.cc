#include "base/metrics.h"

#include <malloc.h>
#include <unistd.h>

#include <cassert>
#include <cmath>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

namespace yiwang {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s{bounds_, {}, sum_.load(std::memory_order_relaxed), 0};
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(acc);
  }
  s.count = acc;
  return s;
}

double Histogram::Quantile(double q) const {
  Snapshot s = Snap();
  if (s.count == 0) return 0;
  double rank = q * static_cast<double>(s.count);
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    if (static_cast<double>(s.cumulative[i]) >= rank) {
      if (i == bounds_.size()) return bounds_.empty() ? 0 : bounds_.back();
      double lo = i == 0 ? 0 : bounds_[i - 1];
      double prev = i == 0 ? 0 : static_cast<double>(s.cumulative[i - 1]);
      double in_bucket = static_cast<double>(s.cumulative[i]) - prev;
      double frac = in_bucket > 0 ? (rank - prev) / in_bucket : 1;
      return lo + (bounds_[i] - lo) * frac;
    }
  }
  return bounds_.empty() ? 0 : bounds_.back();
}

std::vector<double> Metrics::LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,     10};
}

Metrics::Family& Metrics::FamilyFor(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, {}});
  assert(it->second.type == type && "metric registered twice with different types");
  return it->second;
}

Counter& Metrics::GetCounter(const std::string& name, const std::string& help,
                             const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, Type::kCounter);
  auto [it, inserted] = f.series.try_emplace(labels, counters_.size());
  if (inserted) counters_.emplace_back();
  return counters_[it->second];
}

Gauge& Metrics::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, Type::kGauge);
  auto [it, inserted] = f.series.try_emplace(labels, gauges_.size());
  if (inserted) gauges_.emplace_back();
  return gauges_[it->second];
}

Histogram& Metrics::GetHistogram(const std::string& name, const std::string& help,
                                 const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = FamilyFor(name, help, Type::kHistogram);
  auto [it, inserted] = f.series.try_emplace(labels, histograms_.size());
  if (inserted) histograms_.emplace_back(bounds);
  return histograms_[it->second];
}

namespace {

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelText(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{}=\"{}\"", k, EscapeLabelValue(v));
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

uint64_t Metrics::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard lock(hooks_mu_);
  const uint64_t id = next_hook_id_++;
  hooks_.emplace(id, std::move(hook));
  return id;
}

void Metrics::RemoveScrapeHook(uint64_t id) {
  std::lock_guard lock(hooks_mu_);
  hooks_.erase(id);
}

std::string Metrics::RenderPrometheus() const {
  {
    std::lock_guard hooks(hooks_mu_);
    for (const auto& [id, hook] : hooks_) hook();
  }
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, type);
    for (const auto& [labels, idx] : f.series) {
      switch (f.type) {
        case Type::kCounter:
          out += fmt::format("{}{} {}\n", name, LabelText(labels), counters_[idx].Value());
          break;
        case Type::kGauge:
          out += fmt::format("{}{} {}\n", name, LabelText(labels), gauges_[idx].Value());
          break;
        case Type::kHistogram: {
          Histogram::Snapshot s = histograms_[idx].Snap();
          for (size_t i = 0; i < s.cumulative.size(); ++i) {
            double le = i < s.bounds.size() ? s.bounds[i] : INFINITY;
            out += fmt::format("{}_bucket{} {}\n", name,
                               LabelText(labels, fmt::format("le=\"{}\"", FormatDouble(le))),
                               s.cumulative[i]);
          }
          out += fmt::format("{}_sum{} {}\n", name, LabelText(labels), FormatDouble(s.sum));
          out += fmt::format("{}_count{} {}\n", name, LabelText(labels), s.count);
          break;
        }
      }
    }
  }
  return out;
}

uint64_t ExportProcessMemory(Metrics* metrics) {
  Gauge& rss = metrics->GetGauge("yiwang_process_resident_bytes", "Resident set size (VmRSS)");
  Gauge& in_use = metrics->GetGauge("yiwang_process_heap_in_use_bytes",
                                    "Bytes allocated with malloc and not freed (mallinfo2)");
  Gauge& free = metrics->GetGauge(
      "yiwang_process_heap_free_bytes",
      "Bytes freed but kept by malloc in its arenas, not given back to the system (mallinfo2)");
  return metrics->AddScrapeHook([&rss, &in_use, &free] {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld %ld", &pages, &resident) == 2)
        rss.Set(static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE));
      std::fclose(f);
    }
    // Walks every arena under its lock: fine once a scrape, not on a hot path.
    const struct mallinfo2 mi = ::mallinfo2();
    in_use.Set(static_cast<int64_t>(mi.uordblks + mi.hblkhd));
    free.Set(static_cast<int64_t>(mi.fordblks));
  });
}

}  // namespace yiwang
