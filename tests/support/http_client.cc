#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include "base/file.h"

namespace yiwang::test {

std::string HttpReply::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const HeaderList& headers, const std::string& body,
               std::chrono::milliseconds timeout) {
  HttpReply reply;
  Fd sock;
  sock.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock.fd < 0) {
    reply.error = std::string("socket: ") + std::strerror(errno);
    return reply;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reply.error = std::string("connect: ") + std::strerror(errno);
    return reply;
  }

  // Host and "Connection: close" unless the caller sets them (e.g. an upgrade request).
  bool has_host = false, has_connection = false;
  for (const auto& [k, v] : headers) {
    has_host |= Lower(k) == "host";
    has_connection |= Lower(k) == "connection";
  }
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  if (!has_host) req += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (!has_connection) req += "Connection: close\r\n";
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    if (Lower(k) == "content-length") has_length = true;
    req += k + ": " + v + "\r\n";
  }
  if (!body.empty() && !has_length)
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::send(sock.fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The server may answer (e.g. 413) and close before reading the whole body: read on.
      break;
    }
    off += static_cast<size_t>(n);
  }

  std::string in;
  char buf[16384];
  size_t header_end = std::string::npos;
  size_t content_length = std::string::npos;
  for (;;) {
    if (header_end != std::string::npos) {
      if (method == "HEAD") break;
      if (content_length != std::string::npos && in.size() >= header_end + content_length) break;
    }
    ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (header_end == std::string::npos) {
        reply.error = std::string("recv: ") + std::strerror(errno);
        return reply;
      }
      break;
    }
    if (n == 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      size_t p = in.find("\r\n\r\n");
      if (p == std::string::npos) continue;
      header_end = p + 4;
      // Parse the status line and headers.
      size_t line_end = in.find("\r\n");
      std::string status_line = in.substr(0, line_end);
      if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
        reply.error = "bad status line: " + status_line;
        return reply;
      }
      reply.status = std::atoi(status_line.c_str() + 9);
      size_t pos = line_end + 2;
      while (pos < p) {
        size_t e = in.find("\r\n", pos);
        std::string line = in.substr(pos, e - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos)
          reply.headers[Lower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
        pos = e + 2;
      }
      if (auto it = reply.headers.find("content-length"); it != reply.headers.end())
        content_length = std::stoul(it->second);
    }
  }
  if (header_end == std::string::npos) {
    reply.error = "connection closed before a complete response";
    reply.status = 0;
    return reply;
  }
  if (method != "HEAD") {
    reply.body = in.substr(header_end);
    if (content_length != std::string::npos && reply.body.size() > content_length)
      reply.body.resize(content_length);
  }
  return reply;
}

HttpReply HttpGet(uint16_t port, const std::string& target, const std::string& token) {
  HeaderList h;
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  return Http(port, "GET", target, h);
}

HttpReply HttpPost(uint16_t port, const std::string& target, const std::string& token,
                   const std::string& json_body) {
  HeaderList h{{"Content-Type", "application/json"}};
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  return Http(port, "POST", target, h, json_body);
}

std::string ProvisionDeviceToken(uint16_t port, const std::string& admin_token,
                                 const std::string& name, const std::string& device_prefix,
                                 std::string* error) {
  HttpReply r = HttpPost(port, "/api/v1/admin/device-tokens", admin_token,
                         R"({"name":")" + name + R"(","devicePrefix":")" + device_prefix + R"("})");
  std::smatch m;
  static const std::regex kToken(R"re("token"\s*:\s*"(ywd_[A-Za-z0-9_-]+)")re");
  if (r.status != 201 || !std::regex_search(r.body, m, kToken)) {
    if (error) *error = "HTTP " + std::to_string(r.status) + " " + r.error + " " + r.body;
    return {};
  }
  return m[1].str();
}

std::string ReadFirstLine(const std::string& path) {
  std::string line;
  (void)yiwang::ReadFirstLine(path, &line);  // empty when missing: the test's check fails
  return line;
}

}  // namespace yiwang::test
