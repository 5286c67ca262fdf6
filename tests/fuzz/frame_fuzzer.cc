// libFuzzer target: one sensor ingest frame through IngestService::HandleFrame (decode,
// validate, store, ack). The first byte picks the encoding (odd: binary protobuf, even: JSON
// text); the rest is the frame. Any contract violation (fuzz_harness.h) aborts.

#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static yiwang::fuzz::Harness* harness = new yiwang::fuzz::Harness(
      std::getenv("TMPDIR") && *std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  if (size == 0) return 0;
  const bool binary = data[0] & 1;
  std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string violation = harness->Frame(frame, binary);
  if (!violation.empty()) {
    std::fprintf(stderr, "frame contract violated: %s\n", violation.c_str());
    std::abort();
  }
  return 0;
}
