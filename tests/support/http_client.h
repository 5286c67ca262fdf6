#pragma once
// The integration tests' shorthands for one HTTP request to a server on 127.0.0.1
// (tools/client/http.h does the work): a reply that carries its transport error instead of a
// Status, so that a test can write `EXPECT_EQ(HttpGet(port, "/healthz").status, 200)`.

#include <chrono>
#include <cstdint>
#include <string>

#include "tools/client/http.h"

namespace yiwang::test {

using client::HeaderList;

struct HttpReply : client::HttpResponse {
  std::string error;  // the transport error (status is then 0); empty on success
};

// Sends `method target` to 127.0.0.1:port. For HEAD the body is not read (only headers).
HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const HeaderList& headers = {}, const std::string& body = {},
               std::chrono::milliseconds timeout = client::kHttpTimeout);

// With an optional bearer token ("" sends no Authorization header); a POST's body is JSON.
HttpReply HttpGet(uint16_t port, const std::string& target, const std::string& token = {});
HttpReply HttpPost(uint16_t port, const std::string& target, const std::string& token,
                   const std::string& json_body);

}  // namespace yiwang::test
