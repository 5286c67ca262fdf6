#include "web/auth.h"

#include <algorithm>
#include <vector>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "dispatcher/dispatch_config.h"
#include "web/http_util.h"
#include "web/internal/accounts_impl.h"
#include "web/tables.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

std::string_view RoleApiName(v1::Role role) {
  switch (role) {
    case v1::ROLE_DISPATCHER: return "dispatcher";
    case v1::ROLE_DEPARTMENT: return "department";
    case v1::ROLE_SUPERVISOR: return "supervisor";
    case v1::ROLE_LEADER: return "leader";
    case v1::ROLE_ADMIN: return "admin";
    case v1::ROLE_SYSTEM: return "system";
    case v1::ROLE_CITIZEN: return "citizen";
    default: return "unspecified";
  }
}

// --- Accounts: the façade ---------------------------------------------------------------------

Accounts::Accounts(store::EventStore* store, Metrics* metrics,
                   std::shared_ptr<spdlog::logger> logger, AccountsOptions options)
    : impl_(std::make_unique<Impl>(store, metrics, std::move(logger), std::move(options))) {}

Accounts::~Accounts() = default;

AuthResult Accounts::Authenticate(const HttpRequest& req) {
  return impl_->Authenticate(req, nullptr);
}

std::optional<HttpResponse> Accounts::Handle(const HttpRequest& req) {
  return impl_->Handle(req);
}

Status Accounts::EnsureUser(const NewUser& user, std::string* generated_password) {
  return impl_->EnsureUser(user, generated_password);
}

// --- Impl: construction, routing, what every part shares -----------------------------------

Accounts::Impl::Impl(store::EventStore* store, Metrics* metrics,
                     std::shared_ptr<spdlog::logger> logger, AccountsOptions options)
    : store_(store),
      metrics_(metrics),
      log_(std::move(logger)),
      opts_(std::move(options)),
      config_(opts_.dispatch_config ? opts_.dispatch_config
                                    : &dispatcher::DefaultDispatchConfig()),
      hasher_(opts_.scrypt, opts_.max_concurrent_hashes, metrics, log_),
      sessions_(store,
                SessionOptions{.idle = opts_.session_idle,
                               .absolute = opts_.session_absolute,
                               .max_per_user = opts_.max_sessions_per_user,
                               .secure_cookie = opts_.secure_cookie},
                opts_.clock),
      user_client_failures_(opts_.max_failures_per_user_client, opts_.failure_window,
                            opts_.max_throttle_entries, opts_.clock),
      client_failures_(opts_.max_failures_per_client, opts_.failure_window,
                       opts_.max_throttle_entries, opts_.clock),
      user_failures_(opts_.max_failures_per_user, opts_.failure_window,
                     opts_.max_throttle_entries, opts_.clock),
      slowed_sign_ins_(1, opts_.slow_sign_in_interval, opts_.max_throttle_entries, opts_.clock) {}

std::optional<HttpResponse> Accounts::Impl::Handle(const HttpRequest& req) {
  std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const http::verb m = req.method();
  const bool is_get = m == http::verb::get || m == http::verb::head;

  if (path == "/api/v1/session") {
    if (m == http::verb::post) return Login(req);
    if (is_get) return GetSession(req);
    if (m == http::verb::delete_) return Logout(req);
    return MethodNotAllowedResponse(metrics_, req, "GET, HEAD, POST, DELETE");
  }
  constexpr std::string_view kUsers = "/api/v1/admin/users";
  if (path != kUsers && !path.starts_with("/api/v1/admin/users/")) return std::nullopt;

  // Below here everything is the admin's. Split the path: users[/{name}[/tokens[/{id}]]].
  std::vector<std::string_view> parts;
  for (std::string_view rest = path.substr(kUsers.size()); !rest.empty();) {
    rest.remove_prefix(1);  // '/'
    const size_t slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  const bool shape_ok =
      std::none_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); }) &&
      parts.size() <= 3 && (parts.size() < 2 || parts[1] == "tokens");
  if (!shape_ok) return Error(req, 404, "not_found", "no such route");

  std::string_view allow;
  bool allowed = false;
  switch (parts.size()) {
    case 0:
      allow = "GET, HEAD, POST";
      allowed = is_get || m == http::verb::post;
      break;
    case 1:
      allow = "GET, HEAD, PATCH, DELETE";
      allowed = is_get || m == http::verb::patch || m == http::verb::delete_;
      break;
    case 2:
      allow = "GET, HEAD, POST";
      allowed = is_get || m == http::verb::post;
      break;
    default:
      allow = "DELETE";
      allowed = m == http::verb::delete_;
  }
  if (!allowed) return MethodNotAllowedResponse(metrics_, req, allow);

  AuthResult auth = Authenticate(req, nullptr);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  if (std::get<Principal>(auth).role != v1::ROLE_ADMIN)
    return Error(req, 403, "forbidden", "only an admin may manage users");

  if (parts.empty()) return is_get ? ListUsers(req) : CreateUser(req);
  auto name = PercentDecodePath(parts[0]);
  if (!name) return Error(req, 400, "bad_username", "bad percent-encoding in the user name");
  if (parts.size() == 1) {
    if (is_get) return GetUser(req, *name);
    return m == http::verb::patch ? PatchUser(req, *name) : DeleteUser(req, *name);
  }
  if (parts.size() == 2) return is_get ? ListTokens(req, *name) : CreateUserToken(req, *name);
  return RevokeUserToken(req, *name, parts[2]);
}

HttpResponse Accounts::Impl::Error(const HttpRequest& req, unsigned status, std::string_view code,
                                   std::string_view message) {
  return ErrorResponse(metrics_, req, status, code, message);
}

HttpResponse Accounts::Impl::Internal(const HttpRequest& req, std::string_view what,
                                      const Status& s) {
  log_->error("{}: {}", what, s.ToString());
  if (s.code() == Status::Code::kNoSpace) return Error(req, 507, "storage_full", "disk full");
  return Error(req, 500, "internal", std::string(what));
}

HttpResponse Accounts::Impl::Json(const HttpRequest& req, unsigned status, const json::value& v) {
  return MakeResponse(req, status, json::serialize(v));
}

Status Accounts::Impl::ReadUser(std::string_view name, v1::UserRecord* out) const {
  std::string value;
  Status s = store_->Get(tables::kUsers, name, &value);
  if (!s.ok()) return s;
  if (!out->ParseFromString(value)) return Status::Corruption("user record " + std::string(name));
  return Status::Ok();
}

std::optional<HttpResponse> Accounts::Impl::LoadUser(const HttpRequest& req,
                                                     const std::string& name,
                                                     v1::UserRecord* out) {
  Status s = ReadUser(name, out);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "user_not_found", "no user of this name");
  if (!s.ok()) return Internal(req, "could not read the user", s);
  return std::nullopt;
}

Status Accounts::Impl::WriteUser(const v1::UserRecord& rec) {
  store::WriteSet ws;
  ws.Put(tables::kUsers, rec.name(), rec.SerializeAsString());
  return store_->Write(ws);
}

}  // namespace yiwang::web
