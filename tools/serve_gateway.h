#pragma once
// `yiwang serve --role gateway`: a cluster gateway (docs/cluster.md). The sensors' WebSocket
// (/ws/sensors, the contract of docs/api.md) in front of the replicated log: no store, no web
// pages; a frame is acked once JetStream acknowledged every message carrying its events.
// Device tokens come from the cluster's token directory. Also answers /healthz and /metrics.

#include <spdlog/logger.h>

#include "dispatcher/alarm_engine.h"
#include "tools/serve.h"
#include "tools/serve_settings.h"

namespace yiwang::tools {

// Runs until SIGINT/SIGTERM; returns the process exit code. `device_rules` are the dispatch
// configuration's bindings (a device's district, hence its subject).
int RunGateway(const ServeOptions& o, const ServeSettings& settings,
               dispatcher::AlarmRules device_rules, spdlog::logger& log);

}  // namespace yiwang::tools
