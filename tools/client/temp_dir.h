#pragma once
// TempDir: a fresh directory under the system temp dir ($TMPDIR, else /tmp), removed with
// everything in it when the object is destroyed (unless kept). Spawned servers, benchmark
// stores and tests live in one each.
//
// Thread safety: none needed after construction; path() and Sub() may be called from any
// thread.

#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace yiwang::client {

class TempDir {
 public:
  // Creates `prefix` followed by six random characters (mkdtemp). On failure path() is empty
  // and status() says why (IOError).
  explicit TempDir(std::string_view prefix = "yiwang-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const Status& status() const { return status_; }
  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string Sub(std::string_view name) const;
  // Leave the directory in place when destroyed (to look at it after a failure).
  void set_keep(bool keep) { keep_ = keep; }

 private:
  std::filesystem::path path_;
  Status status_;
  bool keep_ = false;
};

}  // namespace yiwang::client
