#pragma once
// Accounts: operator users, their browser sessions, and authentication of every API request.
//
// Credentials a request may carry (Authenticate):
//   Authorization: Bearer ywa_...   an admin token (bootstrap-admin.token)   -> ROLE_ADMIN
//   Authorization: Bearer ywu_...   a user's API token (for scripts)          -> that user
//   Cookie: yiwang_session=...      a browser session (POST /api/v1/session)  -> that user
// A request with a session cookie and a state-changing method (POST, PUT, PATCH, DELETE) must
// also send the session's CSRF token as `X-CSRF-Token`. A bearer token needs none: browsers
// never add it to a request by themselves.
//
// Routes (Handle; everything else is nullopt):
//   POST   /api/v1/session                       {"username","password"} -> user + csrfToken + cookie
//   GET    /api/v1/session                       the caller's user (+ csrfToken for a session)
//   DELETE /api/v1/session                       logout: the session is deleted, the cookie cleared
//   GET    /api/v1/admin/users                   admin: every user (never a password hash)
//   POST   /api/v1/admin/users                   admin: create
//   GET    /api/v1/admin/users/{name}            admin
//   PATCH  /api/v1/admin/users/{name}            admin: displayName, password, role, department,
//                                                districts, disabled
//   DELETE /api/v1/admin/users/{name}            admin
//   GET    /api/v1/admin/users/{name}/tokens     admin: the user's API tokens (ids and labels)
//   POST   /api/v1/admin/users/{name}/tokens     admin: {"name"?} -> a new API token (shown once)
//   DELETE /api/v1/admin/users/{name}/tokens/{id} admin: revoke one
// Disabling or deleting a user, or changing their password, ends their sessions at once.
// Request and response shapes, every error code: docs/api.md. Key layout of the users and
// sessions tables: docs/architecture.md.
//
// Secrets: passwords are stored as scrypt hashes (web/password_hash.h); session ids and CSRF
// tokens are 256-bit random (web/sessions.h); only the SHA-256 of a session id or token is
// stored. Comparisons of secrets are constant-time (CRYPTO_memcmp).
//
// Login throttle (web/rate_limiter.h): failed logins are counted within a window per (user
// name, client address), per client address and per user name. Over the first two limits POST
// /api/v1/session answers 429 too_many_attempts with Retry-After (even for the right password)
// until the window ends, to that address only: a guesser is stopped where it guesses from.
// Over the per-name limit the name is only slowed, never locked: one attempt per
// `slow_sign_in_interval` from anywhere (others get 429 with Retry-After: 1), so failures
// sent from many addresses cost the name's owner a second's wait, not their account, while
// they cap the guessing rate of a distributed attacker. The client address is the value of
// kPeerAddressHeader, which HttpServer sets on every request from the socket's peer
// (replacing any value the client sent); behind a reverse proxy every client shares the
// proxy's address.
//
// The implementation is spread over files by job; web/internal/accounts_impl.h lists them.
//
// Thread safety: every public method may be called from any thread concurrently. Changes to a
// user record (admin API, EnsureUser) are serialised by a mutex, held across the read and the
// write of the record so that two admins' changes cannot lose one another (rare, small writes);
// authentication takes only the sessions' write lock, to write a session's last use back or
// delete an expired one (web/sessions.h). The throttle's lock covers no I/O.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <spdlog/logger.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "store/event_store.h"
#include "store/token_book.h"
#include "web/http_server.h"
#include "web/password_hash.h"
#include "web/sessions.h"
#include "yiwang/v1/account.pb.h"
#include "yiwang/v1/case.pb.h"
#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::web {

// The session cookie's name is kSessionCookie (web/sessions.h).
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// Who a request acts for.
struct Principal {
  std::string user_id;       // user name; for an admin token, the token's name
  std::string display_name;
  yiwang::v1::Role role = yiwang::v1::ROLE_UNSPECIFIED;
  std::string department;           // ROLE_DEPARTMENT: the department id
  std::vector<std::string> districts;  // empty: every district
  bool via_session = false;         // authenticated by the session cookie (not a bearer token)
};

// The principal, or the response to send instead: 401 unauthorized (with WWW-Authenticate),
// 403 forbidden (a device token) or 403 csrf_failed, or 500 internal.
using AuthResult = std::variant<Principal, HttpResponse>;
// The seam the case API and the live feed authenticate through (Accounts::Authenticate in the
// server; tests plug in their own).
using Authenticator = std::function<AuthResult(const HttpRequest&)>;

