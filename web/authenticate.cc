// Who a request acts for (Accounts::Authenticate): an admin token, a user's API token, or a
// browser session with its CSRF token for a state-changing method. See web/auth.h.

#include <algorithm>

#include <boost/beast/http.hpp>
#include <openssl/crypto.h>

#include "base/text.h"
#include "base/time.h"
#include "store/key_codec.h"
#include "web/http_util.h"
#include "web/internal/accounts_impl.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace v1 = yiwang::v1;

namespace {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsStateChanging(http::verb m) {
  return m == http::verb::post || m == http::verb::put || m == http::verb::patch ||
         m == http::verb::delete_;
}

Principal PrincipalOf(const v1::UserRecord& user) {
  Principal p;
  p.user_id = user.name();
  p.display_name = user.display_name();
  p.role = user.role();
  p.department = user.department();
  p.districts.assign(user.districts().begin(), user.districts().end());
  return p;
}

}  // namespace

AuthResult Accounts::Impl::Authenticate(const HttpRequest& req, Sessions::Session* session) {
  const std::string_view authorization = req[http::field::authorization];
  if (!authorization.empty()) {
    auto token = BearerToken(authorization);
    if (!token)
      return Error(req, 401, "unauthorized", "the Authorization header must be 'Bearer <token>'");
    return AuthenticateBearer(req, *token);
  }
  if (auto id = CookieValue(req, kSessionCookie)) return AuthenticateSession(req, *id, session);
  return Error(req, 401, "unauthorized",
               "sign in (POST /api/v1/session) or send Authorization: Bearer <token>");
}

AuthResult Accounts::Impl::AuthenticateBearer(const HttpRequest& req, std::string_view token) {
  v1::TokenRecord rec;
  // A cluster core: the cluster's tokens (admin tokens of `cluster init`, ...) first, then its
  // own store's (user tokens).
  Status s = opts_.tokens ? opts_.tokens->Lookup(token, &rec) : Status::NotFound("");
  if (s.code() == Status::Code::kNotFound) s = store_->LookupToken(token, &rec);
  if (s.code() == Status::Code::kNotFound || (s.ok() && rec.revoked()))
    return Error(req, 401, "unauthorized", "unknown or revoked token");
  if (!s.ok()) return Internal(req, "could not read the token", s);
  switch (rec.kind()) {
    case v1::TOKEN_KIND_ADMIN: {
      Principal p;
      p.user_id = rec.name();
      p.display_name = rec.name();
      p.role = v1::ROLE_ADMIN;
      return p;
    }
    case v1::TOKEN_KIND_USER: {
      v1::UserRecord user;
      s = ReadUser(rec.user(), &user);
      if (s.code() == Status::Code::kNotFound)
        return Error(req, 401, "unauthorized", "unknown or revoked token");
      if (!s.ok()) return Internal(req, "could not read the user", s);
      // A user token works while the user record lists it (web/user_tokens.cc).
      const std::string hash = store::TokenHash(token);
      const bool listed = std::any_of(user.tokens().begin(), user.tokens().end(),
                                      [&](const auto& t) { return t.token_hash() == hash; });
      if (!listed) return Error(req, 401, "unauthorized", "unknown or revoked token");
      if (user.disabled()) return Error(req, 401, "unauthorized", "the account is disabled");
      return PrincipalOf(user);
    }
    default:
      return Error(req, 403, "forbidden", "a device token may not use this API");
  }
}

HttpResponse Accounts::Impl::SessionRefused(const HttpRequest& req, std::string_view message) {
  HttpResponse res = Error(req, 401, "unauthorized", message);
  res.set(http::field::set_cookie, sessions_.ClearedCookie());
  return res;
}

AuthResult Accounts::Impl::AuthenticateSession(const HttpRequest& req, std::string_view id,
                                               Sessions::Session* session) {
  Sessions::Lookup found;
  Sessions::Session live;
  Status s = sessions_.Find(id, &found, &live);
  if (!s.ok()) return Internal(req, "could not read the session", s);
  if (found == Sessions::Lookup::kUnknown)
    return SessionRefused(req, "session expired or signed out");
  if (found == Sessions::Lookup::kExpired)
    return SessionRefused(req, "session expired; sign in again");

  v1::UserRecord user;
  s = ReadUser(live.record.user(), &user);
  if (s.code() == Status::Code::kNotFound) return SessionRefused(req, "the account was deleted");
  if (!s.ok()) return Internal(req, "could not read the user", s);
  if (user.disabled()) return SessionRefused(req, "the account is disabled");
  if (user.has_password_changed_at() &&
      FromProtoTime(user.password_changed_at()) > FromProtoTime(live.record.created_at()))
    return SessionRefused(req, "the password was changed; sign in again");

  if (IsStateChanging(req.method()) &&
      !ConstantTimeEquals(req[kCsrfHeader], live.record.csrf_token()))
    return Error(req, 403, "csrf_failed",
                 "a signed-in browser request that changes something must send the session's "
                 "csrfToken as X-CSRF-Token");

  sessions_.Touch(&live);
  Principal p = PrincipalOf(user);
  p.via_session = true;
  if (session) *session = std::move(live);
  return p;
}

}  // namespace yiwang::web
