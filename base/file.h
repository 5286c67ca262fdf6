#pragma once
// Small file helpers for the command-line tools and the server's start-up files.

#include <string>

#include "base/status.h"

namespace yiwang {

// The first line of the file at `path`, without its line ending and without leading or
// trailing spaces and tabs, in *line.
// NotFound if the file does not exist; IOError if it cannot be read; InvalidArgument if its
// first line is empty (a token file, say, that was never written).
Status ReadFirstLine(const std::string& path, std::string* line);

}  // namespace yiwang
