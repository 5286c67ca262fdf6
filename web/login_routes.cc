// /api/v1/session: sign-in (POST), the caller's session (GET), sign-out (DELETE). See
// web/auth.h for the contract and docs/api.md for the shapes and error codes.

#include <algorithm>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"
#include "web/http_util.h"
#include "web/internal/accounts_impl.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;
using internal::kMaxNameChars;
using internal::kMaxPasswordBytes;

namespace {

Counter& LoginCounter(Metrics* metrics, std::string_view result) {
  return metrics->GetCounter("yiwang_auth_logins_total", "Login attempts, by result",
                             {{"result", std::string(result)}});
}

// The throttle's key of a name at an address. An address never holds '\n' (it is the socket
// peer's, see ClientAddress), so two different pairs never share a key.
std::string UserClientKey(std::string_view name, std::string_view client) {
  return fmt::format("{}\n{}", name, client);
}

}  // namespace

std::optional<HttpResponse> Accounts::Impl::Throttle(const HttpRequest& req,
                                                     const std::string& name,
                                                     const std::string& client) {
  const uint64_t wait = std::max(user_client_failures_.RetryAfter(UserClientKey(name, client)),
                                 client_failures_.RetryAfter(client));
  if (wait > 0) {
    LoginCounter(metrics_, "throttled").Inc();
    log_->warn("login for '{}' from {} refused: too many failed attempts", name, client);
    return RetryLaterResponse(metrics_, req, 429, "too_many_attempts",
                              fmt::format("too many failed sign-ins; try again in {} s", wait),
                              wait);
  }
  // A name that failed often from anywhere: one attempt per interval, whoever sends it. Not a
  // lock: its owner waits a second, and a guesser spread over many addresses guesses slowly.
  if (user_failures_.RetryAfter(name) > 0) {
    if (const uint64_t slot = slowed_sign_ins_.Acquire(name); slot > 0) {
      LoginCounter(metrics_, "slowed").Inc();
      return RetryLaterResponse(
          metrics_, req, 429, "too_many_attempts",
          fmt::format("many failed sign-ins for this account: one attempt per {} s; try again "
                      "in {} s",
                      slowed_sign_ins_.window().count(), slot),
          slot);
    }
  }
  return std::nullopt;
}

HttpResponse Accounts::Impl::Login(const HttpRequest& req) {
  // A JSON body: a cross-site form cannot send one without a CORS preflight, which this server
  // never grants, so no other site can sign a browser in to an account of its choosing.
  HttpResponse bad;
  const auto body = JsonObjectBody(
      metrics_, req, &bad,
      JsonBodyRules::JsonTypeOnly("the credentials", R"({"username","password"})"));
  if (!body) return bad;
  const auto* username = body->if_contains("username");
  const auto* password = body->if_contains("password");
  if (!username || !username->is_string() || username->get_string().empty() ||
      username->get_string().size() > kMaxNameChars)
    return Error(req, 400, "bad_username", "\"username\" must be a string of 1..64 characters");
  if (!password || !password->is_string() || password->get_string().empty() ||
      password->get_string().size() > kMaxPasswordBytes)
    return Error(req, 400, "bad_password", "\"password\" must be a string of 1..1024 bytes");
  const std::string name = AsciiLower(username->get_string());
  const std::string client = ClientAddress(req);

  if (auto refused = Throttle(req, name, client)) return std::move(*refused);
  const auto slot = hasher_.TakeSlot();
  if (!slot.ok()) {
    LoginCounter(metrics_, "busy").Inc();
    return RetryLaterResponse(metrics_, req, 503, "busy",
                              "too many sign-ins at once; retry in a second", 1);
  }
  v1::UserRecord user;
  Status s = ReadUser(name, &user);
  if (!s.ok() && s.code() != Status::Code::kNotFound)
    return Internal(req, "could not read the user", s);
  // An unknown name costs a hash too (the hasher's dummy), so timing does not tell names apart.
  if (!hasher_.Verify(password->get_string(), s.ok() ? &user.password() : nullptr)) {
    // Counted only: the next attempt asks RetryAfter.
    (void)user_client_failures_.Acquire(UserClientKey(name, client));
    (void)client_failures_.Acquire(client);
    (void)user_failures_.Acquire(name);
    LoginCounter(metrics_, "invalid_credentials").Inc();
    log_->info("failed sign-in for '{}' from {}", name, client);
    return Error(req, 401, "invalid_credentials", "wrong user name or password");
  }
  if (user.disabled()) {
    LoginCounter(metrics_, "disabled").Inc();
    return Error(req, 403, "account_disabled", "this account is disabled; ask an admin");
  }
  // The owner's own typos are forgotten; the name's count is not: failures sent from
  // elsewhere keep it slowed until their window ends.
  user_client_failures_.Reset(UserClientKey(name, client));

  std::string id;
  v1::SessionRecord rec;
  s = sessions_.Create(user.name(), &id, &rec);
  if (!s.ok()) return Internal(req, "could not store the session", s);
  LoginCounter(metrics_, "ok").Inc();
  log_->info("'{}' signed in from {}", name, client);
  json::object out;
  out["user"] = internal::UserJson(user);
  out["csrfToken"] = rec.csrf_token();
  out["expiresAt"] = Rfc3339(rec.expires_at());
  HttpResponse res = Json(req, 200, out);
  res.set(http::field::set_cookie, sessions_.Cookie(id));
  return res;
}

HttpResponse Accounts::Impl::GetSession(const HttpRequest& req) {
  Sessions::Session session;
  AuthResult auth = Authenticate(req, &session);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  const Principal& p = std::get<Principal>(auth);
  json::object out;
  out["user"] = internal::PrincipalJson(p);
  if (p.via_session) {
    out["csrfToken"] = session.record.csrf_token();
    out["expiresAt"] = Rfc3339(session.record.expires_at());
  }
  return Json(req, 200, out);
}

HttpResponse Accounts::Impl::Logout(const HttpRequest& req) {
  Sessions::Session session;
  AuthResult auth = Authenticate(req, &session);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  if (!std::get<Principal>(auth).via_session)
    return Error(req, 400, "not_a_session",
                 "this request is authenticated by a bearer token, not a session");
  Status s = sessions_.End(session);
  if (!s.ok()) return Internal(req, "could not end the session", s);
  log_->info("'{}' signed out", session.record.user());
  HttpResponse res = MakeResponse(req, 204, "");
  res.set(http::field::set_cookie, sessions_.ClearedCookie());
  return res;
}

}  // namespace yiwang::web
