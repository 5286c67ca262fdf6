#pragma once
// A blocking HTTP/1.1 client: one request per connection ("Connection: close"), for the admin
// API, /metrics and the tests. Written on POSIX sockets, not Beast, so that the tests check
// the server against an implementation of its own (and so that it compiles fast).
//
// Thread safety: the functions share nothing; call them from any thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::client {

inline constexpr std::chrono::milliseconds kHttpTimeout{10000};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  // Sent as given, in order. Host and "Connection: close" are added unless present, and
  // Content-Length when the body is not empty and no Content-Length is given.
  HeaderList headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; a repeated header: the last
  std::string body;                            // empty for HEAD

  // The value of header `lowercase_name`, or "" if absent.
  std::string Header(std::string_view lowercase_name) const;
};

// Sends `request` to `endpoint` on a fresh connection and reads the response (up to its
// Content-Length, or to the end of the connection). `timeout` bounds the connect and each
// send and receive. If the server answers and closes before it read the whole request (413,
// say), the answer is returned.
// Errors: IOError if the host does not resolve, the connection fails or times out, or the
// connection ends before a complete status line and headers; Corruption if the status line is
// not HTTP/1.x. *response is cleared first.
[[nodiscard]] Status HttpCall(const Endpoint& endpoint, const HttpRequest& request,
                              HttpResponse* response,
                              std::chrono::milliseconds timeout = kHttpTimeout);

// A request with "Authorization: Bearer <bearer>" unless `bearer` is empty, and for a
// non-empty body "Content-Type: application/json".
HttpRequest JsonRequest(std::string method, std::string target, std::string_view bearer = {},
                        std::string body = {});

}  // namespace yiwang::client
