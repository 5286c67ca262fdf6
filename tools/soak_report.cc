#include "tools/soak_report.h"

#include <algorithm>

#include <fmt/format.h>

#include "tools/client/server_process.h"
#include "tools/json_line.h"

namespace yiwang::tools::bench {

namespace {

// Least-squares slope of y over x (MiB per second), or nullopt with fewer than 2 points.
std::optional<double> Slope(const std::vector<std::pair<double, double>>& pts) {
  if (pts.size() < 2) return std::nullopt;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : pts) sx += x, sy += y, sxx += x * x, sxy += x * y;
  const double n = static_cast<double>(pts.size());
  const double d = n * sxx - sx * sx;
  if (d == 0) return std::nullopt;
  return (n * sxy - sx * sy) / d;
}

std::optional<double> Mib(std::optional<double> bytes) {
  if (!bytes) return std::nullopt;
  return *bytes / (1024.0 * 1024.0);
}

}  // namespace

void SampleServer(pid_t pid, const client::MetricsScrape* metrics, IntervalSample* s) {
  if (const std::optional<uint64_t> kib = client::ResidentKib(pid))
    s->rss_mib = static_cast<double>(*kib) / 1024.0;
  if (!metrics) return;
  s->queued_events = metrics->Get("yiwang_store_queued_events");
  s->write_stopped = metrics->Get("yiwang_store_rocksdb_write_stopped");
  s->delayed_write_rate = metrics->Get("yiwang_store_rocksdb_delayed_write_rate_bytes");
  s->stall_micros = metrics->Get("yiwang_store_rocksdb_stall_micros_total");
  s->pending_compaction_bytes = metrics->Get("yiwang_store_rocksdb_pending_compaction_bytes");
  s->memtable_mib = Mib(metrics->Get("yiwang_store_rocksdb_memtable_bytes"));
  s->block_cache_mib = Mib(metrics->Get("yiwang_store_rocksdb_block_cache_bytes"));
  s->table_readers_mib = Mib(metrics->Get("yiwang_store_rocksdb_table_readers_bytes"));
  s->heap_in_use_mib = Mib(metrics->Get("yiwang_process_heap_in_use_bytes"));
  s->heap_free_mib = Mib(metrics->Get("yiwang_process_heap_free_bytes"));
}

std::string IntervalJson(const IntervalSample& s) {
  JsonLine j;
  j.Str("bench", "soak")
      .Str("type", "interval")
      .Num("elapsed_s", s.elapsed_s, 1)
      .Str("phase", s.phase)
      .Int("offered", static_cast<int64_t>(s.offered))
      .Int("sent", static_cast<int64_t>(s.sent))
      .Int("acked", static_cast<int64_t>(s.accepted))
      .Int("refused", static_cast<int64_t>(s.refused))
      .Int("backlog", static_cast<int64_t>(s.offered > s.sent ? s.offered - s.sent : 0))
      .Num("events_per_s", s.events_per_s, 0)
      .Num("ack_p50_ms", s.latency.p50_ms, 2)
      .Num("ack_p99_ms", s.latency.p99_ms, 2)
      .Num("ack_max_ms", s.latency.max_ms, 2)
      .Num("server_rss_mib", s.rss_mib, 1)
      .Num("queued_events", s.queued_events, 0)
      .Num("rocksdb_write_stopped", s.write_stopped, 0)
      .Num("rocksdb_delayed_write_rate", s.delayed_write_rate, 0)
      .Num("rocksdb_stall_micros", s.stall_micros, 0)
      .Num("rocksdb_pending_compaction_bytes", s.pending_compaction_bytes, 0)
      .Num("rocksdb_memtable_mib", s.memtable_mib, 1)
      .Num("rocksdb_block_cache_mib", s.block_cache_mib, 1)
      .Num("rocksdb_table_readers_mib", s.table_readers_mib, 1)
      .Num("heap_in_use_mib", s.heap_in_use_mib, 1)
      .Num("heap_free_mib", s.heap_free_mib, 1)
      .Int("live_messages", static_cast<int64_t>(s.live_messages))
      .Int("live_cases", static_cast<int64_t>(s.live_cases))
      .Int("live_alarms", static_cast<int64_t>(s.live_alarms))
      .Int("subscribers_connected", s.subscribers_connected)
      .Int("subscribers_dropped", static_cast<int64_t>(s.subscribers_dropped))
      .Int("connection_failures", static_cast<int64_t>(s.conn_failures));
  return j.Finish();
}

void PrintIntervalHeader() {
  fmt::print(stderr,
             "{:>7} {:>8} {:>10} {:>10} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>6} {:>6} {:>6} "
             "{:>6} {:>7} {:>5} {:>9} {:>8} {:>5} {:>5}\n",
             "t_s", "phase", "sent", "acked", "backlog", "ev/s", "p50_ms", "p99_ms", "max_ms",
             "rss_mib", "mem", "cache", "rdrs", "hfree", "queued", "stop", "stall_ms", "live",
             "subs", "drops");
}

