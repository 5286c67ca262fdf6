// `yiwang audit verify`: checks every case's journal (hash chain), that replaying it reproduces
// the stored case, and that the case's index entries are present. Opens the data dir itself, so
// the server must be stopped (RocksDB's lock refuses a second opener).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "dispatcher/audit.h"
#include "dispatcher/dispatch_config.h"
#include "store/event_store.h"
#include "tools/commands.h"
#include "tools/serve.h"

namespace yiwang::tools {

namespace {

struct AuditOptions {
  std::string data_dir = "./data";
  std::string config_file;
};

// Exit codes: 0 every case verified; 1 problems found (listed on stdout); 2 cannot run.
int RunAudit(const AuditOptions& o) {
  yiwang::v1::ServerConfig config;
  if (Status s = LoadServerConfig(o.config_file, &config); !s.ok()) {
    std::fprintf(stderr, "audit: config: %s\n", s.ToString().c_str());
    return 2;
  }
  yiwang::v1::DispatchConfig dispatch;
  dispatcher::SlaPolicy policy = dispatcher::SlaPolicy::Default();
  if (Status s = dispatcher::ResolveDispatchConfig(config, &dispatch); !s.ok()) {
    std::fprintf(stderr, "audit: config: %s\n", s.message().c_str());
    return 2;
  }
  if (Status s = dispatcher::SlaPolicyFromConfig(dispatch, &policy); !s.ok()) {
    std::fprintf(stderr, "audit: config: %s\n", s.message().c_str());
    return 2;
  }
  store::StoreOptions so;
  so.data_dir = o.data_dir;
  Metrics metrics;
  Status st;
  auto quiet = std::make_shared<spdlog::logger>("store", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto store = store::EventStore::Open(so, quiet, &metrics, &st);
  if (!store) {
    std::fprintf(stderr, "audit: cannot open %s: %s (is the server still running?)\n",
                 o.data_dir.c_str(), st.ToString().c_str());
    return 2;
  }
  std::vector<std::string> problems;
  uint64_t checked = 0;
  if (Status s = dispatcher::AuditCases(*store, policy, &problems, &checked); !s.ok()) {
    std::fprintf(stderr, "audit: %s\n", s.ToString().c_str());
    return 2;
  }
  for (const auto& p : problems) std::printf("%s\n", p.c_str());
  std::printf("audit: %llu cases checked, %zu problems\n",
              static_cast<unsigned long long>(checked), problems.size());
  return problems.empty() ? 0 : 1;
}

}  // namespace

CLI::App* AddAuditCommand(CLI::App& app, int* exit_code) {
  auto* a = app.add_subcommand("audit", "Audit the case journals of a (stopped) server's data");
  a->require_subcommand(1);
  auto opts = std::make_shared<AuditOptions>();
  auto* v = a->add_subcommand(
      "verify",
      "Check every case: journal hash chain, replay reproduces the stored case, index entries. "
      "Exit 0 clean, 1 problems (listed), 2 cannot run");
  v->add_option("--data-dir", opts->data_dir, "RocksDB data directory")->capture_default_str();
  v->add_option("--config", opts->config_file,
                "The server's config (its SLA policy decides the replay)");
  v->callback([opts, exit_code] { *exit_code = RunAudit(*opts); });
  return a;
}

}  // namespace yiwang::tools
