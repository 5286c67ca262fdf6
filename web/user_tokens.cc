// Users' API tokens, /api/v1/admin/users/{name}/tokens[/{id}]: list, create (the token is shown
// once), revoke. A user token ("ywu_...", web/tokens.h) authenticates as its user only while
// the user record lists its hash (web/authenticate.cc), so revoking one, or deleting the user,
// is one write of the user record.

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"
#include "store/key_codec.h"
#include "web/http_util.h"
#include "web/internal/accounts_impl.h"
#include "web/tokens.h"

namespace yiwang::web {

namespace json = boost::json;
namespace v1 = yiwang::v1;

namespace {

constexpr size_t kMaxTokensPerUser = 20;
constexpr size_t kTokenIdBytes = 8;  // a token's id: hex of the first 8 bytes of its hash

std::string TokenId(const v1::UserTokenRef& t) {
  return Hex(t.token_hash().substr(0, kTokenIdBytes));
}

}  // namespace

HttpResponse Accounts::Impl::ListTokens(const HttpRequest& req, const std::string& name) {
  v1::UserRecord u;
  if (auto missing = LoadUser(req, name, &u)) return std::move(*missing);
  json::array tokens;
  for (const auto& t : u.tokens()) {
    json::object o;
    o["id"] = TokenId(t);
    o["name"] = t.label();
    o["createdAt"] = Rfc3339(t.created_at());
    tokens.emplace_back(std::move(o));
  }
  json::object out;
  out["tokens"] = std::move(tokens);
  return Json(req, 200, out);
}

HttpResponse Accounts::Impl::CreateUserToken(const HttpRequest& req, const std::string& name) {
  std::string label = "api";
  if (!req.body().empty()) {  // the body is optional
    HttpResponse bad;
    const auto body = JsonObjectBody(metrics_, req, &bad);
    if (!body) return bad;
    for (const auto& kv : *body)
      if (kv.key() != "name")
        return Error(req, 400, "unknown_field",
                     fmt::format("{}: not a field of a token", std::string(kv.key())));
    if (const auto* v = body->if_contains("name")) {
      if (!v->is_string() || v->get_string().empty() ||
          Utf8Length(v->get_string()).value_or(0) > internal::kMaxNameChars ||
          !IsText(v->get_string()) || HasControlChars(v->get_string()))
        return Error(req, 400, "bad_name",
                     "name: a string of 1..64 characters without control characters or "
                     "noncharacters");
      label = std::string(v->get_string());
    }
  }
  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  if (static_cast<size_t>(rec.tokens_size()) >= kMaxTokensPerUser)
    return Error(req, 409, "too_many_tokens",
                 fmt::format("a user has at most {} API tokens; revoke one first",
                             kMaxTokensPerUser));
  std::string token;
  Status s = CreateToken(store_, v1::TOKEN_KIND_USER, label, "", &token, name);
  if (!s.ok()) return Internal(req, "could not store the token", s);
  // The token works from the moment the user record lists it (written second).
  auto* ref = rec.add_tokens();
  ref->set_token_hash(store::TokenHash(token));
  ref->set_label(label);
  *ref->mutable_created_at() = ToProtoTime(Now());
  *rec.mutable_updated_at() = ref->created_at();
  s = WriteUser(rec);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("API token '{}' created for user '{}'", label, name);
  json::object out;
  out["token"] = token;
  out["id"] = TokenId(*ref);
  out["name"] = label;
  out["user"] = name;
  out["createdAt"] = Rfc3339(ref->created_at());
  return Json(req, 201, out);
}

HttpResponse Accounts::Impl::RevokeUserToken(const HttpRequest& req, const std::string& name,
                                             std::string_view id) {
  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  auto* tokens = rec.mutable_tokens();
  auto it = std::find_if(tokens->begin(), tokens->end(),
                         [&](const v1::UserTokenRef& t) { return TokenId(t) == id; });
  if (it == tokens->end())
    return Error(req, 404, "token_not_found", "this user has no API token with this id");
  tokens->erase(it);
  *rec.mutable_updated_at() = ToProtoTime(Now());
  Status s = WriteUser(rec);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("API token {} of user '{}' revoked", std::string(id), name);
  return MakeResponse(req, 204, "");
}

}  // namespace yiwang::web
