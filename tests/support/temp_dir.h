#pragma once
// TempDir: a fresh directory per test (mkdtemp under $TMPDIR or /tmp), removed with everything
// in it when the object is destroyed. Set YIWANG_KEEP_TEST_DIRS=1 to keep them for debugging.

#include <filesystem>
#include <string>
#include <string_view>

namespace yiwang::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string Sub(std::string_view name) const;

 private:
  std::filesystem::path path_;
};

}  // namespace yiwang::test
