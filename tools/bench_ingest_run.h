#pragma once
// One load run against the single process (`yiwang serve`, spawned by BenchServer or already
// running) and what it measured besides the load: events per fsync from the server's /metrics
// and the server's CPU time over the window. `yiwang bench ingest` runs its scenarios with it,
// `yiwang bench cluster` its single-process baseline, so that both print the same figures.
// Internal to tools/.
//
// Thread safety: the driver (main) thread; RunLoad starts and joins its own client threads.

#include <optional>
#include <string>

#include "base/status.h"
#include "tools/bench_run.h"
#include "tools/bench_server.h"

namespace yiwang::tools::bench {

struct IngestResult {
  RunResult run;
  std::optional<double> events_per_fsync;  // over the window; unset without the counters
  std::optional<double> fsyncs_per_s;
  std::optional<double> server_cpu_s;  // unset if the server's pid is unknown
};

// Starts the server as `server` says (BenchServer::Start) and drives it with `settings`. A
// spawned server is stopped afterwards; a store that wrote fewer events than were acked, and
// a server that did not end cleanly, count as errors of the run. *status is the server's
// start-up error (then the result is empty), else Ok.
IngestResult RunIngest(const BenchServerOptions& server, const LoadSettings& settings,
                       const std::string& run_tag, Status* status);

}  // namespace yiwang::tools::bench
