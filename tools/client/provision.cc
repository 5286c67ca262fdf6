#include "tools/client/provision.h"

#include <boost/json.hpp>

#include "tools/client/http.h"

namespace yiwang::client {

Status ProvisionDeviceToken(const Endpoint& server, const std::string& admin_token,
                            const std::string& name, const std::string& device_prefix,
                            std::string* token) {
  const std::string body = boost::json::serialize(
      boost::json::object{{"name", name}, {"devicePrefix", device_prefix}});
  HttpResponse res;
  if (Status s = HttpCall(server,
                          JsonRequest("POST", "/api/v1/admin/device-tokens", admin_token, body),
                          &res);
      !s.ok())
    return s;
  const std::string answer = "HTTP " + std::to_string(res.status) + " " + res.body;
  if (res.status == 401 || res.status == 403)
    return Status::NotFound("admin token refused: " + answer);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(res.body, ec);
  const boost::json::value* t =
      ec || !v.is_object() ? nullptr : v.get_object().if_contains("token");
  if (res.status != 201 || !t || !t->is_string())
    return Status::Corruption("device token: unexpected answer: " + answer);
  *token = std::string(t->get_string());
  return Status::Ok();
}

}  // namespace yiwang::client
