#include "tools/client/server_process.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "base/file.h"
#include "tools/client/provision.h"

namespace yiwang::client {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollInterval{5};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `extra` ("NAME=value") plus this process's environment, less the names `extra` sets.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env = extra;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra)
      overridden |= x.size() > name.size() && x.starts_with(name) && x[name.size()] == '=';
    if (!overridden) env.emplace_back(entry);
  }
  return env;
}

struct SpawnSpec {
  std::string binary;
  std::vector<std::string> args;    // after argv[0]
  std::vector<std::string> env;     // extra entries
  std::string log_path;             // stdout and stderr; empty: both to this process's stderr
  int parent_death_signal = SIGKILL;
};

// fork + exec. Only async-signal-safe calls between the two (the caller may have threads).
// Returns the pid, or -1 and *error.
pid_t Spawn(const SpawnSpec& spec, std::string* error) {
  std::vector<std::string> argv_s;
  // argv[0] is the program's name for ps; /proc/self/exe would say nothing.
  std::error_code ec;
  argv_s.push_back(spec.binary == kThisBinary
                       ? std::filesystem::read_symlink(kThisBinary, ec).string()
                       : spec.binary);
  if (argv_s[0].empty()) argv_s[0] = "yiwang";
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = MergedEnvironment(spec.env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int log_fd = -1;
  if (!spec.log_path.empty()) {
    log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      *error = "open " + spec.log_path + ": " + std::strerror(errno);
      return -1;
    }
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    return -1;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    } else {
      ::dup2(STDERR_FILENO, STDOUT_FILENO);  // a bench's stdout carries only its JSON lines
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execve(spec.binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  return pid;
}

ExitStatus Decode(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  return s;
}

// Waits for `pid` up to `timeout`; SIGKILLs it after that.
ExitStatus WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  int wstatus = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return Decode(wstatus);
    if (r < 0 && errno != EINTR) return ExitStatus{.signal = -1};
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  ExitStatus s = Decode(wstatus);
  s.timed_out = true;
  return s;
}

}  // namespace

std::string ExitStatus::ToString() const {
  std::string s =
      exited ? "exit code " + std::to_string(code) : "killed by signal " + std::to_string(signal);
  if (timed_out) s += " (timed out, SIGKILLed)";
  return s;
}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

Status ServerProcess::Start(const std::string& data_dir, const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout) {
  if (pid_ > 0) return Status::Busy("a server is running already");
  ++generation_;
  const std::string n = std::to_string(generation_);
  const std::string ready = options_.work_dir + "/ready-" + n;
  log_path_ = options_.log_to_stderr ? "" : options_.work_dir + "/server-" + n + ".log";
  data_dir_ = data_dir;
  std::error_code ec;
  std::filesystem::remove(ready, ec);
  port_ = 0;
  endpoint_ = Endpoint();
  ready_content_.clear();
  SpawnSpec spec{.binary = options_.binary,
                 .args = {"serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                          "--ready-file", ready},
                 .env = extra_env_,
                 .log_path = log_path_,
                 .parent_death_signal = options_.parent_death_signal};
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  std::string error;
  pid_ = Spawn(spec, &error);
  if (pid_ < 0) return Status::IOError(error);

  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    const std::string content = ReadFile(ready);
    if (!content.empty() && content.back() == '\n') {
      ready_content_ = content;
      if (Status s = ParseUrl(content, &endpoint_); !s.ok())
        return Status::Corruption("ready file " + ready + ": " + s.message());
      port_ = endpoint_.port;
      return Status::Ok();
    }
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("the server exited before it was ready: " +
                                 Decode(wstatus).ToString());
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Kill();
  return Status::Busy("the server was not ready after " + std::to_string(timeout.count()) +
                      " ms");
}

ExitStatus ServerProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  Signal(sig);
  return Wait(timeout);
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

ExitStatus ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return ExitStatus{.signal = -1};
  const ExitStatus s = WaitForExit(pid_, timeout);
  pid_ = -1;
  return s;
}

std::string ServerProcess::Log() const { return log_path_.empty() ? "" : ReadFile(log_path_); }

Status ServerProcess::ReadAdminToken(std::string* token) const {
  return ReadFirstLine(data_dir_ + "/" + kAdminTokenFile, token);
}

ChildProcess::~ChildProcess() {
  if (running()) Stop(SIGKILL, std::chrono::seconds(10));
}

Status ChildProcess::Start(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& log_path) {
  if (running()) return Status::Busy(binary + " is running already");
  std::string error;
  SpawnSpec spec;
  spec.binary = binary;
  spec.args = args;
  spec.log_path = log_path;
  pid_ = Spawn(spec, &error);
  if (pid_ < 0) return Status::IOError("spawn " + binary + ": " + error);
  return Status::Ok();
}

void ChildProcess::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

ExitStatus ChildProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  if (!running()) return ExitStatus{.signal = -1};
  ::kill(pid_, sig);
  if (sig == SIGTERM || sig == SIGKILL || sig == SIGINT) ::kill(pid_, SIGCONT);  // if paused
  const ExitStatus s = WaitForExit(pid_, timeout);
  pid_ = -1;
  return s;
}

ExitStatus RunToExit(const std::string& binary, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout, std::string* output) {
  char log[] = "/tmp/yiwang-run-XXXXXX";
  const int fd = ::mkstemp(log);
  if (fd >= 0) ::close(fd);
  std::string error;
  SpawnSpec spec;
  spec.binary = binary;
  spec.args = args;
  spec.log_path = log;
  const pid_t pid = Spawn(spec, &error);
  ExitStatus s;
  if (pid < 0) {
    if (output) *output = error;
    s.signal = -1;
  } else {
    s = WaitForExit(pid, timeout);
    if (output) *output = ReadFile(log);
  }
  ::unlink(log);
  return s;
}

std::optional<uint64_t> ResidentKib(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return std::nullopt;
}

}  // namespace yiwang::client
