// The admin users API, /api/v1/admin/users[/{name}] (list, create, read, change, delete), and
// Accounts::EnsureUser, which creates a user the way the API does. The fields and their rules
// are in web/user_json.cc; docs/api.md lists the shapes and error codes.

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/time.h"
#include "web/http_util.h"
#include "web/internal/accounts_impl.h"
#include "web/tables.h"
#include "web/tokens.h"

namespace yiwang::web {

namespace json = boost::json;
namespace v1 = yiwang::v1;
using internal::FieldError;

namespace {

constexpr size_t kGeneratedPasswordBytes = 12;  // 16 base64url characters, 96 bits

}  // namespace

unsigned Accounts::Impl::CreateUserRecord(const json::object& body, v1::UserRecord* rec,
                                          FieldError* err) {
  std::string password;
  if (auto e = internal::ApplyUserFields(body, /*create=*/true, *config_, rec, &password)) {
    *err = std::move(*e);
    return 400;
  }
  Status s = hasher_.Hash(password, rec->mutable_password());
  if (!s.ok()) {
    *err = FieldError{"internal", "could not hash the password"};
    log_->error("hashing a password: {}", s.ToString());
    return 500;
  }
  const auto now = ToProtoTime(Now());
  *rec->mutable_created_at() = now;
  *rec->mutable_updated_at() = now;
  *rec->mutable_password_changed_at() = now;

  std::lock_guard lock(users_mu_);
  v1::UserRecord existing;
  s = ReadUser(rec->name(), &existing);
  if (s.ok()) {
    *err = FieldError{"user_exists", fmt::format("username: '{}' exists already", rec->name())};
    return 409;
  }
  if (s.code() != Status::Code::kNotFound) {
    *err = FieldError{"internal", "could not read the user"};
    return 500;
  }
  s = WriteUser(*rec);
  if (!s.ok()) {
    *err = s.code() == Status::Code::kNoSpace ? FieldError{"storage_full", "disk full"}
                                              : FieldError{"internal", "could not store the user"};
    log_->error("storing user '{}': {}", rec->name(), s.ToString());
    return s.code() == Status::Code::kNoSpace ? 507 : 500;
  }
  log_->info("user '{}' created (role {})", rec->name(), RoleApiName(rec->role()));
  return 201;
}

HttpResponse Accounts::Impl::ListUsers(const HttpRequest& req) {
  json::array users;
  Status bad;
  Status s = store_->Scan(tables::kUsers, "", "", false,
                          [&](std::string_view, std::string_view v) {
                            v1::UserRecord u;
                            if (!u.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                              bad = Status::Corruption("user record");
                              return false;
                            }
                            users.emplace_back(internal::UserJson(u));
                            return true;
                          });
  if (s.ok()) s = bad;
  if (!s.ok()) return Internal(req, "could not list users", s);
  json::object out;
  out["users"] = std::move(users);
  return Json(req, 200, out);
}

HttpResponse Accounts::Impl::CreateUser(const HttpRequest& req) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  v1::UserRecord rec;
  FieldError err;
  const unsigned status = CreateUserRecord(*body, &rec, &err);
  if (status != 201) return Error(req, status, err.code, err.message);
  return Json(req, 201, internal::UserJson(rec));
}

HttpResponse Accounts::Impl::GetUser(const HttpRequest& req, const std::string& name) {
  v1::UserRecord u;
  if (auto missing = LoadUser(req, name, &u)) return std::move(*missing);
  return Json(req, 200, internal::UserJson(u));
}

HttpResponse Accounts::Impl::PatchUser(const HttpRequest& req, const std::string& name) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;

  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  const bool was_disabled = rec.disabled();
  std::string password;
  if (auto e = internal::ApplyUserFields(*body, /*create=*/false, *config_, &rec, &password))
    return Error(req, 400, e->code, e->message);
  const auto now = ToProtoTime(Now());
  Status s;
  if (!password.empty()) {
    s = hasher_.Hash(password, rec.mutable_password());
    if (!s.ok()) return Internal(req, "could not hash the password", s);
    *rec.mutable_password_changed_at() = now;
  }
  *rec.mutable_updated_at() = now;
  store::WriteSet ws;
  ws.Put(tables::kUsers, rec.name(), rec.SerializeAsString());
  // A new password or a disabled account ends every session at once, in the same write.
  const bool revoke = !password.empty() || (rec.disabled() && !was_disabled);
  const auto session_lock = sessions_.LockWrites();
  if (revoke) {
    s = sessions_.AddEndAllOf(rec.name(), &ws);
    if (!s.ok()) return Internal(req, "could not read the user's sessions", s);
  }
  s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("user '{}' changed{}", rec.name(), revoke ? "; sessions ended" : "");
  return Json(req, 200, internal::UserJson(rec));
}

HttpResponse Accounts::Impl::DeleteUser(const HttpRequest& req, const std::string& name) {
  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  store::WriteSet ws;
  ws.Delete(tables::kUsers, name);
  const auto session_lock = sessions_.LockWrites();
  Status s = sessions_.AddEndAllOf(name, &ws);
  if (s.ok()) s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not delete the user", s);
  // The user's API tokens die with the record: a token authenticates only while listed in it.
  log_->info("user '{}' deleted", name);
  return MakeResponse(req, 204, "");
}

Status Accounts::Impl::EnsureUser(const NewUser& user, std::string* generated_password) {
  generated_password->clear();
  {
    v1::UserRecord existing;
    Status s = ReadUser(user.name, &existing);
    if (s.ok()) return Status::Ok();
    if (s.code() != Status::Code::kNotFound) return s;
  }
  std::string password = user.password;
  if (password.empty() && !RandomBase64Url(kGeneratedPasswordBytes, &password))
    return Status::IOError("no randomness for a password");
  json::object body;
  body["username"] = user.name;
  if (!user.display_name.empty()) body["displayName"] = user.display_name;
  body["password"] = password;
  body["role"] = RoleApiName(user.role);
  if (!user.department.empty()) body["department"] = user.department;
  body["districts"] = json::array(user.districts.begin(), user.districts.end());
  v1::UserRecord rec;
  FieldError err;
  const unsigned status = CreateUserRecord(body, &rec, &err);
  if (status == 409) return Status::Ok();  // created meanwhile
  if (status != 201) {
    return status == 400 ? Status::InvalidArgument(err.message)
                         : Status::IOError(err.message);
  }
  if (user.password.empty()) *generated_password = std::move(password);
  return Status::Ok();
}

}  // namespace yiwang::web
