#pragma once
// One load run of `yiwang bench ingest` and `yiwang bench soak`, and what it measured: the
// driver's side of the load client (tools/client/load_connection.h). RunLoad connects every
// connection, warms up, measures one window and drains; RunResult holds the window's counts,
// exact latency quantiles and the CPU time this process and the machine spent. Also the
// small helpers both benchmarks share (waits, the run tag, the /proc readings). Internal to
// tools/.
//
// Thread safety: the functions run on the driver (main) thread; RunLoad starts and joins its
// own client threads.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "tools/client/load_connection.h"

namespace yiwang::tools::bench {

using client::ConnStats;
using client::kMaxBatch;
using client::kMaxClientThreads;
using client::kMaxConnections;
using client::kMaxInflight;
using client::LoadSettings;
using client::LoadTarget;
using client::RunControl;
using client::SteadyNowNs;

// After the window: how long the acks of frames in flight may take.
inline constexpr std::chrono::seconds kDrainTimeout{15};
inline constexpr std::chrono::milliseconds kPollInterval{10};

struct LatencySummary {
  uint64_t samples = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// Exact nearest-rank quantiles of `samples_ns` (reordered).
LatencySummary Summarize(std::vector<int64_t>* samples_ns);

struct RunResult {
  double window_s = 0;
  uint64_t frames = 0;              // acked inside the window
  uint64_t events = 0;              // accepted inside the window
  uint64_t events_acked_total = 0;  // accepted over the whole run
  LatencySummary latency;
  uint64_t errors = 0;
  std::string first_error;
  double process_cpu_s = 0;             // this process, over the window
  std::optional<double> machine_cpu_s;  // every process, over the window
  double events_per_s() const { return window_s > 0 ? static_cast<double>(events) / window_s : 0; }
  double frames_per_s() const { return window_s > 0 ? static_cast<double>(frames) / window_s : 0; }
};

// Counts one error of the run; the first one's `what` is kept.
void AddError(RunResult* run, std::string what);

// Adds up per-connection statistics into *r (latencies are moved out).
void Aggregate(const std::vector<ConnStats*>& stats, RunResult* r);

// Called on the main thread right before the window opens and right after it closes.
using WindowHook = std::function<void()>;

// Sleeps through the measured window of `duration_s`, marking its edges in *control (acks count
// only inside it), and sets r->window_s, r->process_cpu_s and r->machine_cpu_s. `at_start` and
// `at_end`, if set, run right at the edges (to read counters over the same window).
void MeasureWindow(double duration_s, RunControl* control, RunResult* r,
                   const WindowHook& at_start, const WindowHook& at_end);

// Drives `target` with `settings`: connects every connection, warms up, measures one window,
// then stops sending and waits for the acks of frames in flight. Failures (a bad host,
// connections that failed or were still open after kDrainTimeout) count as errors.
RunResult RunLoad(const LoadTarget& target, const LoadSettings& settings,
                  const WindowHook& at_window_start, const WindowHook& at_window_end);
// The same load spread over several servers (a cluster's gateways): connection i goes to
// targets[i % targets.size()], so each gets an equal share (up to one connection). Device ids
// stay unique across them: they carry the connection's index. REQUIRES: targets not empty.
RunResult RunLoad(const std::vector<LoadTarget>& targets, const LoadSettings& settings,
                  const WindowHook& at_window_start, const WindowHook& at_window_end);

// utime + stime of process `pid` in seconds (/proc/<pid>/stat), or nullopt if unreadable.
std::optional<double> ProcessCpuSeconds(pid_t pid);
// CPU time every process of the machine spent over all cores (user, nice, system, irq,
// softirq, steal: everything but idle and iowait), in seconds, from /proc/stat. With the CPU
// time of the bench and of the server it tells how much other work shared the cores.
std::optional<double> MachineBusyCpuSeconds();

// Waits until pred() or the timeout; returns pred().
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(kPollInterval);
  return pred();
}

inline std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

// The logger `name` (created on first use, level warn), for the stores the benchmarks open.
std::shared_ptr<spdlog::logger> Logger(const std::string& name);

// A tag that keeps this run's device ids apart from any earlier run's on the same server.
std::string RunTag();

}  // namespace yiwang::tools::bench
