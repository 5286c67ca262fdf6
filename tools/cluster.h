#pragma once
// `yiwang cluster ...` (docs/cluster.md): `init` puts in place what a cluster's gateways and
// cores expect in the log (tools/cluster_command.cc); `up` runs a whole cluster on loopback for a
// newcomer, as `make run` runs the single process (tools/cluster_up.cc).

#include <string>

namespace yiwang::tools {

struct ClusterInitOptions {
  std::string nats;  // URL[,URL...]
  int replicas = 3;
  std::string admin_token_out;  // where to write a new bootstrap admin token
  bool rotate_admin_token = false;
};

// Creates the events stream and the token bucket (idempotently) and, unless one is in force
// (or with rotate_admin_token), a bootstrap admin token. Prints what it did; returns the
// process exit code.
int RunClusterInit(const ClusterInitOptions& options);

struct ClusterUpOptions {
  std::string dir = "cluster-data";  // the servers' store dirs, data dirs, logs, tokens
  int gateways = 2;
  int cores = 2;
  int devices = 300;  // of the demo fleet, spread over the gateways
  std::string log_level = "warn";
};

// Three nats-servers, `cluster init`, the gateways and the cores (child processes of this one),
// a device token made at a core for the demo fleet, which then runs over every gateway; prints
// the URLs and waits for SIGINT/SIGTERM, then stops everything. Returns the exit code.
int RunClusterUp(const ClusterUpOptions& options);

}  // namespace yiwang::tools
