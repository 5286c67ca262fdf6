// The libFuzzer entry point of every target (make fuzz): built once per target with
// YIWANG_FUZZ_TARGET set to its name ("frame", "api", "key_codec", "image", "open311",
// "case_machine"). Each input goes through the same check the corpus replay test runs
// (fuzz_harness.h); a contract violation aborts, and libFuzzer keeps the input.
//
// Targets whose check is a free function in a file of its own (YIWANG_FUZZ_CHECK, set by
// CMake: CaseMachine, Image) call it directly instead of through CheckInput, so that the fuzzer
// links only the code under test. libFuzzer walks the whole coverage map after every input, and
// the other targets' harnesses (Beast, the web API, the store) made it 3.4 times as big: the
// case_machine target ran at half the speed.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_harness.h"

namespace {

std::string Check(std::string_view data) {
#ifdef YIWANG_FUZZ_CHECK
  return yiwang::fuzz::YIWANG_FUZZ_CHECK(data);
#else
  return yiwang::fuzz::CheckInput(YIWANG_FUZZ_TARGET, data);
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string violation =
      Check(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!violation.empty()) {
    std::fprintf(stderr, "%s contract violated: %s\n", YIWANG_FUZZ_TARGET, violation.c_str());
    std::abort();
  }
  return 0;
}
