#include "tools/bench_ingest_run.h"

#include <fmt/format.h>

#include "tools/client/metrics_scrape.h"

namespace yiwang::tools::bench {

namespace {

struct StoreCounters {
  double events_written = 0;
  double fsyncs = 0;
};

// The store's write counters from the server's /metrics. NotFound if they are missing.
Status ScrapeStoreCounters(const client::Endpoint& server, StoreCounters* out) {
  client::MetricsScrape metrics;
  if (Status s = client::ScrapeMetrics(server, &metrics); !s.ok()) return s;
  const std::optional<double> events = metrics.Get("yiwang_store_events_written_total");
  const std::optional<double> fsyncs = metrics.Get("yiwang_store_fsyncs_total");
  if (!events || !fsyncs) return Status::NotFound("/metrics lacks the store counters");
  out->events_written = *events;
  out->fsyncs = *fsyncs;
  return Status::Ok();
}

}  // namespace

IngestResult RunIngest(const BenchServerOptions& server_options, const LoadSettings& settings,
                       const std::string& run_tag, Status* status) {
  IngestResult result;
  BenchServer server;
  if (*status = server.Start(server_options); !status->ok()) return result;
  const LoadTarget target{.host = server.endpoint().host,
                          .port = server.endpoint().port,
                          .token = server.device_token(),
                          .run_tag = run_tag};

  StoreCounters c0, c1;
  bool have_counters = true;
  std::optional<double> cpu0, cpu1;
  auto snapshot = [&](StoreCounters* c, std::optional<double>* cpu) {
    if (server.pid() > 0) *cpu = ProcessCpuSeconds(server.pid());
    have_counters = have_counters && ScrapeStoreCounters(server.endpoint(), c).ok();
  };
  result.run = RunLoad(target, settings, [&] { snapshot(&c0, &cpu0); },
                       [&] { snapshot(&c1, &cpu1); });
  if (have_counters && c1.fsyncs > c0.fsyncs) {
    result.events_per_fsync = (c1.events_written - c0.events_written) / (c1.fsyncs - c0.fsyncs);
    result.fsyncs_per_s = (c1.fsyncs - c0.fsyncs) / result.run.window_s;
  }
  if (cpu0 && cpu1) result.server_cpu_s = *cpu1 - *cpu0;

  if (!server.spawned()) return result;
  // A fresh server stores exactly what the run sent; it must hold at least every acked event.
  StoreCounters final_counters;
  if (ScrapeStoreCounters(server.endpoint(), &final_counters).ok() &&
      final_counters.events_written < static_cast<double>(result.run.events_acked_total))
    AddError(&result.run, fmt::format("the server wrote {} events but acked {}",
                                      final_counters.events_written,
                                      result.run.events_acked_total));
  if (const std::optional<client::ExitStatus> exit = server.Stop(); exit && !exit->ok())
    AddError(&result.run, "the server ended with " + exit->ToString());
  return result;
}

}  // namespace yiwang::tools::bench
