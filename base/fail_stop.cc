#include "base/fail_stop.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace yiwang {

void FailStop(spdlog::logger& log, std::string_view what) {
  log.critical("{}; stopping (fail-stop)", what);
  spdlog::shutdown();  // flushes every registered logger
  std::_Exit(kFailStopExitCode);
}

}  // namespace yiwang
