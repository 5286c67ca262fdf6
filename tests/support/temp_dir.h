#pragma once
// TempDir: a fresh directory per test (client::TempDir, prefix "yiwang-test-"), removed with
// everything in it when the object is destroyed. Set YIWANG_KEEP_TEST_DIRS=1 to keep them for
// debugging. If the directory cannot be made the current test fails at once (path() is then
// empty).

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "tools/client/temp_dir.h"

namespace yiwang::test {

class TempDir : public client::TempDir {
 public:
  TempDir() : client::TempDir("yiwang-test-") {
    EXPECT_TRUE(status().ok()) << status().ToString();
    const char* keep = std::getenv("YIWANG_KEEP_TEST_DIRS");
    set_keep(keep && *keep && std::string(keep) != "0");
  }
};

}  // namespace yiwang::test
