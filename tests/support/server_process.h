#pragma once
// ServerProcess: `yiwang serve` as a child process of an integration test.
//
// Start() runs `BINARY serve --data-dir DIR --listen 127.0.0.1:0 --ready-file WORK/ready-N
// [extra args]`, with stdout and stderr in WORK/server-N.log, and waits for the ready file (the
// server writes it atomically once listening and recovered) to learn the real port. The child
// gets PR_SET_PDEATHSIG(SIGKILL), and the destructor SIGKILLs and reaps a server still running,
// so no server outlives a failed test.
//
// Thread safety: none; one test thread drives it (crash-test load threads only read port()).

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace yiwang::test {

struct ExitStatus {
  bool exited = false;     // exited normally (code is valid)
  int code = -1;           // exit code
  int signal = 0;          // terminating signal, if killed
  bool timed_out = false;  // did not exit in time (and was then SIGKILLed)
  std::string ToString() const;
};

class ServerProcess {
 public:
  // `work_dir` receives ready files and logs (not the data dir: a test may wipe that).
  ServerProcess(std::string binary, std::string work_dir);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Extra "NAME=value" environment entries for the next Start (e.g. an LD_PRELOAD shim or libfiu).
  void set_extra_env(std::vector<std::string> env) { extra_env_ = std::move(env); }

  // Starts a server on a fresh port. Returns false (see error() and Log()) if it did not get
  // ready within `timeout` or exited.
  bool Start(const std::string& data_dir, const std::vector<std::string>& extra_args = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends `sig` and waits for the exit; after `timeout` SIGKILLs (timed_out = true).
  ExitStatus Stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `sig` without waiting (e.g. SIGTERM while a client keeps reading); then Wait().
  void Signal(int sig);
  // Waits for the exit; after `timeout` SIGKILLs (timed_out = true).
  ExitStatus Wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // SIGKILL now (a crash), and reap.
  ExitStatus Kill() { return Stop(SIGKILL, std::chrono::seconds(10)); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_.load(); }
  // "http://127.0.0.1:PORT\n" as read from the ready file.
  const std::string& ready_content() const { return ready_content_; }
  const std::string& error() const { return error_; }
  // Everything the current (or last) server wrote to stdout/stderr.
  std::string Log() const;

 private:
  std::string binary_;
  std::string work_dir_;
  std::vector<std::string> extra_env_;
  pid_t pid_ = -1;
  std::atomic<uint16_t> port_{0};
  int generation_ = 0;
  std::string log_path_;
  std::string ready_content_;
  std::string error_;
};

// The yiwang binary to run: $YIWANG_TEST_BINARY if set (e.g. an ASan build of the server),
// else `built` (the YIWANG_BINARY compile definition).
std::string BinaryPath(const char* built);

// Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status), 0 if unreadable.
uint64_t RssKib(pid_t pid);

// Runs `binary args...` to completion with stdout/stderr captured in *output; SIGKILLs it after
// `timeout`.
ExitStatus RunToExit(const std::string& binary, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout, std::string* output);

}  // namespace yiwang::test
