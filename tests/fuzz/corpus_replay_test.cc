// Corpus replay (part of `make test`): every file of the committed seed corpus,
// tests/fuzz/corpus/<target>/, goes through CheckInput (fuzz_harness.h) — the function each
// libFuzzer target calls — and must meet its target's contract. A finding that `make fuzz`
// keeps is added to the corpus with its fix, so it stays fixed here.
//
// Checked that it can fail: with web/image_sanitizer.cc keeping APP1, the image seed with EXIF
// failed here ("output keeps APP1"); with department staff allowed to close in
// dispatcher/case_machine.cc's role table, a case_machine seed failed ("AllowedActions differs
// from the model").

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/fuzz/fuzz_harness.h"
#include "tests/support/temp_dir.h"

namespace yiwang::fuzz {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class FuzzCorpusTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    // The harnesses are created on first use under TMPDIR and live for the process.
    dir_ = new test::TempDir();
    ::setenv("TMPDIR", dir_->path().c_str(), 1);
  }
  static void TearDownTestSuite() { delete dir_; }
  static test::TempDir* dir_;
};
test::TempDir* FuzzCorpusTest::dir_ = nullptr;

TEST_P(FuzzCorpusTest, EveryFileMeetsTheContract) {
  const fs::path dir = fs::path(YIWANG_FUZZ_CORPUS) / GetParam();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 3u) << "a corpus of at least three seeds per target";
  for (const auto& f : files) {
    const std::string data = ReadFile(f);
    EXPECT_EQ(CheckInput(GetParam(), data), "") << f.filename();
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpusTest, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param); });

TEST(FuzzCorpus, EveryTargetHasACorpusAndNothingElseIsThere) {
  std::set<std::string> dirs;
  for (const auto& e : fs::directory_iterator(YIWANG_FUZZ_CORPUS)) dirs.insert(e.path().filename());
  EXPECT_EQ(dirs, std::set<std::string>(std::begin(kTargets), std::end(kTargets)));
  EXPECT_EQ(CheckInput("no_such_target", "x"), "unknown target");
}

}  // namespace
}  // namespace yiwang::fuzz
