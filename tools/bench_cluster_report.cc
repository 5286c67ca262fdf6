#include "tools/bench_cluster_report.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "tools/json_line.h"

namespace yiwang::tools::bench {

namespace {

std::optional<double> PerEventUs(std::optional<double> cpu_s, double events) {
  if (!cpu_s || events <= 0) return std::nullopt;
  return *cpu_s / events * 1e6;
}

// The sum, unset if any part is.
std::optional<double> Sum(const std::vector<std::optional<double>>& parts) {
  double total = 0;
  for (const auto& p : parts) {
    if (!p) return std::nullopt;
    total += *p;
  }
  return total;
}

// `[a,b,...]` with `decimals`, null for an unset element.
std::string JsonArray(const std::vector<std::optional<double>>& values, int decimals) {
  std::vector<std::string> items;
  for (const auto& v : values)
    items.push_back(v ? fmt::format("{:.{}f}", *v, decimals) : "null");
  return fmt::format("[{}]", fmt::join(items, ","));
}

std::string Cell(std::optional<double> v, int decimals) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

// 171968 -> "171,968".
std::string Thousands(double v) {
  const std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    // A comma before each group of three digits from the right (events/s are never negative).
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Setup(const ClusterRun& r) {
  if (r.gateways == 0) return "single process";
  return fmt::format("{} gateway{}", r.gateways, r.gateways > 1 ? "s" : "");
}

}  // namespace

std::optional<double> ClusterRun::server_us_per_event() const {
  return PerEventUs(server_cpu_s, static_cast<double>(run.events));
}
std::optional<double> ClusterRun::gateways_us_per_event() const {
  if (gateway_cpu_s.empty()) return std::nullopt;
  return PerEventUs(Sum(gateway_cpu_s), static_cast<double>(run.events));
}
std::optional<double> ClusterRun::nats_us_per_event() const {
  return PerEventUs(nats_cpu_s, static_cast<double>(run.events));
}
std::optional<double> ClusterRun::gateway_us_per_own_event(size_t i) const {
  if (i >= gateway_cpu_s.size() || i >= gateway_events.size() || !gateway_events[i])
    return std::nullopt;
  return PerEventUs(gateway_cpu_s[i], *gateway_events[i]);
}
std::optional<double> ClusterRun::events_per_message() const {
  const std::optional<double> events = Sum(gateway_events);
  if (gateway_events.empty() || !events || !log_messages || *log_messages <= 0)
    return std::nullopt;
  return *events / *log_messages;
}
std::optional<double> ClusterRun::other_cpu_s() const {
  std::optional<double> servers = gateways == 0 ? server_cpu_s : Sum(gateway_cpu_s);
  if (servers && gateways > 0)
    servers = nats_cpu_s ? std::optional<double>(*servers + *nats_cpu_s) : std::nullopt;
  if (!run.machine_cpu_s || !servers) return std::nullopt;
  return std::max(0.0, *run.machine_cpu_s - run.process_cpu_s - *servers);
}

std::string ClusterRunJson(const ClusterRun& r) {
  const RunResult& run = r.run;
  JsonLine j;
  j.Str("bench", "cluster")
      .Str("scenario", r.scenario)
      .Int("gateways", r.gateways)
      .Int("connections", r.load.connections)
      .Int("batch", r.load.batch)
      .Int("inflight", r.load.inflight)
      .Str("encoding", r.load.json_frames ? "json" : "protobuf")
      .Int("cores", std::thread::hardware_concurrency())
      .Num("duration_s", run.window_s, 3)
      .Num("events_per_s", run.events_per_s(), 0)
      .Num("frames_per_s", run.frames_per_s(), 0)
      .Num("ack_p50_ms", run.latency.p50_ms, 3)
      .Num("ack_p99_ms", run.latency.p99_ms, 3)
      .Num("ack_p999_ms", run.latency.p999_ms, 3)
      .Num("ack_max_ms", run.latency.max_ms, 3)
      .Int("events_acked_total", static_cast<int64_t>(run.events_acked_total))
      .Num("server_cpu_s", r.server_cpu_s, 2)
      .Num("server_cpu_us_per_event", r.server_us_per_event(), 2)
      .Num("events_per_fsync", r.events_per_fsync, 1)
      .Raw("gateway_cpu_s", JsonArray(r.gateway_cpu_s, 2))
      .Raw("gateway_events", JsonArray(r.gateway_events, 0));
  std::vector<std::optional<double>> own;
  for (size_t i = 0; i < r.gateway_cpu_s.size(); ++i) own.push_back(r.gateway_us_per_own_event(i));
  j.Raw("gateway_cpu_us_per_own_event", JsonArray(own, 2))
      .Num("gateways_cpu_us_per_event", r.gateways_us_per_event(), 2)
      .Num("nats_cpu_s", r.nats_cpu_s, 2)
      .Num("nats_cpu_us_per_event", r.nats_us_per_event(), 2)
      .Num("log_messages", r.log_messages, 0)
      .Num("events_per_log_message", r.events_per_message(), 1)
      .Num("client_cpu_s", run.process_cpu_s, 2)
      .Num("other_cpu_s", r.other_cpu_s(), 2)
      .Int("errors", static_cast<int64_t>(run.errors));
  if (run.errors > 0) j.Str("first_error", run.first_error);
  return j.Finish();
}

std::string ClusterTable(const std::vector<ClusterRun>& runs) {
  std::string out = fmt::format(
      "{:<24} {:<15} {:>9} {:>15} | {:>12} {:>13} {:>7} | {:>7} {:>6} {:>5} {:>6}\n", "scenario",
      "setup", "events/s", "ack p50/p99 ms", "server µs/ev", "each gw µs/ev", "nats", "ev/msg",
      "client", "other", "errors");
  out += fmt::format("{:<24} {:<15} {:>9} {:>15} | {:>12} {:>13} {:>7} | {:>7} {:>6} {:>5}\n", "",
                     "", "", "", "(or gateways)", "(own events)", "µs/ev", "", "cores", "cpu s");
  for (const ClusterRun& r : runs) {
    std::vector<std::string> each;
    for (size_t i = 0; i < r.gateway_cpu_s.size(); ++i)
      each.push_back(Cell(r.gateway_us_per_own_event(i), 1));
    const double window = r.run.window_s > 0 ? r.run.window_s : 1;
    out += fmt::format(
        "{:<24} {:<15} {:>9} {:>15} | {:>12} {:>13} {:>7} | {:>7} {:>6} {:>5} {:>6}\n",
        r.scenario, Setup(r), Thousands(r.run.events_per_s()),
        fmt::format("{:.1f} / {:.1f}", r.run.latency.p50_ms, r.run.latency.p99_ms),
        Cell(r.gateways == 0 ? r.server_us_per_event() : r.gateways_us_per_event(), 1),
        each.empty() ? "-" : fmt::format("{}", fmt::join(each, " ")),
        Cell(r.nats_us_per_event(), 1), Cell(r.events_per_message(), 1),
        Cell(r.run.process_cpu_s / window, 2), Cell(r.other_cpu_s(), 1), r.run.errors);
  }
  return out;
}

}  // namespace yiwang::tools::bench