void PrintIntervalLine(const IntervalSample& s) {
  auto num = [](std::optional<double> v, double scale = 1) {
    return v ? fmt::format("{:.0f}", *v * scale) : std::string("-");
  };
  fmt::print(stderr,
             "{:>7.0f} {:>8} {:>10} {:>10} {:>9} {:>8.0f} {:>8.1f} {:>9.1f} {:>9.1f} "
             "{:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>5} {:>9} {:>8} {:>5} {:>5}\n",
             s.elapsed_s, s.phase, s.sent, s.accepted, s.offered > s.sent ? s.offered - s.sent : 0,
             s.events_per_s, s.latency.p50_ms, s.latency.p99_ms, s.latency.max_ms, num(s.rss_mib),
             num(s.memtable_mib), num(s.block_cache_mib), num(s.table_readers_mib),
             num(s.heap_free_mib),
             num(s.queued_events), num(s.write_stopped), num(s.stall_micros, 1e-3), s.live_messages,
             s.subscribers_connected, s.subscribers_dropped);
}

// Raises this process's open-file limit to its hard limit (children inherit it): 2,000 sensor

IntervalFigures SummarizeIntervals(const std::vector<IntervalSample>& samples, double burst_end_s,
                                   double base_rate) {
  IntervalFigures f;
  std::vector<std::pair<double, double>> steady_pts, steady_rest_pts;
  uint64_t accepted_before_burst = 0, accepted_after_burst = 0, refused_before_burst = 0,
           refused_after_burst = 0, offered_burst_start = 0, offered_burst_end = 0,
           sent_burst_start = 0, sent_burst_end = 0;
  auto track_max = [](std::optional<double>* max, std::optional<double> v) {
    if (v) *max = std::max(max->value_or(0), *v);
  };
  std::string p99_series = "[";
  for (const auto& s : samples) {
    track_max(&f.rss_max, s.rss_mib);
    track_max(&f.memtable_max, s.memtable_mib);
    track_max(&f.block_cache_max, s.block_cache_mib);
    track_max(&f.table_readers_max, s.table_readers_mib);
    track_max(&f.heap_free_max, s.heap_free_mib);
    p99_series += fmt::format("{}{:.2f}", p99_series.size() > 1 ? "," : "", s.latency.p99_ms);
    const uint64_t backlog = s.offered > s.sent ? s.offered - s.sent : 0;
    if (s.phase == "steady") {
      if (!f.rss_steady_first && s.rss_mib) f.rss_steady_first = s.rss_mib;
      if (s.rss_mib) f.rss_steady_last = s.rss_mib, steady_pts.push_back({s.elapsed_s, *s.rss_mib});
      if (s.rss_mib && s.memtable_mib && s.block_cache_mib && s.table_readers_mib)
        steady_rest_pts.push_back(
            {s.elapsed_s,
             *s.rss_mib - *s.memtable_mib - *s.block_cache_mib - *s.table_readers_mib});
      f.rss_before_burst = s.rss_mib;
      accepted_before_burst = s.accepted;
      refused_before_burst = s.refused;
      offered_burst_start = s.offered;
      sent_burst_start = s.sent;
    } else if (s.phase == "burst") {
      f.backlog_max = std::max(f.backlog_max, backlog);
      track_max(&f.rss_max_burst, s.rss_mib);
      track_max(&f.queued_max_burst, s.queued_events);
      accepted_after_burst = s.accepted;
      refused_after_burst = s.refused;
      offered_burst_end = s.offered;
      sent_burst_end = s.sent;
    } else {
      f.backlog_max = std::max(f.backlog_max, backlog);
      track_max(&f.rss_max_burst, s.rss_mib);
      // Recovered: the backlog is below one second of the base rate.
      if (!f.recovered_after_s && static_cast<double>(backlog) < base_rate)
        f.recovered_after_s = s.elapsed_s - burst_end_s;
    }
  }
  f.p99_series = p99_series + "]";
  // Drop the first steady point (start-up, caches filling) from the growth fit when there are
  // enough.
  if (steady_pts.size() > 3) steady_pts.erase(steady_pts.begin());
  if (steady_rest_pts.size() > 3) steady_rest_pts.erase(steady_rest_pts.begin());
  f.slope = Slope(steady_pts);
  f.rest_slope = Slope(steady_rest_pts);
  // The second half of the steady phase alone: whether RSS has levelled off once caches, heap
  // and memtables have grown to their working size.
  auto second_half = [](const std::vector<std::pair<double, double>>& pts) {
    return Slope(std::vector<std::pair<double, double>>(
        pts.begin() + static_cast<std::ptrdiff_t>(pts.size() / 2), pts.end()));
  };
  f.late_slope = second_half(steady_pts);
  f.late_rest_slope = second_half(steady_rest_pts);
  f.burst_refused = refused_after_burst - refused_before_burst;
  f.burst_offered = offered_burst_end - offered_burst_start;
  f.burst_sent = sent_burst_end - sent_burst_start;
  f.burst_acked = accepted_after_burst - accepted_before_burst;
  return f;
}

}  // namespace yiwang::tools::bench
