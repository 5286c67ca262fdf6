#pragma once
// The cluster `yiwang bench cluster` drives, all on this machine: three nats-servers on
// loopback in a fresh temp dir (client::NatsCluster), the events stream
// (ingest::EventsStreamSpec), a device token for the load client's "bench-" devices in the
// cluster's token directory, and gateways (`yiwang serve --role gateway`, this very binary)
// before it. What `yiwang cluster init` will do is done here by hand, as the cluster tests do.
// Internal to tools/.
//
// Thread safety: one thread (the benchmark's main thread).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/log/jetstream.h"
#include "tools/client/endpoint.h"
#include "tools/client/nats_cluster.h"
#include "tools/client/server_process.h"
#include "tools/client/temp_dir.h"

namespace yiwang::tools::bench {

class BenchCluster {
 public:
  explicit BenchCluster(std::string gateway_log_level);
  ~BenchCluster();  // stops the gateways, then the nats-servers; removes the temp dir
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  // Starts the nats-servers, creates the stream and puts the device token into the token
  // directory, each retried while the new cluster elects its leaders (Unavailable).
  // Errors: those of NatsCluster::Start (IOError if nats-server is missing), of connecting,
  // and of the stream or the token once the retries are spent.
  [[nodiscard]] Status Start();

  // Makes exactly `count` gateways run: spawns more (each on the whole cluster, a fresh port,
  // its own work dir), or stops the last ones (SIGTERM). Errors: ServerProcess::Start's, with
  // the gateway's log in the message; Unavailable if one stopped here did not end cleanly.
  [[nodiscard]] Status StartGateways(int count);
  // SIGTERMs every gateway and waits for it; "" if each ended cleanly, else what went wrong.
  std::string StopGateways();

  // How fast an empty core catches up with the log as the gateways packed it: a core
  // (`serve --role core`, with its dispatcher) started on an empty data dir, timed from its
  // spawn until its ready file (written once it applied everything the stream held), then
  // stopped.
  struct CatchUp {
    double seconds = 0;
    uint64_t events = 0;        // stored by the core (its /healthz)
    uint64_t log_messages = 0;  // the stream's last sequence
    std::string error;          // non-empty: the core did not become ready, or no answer
  };
  CatchUp MeasureCatchUp();

  const std::string& device_token() const { return device_token_; }
  std::vector<client::Endpoint> gateway_endpoints() const;
  std::vector<pid_t> gateway_pids() const;
  std::vector<pid_t> nats_pids() const;

 private:
  const std::string gateway_log_level_;
  client::TempDir dir_;
  std::unique_ptr<client::NatsCluster> cluster_;
  std::unique_ptr<log::JetStreamLog> log_;
  std::vector<std::unique_ptr<client::ServerProcess>> gateways_;
  std::string device_token_;
};

}  // namespace yiwang::tools::bench
