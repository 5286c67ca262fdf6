#include "tests/support/http_client.h"

namespace yiwang::test {

namespace {

HttpReply Send(uint16_t port, const client::HttpRequest& request,
               std::chrono::milliseconds timeout) {
  HttpReply reply;
  const Status s = client::HttpCall({"127.0.0.1", port}, request, &reply, timeout);
  if (!s.ok()) reply.error = s.ToString();
  return reply;
}

}  // namespace

HttpReply Http(uint16_t port, const std::string& method, const std::string& target,
               const HeaderList& headers, const std::string& body,
               std::chrono::milliseconds timeout) {
  return Send(port, {.method = method, .target = target, .headers = headers, .body = body},
              timeout);
}

HttpReply HttpGet(uint16_t port, const std::string& target, const std::string& token) {
  return Send(port, client::JsonRequest("GET", target, token), client::kHttpTimeout);
}

HttpReply HttpPost(uint16_t port, const std::string& target, const std::string& token,
                   const std::string& json_body) {
  client::HttpRequest request = client::JsonRequest("POST", target, token, json_body);
  // Content-Type: application/json even for an empty body.
  if (json_body.empty())
    request.headers.insert(request.headers.begin(), {"Content-Type", "application/json"});
  return Send(port, request, client::kHttpTimeout);
}

}  // namespace yiwang::test
