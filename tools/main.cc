// yiwang: the one binary. Subcommands: serve, sim, bench, config, audit, device-tokens,
// cluster. Wiring only; the work is in the libraries.

#include <CLI/CLI.hpp>

#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"yiwang (一网): urban-management command centre platform"};
  app.require_subcommand(1);
  int exit_code = 0;
  yiwang::tools::AddServeCommand(app, &exit_code);
  yiwang::tools::AddSimCommand(app, &exit_code);
  yiwang::tools::AddBenchCommand(app, &exit_code);
  yiwang::tools::AddConfigCommand(app, &exit_code);
  yiwang::tools::AddAuditCommand(app, &exit_code);
  yiwang::tools::AddDeviceTokensCommand(app, &exit_code);
  yiwang::tools::AddClusterCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
