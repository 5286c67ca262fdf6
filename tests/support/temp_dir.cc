#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace yiwang::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/yiwang-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
  path_ = templ;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("YIWANG_KEEP_TEST_DIRS");
  if (keep && *keep && std::string(keep) != "0") return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Sub(std::string_view name) const { return (path_ / name).string(); }

}  // namespace yiwang::test
