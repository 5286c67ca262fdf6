#include <CLI/CLI.hpp>

#include "tools/commands.h"

namespace yiwang::tools {

CLI::App* AddBenchCommand(CLI::App& app, int* exit_code) {
  auto* s = app.add_subcommand("bench", "Benchmarks that print numbers");
  s->callback([exit_code] { *exit_code = 1; });  // Being written (issue 2, item 8).
  return s;
}

}  // namespace yiwang::tools
