#pragma once
// `yiwang config check FILE`: the start-up check of the dispatcher configuration, offline.
//
// FILE is either a server config (the `serve --config` file: ServerConfig JSON, whose `dispatch`
// section is merged over the built-in default) or a bare dispatch section (DispatchConfig JSON,
// e.g. dispatcher/default_config.json, checked as if it were that section). A JSON object with
// any of ServerConfig's keys (ingest, http, store, ioThreads, dispatch) is a server config.
//
// The one function of dispatcher/ that does I/O: it reads the file it is given and writes to the
// streams it is given (the command wires std::cout and std::cerr). Call from one thread.

#include <ostream>
#include <string>

namespace yiwang::dispatcher {

// Exit codes of RunConfigCheck.
inline constexpr int kConfigCheckOk = 0;          // valid: a summary went to `out`
inline constexpr int kConfigCheckInvalid = 1;     // parse or validation error, named on `err`
inline constexpr int kConfigCheckUnreadable = 2;  // the file cannot be read

// Checks FILE as `serve` would at start-up (ResolveDispatchConfig) and reports:
//   out: "<path>: ok: 38 districts, 22 categories, ... "
//   err: "<path>: dispatch.routing[3].department: unknown department 'xyz'"
int RunConfigCheck(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace yiwang::dispatcher
