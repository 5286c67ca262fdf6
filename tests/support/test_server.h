#pragma once
// TestServer: how an integration test runs `yiwang serve`: a fresh work dir (ready files,
// logs, config files, and the data dir WORK/data unless the test names another), the server
// as a child process on port 0 (client::ServerProcess), its bootstrap admin token, device
// tokens, /metrics samples, and the server's log on stderr when the test failed.
//
// Thread safety: one test thread drives it; port() may be read from any thread.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tests/support/temp_dir.h"
#include "tools/client/server_process.h"

namespace yiwang::test {

// The yiwang binary to run: $YIWANG_TEST_BINARY if set (an ASan build of the server, say), else
// the one this build made.
std::string ServerBinary();

class TestServer {
 public:
  TestServer();
  // Kills a server still running (SIGKILL), after printing its log if the current test failed.
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Starts the server on `data_dir` (default DataDir()) with `args` and reads its admin token.
  // Errors: those of ServerProcess::Start, with the server's log appended; those of reading
  // DATA/bootstrap-admin.token; InvalidArgument if that token is not "ywa_...".
  [[nodiscard]] Status Start(const std::vector<std::string>& args = {},
                             const std::string& data_dir = {});
  // Writes `config_json` (a ServerConfig in protobuf's JSON mapping) to WORK/config.json and
  // returns the arguments that load it: {"--config", path}.
  std::vector<std::string> Config(const std::string& config_json) const;

  // A new device token for devices starting with `prefix` (and scoped to `districts`, if
  // any), its id in *id if given; "" and a test failure if it could not be made or is not
  // "ywd_...".
  std::string DeviceToken(const std::string& name, const std::string& prefix,
                          const std::vector<std::string>& districts = {},
                          std::string* id = nullptr);
  // The value of one sample of /metrics, written `name` or `name{label="value",...}`; -1 if
  // absent. If /metrics does not answer 200: -1, and a test failure if `must_answer`.
  double Metric(const std::string& series, bool must_answer = true) const;

  client::ServerProcess& process() { return process_; }
  const client::ServerProcess& process() const { return process_; }
  uint16_t port() const { return process_.port(); }
  pid_t pid() const { return process_.pid(); }
  const std::string& admin() const { return admin_; }
  const TempDir& work() const { return work_; }
  std::string DataDir() const { return work_.Sub("data"); }
  // The current (or last) server's output.
  std::string Log() const { return process_.Log(); }
  // Writes the log to stderr between markers.
  void PrintLog() const;

 private:
  TempDir work_;
  client::ServerProcess process_;
  std::string admin_;
};

}  // namespace yiwang::test
