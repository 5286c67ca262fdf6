// `yiwang bench dispatch`: the dispatcher's costs, one JSON line per measurement.
//
//   machine   pure case-machine transitions/s (Apply: no I/O)
//   alarm     alarm-engine evaluation cost per event (Evaluate: no I/O)
//   driver    transitions/s through the Dispatcher (each one WriteSet, synced) and their latency
//   judge     stored events judged/s by the Dispatcher (read back, evaluated, alarm states and
//             cursor written), i.e. how far ahead of ingest it can stay
//
// The ingest cost of running the dispatcher at all is `bench ingest --dispatcher-baseline`.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "dispatcher/alarm_engine.h"
#include "dispatcher/case_machine.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"
#include "store/event_store.h"
#include "tools/commands.h"

namespace yiwang::tools {

namespace {

namespace v1 = yiwang::v1;
using dispatcher::Timestamp;
using Clock = std::chrono::steady_clock;

struct DispatchBenchOptions {
  int cases = 20000;         // machine: case lifecycles applied
  int events = 1000000;      // alarm: events evaluated
  int devices = 1000;        // alarm, judge: devices the events spread over
  int driver_cases = 300;    // driver: lifecycles through the Dispatcher (6 transitions each)
  int judge_events = 200000; // judge: events stored and judged
};

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::shared_ptr<spdlog::logger> Quiet(const std::string& name) {
  return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
}

v1::CaseCommand Cmd(v1::CaseAction a, v1::Role role, const std::string& actor,
                    const std::string& dept = {}) {
  v1::CaseCommand c;
  c.set_action(a);
  c.set_actor_role(role);
  c.set_actor_id(actor);
  c.set_actor_department(dept);
  return c;
}

// The six commands of a citizen case's happy path after CREATE.
std::vector<v1::CaseCommand> Lifecycle(const std::string& dept) {
  std::vector<v1::CaseCommand> out;
  out.push_back(Cmd(v1::CASE_ACTION_ACCEPT, v1::ROLE_DISPATCHER, "disp"));
  v1::CaseCommand t = Cmd(v1::CASE_ACTION_TRANSFER, v1::ROLE_DISPATCHER, "disp");
  t.set_department(dept);
  out.push_back(t);
  v1::CaseCommand h = Cmd(v1::CASE_ACTION_REPORT_HANDLED, v1::ROLE_DEPARTMENT, "staff", dept);
  h.set_note("handled");
  h.add_evidence("photo:x");
  out.push_back(h);
  out.push_back(Cmd(v1::CASE_ACTION_VERIFY_PASS, v1::ROLE_SUPERVISOR, "sup"));
  out.push_back(Cmd(v1::CASE_ACTION_CLOSE, v1::ROLE_SUPERVISOR, "sup"));
  return out;
}

v1::Case Filing(const std::string& id) {
  v1::Case f;
  f.set_id(id);
  f.set_source(v1::SOURCE_PATROL);
  f.set_category("event:0111");
  f.set_urgency(v1::URGENCY_GENERAL);
  f.set_district("500103");
  f.mutable_location()->set_lat(29.557);
  f.mutable_location()->set_lon(106.577);
  f.set_description("积水");
  return f;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void BenchMachine(const DispatchBenchOptions& o) {
  const dispatcher::SlaPolicy policy = dispatcher::SlaPolicy::Default();
  const auto steps = Lifecycle("cgj-500103");
  Timestamp now{std::chrono::milliseconds(1795316400000)};
  uint64_t transitions = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < o.cases; ++i) {
    v1::CaseCommand create = Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "disp");
    *create.mutable_filing() = Filing("C" + std::to_string(i));
    auto r = dispatcher::Apply(v1::Case{}, create, now, policy);
    v1::Case c = r.transition().next;
    ++transitions;
    for (const auto& cmd : steps) {
      now += std::chrono::minutes(1);
      auto n = dispatcher::Apply(c, cmd, now, policy);
      if (!n.ok()) {
        fmt::print(stderr, "machine: {}\n", n.error().message);
        return;
      }
      c = std::move(n).transition().next;
      ++transitions;
    }
  }
  const double s = Seconds(t0, Clock::now());
  fmt::print(R"({{"bench":"dispatch","part":"machine","transitions":{},"seconds":{:.3f},"transitions_per_s":{:.0f},"us_per_transition":{:.2f}}})"
             "\n",
             transitions, s, static_cast<double>(transitions) / s, s * 1e6 / static_cast<double>(transitions));
}

void BenchAlarm(const DispatchBenchOptions& o) {
  dispatcher::AlarmRules rules;
  if (!dispatcher::AlarmRules::Create(dispatcher::DefaultDispatchConfig(), &rules).ok()) return;
  std::vector<v1::AlarmState> states(static_cast<size_t>(o.devices));
  std::vector<std::string> ids;
  for (int d = 0; d < o.devices; ++d) ids.push_back(fmt::format("bench-septic-500103-{:05d}", d));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> noise(0, 1);
  const int64_t base_s = 1795316400;
  uint64_t signals = 0;
  v1::SensorEvent ev;
  ev.mutable_location()->set_lat(29.557);
  ev.mutable_location()->set_lon(106.577);
  const auto t0 = Clock::now();
  for (int i = 0; i < o.events; ++i) {
    const size_t d = static_cast<size_t>(i % o.devices);
    const int64_t t = base_s + (i / o.devices) * 10;
    ev.set_device_id(ids[d]);
    ev.set_seq(static_cast<uint64_t>(i / o.devices + 1));
    ev.mutable_observed_at()->set_seconds(t);
    // Mostly normal readings; one device in 20 in an episode above the threshold.
    const bool episode = d % 20 == 0 && (i / o.devices) % 50 < 20;
    ev.mutable_septic_tank_gas()->set_ch4_percent_lel(episode ? 30 + noise(rng) : 3 + noise(rng));
    ev.mutable_septic_tank_gas()->set_h2s_ppm(1 + noise(rng));
    auto dec = dispatcher::Evaluate(states[d], ev, Timestamp(std::chrono::seconds(t)), rules);
    signals += dec.signals.size();
    states[d] = std::move(dec.next);
  }
  const double s = Seconds(t0, Clock::now());
  fmt::print(R"({{"bench":"dispatch","part":"alarm","events":{},"devices":{},"signals":{},"seconds":{:.3f},"ns_per_event":{:.0f},"events_per_s":{:.0f}}})"
             "\n",
             o.events, o.devices, signals, s, s * 1e9 / o.events, o.events / s);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/yiwang-bench-dispatch-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// A store in a fresh temp dir (removed with the fixture); nullptr (and a message) on failure.
struct BenchStore {
  TempDir dir;
  Metrics metrics;
  std::unique_ptr<store::EventStore> store;

  BenchStore() {
    store::StoreOptions so;
    so.data_dir = (dir.path / "db").string();
    so.tables = store::TablesOf(dispatcher::tables::kAll);
    Status st;
    store = store::EventStore::Open(so, Quiet("store"), &metrics, &st);
    if (!store) fmt::print(stderr, "bench dispatch: store: {}\n", st.ToString());
  }
  std::unique_ptr<dispatcher::Dispatcher> OpenDispatcher() {
    Status st;
    auto d = dispatcher::Dispatcher::Open(store.get(), dispatcher::DefaultDispatchConfig(), {},
                                          Quiet("dispatcher"), &metrics, &st);
    if (!d) fmt::print(stderr, "bench dispatch: dispatcher: {}\n", st.ToString());
    return d;
  }
};

void BenchDriver(const DispatchBenchOptions& o) {
  BenchStore bs;
  if (!bs.store) return;
  auto disp = bs.OpenDispatcher();
  if (!disp) return;
  const auto steps = Lifecycle("cgj-500103");
  std::vector<double> latency_ms;
  uint64_t transitions = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < o.driver_cases; ++i) {
    v1::Case f = Filing("");
    auto a = Clock::now();
    auto filed = disp->File(f, Cmd(v1::CASE_ACTION_CREATE, v1::ROLE_DISPATCHER, "disp"));
    latency_ms.push_back(Seconds(a, Clock::now()) * 1e3);
    if (!filed.status.ok() || filed.error) return;
    ++transitions;
    for (const auto& cmd : steps) {
      a = Clock::now();
      auto out = disp->Execute(filed.c.id(), cmd);
      latency_ms.push_back(Seconds(a, Clock::now()) * 1e3);
      if (!out.status.ok() || out.error) {
        fmt::print(stderr, "driver: {}\n", out.error ? out.error->message : out.status.ToString());
        return;
      }
      ++transitions;
    }
  }
  const double s = Seconds(t0, Clock::now());
  fmt::print(R"({{"bench":"dispatch","part":"driver","transitions":{},"seconds":{:.3f},"transitions_per_s":{:.0f},"p50_ms":{:.3f},"p99_ms":{:.3f},"synced":true}})"
             "\n",
             transitions, s, static_cast<double>(transitions) / s, Percentile(latency_ms, 0.5),
             Percentile(latency_ms, 0.99));
}

void BenchJudge(const DispatchBenchOptions& o) {
  BenchStore bs;
  if (!bs.store) return;
  store::EventStore* store = bs.store.get();
  // Store the events first (no dispatcher running), then time the dispatcher catching up.
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  constexpr int kBatch = 1000;
  for (int i = 0; i < o.judge_events; i += kBatch) {
    store::IngestRequest req;
    for (int k = i; k < std::min(o.judge_events, i + kBatch); ++k) {
      v1::StoredEvent se;
      v1::SensorEvent* ev = se.mutable_event();
      const int d = k % o.devices;
      ev->set_device_id(fmt::format("bench-septic-500103-{:05d}", d));
      ev->set_seq(static_cast<uint64_t>(k / o.devices + 1));
      const int64_t t = now_s - o.judge_events / o.devices + k / o.devices;  // up to now
      ev->mutable_observed_at()->set_seconds(t);
      ev->mutable_location()->set_lat(29.557);
      ev->mutable_location()->set_lon(106.577);
      ev->mutable_septic_tank_gas()->set_ch4_percent_lel(d % 50 == 0 ? 35 : 3);
      se.mutable_received_at()->set_seconds(t);
      se.set_token_name("bench");
      req.events.push_back(std::move(se));
    }
    std::promise<void> done;
    req.done = [&](std::vector<store::Outcome>) { done.set_value(); };
    store->SubmitIngest(std::move(req));
    done.get_future().wait();
  }
  const auto t0 = Clock::now();
  auto disp = bs.OpenDispatcher();
  if (!disp) return;
  disp->Sync();
  const double s = Seconds(t0, Clock::now());
  dispatcher::CasePage page;
  (void)disp->ListCases({}, &page);
  fmt::print(R"({{"bench":"dispatch","part":"judge","events":{},"devices":{},"cases_filed":{},"seconds":{:.3f},"events_per_s":{:.0f},"us_per_event":{:.2f}}})"
             "\n",
             o.judge_events, o.devices, page.total, s, o.judge_events / s,
             s * 1e6 / o.judge_events);
}

}  // namespace

void AddBenchDispatchCommand(CLI::App* bench, int* exit_code) {
  auto opts = std::make_shared<DispatchBenchOptions>();
  auto* d = bench->add_subcommand(
      "dispatch", "Dispatcher costs: machine transitions/s, alarm ns/event, driver, judging");
  d->add_option("--cases", opts->cases, "machine: case lifecycles")->capture_default_str();
  d->add_option("--events", opts->events, "alarm: events evaluated")->capture_default_str();
  d->add_option("--devices", opts->devices, "alarm, judge: devices")->capture_default_str();
  d->add_option("--driver-cases", opts->driver_cases, "driver: lifecycles (6 transitions each)")
      ->capture_default_str();
  d->add_option("--judge-events", opts->judge_events, "judge: events stored, then judged")
      ->capture_default_str();
  d->callback([opts, exit_code] {
    if (opts->devices <= 0 || opts->events <= 0 || opts->cases <= 0) {
      fmt::print(stderr, "bench dispatch: counts must be positive\n");
      *exit_code = 2;
      return;
    }
    BenchMachine(*opts);
    BenchAlarm(*opts);
    BenchDriver(*opts);
    BenchJudge(*opts);
    *exit_code = 0;
  });
}

}  // namespace yiwang::tools
