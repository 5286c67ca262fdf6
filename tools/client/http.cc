#include "tools/client/http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/text.h"

namespace yiwang::client {

namespace {

constexpr size_t kReadChunk = 16384;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t\r");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// A connected socket with send and receive timeouts of `timeout`, or -1 and *error.
int Connect(const Endpoint& endpoint, std::chrono::milliseconds timeout, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "resolve " + endpoint.host + ": " + ::gai_strerror(rc);
    return -1;
  }
  *error = "connect " + endpoint.HostHeader() + ": no address";
  int result = -1;
  for (addrinfo* a = found; a && result < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            a->ai_protocol);
    if (fd < 0) {
      *error = Errno("socket");
      continue;
    }
    // A non-blocking connect, so that `timeout` bounds it too.
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        errno = rc == 0 ? ETIMEDOUT : (err != 0 ? err : errno);
        rc = -1;
      }
    }
    if (rc != 0) {
      *error = Errno("connect " + endpoint.HostHeader());
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    result = fd;
  }
  ::freeaddrinfo(found);
  return result;
}

std::string Serialize(const Endpoint& endpoint, const HttpRequest& request) {
  bool has_host = false, has_connection = false, has_length = false;
  for (const auto& [name, value] : request.headers) {
    const std::string lower = AsciiLower(name);
    has_host |= lower == "host";
    has_connection |= lower == "connection";
    has_length |= lower == "content-length";
  }
  std::string out = request.method + " " + request.target + " HTTP/1.1\r\n";
  if (!has_host) out += "Host: " + endpoint.HostHeader() + "\r\n";
  if (!has_connection) out += "Connection: close\r\n";
  for (const auto& [name, value] : request.headers) out += name + ": " + value + "\r\n";
  if (!request.body.empty() && !has_length)
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "\r\n";
  out += request.body;
  return out;
}

// Parses the status line and headers in in[0, header_end).
Status ParseHead(const std::string& in, size_t head_size, HttpResponse* response) {
  const size_t line_end = in.find("\r\n");
  const std::string status_line = in.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12)
    return Status::Corruption("bad status line: " + status_line);
  response->status = std::atoi(status_line.c_str() + 9);
  for (size_t pos = line_end + 2; pos < head_size;) {
    const size_t e = in.find("\r\n", pos);
    const std::string_view line(in.data() + pos, e - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      response->headers[AsciiLower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
    pos = e + 2;
  }
  return Status::Ok();
}

}  // namespace

std::string HttpResponse::Header(std::string_view lowercase_name) const {
  const auto it = headers.find(std::string(lowercase_name));
  return it == headers.end() ? std::string() : it->second;
}

HttpRequest JsonRequest(std::string method, std::string target, std::string_view bearer,
                        std::string body) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  if (!bearer.empty()) r.headers.emplace_back("Authorization", "Bearer " + std::string(bearer));
  return r;
}

Status HttpCall(const Endpoint& endpoint, const HttpRequest& request, HttpResponse* response,
                std::chrono::milliseconds timeout) {
  *response = HttpResponse();
  std::string error;
  const Fd sock(Connect(endpoint, timeout, &error));
  if (sock.get() < 0) return Status::IOError(error);

  const std::string out = Serialize(endpoint, request);
  for (size_t off = 0; off < out.size();) {
    const ssize_t n = ::send(sock.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server may answer (413, say) and close before reading it all
    off += static_cast<size_t>(n);
  }

  const bool head = request.method == "HEAD";
  std::string in;
  char buf[kReadChunk];
  size_t head_size = std::string::npos;  // status line and headers, with the blank line
  size_t content_length = std::string::npos;
  for (;;) {
    if (head_size != std::string::npos) {
      if (head) break;
      if (content_length != std::string::npos && in.size() >= head_size + content_length) break;
    }
    const ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (head_size == std::string::npos) return Status::IOError(Errno("recv"));
      break;
    }
    if (n == 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (head_size != std::string::npos) continue;
    const size_t blank = in.find("\r\n\r\n");
    if (blank == std::string::npos) continue;
    head_size = blank + 4;
    if (Status s = ParseHead(in, blank, response); !s.ok()) {
      *response = HttpResponse();
      return s;
    }
    const std::string length = response->Header("content-length");
    if (!length.empty()) content_length = std::strtoul(length.c_str(), nullptr, 10);
  }
  if (head_size == std::string::npos) {
    *response = HttpResponse();
    return Status::IOError("connection closed before a complete response");
  }
  if (!head) {
    response->body = in.substr(head_size);
    if (content_length != std::string::npos && response->body.size() > content_length)
      response->body.resize(content_length);
  }
  return Status::Ok();
}

}  // namespace yiwang::client
