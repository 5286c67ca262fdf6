#pragma once
// What one run of `yiwang bench cluster` measured (the single process, or N gateways before
// the three nats-servers), and how it is printed: one JSON line per run on stdout, and a table
// of every run for people. Internal to tools/.
//
// Thread safety: values and pure functions; the benchmark's main thread.

#include <optional>
#include <string>
#include <vector>

#include "tools/bench_run.h"

namespace yiwang::tools::bench {

struct ClusterRun {
  std::string scenario;
  LoadSettings load;
  int gateways = 0;  // 0: the single process (`serve --no-dispatcher`)
  RunResult run;
  // The single process, over the window.
  std::optional<double> server_cpu_s;
  std::optional<double> events_per_fsync;
  // The cluster, over the window: per gateway its CPU seconds and the events it packed into
  // log messages (its /metrics); the nats-servers' CPU seconds together; the log messages all
  // gateways sent. Unset where a reading failed.
  std::vector<std::optional<double>> gateway_cpu_s;
  std::vector<std::optional<double>> gateway_events;
  std::optional<double> nats_cpu_s;
  std::optional<double> log_messages;

  // The run failed: errors, or not one event acked.
  bool failed() const { return run.errors > 0 || run.events_acked_total == 0; }
  // CPU microseconds per event acked in the window: of the single process, of all gateways
  // together, of the nats-servers together.
  std::optional<double> server_us_per_event() const;
  std::optional<double> gateways_us_per_event() const;
  std::optional<double> nats_us_per_event() const;
  // Of gateway i, per event it handled.
  std::optional<double> gateway_us_per_own_event(size_t i) const;
  // Events per log message (the gateways' packing), and its inverse.
  std::optional<double> events_per_message() const;
  // CPU of other processes of the machine over the window.
  std::optional<double> other_cpu_s() const;
};

// The run's JSON line (fields in docs/benchmarks.md, "Cluster mode").
std::string ClusterRunJson(const ClusterRun& r);

// Every run as a table, one row each, with a header naming the units.
std::string ClusterTable(const std::vector<ClusterRun>& runs);

}  // namespace yiwang::tools::bench
