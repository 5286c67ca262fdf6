#include "tests/support/raw_ws.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>

namespace yiwang::test {

namespace {

using SteadyClock = std::chrono::steady_clock;

// SHA-1 (FIPS 180-4) of `data`: only for checking Sec-WebSocket-Accept, so the client needs no
// crypto library.
std::array<uint8_t, 20> Sha1(const std::string& data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string m = data;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  m.push_back(static_cast<char>(0x80));
  while (m.size() % 64 != 56) m.push_back('\0');
  for (int i = 7; i >= 0; --i) m.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  auto rol = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = 0;
      for (int j = 0; j < 4; ++j) w[i] = (w[i] << 8) | static_cast<uint8_t>(m[off + 4 * i + j]);
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d), k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d, k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::array<uint8_t, 20> out{};
  for (int i = 0; i < 20; ++i) out[i] = static_cast<uint8_t>(h[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

std::string Base64(const uint8_t* p, size_t n) {
  static const char* kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int WsFrame::close_code() const {
  if (payload.size() < 2) return 0;
  return (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]);
}

std::string WsFrame::close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }

std::string ClosePayload(int code, const std::string& reason) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xff));
  p.push_back(static_cast<char>(code & 0xff));
  return p + reason;
}

RawWs::~RawWs() { Close(); }

bool RawWs::Connect(uint16_t port, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& source_ip) {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!source_ip.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      error_ = std::string("bind: ") + std::strerror(errno);
      return false;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  uint8_t nonce[16];
  for (auto& b : nonce) b = static_cast<uint8_t>(Rng()());
  const std::string key = Base64(nonce, sizeof nonce);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                    "\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  if (!SendBytes(req)) return false;

  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) {
      error_ = "no complete handshake response: " + error_;
      return false;
    }
  }
  response_ = buf_.substr(0, end + 4);
  buf_.erase(0, end + 4);
  if (response_.size() < 12 || response_.compare(0, 9, "HTTP/1.1 ") != 0) {
    error_ = "not an HTTP/1.1 response: " + response_;
    return false;
  }
  http_status_ = std::atoi(response_.substr(9, 3).c_str());
  if (http_status_ != 101) {
    error_ = "upgrade refused: " + response_.substr(0, response_.find("\r\n"));
    return false;
  }
  const auto digest = Sha1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  const std::string want = "sec-websocket-accept: " + Base64(digest.data(), digest.size());
  if (Lower(response_).find(Lower(want)) == std::string::npos) {
    error_ = "wrong or missing Sec-WebSocket-Accept: " + response_;
    return false;
  }
  return true;
}

bool RawWs::Send(uint8_t opcode, const std::string& payload, const FrameSpec& spec) {
  std::string f;
  f.push_back(static_cast<char>((spec.fin ? 0x80 : 0) | ((spec.rsv & 7) << 4) | (opcode & 0x0f)));
  const uint8_t mask_bit = spec.mask ? 0x80 : 0;
  const uint64_t n = payload.size();
  int len_bytes = spec.length_bytes;
  if (len_bytes == 0) len_bytes = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
  if (len_bytes == 0) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (len_bytes == 2) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>((n >> 8) & 0xff));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  std::string body = payload;
  if (spec.mask) {
    uint8_t key[4];
    for (auto& b : key) b = static_cast<uint8_t>(Rng()());
    f.append(reinterpret_cast<const char*>(key), 4);
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(body[i] ^ key[i % 4]);
  }
  return SendBytes(f + body);
}

bool RawWs::SendBytes(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool RawWs::Fill(SteadyClock::time_point deadline) {
  timed_out_ = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      timed_out_ = true;
      error_ = "timed out";
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above ends it
    char chunk[65536];
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      error_ = got == 0 ? "eof" : std::string("recv: ") + std::strerror(errno);
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(got));
    return true;
  }
}

bool RawWs::ReadExact(size_t n, std::string* out, SteadyClock::time_point deadline) {
  while (buf_.size() < n)
    if (!Fill(deadline)) return false;
  *out = buf_.substr(0, n);
  buf_.erase(0, n);
  return true;
}

bool RawWs::Read(WsFrame* frame, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string h;
  if (!ReadExact(2, &h, deadline)) return false;
  const auto b0 = static_cast<uint8_t>(h[0]), b1 = static_cast<uint8_t>(h[1]);
  frame->fin = b0 & 0x80;
  frame->rsv = (b0 >> 4) & 7;
  frame->opcode = b0 & 0x0f;
  frame->masked = b1 & 0x80;
  uint64_t n = b1 & 0x7f;
  if (n >= 126) {
    std::string ext;
    if (!ReadExact(n == 126 ? 2 : 8, &ext, deadline)) return false;
    n = 0;
    for (char c : ext) n = (n << 8) | static_cast<uint8_t>(c);
  }
  if (n > (64u << 20)) {
    error_ = "server frame of " + std::to_string(n) + " bytes";
    return false;
  }
  std::string key;
  if (frame->masked && !ReadExact(4, &key, deadline)) return false;
  if (!ReadExact(static_cast<size_t>(n), &frame->payload, deadline)) return false;
  if (frame->masked)
    for (size_t i = 0; i < frame->payload.size(); ++i) frame->payload[i] ^= key[i % 4];
  return true;
}

int RawWs::ReadCloseCode(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    WsFrame f;
    if (left.count() <= 0 || !Read(&f, left)) return -1;
    if (f.opcode == kOpClose) return f.close_code();
  }
}

bool RawWs::WaitForEof(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string ignored;
  for (;;) {
    buf_.clear();
    if (!ReadExact(1, &ignored, deadline)) return !timed_out_;
  }
}

void RawWs::Shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void RawWs::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

}  // namespace yiwang::test
