#pragma once
// The ws_echo baseline of `yiwang bench ingest`: the same load client against an in-process
// Beast WebSocket server with no storage, which answers every frame with an ack-sized frame.
// What the network stack and the client cost on this machine, measured in the same run.
// Internal to tools/.
//
// Thread safety: call RunWsEcho from the driver thread; it runs and joins its own threads.

#include <string>

#include "base/status.h"
#include "tools/bench_run.h"

namespace yiwang::tools::bench {

// Starts the echo server on 127.0.0.1 and a free port and drives it with `settings` (RunLoad).
// On a failure to listen returns an empty result and the error in *status.
RunResult RunWsEcho(const LoadSettings& settings, const std::string& run_tag, Status* status);

}  // namespace yiwang::tools::bench
