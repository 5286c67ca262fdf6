#include "tools/sim.h"

#include <CLI/CLI.hpp>

#include "tools/commands.h"

namespace yiwang::tools {

int RunSim(const SimOptions&, const std::atomic<bool>&) {
  // Being written (issue 2, item 7).
  return 1;
}

CLI::App* AddSimCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<SimOptions>();
  auto* s = app.add_subcommand("sim", "Run a simulated sensor fleet against a server");
  s->add_option("--url", opts->url, "Server URL")->capture_default_str();
  s->callback([opts, exit_code] {
    static std::atomic<bool> stop{false};
    *exit_code = RunSim(*opts, stop);
  });
  return s;
}

}  // namespace yiwang::tools
