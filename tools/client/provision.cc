#include "tools/client/provision.h"

#include <unistd.h>

#include <ctime>

#include <boost/json.hpp>

#include "tools/client/http.h"

namespace yiwang::client {

namespace json = boost::json;

namespace {

constexpr char kBase[] = "/api/v1/admin/device-tokens";

std::string Answer(const HttpResponse& res) {
  return "HTTP " + std::to_string(res.status) + " " + res.body;
}

// Calls the admin API and checks the status: `want` -> Ok with the parsed body in *body (if
// given); 401/403, 404 -> NotFound; else Corruption.
Status Call(const Endpoint& server, const std::string& admin_token, const std::string& method,
            const std::string& target, const std::string& request_body, int want,
            json::object* body) {
  HttpResponse res;
  if (Status s = HttpCall(server, JsonRequest(method, target, admin_token, request_body), &res);
      !s.ok())
    return s;
  if (res.status == 401 || res.status == 403)
    return Status::NotFound("admin token refused: " + Answer(res));
  if (res.status == 404) return Status::NotFound("no such device token: " + Answer(res));
  if (res.status != want) return Status::Corruption("device tokens: unexpected answer: " + Answer(res));
  if (!body) return Status::Ok();
  boost::system::error_code ec;
  json::value v = json::parse(res.body, ec);
  if (ec || !v.is_object())
    return Status::Corruption("device tokens: not a JSON object: " + Answer(res));
  *body = std::move(v.get_object());
  return Status::Ok();
}

// Ids are hex (store::TokenId); anything else would change the path.
Status CheckId(const std::string& id) {
  if (id.empty() || id.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::InvalidArgument("not a device token id (hex digits): " + id);
  return Status::Ok();
}

std::string StringMember(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

Status ProvisionDeviceToken(const Endpoint& server, const std::string& admin_token,
                            const std::string& name, const std::string& device_prefix,
                            std::string* token, const std::vector<std::string>& districts,
                            std::string* id) {
  json::object request{{"name", name}, {"devicePrefix", device_prefix}};
  if (!districts.empty()) request["districts"] = json::array(districts.begin(), districts.end());
  json::object body;
  if (Status s = Call(server, admin_token, "POST", kBase, json::serialize(request), 201, &body);
      !s.ok())
    return s;
  *token = StringMember(body, "token");
  if (token->empty()) return Status::Corruption("device token: no \"token\" in the answer");
  if (id) *id = StringMember(body, "id");
  return Status::Ok();
}

Status ListDeviceTokens(const Endpoint& server, const std::string& admin_token,
                        std::vector<DeviceTokenInfo>* tokens) {
  json::object body;
  if (Status s = Call(server, admin_token, "GET", kBase, "", 200, &body); !s.ok()) return s;
  const json::value* list = body.if_contains("tokens");
  if (!list || !list->is_array()) return Status::Corruption("device tokens: no \"tokens\" array");
  tokens->clear();
  for (const json::value& v : list->get_array()) {
    if (!v.is_object()) return Status::Corruption("device tokens: an entry is not an object");
    const json::object& o = v.get_object();
    DeviceTokenInfo t{StringMember(o, "id"),        StringMember(o, "name"),
                      StringMember(o, "devicePrefix"), {},
                      StringMember(o, "createdAt"), StringMember(o, "rotatedAt")};
    if (const json::value* d = o.if_contains("districts"); d && d->is_array())
      for (const json::value& code : d->get_array())
        if (code.is_string()) t.districts.emplace_back(code.get_string());
    tokens->push_back(std::move(t));
  }
  return Status::Ok();
}

Status RevokeDeviceToken(const Endpoint& server, const std::string& admin_token,
                         const std::string& id) {
  if (Status s = CheckId(id); !s.ok()) return s;
  return Call(server, admin_token, "DELETE", std::string(kBase) + "/" + id, "", 204, nullptr);
}

Status RotateDeviceToken(const Endpoint& server, const std::string& admin_token,
                         const std::string& id, std::string* token) {
  if (Status s = CheckId(id); !s.ok()) return s;
  json::object body;
  if (Status s = Call(server, admin_token, "POST", std::string(kBase) + "/" + id + "/rotate", "",
                      200, &body);
      !s.ok())
    return s;
  *token = StringMember(body, "token");
  if (token->empty()) return Status::Corruption("device token: no \"token\" in the answer");
  return Status::Ok();
}

std::string UniqueTokenName(std::string_view base) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
  return std::string(base) + "-" + stamp + "-" + std::to_string(::getpid());
}

}  // namespace yiwang::client
