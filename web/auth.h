#pragma once
// Who makes a request, and the seam that decides it. Accounts (users, sessions, CSRF) plug in
// as an Authenticator; tests plug in their own.
//
// Thread safety: an Authenticator may be called from any thread concurrently.

#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "web/http_server.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::web {

struct Principal {
  std::string user_id;  // account name (or the token's name for bearer tokens)
  std::string display_name;
  yiwang::v1::Role role = yiwang::v1::ROLE_UNSPECIFIED;
  std::string department;              // ROLE_DEPARTMENT: the department's id
  std::vector<std::string> districts;  // district scope (GB/T 2260 codes); empty: whole city
  bool via_session = false;            // cookie session (CSRF applies) vs bearer token
};

// The principal, or the response to send instead (401 unauthenticated, 403 csrf_failed).
using AuthResult = std::variant<Principal, HttpResponse>;
using Authenticator = std::function<AuthResult(const HttpRequest&)>;

}  // namespace yiwang::web
