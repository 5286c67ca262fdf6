#include "tools/client/nats_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "store/log/jetstream.h"

namespace yiwang::client {

namespace {

// A port the kernel has just handed out and taken back: free unless someone races for it.
uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0) ::close(fd);
  return port;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string NatsServerBinary() {
  const char* env = std::getenv("YIWANG_NATS_SERVER");
  return env && *env ? env : YIWANG_NATS_SERVER;
}

NatsCluster::NatsCluster(std::string work_dir, int size) : work_dir_(std::move(work_dir)) {
  nodes_.resize(size);
  for (int i = 0; i < size; ++i) {
    Node& n = nodes_[i];
    n.name = fmt::format("n{}", i + 1);
    n.client_port = FreePort();
    n.route_port = FreePort();
    n.config_path = fmt::format("{}/{}.conf", work_dir_, n.name);
    n.log_path = fmt::format("{}/{}.log", work_dir_, n.name);
    n.process = std::make_unique<ChildProcess>();
  }
}

NatsCluster::~NatsCluster() = default;

Status NatsCluster::Start(std::chrono::milliseconds timeout) {
  const std::string binary = NatsServerBinary();
  if (::access(binary.c_str(), X_OK) != 0)
    return Status::IOError(binary + " is missing: run tools/setup.sh (it builds nats-server)");
  std::vector<std::string> routes;
  for (const Node& n : nodes_)
    routes.push_back(fmt::format("nats-route://127.0.0.1:{}", n.route_port));
  for (Node& n : nodes_) {
    std::ofstream conf(n.config_path);
    conf << fmt::format(
        "server_name: {}\nlisten: 127.0.0.1:{}\n"
        "jetstream {{ store_dir: \"{}/{}-store\", sync_interval: always }}\n"
        "cluster {{ name: yw, listen: 127.0.0.1:{}, routes: [{}] }}\n",
        n.name, n.client_port, work_dir_, n.name, n.route_port, fmt::join(routes, ", "));
    if (!conf) return Status::IOError("cannot write " + n.config_path);
  }
  for (Node& n : nodes_)
    if (Status s = StartNode(n); !s.ok()) return s;

  // JetStream answers once a metadata leader is elected: a stream lookup then says "not
  // found" instead of timing out.
  auto quiet = std::make_shared<spdlog::logger>(
      "nats-probe", std::make_shared<spdlog::sinks::null_sink_mt>());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    log::ConnectOptions opts;
    opts.urls = urls();
    opts.timeout = std::chrono::milliseconds(1000);
    auto probe = log::JetStreamLog::Connect(opts, quiet, &last);
    if (probe) {
      uint64_t seq = 0;
      std::string leader;
      last = probe->StreamState("YW_PROBE_NONE", &seq, &leader);
      if (last.code() == Status::Code::kNotFound) return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Busy("the NATS cluster did not answer within the timeout: " + last.ToString() +
                      " (logs in " + work_dir_ + ")");
}

Status NatsCluster::StartNode(Node& n) {
  return n.process->Start(NatsServerBinary(), {"-c", n.config_path}, n.log_path);
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

std::string NatsCluster::url(int i) const {
  return fmt::format("nats://127.0.0.1:{}", nodes_[i].client_port);
}

int NatsCluster::IndexOf(std::string_view name) const {
  for (int i = 0; i < size(); ++i)
    if (nodes_[i].name == name) return i;
  return -1;
}

void NatsCluster::Kill(int i) { nodes_[i].process->Stop(SIGKILL); }

Status NatsCluster::Restart(int i) {
  // The earlier life's log is kept beside the new one (the start truncates the log file).
  std::ofstream(nodes_[i].log_path + ".before-restart") << ReadAll(nodes_[i].log_path);
  return StartNode(nodes_[i]);
}

void NatsCluster::Pause(int i) { nodes_[i].process->Signal(SIGSTOP); }
void NatsCluster::Resume(int i) { nodes_[i].process->Signal(SIGCONT); }

std::string NatsCluster::Log(int i) const { return ReadAll(nodes_[i].log_path); }

pid_t NatsCluster::pid(int i) const { return nodes_[i].process->pid(); }

}  // namespace yiwang::client
