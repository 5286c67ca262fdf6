// libFuzzer target: one raw HTTP/1.1 request through Beast's parser and web::Api::Handle (no
// sockets). "$ADMIN" in the input becomes a valid admin token, so the admin routes are reached.
// Any contract violation (fuzz_harness.h) aborts.

#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static yiwang::fuzz::Harness* harness = new yiwang::fuzz::Harness(
      std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const std::string violation =
      harness->Http(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!violation.empty()) {
    std::fprintf(stderr, "HTTP contract violated: %s\n", violation.c_str());
    std::abort();
  }
  return 0;
}
