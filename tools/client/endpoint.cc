#include "tools/client/endpoint.h"

#include <algorithm>
#include <string_view>

namespace yiwang::client {

std::string Endpoint::HostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ParseUrl(const std::string& url, Endpoint* endpoint) {
  auto bad = [&] { return Status::InvalidArgument("not http://HOST:PORT: '" + url + "'"); };
  std::string s = url;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '/')) s.pop_back();
  for (std::string_view scheme : {"http://", "ws://"}) {
    if (s.starts_with(scheme)) s.erase(0, scheme.size());
  }
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string digits = s.substr(colon + 1);
  if (host.empty() || digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad();
  const int port = std::stoi(digits);
  if (port <= 0 || port > 65535) return bad();
  endpoint->host = std::move(host);
  endpoint->port = static_cast<uint16_t>(port);
  return Status::Ok();
}

}  // namespace yiwang::client
