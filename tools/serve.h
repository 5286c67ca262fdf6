#pragma once
// `yiwang serve`: wires store, ingest and web together and runs until SIGINT/SIGTERM.

#include <cstdint>
#include <string>

namespace yiwang::tools {

struct ServeOptions {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  std::string ready_file;   // written with "http://HOST:PORT\n" once listening and recovered
  std::string config_file;  // ServerConfig as JSON
  bool demo = false;        // provision a demo device token and write it to DIR/demo-device.token
  std::string log_level = "info";
};

// Returns the process exit code.
int RunServe(const ServeOptions& options);

}  // namespace yiwang::tools
