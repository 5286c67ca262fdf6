#pragma once
// Subcommands of the yiwang binary. Each Add*Command registers its options on `app`; when the
// subcommand is chosen its callback runs it and stores the process exit code in *exit_code.

namespace CLI {
class App;
}

namespace yiwang::tools {

CLI::App* AddServeCommand(CLI::App& app, int* exit_code);
CLI::App* AddSimCommand(CLI::App& app, int* exit_code);
CLI::App* AddBenchCommand(CLI::App& app, int* exit_code);
CLI::App* AddConfigCommand(CLI::App& app, int* exit_code);
CLI::App* AddAuditCommand(CLI::App& app, int* exit_code);
CLI::App* AddDeviceTokensCommand(CLI::App& app, int* exit_code);
CLI::App* AddClusterCommand(CLI::App& app, int* exit_code);
// `bench dispatch` (tools/bench_dispatch.cc), `bench soak` (tools/bench_soak.cc) and
// `bench cluster` (tools/bench_cluster.cc), registered by AddBenchCommand.
void AddBenchDispatchCommand(CLI::App* bench, int* exit_code);
void AddBenchSoakCommand(CLI::App* bench, int* exit_code);
void AddBenchClusterCommand(CLI::App* bench, int* exit_code);

}  // namespace yiwang::tools