struct AccountsOptions {
  // A session unused for this long is invalid. Default 12 h.
  std::chrono::seconds session_idle{12 * 3600};
  // A session is invalid this long after login, used or not; also the cookie's Max-Age.
  // Default 7 days.
  std::chrono::seconds session_absolute{7 * 24 * 3600};
  // Sessions per user; a login beyond it ends that user's oldest session. Default 16.
  size_t max_sessions_per_user = 16;
  // Add `Secure` to the cookie (when the server is reached over HTTPS). Default off.
  bool secure_cookie = false;
  // Failed logins allowed per (user name, client address) / per client address within
  // `failure_window` before that address's logins (for that name / for any name) are refused
  // with 429 until the window ends. Defaults 5 / 20 in 15 min.
  uint32_t max_failures_per_user_client = 5;
  uint32_t max_failures_per_client = 20;
  std::chrono::seconds failure_window{15 * 60};
  // Failed logins of one user name, from anywhere, within `failure_window` after which that
  // name's logins are slowed to one per `slow_sign_in_interval` (never refused for longer).
  // Defaults 10, 1 s.
  uint32_t max_failures_per_user = 10;
  std::chrono::seconds slow_sign_in_interval{1};
  // Keys the throttle remembers (each kind); beyond it windows that ended are forgotten first,
  // then the tenth that began first (web/rate_limiter.h). Default 100,000.
  size_t max_throttle_entries = 100000;
  // Password hashes computed at once (each takes ~32 MiB and a core for ~0.1 s); beyond it a
  // login gets 503 busy with Retry-After: 1. Default 4.
  size_t max_concurrent_hashes = 4;
  // Parameters for new hashes (stored hashes carry their own). Tests lower log2_n.
  ScryptParams scrypt;
  // Departments and districts a user may be given. nullptr: the built-in default config.
  // Must outlive the Accounts.
  const yiwang::v1::DispatchConfig* dispatch_config = nullptr;
  // The clock of sessions, throttle and record times. Default: the system clock.
  Clock clock;
  // A cluster core: bearer tokens are looked up in the cluster's token bucket first
  // (docs/cluster.md), then in the store. Null: the store only. Must outlive the Accounts.
  const store::TokenBook* tokens = nullptr;
};

// A user for EnsureUser.
struct NewUser {
  std::string name;
  std::string display_name;  // empty: the name
  yiwang::v1::Role role = yiwang::v1::ROLE_UNSPECIFIED;
  std::string department;
  std::vector<std::string> districts;
  std::string password;  // empty: generate one
};

class Accounts {
 public:
  // `store` and `metrics` must outlive the Accounts.
  Accounts(store::EventStore* store, Metrics* metrics, std::shared_ptr<spdlog::logger> logger,
           AccountsOptions options = {});
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Who `req` acts for (see the top of this file), or the error response to send.
  AuthResult Authenticate(const HttpRequest& req);

  // The response to `req` if its path is one of the routes above (including their 404s below
  // /api/v1/admin/users/ and their 405s), else nullopt.
  std::optional<HttpResponse> Handle(const HttpRequest& req);

  // Creates `user` unless a user of that name exists (then nothing changes, OK). When it
  // creates the user with a generated password (user.password empty), *generated_password is
  // set to it (else cleared). InvalidArgument "<field>: <what is wrong>" for a bad user.
  [[nodiscard]] Status EnsureUser(const NewUser& user, std::string* generated_password);

  // web::HashPassword and web::VerifyPassword (web/password_hash.h), kept here for the
  // benchmark in the docs and the tests.
  [[nodiscard]] static Status HashPassword(std::string_view password, const ScryptParams& params,
                                           yiwang::v1::ScryptHash* out) {
    return web::HashPassword(password, params, out);
  }
  static bool VerifyPassword(std::string_view password, const yiwang::v1::ScryptHash& hash) {
    return web::VerifyPassword(password, hash);
  }

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "dispatcher", "department", "supervisor", "leader", "admin" (and "system", "citizen").
std::string_view RoleApiName(yiwang::v1::Role role);

}  // namespace yiwang::web
