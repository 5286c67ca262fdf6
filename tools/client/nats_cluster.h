#pragma once
// NatsCluster: a NATS JetStream cluster on loopback, the real thing, for the cluster tests and
// `yiwang bench cluster`: `size` nats-server processes (the pinned build tools/setup.sh puts in
// .cache/bin; $YIWANG_NATS_SERVER overrides), each with a store dir of its own under
// `work_dir`, `sync_interval: always` (a PubAck means fsynced) and routes to all the others.
// Node i is named "n<i+1>". Start() returns once JetStream answers (a metadata leader is
// elected). The nodes get PR_SET_PDEATHSIG (ChildProcess): they do not outlive this process.
//
// Thread safety: one thread drives it.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tools/client/server_process.h"

namespace yiwang::client {

// The nats-server binary to run: $YIWANG_NATS_SERVER if set, else the project's
// .cache/bin/nats-server.
std::string NatsServerBinary();

class NatsCluster {
 public:
  NatsCluster(std::string work_dir, int size = 3);
  ~NatsCluster();

  // Writes each node's configuration, starts every node and waits (up to `timeout`) until the
  // cluster's JetStream answers. IOError naming the binary if it is missing (run
  // tools/setup.sh); Busy on the timeout (the nodes' logs are in work_dir).
  [[nodiscard]] Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  int size() const { return static_cast<int>(nodes_.size()); }
  // "nats://127.0.0.1:PORT" of every node / of node i.
  std::vector<std::string> urls() const;
  std::string url(int i) const;
  // The index of the node named `name` ("n2" -> 1), -1 if none.
  int IndexOf(std::string_view name) const;

  // kill -9 node i (its store dir stays); Restart starts it again on the same dir and ports.
  void Kill(int i);
  [[nodiscard]] Status Restart(int i);
  // SIGSTOP / SIGCONT node i: a pause longer than any timeout.
  void Pause(int i);
  void Resume(int i);
  // Node i's log.
  std::string Log(int i) const;
  // Node i's process id (-1 while it is not running): for its CPU time.
  pid_t pid(int i) const;

 private:
  struct Node {
    std::string name;
    uint16_t client_port = 0;
    uint16_t route_port = 0;
    std::string config_path;
    std::string log_path;
    std::unique_ptr<ChildProcess> process;
  };
  Status StartNode(Node& n);

  const std::string work_dir_;
  std::vector<Node> nodes_;
};

}  // namespace yiwang::client
