#pragma once
// `yiwang sim`: a simulated sensor fleet across Chongqing (see tools/sim.cc).

#include <atomic>
#include <cstdint>
#include <string>

namespace yiwang::tools {

struct SimOptions {
  // Server base URL (a ready file's content works), or several, comma-separated: a cluster's
  // gateways, shared by the connections, each moving to the next on failure.
  std::string url = "http://127.0.0.1:8080";
  std::string token;             // device token (prefix must cover "sim-")
  std::string token_file;        // or read the device token from this file
  std::string admin_token_file;  // or provision a device token through the admin API
  int devices = 300;             // simulated devices (septic tanks, manhole covers, trees)
  double rate = 0;               // total events/s; 0 = each device reports every `interval_s`
  double interval_s = 10;        // reporting interval per device when rate == 0
  double duration_s = 0;         // 0 = until stopped
  uint64_t seed = 1;
  std::string districts = "core";  // "core" (nine central districts), "all", or codes "500105,500106"
  int gateways = 4;              // WebSocket connections the devices share
  bool json = false;             // text (JSON) frames instead of binary protobuf
  std::string log_level = "info";  // of the "sim" logger only; empty leaves it as it is
  double anomaly_scale = 1;      // multiplies the anomaly rates; 0 = steady readings only
  double connect_timeout_s = 30;  // give up if no gateway connected by then; 0 = keep trying
};

// Runs the fleet until `stop` becomes true or duration_s passes; returns within ~2 s of `stop`.
// Exit codes: 0 normal end; 1 no gateway ever connected (or the server could not be reached to
// provision a token); 2 bad options or unreadable token file; 3 token refused.
// Thread safety: may run in any thread; several may run at once (distinct fleets need distinct
// districts, else their device ids collide).
int RunSim(const SimOptions& options, const std::atomic<bool>& stop);

}  // namespace yiwang::tools
