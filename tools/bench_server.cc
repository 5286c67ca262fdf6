#include "tools/bench_server.h"

#include <csignal>
#include <fstream>

#include "base/file.h"
#include "tools/client/load_frames.h"
#include "tools/client/provision.h"

namespace yiwang::tools::bench {

namespace {
// A spawned server recovers an empty store: this is the start-up of a loaded machine.
constexpr std::chrono::seconds kReadyTimeout{60};
}  // namespace

Status BenchServer::Start(const BenchServerOptions& options) {
  std::string url = options.server_url;
  pid_ = options.server_pid;
  if (url.empty()) {
    dir_ = std::make_unique<client::TempDir>("yiwang-bench-server-");
    if (!dir_->status().ok()) return dir_->status();
    client::ServerProcess::Options process_options;
    process_options.work_dir = dir_->path().string();
    process_options.log_to_stderr = true;         // the bench's stdout carries only JSON lines
    process_options.parent_death_signal = SIGTERM;  // a dying bench stops its server cleanly
    process_ = std::make_unique<client::ServerProcess>(process_options);
    // The load client invents its device ids, run after run: no bound on new ones.
    const std::string config = dir_->Sub("bench-config.json");
    if (!(std::ofstream(config) << R"({"ingest":{"maxNewDevicesPerHour":0}})" << '\n'))
      return Status::IOError("cannot write " + config);
    std::vector<std::string> args = {"--log-level", options.log_level, "--config", config};
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    if (Status s = process_->Start(dir_->Sub("data"), args, kReadyTimeout); !s.ok())
      return Status::Unavailable("starting the server: " + s.ToString());
    url = process_->ready_content();
    pid_ = process_->pid();
  }
  if (Status s = client::ParseUrl(url, &endpoint_); !s.ok()) return s;

  device_token_ = options.device_token;
  if (device_token_.empty() || options.need_admin) {
    const std::string admin_file =
        process_ ? dir_->Sub("data") + "/" + client::kAdminTokenFile : options.admin_token_file;
    if (Status s = ReadFirstLine(admin_file, &admin_token_); !s.ok()) return s;
  }
  if (device_token_.empty()) {
    // Token names are unique on the server: each run names its own.
    if (Status s = client::ProvisionDeviceToken(endpoint_, admin_token_,
                                                client::UniqueTokenName(kTokenName),
                                                client::kLoadDevicePrefix, &device_token_);
        !s.ok())
      return Status::Unavailable("device token: " + s.ToString());
  }
  return Status::Ok();
}

std::optional<client::ExitStatus> BenchServer::Stop() {
  if (!process_) return std::nullopt;
  return process_->Stop(SIGTERM);
}

std::string BenchServer::data_dir() const { return process_ ? process_->data_dir() : ""; }

}  // namespace yiwang::tools::bench
