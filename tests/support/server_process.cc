#include "tests/support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace yiwang::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr redirected to `log_path`. Only async-signal-safe calls between
// fork and exec (the test process is multi-threaded).
// `extra_env` entries ("NAME=value") are added to (and override) this process's environment.
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& log_path, std::string* error,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> argv_s;
  argv_s.push_back(binary);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = extra_env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra_env)
      if (x.size() > name.size() && x.compare(0, name.size(), name) == 0 && x[name.size()] == '=')
        overridden = true;
    if (!overridden) env_s.emplace_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "open " + log_path + ": " + std::strerror(errno);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    ::close(log_fd);
    return -1;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the test died before prctl
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execve(binary.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
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
ExitStatus WaitFor(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int wstatus = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return Decode(wstatus);
    if (r < 0 && errno != EINTR) {
      ExitStatus s;
      s.signal = -1;
      return s;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
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

ServerProcess::ServerProcess(std::string binary, std::string work_dir)
    : binary_(std::move(binary)), work_dir_(std::move(work_dir)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

bool ServerProcess::Start(const std::string& data_dir, const std::vector<std::string>& extra_args,
                          std::chrono::milliseconds timeout) {
  error_.clear();
  if (pid_ > 0) {
    error_ = "already running";
    return false;
  }
  ++generation_;
  const std::string ready = work_dir_ + "/ready-" + std::to_string(generation_);
  log_path_ = work_dir_ + "/server-" + std::to_string(generation_) + ".log";
  std::filesystem::remove(ready);
  port_ = 0;
  ready_content_.clear();
  std::vector<std::string> args{"serve", "--data-dir"};
  args.push_back(data_dir);
  for (const char* a : {"--listen", "127.0.0.1:0", "--ready-file"}) args.emplace_back(a);
  args.push_back(ready);
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = Spawn(binary_, args, log_path_, &error_, extra_env_);
  if (pid_ < 0) return false;

  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::string content = ReadFile(ready);
    if (!content.empty() && content.back() == '\n') {
      ready_content_ = content;
      size_t colon = content.rfind(':');
      int port = colon == std::string::npos ? 0 : std::atoi(content.c_str() + colon + 1);
      if (port <= 0 || port > 65535) {
        error_ = "bad ready file content: " + content;
        return false;
      }
      port_ = static_cast<uint16_t>(port);
      return true;
    }
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "server exited before it was ready: " + Decode(wstatus).ToString();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  error_ = "server not ready after " + std::to_string(timeout.count()) + " ms";
  Kill();
  return false;
}

ExitStatus ServerProcess::Stop(int sig, std::chrono::milliseconds timeout) {
  Signal(sig);
  return Wait(timeout);
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

ExitStatus ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) {
    ExitStatus s;
    s.signal = -1;
    return s;
  }
  ExitStatus s = WaitFor(pid_, timeout);
  pid_ = -1;
  return s;
}

std::string BinaryPath(const char* built) {
  const char* env = std::getenv("YIWANG_TEST_BINARY");
  return env && *env ? std::string(env) : std::string(built);
}

std::string ServerProcess::Log() const { return log_path_.empty() ? "" : ReadFile(log_path_); }

ExitStatus RunToExit(const std::string& binary, const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout, std::string* output) {
  char templ[] = "/tmp/yiwang-run-XXXXXX";
  int fd = ::mkstemp(templ);
  if (fd >= 0) ::close(fd);
  std::string error;
  pid_t pid = Spawn(binary, args, templ, &error);
  ExitStatus s;
  if (pid < 0) {
    if (output) *output = error;
    s.signal = -1;
  } else {
    s = WaitFor(pid, timeout);
    if (output) *output = ReadFile(templ);
  }
  ::unlink(templ);
  return s;
}

uint64_t RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

}  // namespace yiwang::test
