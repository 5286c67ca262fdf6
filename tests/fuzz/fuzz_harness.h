#pragma once
// The entry points that the libFuzzer targets (make fuzz) and the deterministic fuzz smoke test
// (make test) share: each takes untrusted bytes, runs them through the real code, and checks
// the contract of the answer. A violation is returned as text ("" when all is well); the
// fuzzers abort on it, the smoke test fails on it.
//
// Thread safety: none. One thread drives a Harness (libFuzzer runs inputs one at a time).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yiwang/v1/sensor.pb.h"

namespace yiwang::fuzz {

class Harness {
 public:
  // Opens a store (sync off: fuzzing measures parsing, not the disk) in a fresh directory under
  // `base_dir`, with an IngestService and an Api around it, and an admin token. The clock is
  // fixed at 2024-05-01T00:00:00Z.
  explicit Harness(const std::string& base_dir);
  ~Harness();

  // One WebSocket frame from a device whose token allows every device id: decode, validate,
  // store, ack. Checks: the reply comes exactly once; the ack decodes in the frame's encoding;
  // a frame-level error is one of the documented codes with nothing counted; otherwise
  // accepted + duplicates + rejected equals the frame's events, and every rejection has a
  // documented reason and an index in range, in frame order.
  std::string Frame(std::string_view data, bool binary, yiwang::v1::IngestAck* ack = nullptr);

  // One raw HTTP/1.1 request: parsed with Beast's parser under the server's limits (a request
  // that does not parse is not an error), then Api::Handle. Occurrences of "$ADMIN" in the
  // input are replaced by the admin token first. Checks: a documented status; never 500; an
  // error body is {"error":{"code","message"}}; Content-Length matches the body. *status gets
  // the status (0 if the request did not parse).
  std::string Http(std::string_view raw, int* status = nullptr);

  // The admin token (so seeds can be written with "$ADMIN").
  const std::string& admin_token() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Key codec round trips: bytes -> (device id, seq) and arrival ids -> keys -> parsed back;
// arbitrary bytes -> Parse*Key -> re-encoded must give the same bytes; key order must equal
// (device, seq) order.
std::string KeyCodec(std::string_view data);

// Seed inputs, in each fuzzer's input format: frames (first byte: odd binary, even JSON) of
// valid, mixed and broken batches; HTTP requests to every route (with "$ADMIN"); key bytes.
std::vector<std::string> FrameSeeds();
std::vector<std::string> HttpSeeds();
std::vector<std::string> KeyCodecSeeds();

}  // namespace yiwang::fuzz
