#pragma once
// ServerProcess: `yiwang serve` as a child process, for the benchmarks and the tests.
//
// Start() runs `BINARY serve --data-dir DATA --listen 127.0.0.1:0 --ready-file WORK/ready-N
// [args]` and waits for the ready file, which the server writes atomically once it listens
// and has recovered its store: its content is the URL with the port the kernel chose. The
// child gets PR_SET_PDEATHSIG (Options::parent_death_signal), so it does not outlive this
// process, and the destructor SIGKILLs and reaps a server still running. Start may be called
// again after the server ended (a restart on the same data dir).
//
// Thread safety: one thread drives it; port() may be read from any thread.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::client {

// This very binary, even if a rebuild has replaced its file since it started.
inline constexpr char kThisBinary[] = "/proc/self/exe";
inline constexpr std::chrono::milliseconds kServerReadyTimeout{30000};
inline constexpr std::chrono::milliseconds kServerStopTimeout{20000};

struct ExitStatus {
  bool exited = false;     // exited normally: code is valid
  int code = -1;           // exit code
  int signal = 0;          // terminating signal, if killed; -1 if there was no process to wait for
  bool timed_out = false;  // did not exit in time, and was then SIGKILLed

  // Exited with code 0 by itself.
  bool ok() const { return exited && code == 0 && !timed_out; }
  std::string ToString() const;
};

class ServerProcess {
 public:
  struct Options {
    std::string binary = kThisBinary;
    // Receives the ready files and the logs (not the data dir: a test may wipe that). Must
    // exist.
    std::string work_dir;
    // The server's stdout and stderr go to this process's stderr instead of
    // WORK/server-N.log (Log() is then empty).
    bool log_to_stderr = false;
    // Sent to the server when this process (strictly: the thread that started it) dies.
    int parent_death_signal = SIGKILL;
  };

  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Extra "NAME=value" environment entries for the next Start (an LD_PRELOAD shim, say); they
  // override this process's entries of the same name.
  void set_extra_env(std::vector<std::string> env) { extra_env_ = std::move(env); }

  // Starts a server on `data_dir` and a fresh port, and waits until it is ready.
  // Errors: Busy if one is running already; IOError if it could not be spawned; Unavailable
  // if it exited before it was ready (with its exit status); Busy if it was not ready within
  // `timeout` (it is then killed); Corruption if the ready file does not hold a URL.
  [[nodiscard]] Status Start(const std::string& data_dir, const std::vector<std::string>& args = {},
                             std::chrono::milliseconds timeout = kServerReadyTimeout);
  // Sends `sig` and waits for the exit; SIGKILLs after `timeout` (timed_out = true).
  ExitStatus Stop(int sig = SIGTERM, std::chrono::milliseconds timeout = kServerStopTimeout);
  // Sends `sig` without waiting (SIGTERM while a client keeps reading, say); then Wait().
  void Signal(int sig);
  // Waits for the exit; SIGKILLs after `timeout` (timed_out = true). signal = -1 if no server
  // was running.
  ExitStatus Wait(std::chrono::milliseconds timeout = kServerStopTimeout);
  // SIGKILL now (a crash), and reap.
  ExitStatus Kill() { return Stop(SIGKILL, std::chrono::seconds(10)); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The port of the running (or last) server; 0 before it was ready.
  uint16_t port() const { return port_.load(); }
  Endpoint endpoint() const { return endpoint_; }
  // The ready file's content: "http://127.0.0.1:PORT\n".
  const std::string& ready_content() const { return ready_content_; }
  const std::string& data_dir() const { return data_dir_; }
  // Everything the current (or last) server wrote to stdout and stderr.
  std::string Log() const;
  // The server's first admin token, from DATA/bootstrap-admin.token (base/file.h
  // ReadFirstLine and its errors).
  [[nodiscard]] Status ReadAdminToken(std::string* token) const;

 private:
  const Options options_;
  std::vector<std::string> extra_env_;
  pid_t pid_ = -1;
  std::atomic<uint16_t> port_{0};
  Endpoint endpoint_;
  int generation_ = 0;
  std::string data_dir_;
  std::string log_path_;
  std::string ready_content_;
};

// Any program as a child process (a nats-server of the cluster tests, say): spawned like a
// ServerProcess (PR_SET_PDEATHSIG; stdout and stderr to a log file), without a ready file: the
// caller knows when its program is ready. The destructor SIGKILLs and reaps one still running.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `binary args...` with its output to `log_path`. Busy if one runs already, IOError
  // if it could not be spawned.
  [[nodiscard]] Status Start(const std::string& binary, const std::vector<std::string>& args,
                             const std::string& log_path);
  // Sends `sig` (SIGSTOP, SIGCONT: a pause) without waiting.
  void Signal(int sig);
  // Sends `sig` and waits for the exit; SIGKILLs after `timeout`.
  ExitStatus Stop(int sig = SIGTERM, std::chrono::milliseconds timeout = kServerStopTimeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Runs `binary args...` to completion with stdout and stderr in *output (if not null);
// SIGKILLs it after `timeout` (timed_out = true). signal = -1 if it could not be started
// (*output then says why).
ExitStatus RunToExit(const std::string& binary, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout, std::string* output);

// The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status), or nullopt.
std::optional<uint64_t> ResidentKib(pid_t pid);

}  // namespace yiwang::client
