#pragma once
// Device tokens through the admin API: what every client that sends sensor events first needs.
//
// Thread safety: no shared state; any thread.

#include <string>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::client {

// The file a server writes its first admin token to, in its data dir.
inline constexpr char kAdminTokenFile[] = "bootstrap-admin.token";

// POSTs {"name":`name`,"devicePrefix":`device_prefix`} to /api/v1/admin/device-tokens with
// `admin_token` as bearer and puts the new token in *token.
// Errors: IOError when the server cannot be reached (the caller may retry: it may be
// starting); NotFound when the server refuses the admin token (HTTP 401 or 403); Corruption
// on any other answer (a status other than 201, or no "token" string in the body), with the
// status and body in the message.
[[nodiscard]] Status ProvisionDeviceToken(const Endpoint& server, const std::string& admin_token,
                                          const std::string& name,
                                          const std::string& device_prefix, std::string* token);

}  // namespace yiwang::client
