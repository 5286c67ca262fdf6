#pragma once
// The server a benchmark drives: one it spawns from this very binary on a fresh data dir and a
// free port (and stops at the end), or one already running (--server-url); with the admin
// token and a device token for the load client's "bench-" devices. Shared by
// `yiwang bench ingest` and `yiwang bench soak`. Internal to tools/.
//
// Thread safety: one thread (the benchmark's main thread).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/client/endpoint.h"
#include "tools/client/server_process.h"
#include "tools/client/temp_dir.h"

namespace yiwang::tools::bench {

inline constexpr char kDefaultServerLogLevel[] = "warn";
// The device token's name, and the token name the store_alone baseline stamps on its events.
inline constexpr char kTokenName[] = "bench";

struct BenchServerOptions {
  std::string server_url;        // empty: spawn one
  int server_pid = 0;            // with server_url: its pid, for its CPU time and RSS
  std::string admin_token_file;  // with server_url
  // With server_url: a device token covering "bench-"; empty: provision one with the admin
  // token.
  std::string device_token;
  bool need_admin = false;  // read the admin token even when a device token is given
  // Of a spawned server: its --log-level, and more `serve` arguments.
  std::string log_level = kDefaultServerLogLevel;
  std::vector<std::string> extra_args;
};

class BenchServer {
 public:
  BenchServer() = default;
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  // Spawns the server (its output goes to this process's stderr; it gets SIGTERM if this
  // process dies) or takes the one at options.server_url; reads the admin token (the spawned
  // server's bootstrap token, or options.admin_token_file) unless a device token is given
  // and need_admin is false; provisions a device token unless one is given.
  // Errors: those of starting the server, of reading the token file and of provisioning
  // (tools/client), each with what failed in the message; InvalidArgument for a bad URL.
  [[nodiscard]] Status Start(const BenchServerOptions& options);

  // SIGTERM to a spawned server, and its exit (SIGKILL after 20 s). nullopt if the server is
  // not ours.
  std::optional<client::ExitStatus> Stop();

  bool spawned() const { return process_ != nullptr; }
  const client::Endpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  const std::string& admin_token() const { return admin_token_; }
  const std::string& device_token() const { return device_token_; }
  // The spawned server's data dir ("" if not ours).
  std::string data_dir() const;

 private:
  std::unique_ptr<client::TempDir> dir_;
  std::unique_ptr<client::ServerProcess> process_;
  client::Endpoint endpoint_;
  pid_t pid_ = 0;
  std::string admin_token_;
  std::string device_token_;
};

}  // namespace yiwang::tools::bench
