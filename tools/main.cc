// yiwang: the one binary. Subcommands: serve, sim, bench. Wiring only; the work is in the
// libraries.

#include <CLI/CLI.hpp>

#include "tools/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"yiwang (一网): urban-management command centre platform"};
  app.require_subcommand(1);

  yiwang::tools::ServeOptions serve;
  auto* s = app.add_subcommand("serve", "Run the server (sensor ingest, API, pages)");
  s->add_option("--data-dir", serve.data_dir, "RocksDB data directory")->capture_default_str();
  s->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0 picks one)")
      ->capture_default_str();
  s->add_option("--ready-file", serve.ready_file,
                "Write http://HOST:PORT and a newline here once ready");
  s->add_option("--config", serve.config_file, "Server configuration (JSON)");
  s->add_flag("--demo", serve.demo, "Provision a demo device token (DIR/demo-device.token)");
  s->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (*s) return yiwang::tools::RunServe(serve);
  return 0;
}
