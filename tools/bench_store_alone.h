#pragma once
// The baselines of `yiwang bench ingest` that need no server: store_alone, a fresh EventStore
// in this process driven as the server's I/O threads drive it (the same group commit,
// WriteBatch and fsync, no network, no decoding), and the disk's fdatasync latency. Internal
// to tools/.
//
// Thread safety: call from the driver thread; each runs and joins its own threads.

#include <optional>
#include <string>

#include "base/status.h"
#include "tools/bench_run.h"

namespace yiwang::tools::bench {

// fdatasync latency of the disk under the temp dir (where every store of the bench lives):
// 300 appends of 256 bytes, each followed by fdatasync, like a WAL of small commits. That is
// the cost group commit amortises; the server's sizing assumes ~0.3 ms, and a busy or
// throttled disk can be ten times slower, so each scenario prints what it had. Errors (in
// *status): IOError from creating, writing or syncing the file.
LatencySummary ProbeFdatasync(Status* status);

struct StoreAloneResult {
  RunResult run;
  std::optional<double> events_per_fsync;
};

// N logical producers (settings.connections) keep `inflight` requests of `batch` events each
// queued in a fresh store with the server's default options, for a warm-up and one window.
// Errors (in *status): those of opening the store; Busy if requests were still in flight
// after kDrainTimeout.
StoreAloneResult RunStoreAlone(const LoadSettings& settings, const std::string& run_tag,
                               Status* status);

}  // namespace yiwang::tools::bench
