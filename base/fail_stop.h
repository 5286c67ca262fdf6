#pragma once
// FailStop: the one way the server stops on an unknown disk state (docs/architecture.md
// "Fail-stop", docs/reliability.md). After a failed write or fsync the page
// cache may hold bytes that never reach the disk; going on could ack what a restart will not
// find. The process logs `what` as critical, flushes every logger and exits at once with
// kFailStopExitCode, running no destructors (they would write to the same disk).

#include <string_view>

#include <spdlog/logger.h>

namespace yiwang {

// The exit code of a fail-stop; tests and operators recognise it.
inline constexpr int kFailStopExitCode = 3;

[[noreturn]] void FailStop(spdlog::logger& log, std::string_view what);

}  // namespace yiwang
