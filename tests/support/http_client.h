#pragma once
// A tiny blocking HTTP/1.1 client on POSIX sockets for integration tests: one request per
// connection ("Connection: close"), 127.0.0.1 only, with a receive timeout. Deliberately not
// Beast, so that it tests the server against an independent implementation (and compiles fast).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace yiwang::test {

struct HttpReply {
  int status = 0;                              // 0 if the request failed (see error)
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string error;  // transport error, empty on success

  std::string Header(const std::string& lowercase_name) const;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Sends `method target` to 127.0.0.1:port. For HEAD the body is not read (only headers).
HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const HeaderList& headers = {}, const std::string& body = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Shorthands with an optional bearer token ("" sends no Authorization header).
HttpReply HttpGet(uint16_t port, const std::string& target, const std::string& token = {});
HttpReply HttpPost(uint16_t port, const std::string& target, const std::string& token,
                   const std::string& json_body);

// POST /api/v1/admin/device-tokens; returns the new token, or "" (and *error) on failure.
std::string ProvisionDeviceToken(uint16_t port, const std::string& admin_token,
                                 const std::string& name, const std::string& device_prefix,
                                 std::string* error = nullptr);

// The first line of a text file ("" if unreadable).
std::string ReadFirstLine(const std::string& path);

}  // namespace yiwang::test
