#pragma once
// Where a running server listens, and the URL forms that name it ("http://HOST:PORT", the
// content of a ready file; "ws://HOST:PORT/"; "[::1]:8080").

#include <cstdint>
#include <string>

#include "base/status.h"

namespace yiwang::client {

struct Endpoint {
  std::string host;  // a name or a literal address, IPv6 without brackets
  uint16_t port = 0;

  // "host:port", with brackets around an IPv6 address: the value of an HTTP Host header.
  std::string HostHeader() const;
};

// Parses `url`: an optional "http://" or "ws://" scheme, a host (an IPv6 address in
// brackets), ":" and a port of 1..65535, then optionally "/", line endings. Nothing else
// (no path, no user info). InvalidArgument, naming the URL, on anything else.
[[nodiscard]] Status ParseUrl(const std::string& url, Endpoint* endpoint);

}  // namespace yiwang::client
