#pragma once
// Accounts::Impl: the state behind the web::Accounts façade (web/auth.h) and the map of the
// files that implement it, one job each:
//
//   web/auth.cc           the façade, the routing of the account routes, user-record reads
//   web/authenticate.cc   who a request acts for: bearer tokens, session cookies, CSRF
//   web/login_routes.cc   /api/v1/session: sign-in (with its throttle), the session, sign-out
//   web/users_api.cc      /api/v1/admin/users[/{name}] and EnsureUser
//   web/user_tokens.cc    /api/v1/admin/users/{name}/tokens[/{id}]: users' API tokens
// and the parts it is built from: web/password_hash.h (scrypt, the dummy hash, the limit of
// hashes at once), web/sessions.h (session records, the per-user index, the cookie),
// web/rate_limiter.h (the sign-in throttle), web/internal/user_json.h (a user's fields).
//
// Thread safety: as Accounts (web/auth.h). users_mu_ serialises read-modify-write of user
// records; it is taken before the sessions' write lock when both are needed.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>
#include <spdlog/logger.h>

#include "base/metrics.h"
#include "store/event_store.h"
#include "web/auth.h"
#include "web/internal/user_json.h"
#include "web/password_hash.h"
#include "web/rate_limiter.h"
#include "web/sessions.h"

namespace yiwang::web {

class Accounts::Impl {
 public:
  Impl(store::EventStore* store, Metrics* metrics, std::shared_ptr<spdlog::logger> logger,
       AccountsOptions options);

  // auth.cc
  std::optional<HttpResponse> Handle(const HttpRequest& req);

  // authenticate.cc. For a request authenticated by its session cookie, *session (if not
  // null) is set to the session (GET and DELETE /api/v1/session need it).
  AuthResult Authenticate(const HttpRequest& req, Sessions::Session* session);

  // users_api.cc
  Status EnsureUser(const NewUser& user, std::string* generated_password);

 private:
  // --- auth.cc: what every part shares
  std::chrono::system_clock::time_point Now() const { return opts_.clock.Now(); }
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message);
  // 507 storage_full for a full disk, else 500 internal "<what>"; logs `s`.
  HttpResponse Internal(const HttpRequest& req, std::string_view what, const Status& s);
  HttpResponse Json(const HttpRequest& req, unsigned status, const boost::json::value& v);
  Status ReadUser(std::string_view name, yiwang::v1::UserRecord* out) const;
  // ReadUser for a route on users/{name}: nullopt when read, else the response to send
  // (404 user_not_found, 500).
  std::optional<HttpResponse> LoadUser(const HttpRequest& req, const std::string& name,
                                       yiwang::v1::UserRecord* out);
  // Stores *rec (one Put, synced).
  Status WriteUser(const yiwang::v1::UserRecord& rec);

  // --- authenticate.cc
  AuthResult AuthenticateBearer(const HttpRequest& req, std::string_view token);
  AuthResult AuthenticateSession(const HttpRequest& req, std::string_view id,
                                 Sessions::Session* session);
  // 401 for a cookie that names no valid session; it also clears the cookie.
  HttpResponse SessionRefused(const HttpRequest& req, std::string_view message);

  // --- login_routes.cc
  HttpResponse Login(const HttpRequest& req);
  // The sign-in throttle's answer to an attempt of `name` from `client` (429), or nullopt.
  std::optional<HttpResponse> Throttle(const HttpRequest& req, const std::string& name,
                                       const std::string& client);
  HttpResponse GetSession(const HttpRequest& req);
  HttpResponse Logout(const HttpRequest& req);

  // --- users_api.cc
  HttpResponse ListUsers(const HttpRequest& req);
  HttpResponse CreateUser(const HttpRequest& req);
  HttpResponse GetUser(const HttpRequest& req, const std::string& name);
  HttpResponse PatchUser(const HttpRequest& req, const std::string& name);
  HttpResponse DeleteUser(const HttpRequest& req, const std::string& name);
  // Validates, hashes and stores a new user. Returns the HTTP status: 201, or the error in *err.
  unsigned CreateUserRecord(const boost::json::object& body, yiwang::v1::UserRecord* out,
                            internal::FieldError* err);

  // --- user_tokens.cc
  HttpResponse ListTokens(const HttpRequest& req, const std::string& name);
  HttpResponse CreateUserToken(const HttpRequest& req, const std::string& name);
  HttpResponse RevokeUserToken(const HttpRequest& req, const std::string& name,
                               std::string_view id);

  store::EventStore* store_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  const AccountsOptions opts_;
  const yiwang::v1::DispatchConfig* config_;
  PasswordHasher hasher_;
  Sessions sessions_;
  // The sign-in throttle (web/auth.h): failed sign-ins per (user name, client address) and per
  // client address, which refuse; per user name, which turns on the name's slow-down: one
  // sign-in per interval (slowed_sign_ins_, every attempt counted).
  RateLimiter user_client_failures_;
  RateLimiter client_failures_;
  RateLimiter user_failures_;
  RateLimiter slowed_sign_ins_;
  std::mutex users_mu_;
};

}  // namespace yiwang::web
