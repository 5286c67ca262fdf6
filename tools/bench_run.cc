#include "tools/bench_run.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace yiwang::tools::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;

LatencySummary Summarize(std::vector<int64_t>* samples_ns) {
  LatencySummary s;
  s.samples = samples_ns->size();
  if (samples_ns->empty()) return s;
  std::sort(samples_ns->begin(), samples_ns->end());
  auto at = [&](double q) {
    const size_t n = samples_ns->size();
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    return static_cast<double>((*samples_ns)[rank - 1]) / 1e6;
  };
  s.p50_ms = at(0.50);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = static_cast<double>(samples_ns->back()) / 1e6;
  return s;
}

void AddError(RunResult* run, std::string what) {
  run->errors += 1;
  if (run->first_error.empty()) run->first_error = std::move(what);
}

void Aggregate(const std::vector<ConnStats*>& stats, RunResult* r) {
  std::vector<int64_t> all;
  for (ConnStats* s : stats) {
    r->frames += s->frames;
    r->events += s->events;
    r->events_acked_total += s->events_acked_total;
    if (s->errors > 0 && r->errors == 0) r->first_error = s->first_error;
    r->errors += s->errors;
    all.insert(all.end(), s->latencies_ns.begin(), s->latencies_ns.end());
    s->latencies_ns = {};
  }
  r->latency = Summarize(&all);
}

void MeasureWindow(double duration_s, RunControl* control, RunResult* r,
                   const WindowHook& at_start, const WindowHook& at_end) {
  if (at_start) at_start();
  const double cpu0 = ProcessCpuSeconds(::getpid()).value_or(0);
  const std::optional<double> machine0 = MachineBusyCpuSeconds();
  const int64_t start = SteadyNowNs();
  control->window_start_ns = start;
  std::this_thread::sleep_for(Millis(duration_s));
  const int64_t end = SteadyNowNs();
  control->window_end_ns = end;
  const std::optional<double> machine1 = MachineBusyCpuSeconds();
  const double cpu1 = ProcessCpuSeconds(::getpid()).value_or(0);
  if (at_end) at_end();
  if (machine0 && machine1) r->machine_cpu_s = *machine1 - *machine0;
  r->window_s = static_cast<double>(end - start) / 1e9;
  r->process_cpu_s = cpu1 - cpu0;
}

RunResult RunLoad(const LoadTarget& target, const LoadSettings& settings,
                  const WindowHook& at_window_start, const WindowHook& at_window_end) {
  return RunLoad(std::vector<LoadTarget>{target}, settings, at_window_start, at_window_end);
}

RunResult RunLoad(const std::vector<LoadTarget>& targets, const LoadSettings& settings,
                  const WindowHook& at_window_start, const WindowHook& at_window_end) {
  RunResult result;
  net::io_context ioc(settings.client_threads);
  RunControl control;
  std::vector<tcp::endpoint> endpoints;
  for (const LoadTarget& target : targets) {
    boost::system::error_code ec;
    endpoints.emplace_back(net::ip::make_address(target.host, ec), target.port);
    if (ec) {
      result.errors = 1;
      result.first_error = "bad host " + target.host + ": " + ec.message();
      return result;
    }
  }
  std::vector<std::shared_ptr<client::LoadConnection>> conns;
  for (int i = 0; i < settings.connections; ++i) {
    const size_t t = static_cast<size_t>(i) % targets.size();
    conns.push_back(
        std::make_shared<client::LoadConnection>(ioc, targets[t], settings, i, &control));
    conns.back()->Start(endpoints[t]);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < settings.client_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });

  const int n = settings.connections;
  WaitFor([&] { return control.connected.load() + control.finished.load() >= n; },
          client::kConnectTimeout);
  std::this_thread::sleep_for(Millis(settings.warmup_s));

  MeasureWindow(settings.duration_s, &control, &result, at_window_start, at_window_end);

  control.stop_sending = true;
  for (auto& c : conns) c->Stop();
  int stuck = 0;  // connections whose frames in flight were never all acked
  if (!WaitFor([&] { return control.finished.load() >= n; }, kDrainTimeout)) {
    stuck = n - control.finished.load();
    ioc.stop();
  }
  for (auto& t : threads) t.join();

  std::vector<ConnStats*> stats;
  for (auto& c : conns) stats.push_back(&c->stats());
  Aggregate(stats, &result);
  if (stuck > 0) {
    if (result.errors == 0)
      result.first_error = fmt::format("{} connections still open after the drain timeout", stuck);
    result.errors += static_cast<uint64_t>(stuck);
  }
  return result;
}

std::optional<double> ProcessCpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) may hold spaces; fields 14 and 15 (utime, stime) count from after its ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(paren + 1));
  std::string skip;
  for (int field = 3; field <= 13; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<double> MachineBusyCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!in || !(in >> cpu) || cpu != "cpu") return std::nullopt;
  unsigned long long busy = 0;
  for (int field = 0; field < 8; ++field) {  // user nice system idle iowait irq softirq steal
    unsigned long long v = 0;
    if (!(in >> v)) return std::nullopt;
    if (field != 3 && field != 4) busy += v;
  }
  return static_cast<double>(busy) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  auto l = spdlog::stderr_color_mt(name);
  l->set_level(spdlog::level::warn);
  return l;
}

std::string RunTag() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return fmt::format("{:x}", ms);
}

}  // namespace yiwang::tools::bench
