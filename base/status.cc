#include "base/status.h"

namespace yiwang {

std::string Status::ToString() const {
  static constexpr const char* kNames[] = {"OK",      "NotFound", "InvalidArgument", "Corruption",
                                           "IOError", "NoSpace",  "Busy",            "Unavailable"};
  std::string s = kNames[static_cast<int>(code_)];
  if (!message_.empty()) s += ": " + message_;
  return s;
}

}  // namespace yiwang
