#pragma once
// The entry points that the libFuzzer targets (make fuzz) and the deterministic fuzz smoke test
// (make test) share: each takes untrusted bytes, runs them through the real code, and checks
// the contract of the answer. A violation is returned as text ("" when all is well); the
// fuzzers abort on it, the smoke test fails on it.
//
// Thread safety: none. One thread drives a Harness (libFuzzer runs inputs one at a time).
//
// Targets (make fuzz builds yiwang_<target>_fuzzer for each; tests/fuzz/corpus/<target>/ holds
// its committed seed corpus, replayed by yiwang_fuzz_corpus_test in make test):
//   frame, api, key_codec, image, open311, case_machine.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yiwang/v1/sensor.pb.h"

namespace yiwang::fuzz {

class Harness {
 public:
  // Opens a store (sync off, on RocksDB's in-memory file system: fuzzing measures parsing and
  // the write path, not the disk; `base_dir` only names the database), with an IngestService and an Api around it, and an admin token. The clock is
  // fixed at 2024-05-01T00:00:00Z. Frame starts over on a fresh stack (new store, new admin
  // token) once `events_per_stack` events were stored, so that memory stays bounded in long
  // runs (the in-memory file system keeps every byte written).
  explicit Harness(const std::string& base_dir, uint64_t events_per_stack = 100'000);
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

// Open311 GeoReport v2 (web/open311.h) over a real dispatcher, citizen API and store (in
// memory, sync off), with a district map of one square around 渝中区 (106.5..106.6 E,
// 29.5..29.6 N) and a fixed clock (2024-05-01T00:00:00Z).
class Open311Harness {
 public:
  // `base_dir` only names the databases (they are in memory).
  explicit Open311Harness(const std::string& base_dir);
  ~Open311Harness();

  // One request built from `data`: byte 0 picks the method (bits 0-1: GET, POST, HEAD, PUT)
  // and the format (bit 2: .xml, else .json); the rest up to the first '\n' is the resource
  // and query after /open311/v2/ (the extension goes before any '?'), the rest after it the
  // application/x-www-form-urlencoded body. "$KEY" in the body or query becomes a valid
  // api_key. Checks: Handle answers every /open311/v2/ path; a documented status (200, 201,
  // 400, 403, 404, 405, 429; never 500); Content-Type and Content-Length match the format and
  // body; an error is exactly the spec's [{"code": status, "description"}] (XML
  // <errors><error><code>status</code><description>) and 405 carries Allow; a JSON body is
  // valid UTF-8 JSON (an array, or the discovery object); an XML body is well-formed (tags
  // balanced, text escaped, no control characters); 201 answers one
  // {"service_request_id","token"} whose token tracks to that id. *status gets the status.
  // The stack is rebuilt (fresh store) after every kCasesPerStack filed cases so that listing
  // requests stays cheap.
  std::string Request(std::string_view data, int* status = nullptr);

  static constexpr int kCasesPerStack = 64;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  void Rebuild();
};

// web/image_sanitizer: SanitizeImage(data) under the default pixel limit. Checks: an error is
// one of the documented three with a message, and kUnsupported exactly when SniffImageType
// does not know the bytes; on success the output sniffs as the input's type, its structure
// (walked here independently) carries no EXIF, XMP, IPTC, comment, text or time chunk (JPEG
// APP1/APP13/COM/other APPn, PNG tEXt/zTXt/iTXt/eXIf/tIME, WebP EXIF/"XMP " and their VP8X
// flags), nothing after the end marker, width x height within the limit (and refused with
// kTooLarge under a limit one pixel smaller), dropped_bytes = input - output, and sanitizing
// the output again gives the same bytes with nothing dropped.
std::string Image(std::string_view data);

// dispatcher/case_machine: `data` decoded as a sequence of commands (action, role, actor,
// arguments, a time step) applied one after another from an empty case with the default SLA
// policy. Each answer is checked against a small model of the documented transition table
// (case_machine.h, docs/workflow.md), written here independently: the error kind in the
// documented order (invalid_argument for malformed, forbidden, illegal_transition with the
// model's allowed list, invalid_argument for arguments), the resulting state, department,
// parking, extension, reporters and counters; the journal entry (seq, prev_hash, hash, from/to
// state, time = max(now, last)); SLA fields sane (the running stage started, yellow_at <=
// deadline, finished stages not before their start, paused exactly while parked or an
// extension is pending). At the end VerifyChain accepts the journal and ReplayJournal
// reproduces the case byte for byte.
std::string CaseMachine(std::string_view data);

// Key codec round trips: bytes -> (device id, seq) and arrival ids -> keys -> parsed back;
// arbitrary bytes -> Parse*Key -> re-encoded must give the same bytes; key order must equal
// (device, seq) order.
std::string KeyCodec(std::string_view data);

// One input of `target` (one of kTargets) through its check, on harnesses created on first
// use (in TMPDIR, else /tmp) and kept for the process: what each libFuzzer target and the
// corpus replay test run. "" when the contract held; "unknown target" for another name.
std::string CheckInput(std::string_view target, std::string_view data);
inline constexpr const char* kTargets[] = {"frame",   "api",     "key_codec",
                                           "image",   "open311", "case_machine"};

// Seed inputs, in each fuzzer's input format: frames (first byte: odd binary, even JSON) of
// valid, mixed and broken batches; HTTP requests to every route (with "$ADMIN"); key bytes;
// images (tests/web/test_images.h, with and without metadata, and broken ones); Open311
// requests; command sequences of the workflow's paths (docs/workflow.md). The committed
// corpus (tests/fuzz/corpus/) was written from these by yiwang_fuzz_seeds.
std::vector<std::string> FrameSeeds();
std::vector<std::string> HttpSeeds();
std::vector<std::string> KeyCodecSeeds();
std::vector<std::string> ImageSeeds();
std::vector<std::string> Open311Seeds();
std::vector<std::string> CaseMachineSeeds();

}  // namespace yiwang::fuzz
