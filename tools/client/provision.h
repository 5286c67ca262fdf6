#pragma once
// Device tokens through the admin API (/api/v1/admin/device-tokens, docs/api.md): what every
// client that sends sensor events first needs, and what `yiwang device-tokens` does.
//
// Errors of every call: IOError when the server cannot be reached (the caller may retry: it
// may be starting); NotFound when the server refuses the admin token (HTTP 401 or 403), or for
// an id no device token has (404); InvalidArgument for an id that is not hex; Corruption on any
// other answer (an unexpected status, or a
// body without the expected members), with the status and body in the message.
//
// Thread safety: no shared state; any thread.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::client {

// The file a server writes its first admin token to, in its data dir.
inline constexpr char kAdminTokenFile[] = "bootstrap-admin.token";

// A device token as the list shows it (never its secret).
struct DeviceTokenInfo {
  std::string id;
  std::string name;
  std::string device_prefix;
  std::vector<std::string> districts;  // empty: any district
  std::string created_at;              // RFC 3339
  std::string rotated_at;              // RFC 3339, "" if never rotated
};

// POSTs {"name":`name`,"devicePrefix":`device_prefix`[,"districts":`districts`]} and puts the
// new token in *token, and its id in *id if given. Names are unique on the server: a name in
// use is Corruption with "409 duplicate_name" in the message (see UniqueTokenName).
[[nodiscard]] Status ProvisionDeviceToken(const Endpoint& server, const std::string& admin_token,
                                          const std::string& name,
                                          const std::string& device_prefix, std::string* token,
                                          const std::vector<std::string>& districts = {},
                                          std::string* id = nullptr);

// Every device token of the server, oldest first.
[[nodiscard]] Status ListDeviceTokens(const Endpoint& server, const std::string& admin_token,
                                      std::vector<DeviceTokenInfo>* tokens);

// Revokes the token `id`: it stops working, its open connections are closed.
[[nodiscard]] Status RevokeDeviceToken(const Endpoint& server, const std::string& admin_token,
                                       const std::string& id);

// A new secret for the token `id` in *token (same id, name, prefix, districts); the old one
// stops working and its connections are closed.
[[nodiscard]] Status RotateDeviceToken(const Endpoint& server, const std::string& admin_token,
                                       const std::string& id, std::string* token);

// `base` + "-" + the UTC time (yyyymmddThhmmss) + "-" + this process's id: a name no other run
// of a tool has taken, for tools that provision a token each run (sim, bench).
std::string UniqueTokenName(std::string_view base);

}  // namespace yiwang::client
