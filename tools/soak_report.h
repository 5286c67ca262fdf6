#pragma once
// What `yiwang bench soak` reports: one sample per interval (what the client sent and got
// acked, ack latency, the server's RSS and RocksDB's state from /metrics), printed as a table
// row on stderr and a JSON line on stdout, and the figures the summary line draws from all
// of them (memory growth, the burst's outcome, recovery). Internal to tools/.
//
// Thread safety: plain functions on the driver thread's data.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/client/metrics_scrape.h"
#include "tools/latency_histogram.h"

namespace yiwang::tools::bench {

struct IntervalSample {
  double elapsed_s = 0;
  std::string phase;
  uint64_t offered = 0, sent = 0, accepted = 0, refused = 0;
  double events_per_s = 0;
  LatencyHistogram::Snapshot latency;
  std::optional<double> rss_mib;
  std::optional<double> queued_events, write_stopped, delayed_write_rate, stall_micros,
      pending_compaction_bytes;
  // RocksDB's memory (MiB): memtables, block cache (data, index and filter blocks), table
  // readers outside the cache. RSS minus these is the rest of the server.
  std::optional<double> memtable_mib, block_cache_mib, table_readers_mib;
  // The server's malloc heap (MiB): in use, and freed but kept by malloc.
  std::optional<double> heap_in_use_mib, heap_free_mib;
  uint64_t live_messages = 0, live_total = 0, live_cases = 0, live_alarms = 0;
  int subscribers_connected = 0;
  uint64_t subscribers_dropped = 0;
  uint64_t conn_failures = 0;
};

// The server's side of a sample: RSS of `pid` (if > 0) and, from `metrics` (if scraped), the
// store's queue, RocksDB's write stalls and memory, and the heap.
void SampleServer(pid_t pid, const client::MetricsScrape* metrics, IntervalSample* s);

// The sample as one JSON line ("type":"interval").
std::string IntervalJson(const IntervalSample& s);
// The table on stderr: its header, and one row.
void PrintIntervalHeader();
void PrintIntervalLine(const IntervalSample& s);

// The summary's figures from the samples of the phases steady, burst and recovery.
struct IntervalFigures {
  std::optional<double> rss_max, rss_steady_first, rss_steady_last, rss_before_burst,
      rss_max_burst;
  // Least-squares growth of RSS over the steady phase (MiB/s): all of it (less its first point
  // when there are enough) and its second half, of RSS and of RSS minus RocksDB's memory (the
  // rest of the server, whose growth would be a leak, where RocksDB's is bounded by its
  // budgets).
  std::optional<double> slope, rest_slope, late_slope, late_rest_slope;
  std::optional<double> memtable_max, block_cache_max, table_readers_max, heap_free_max;
  uint64_t backlog_max = 0;  // events due and not yet sent, in the burst and after it
  // Seconds after the burst until the backlog fell below one second of the base rate.
  std::optional<double> recovered_after_s;
  uint64_t burst_offered = 0, burst_sent = 0, burst_acked = 0, burst_refused = 0;
  std::optional<double> queued_max_burst;  // the server's write queue, events
  std::string p99_series;                  // every interval's ack p99 (ms), a JSON array
};

// `burst_end_s`: when the burst ended, from the start of the steady phase; `base_rate`:
// events/s outside the burst.
IntervalFigures SummarizeIntervals(const std::vector<IntervalSample>& samples, double burst_end_s,
                                   double base_rate);

}  // namespace yiwang::tools::bench
