// libFuzzer target: store/key_codec round trips and ordering (fuzz_harness.h, KeyCodec).

#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string violation =
      yiwang::fuzz::KeyCodec(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!violation.empty()) {
    std::fprintf(stderr, "key codec contract violated: %s\n", violation.c_str());
    std::abort();
  }
  return 0;
}
