#pragma once
// RawWs: a deliberately tiny WebSocket client on a blocking POSIX socket for the conformance
// and abuse tests. It builds every frame by hand, so it can send what a real client library
// (Beast included) refuses to: reserved bits and opcodes, unmasked frames, fragmented control
// frames, bad close codes, invalid UTF-8, lengths that lie. Not Beast, so the server is tested
// against an independent implementation of RFC 6455.
//
// Thread safety: none; one thread uses an instance.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace yiwang::test {

// RFC 6455 opcodes.
enum : uint8_t {
  kOpContinuation = 0x0,
  kOpText = 0x1,
  kOpBinary = 0x2,
  kOpClose = 0x8,
  kOpPing = 0x9,
  kOpPong = 0xA,
};

// One frame as the server sent it.
struct WsFrame {
  bool fin = false;
  uint8_t rsv = 0;  // the three reserved bits, 0..7
  uint8_t opcode = 0;
  bool masked = false;
  std::string payload;

  // For a close frame: the status code (0 if the payload has none), and the reason.
  int close_code() const;
  std::string close_reason() const;
};

// How a frame is built. Defaults give a conforming single-frame client message.
struct FrameSpec {
  bool fin = true;
  uint8_t rsv = 0;     // bits RSV1..RSV3 as 4,2,1
  bool mask = true;    // clients must mask (RFC 6455 5.1)
  // 0: the shortest length encoding. 2 or 8: force the 16-bit or 64-bit length form (a
  // non-minimal encoding when the payload is short).
  int length_bytes = 0;
};

// The payload of a close frame: 2-byte code (big-endian) + reason.
std::string ClosePayload(int code, const std::string& reason = {});

class RawWs {
 public:
  RawWs() = default;
  ~RawWs();
  RawWs(const RawWs&) = delete;
  RawWs& operator=(const RawWs&) = delete;

  // Opens a TCP connection to 127.0.0.1:port (from `source_ip` if not empty, e.g. "127.0.0.2"),
  // sends the upgrade request for `path` with `headers` added, and reads the response header.
  // Returns true on "101 Switching Protocols" with the right Sec-WebSocket-Accept; else false
  // with error() and http_status() / response() set.
  bool Connect(uint16_t port, const std::string& path,
               const std::vector<std::pair<std::string, std::string>>& headers,
               const std::string& source_ip = {});
  int http_status() const { return http_status_; }
  // The server's response header block (through the blank line).
  const std::string& response() const { return response_; }
  const std::string& error() const { return error_; }

  // Sends one frame: header built from `spec`, `opcode`, the payload masked (or not) with a
  // fresh random key. Returns false if the socket write failed (e.g. the server already closed).
  bool Send(uint8_t opcode, const std::string& payload, const FrameSpec& spec = {});
  // Sends raw bytes (e.g. half a frame header).
  bool SendBytes(const std::string& bytes);

  // Reads one frame within `timeout`. Returns false on timeout (timed_out() true), EOF or a
  // malformed server frame (error() says which).
  bool Read(WsFrame* frame, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool timed_out() const { return timed_out_; }

  // Reads frames until a close frame (skipping pings and data frames) and returns its code:
  // 0 for a close without a code, -1 if the connection ended (EOF) or timed out without one.
  int ReadCloseCode(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True if the server closes the TCP connection (EOF or reset) within `timeout`, discarding
  // anything it sends before.
  bool WaitForEof(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  void Shutdown();  // half-close: no more sends
  void Close();     // closes the socket at once
  int fd() const { return fd_; }

 private:
  // Appends what one recv() returns to buf_, waiting until `deadline`. false on EOF, error or
  // deadline.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  // Reads exactly n bytes into *out, first from buf_. false on EOF, error or deadline.
  bool ReadExact(size_t n, std::string* out, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buf_;  // bytes read but not consumed yet
  int http_status_ = 0;
  std::string response_;
  std::string error_;
  bool timed_out_ = false;
};

}  // namespace yiwang::test
