#pragma once
// `yiwang serve`: wires store, ingest and web together and runs until SIGINT/SIGTERM.

#include <cstdint>
#include <string>

#include "base/status.h"
#include "yiwang/v1/config.pb.h"

namespace yiwang::tools {

struct ServeOptions {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  std::string ready_file;   // written with "http://HOST:PORT\n" once listening and recovered
  std::string config_file;  // ServerConfig as JSON
  bool demo = false;        // provision a demo device token and write it to DIR/demo-device.token
                            // and run the demo fleet; at a core: the demo users only
  bool dispatcher = true;   // false (--no-dispatcher): ingest and the device API only, no case
                            // workflow (an ingest-only node; the benchmarks' baseline)
  std::string log_level = "info";
  // Cluster mode (docs/cluster.md): "single" (the default: one process on its embedded store),
  // "gateway" (the sensors' WebSocket in front of the replicated log at `nats`) or "core" (the
  // log applied into the store at data_dir, the web served from it).
  std::string role = "single";
  std::string nats;  // nats://HOST:PORT[,nats://HOST:PORT...]: the log's servers
};

// Returns the process exit code.
int RunServe(const ServeOptions& options);

// Reads a ServerConfig (JSON) from `path`; an empty path leaves *config as it is (defaults).
// NotFound if unreadable, InvalidArgument naming the file on a parse error.
Status LoadServerConfig(const std::string& path, yiwang::v1::ServerConfig* config);

}  // namespace yiwang::tools
