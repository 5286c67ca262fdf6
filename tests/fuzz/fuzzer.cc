// The libFuzzer entry point of every target (make fuzz): built once per target with
// YIWANG_FUZZ_TARGET set to its name ("frame", "api", "key_codec", "image", "open311",
// "case_machine"). Each input goes through CheckInput (fuzz_harness.h), the same function the
// corpus replay test runs; a contract violation aborts, and libFuzzer keeps the input.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string violation = yiwang::fuzz::CheckInput(
      YIWANG_FUZZ_TARGET, std::string_view(reinterpret_cast<const char*>(data), size));
  if (!violation.empty()) {
    std::fprintf(stderr, "%s contract violated: %s\n", YIWANG_FUZZ_TARGET, violation.c_str());
    std::abort();
  }
  return 0;
}
