#include "web/internal/user_json.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"

namespace yiwang::web::internal {

namespace json = boost::json;
namespace v1 = yiwang::v1;

namespace {

constexpr size_t kMaxDistrictsPerUser = 64;

bool ValidUserName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameChars) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::optional<v1::Role> RoleFromApiName(std::string_view s) {
  for (v1::Role r : {v1::ROLE_DISPATCHER, v1::ROLE_DEPARTMENT, v1::ROLE_SUPERVISOR,
                     v1::ROLE_LEADER, v1::ROLE_ADMIN})
    if (RoleApiName(r) == s) return r;
  return std::nullopt;
}

std::optional<FieldError> CheckFieldNames(const json::object& body, bool create) {
  static constexpr std::string_view kFields[] = {"username",   "displayName", "password", "role",
                                                 "department", "districts",   "disabled"};
  for (const auto& kv : body) {
    const std::string_view key = kv.key();
    const bool known =
        std::find(std::begin(kFields), std::end(kFields), key) != std::end(kFields) &&
        (create || key != "username");
    if (!known)
      return FieldError{"unknown_field",
                        fmt::format("{}: not a field of a user{}", std::string(key),
                                    key == "username" ? " that can be changed" : "")};
  }
  return std::nullopt;
}

// username (create only) and displayName.
std::optional<FieldError> ApplyNames(const json::object& body, bool create, v1::UserRecord* rec) {
  if (create) {
    const auto* v = body.if_contains("username");
    if (!v || !v->is_string() || !ValidUserName(v->get_string()))
      return FieldError{"bad_username",
                        "username: 1..64 characters of [a-z0-9._-], starting with a letter or "
                        "digit"};
    rec->set_name(std::string(v->get_string()));
  }
  if (const auto* v = body.if_contains("displayName")) {
    if (!v->is_string() || v->get_string().empty() ||
        Utf8Length(v->get_string()).value_or(0) > kMaxNameChars || !IsText(v->get_string()) ||
        HasControlChars(v->get_string()))
      return FieldError{"bad_display_name",
                        "displayName: a string of 1..64 characters without control characters or "
                        "noncharacters"};
    rec->set_display_name(std::string(v->get_string()));
  } else if (create) {
    rec->set_display_name(rec->name());
  }
  return std::nullopt;
}

std::optional<FieldError> TakePassword(const json::object& body, bool create,
                                       std::string* new_password) {
  new_password->clear();
  if (const auto* v = body.if_contains("password")) {
    if (!v->is_string() || v->get_string().size() > kMaxPasswordBytes)
      return FieldError{"bad_password", "password: a string of at most 1024 bytes"};
    if (Utf8Length(v->get_string()).value_or(0) < kMinPasswordChars)
      return FieldError{"weak_password",
                        fmt::format("password: at least {} characters", kMinPasswordChars)};
    *new_password = std::string(v->get_string());
  } else if (create) {
    return FieldError{"weak_password",
                      fmt::format("password: required, at least {} characters",
                                  kMinPasswordChars)};
  }
  return std::nullopt;
}

std::optional<FieldError> ApplyRole(const json::object& body, bool create, v1::UserRecord* rec) {
  if (const auto* v = body.if_contains("role")) {
    std::optional<v1::Role> role;
    if (v->is_string()) role = RoleFromApiName(v->get_string());
    if (!role)
      return FieldError{"bad_role",
                        "role: one of dispatcher, department, supervisor, leader, admin"};
    rec->set_role(*role);
  } else if (create) {
    return FieldError{"bad_role",
                      "role: required, one of dispatcher, department, supervisor, leader, admin"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<FieldError> ParseDistricts(const json::value& v, const v1::DispatchConfig& config,
                                         std::vector<std::string>* codes) {
  if (!v.is_array() || v.get_array().size() > kMaxDistrictsPerUser)
    return FieldError{"bad_districts",
                      "districts: an array of at most 64 district codes (empty: all)"};
  codes->clear();
  for (size_t i = 0; i < v.get_array().size(); ++i) {
    const auto& d = v.get_array()[i];
    const auto& all = config.districts();
    const bool known_code =
        d.is_string() && std::any_of(all.begin(), all.end(), [&](const v1::District& x) {
          return x.code() == d.get_string();
        });
    if (!known_code)
      return FieldError{"unknown_district",
                        fmt::format("districts[{}]: not a district code of the dispatch config",
                                    i)};
    if (std::find(codes->begin(), codes->end(), d.get_string()) != codes->end())
      return FieldError{"bad_districts", fmt::format("districts[{}]: listed twice", i)};
    codes->emplace_back(d.get_string());
  }
  return std::nullopt;
}

namespace {

// `districts`: the body's member, if any.
std::optional<FieldError> ApplyDistricts(const json::value* districts,
                                         const v1::DispatchConfig& config, v1::UserRecord* rec) {
  if (!districts) return std::nullopt;
  std::vector<std::string> codes;
  if (auto error = ParseDistricts(*districts, config, &codes)) return error;
  rec->clear_districts();
  for (auto& c : codes) rec->add_districts(std::move(c));
  return std::nullopt;
}

// `dept`: the body's department member, if any.
std::optional<FieldError> ApplyDepartment(const json::value* dept, v1::UserRecord* rec) {
  if (!dept) return std::nullopt;
  if (!dept->is_string())
    return FieldError{"bad_department", "department: a department id (string)"};
  rec->set_department(std::string(dept->get_string()));
  return std::nullopt;
}

// `disabled`: the body's member, if any.
std::optional<FieldError> ApplyDisabled(const json::value* disabled, v1::UserRecord* rec) {
  if (!disabled) return std::nullopt;
  if (!disabled->is_bool()) return FieldError{"bad_disabled", "disabled: true or false"};
  rec->set_disabled(disabled->get_bool());
  return std::nullopt;
}

// The department belongs to department staff only, and their districts to their department.
// `dept`: the body's department member, if any (a string: checked before).
std::optional<FieldError> CheckDepartment(const json::value* dept, v1::Role old_role, bool create,
                                          const v1::DispatchConfig& config, v1::UserRecord* rec) {
  if (rec->role() != v1::ROLE_DEPARTMENT) {
    if (dept && !dept->get_string().empty())
      return FieldError{"department_not_allowed",
                        "department: only users of role department have one"};
    if (old_role == v1::ROLE_DEPARTMENT || create) rec->clear_department();
    return std::nullopt;
  }
  if (rec->department().empty())
    return FieldError{"department_required", "department: required for role department"};
  const auto& deps = config.departments();
  auto it = std::find_if(deps.begin(), deps.end(),
                         [&](const v1::Department& d) { return d.id() == rec->department(); });
  if (it == deps.end())
    return FieldError{"unknown_department",
                      fmt::format("department: '{}' is not a department of the dispatch config",
                                  rec->department())};
  const auto& served = it->districts();
  if (std::find(served.begin(), served.end(), "*") != served.end()) return std::nullopt;
  for (int i = 0; i < rec->districts_size(); ++i) {
    if (std::find(served.begin(), served.end(), rec->districts(i)) == served.end())
      return FieldError{"district_outside_department",
                        fmt::format("districts[{}]: '{}' is not served by department '{}'", i,
                                    rec->districts(i), rec->department())};
  }
  return std::nullopt;
}

}  // namespace

std::optional<FieldError> ApplyUserFields(const json::object& body, bool create,
                                          const v1::DispatchConfig& config, v1::UserRecord* rec,
                                          std::string* new_password) {
  const v1::Role old_role = rec->role();
  const json::value* dept = body.if_contains("department");
  std::optional<FieldError> error = CheckFieldNames(body, create);
  if (!error) error = ApplyNames(body, create, rec);
  if (!error) error = TakePassword(body, create, new_password);
  if (!error) error = ApplyRole(body, create, rec);
  if (!error) error = ApplyDepartment(dept, rec);
  if (!error) error = ApplyDistricts(body.if_contains("districts"), config, rec);
  if (!error) error = ApplyDisabled(body.if_contains("disabled"), rec);
  if (!error) error = CheckDepartment(dept, old_role, create, config, rec);
  return error;
}

json::object UserJson(const v1::UserRecord& u) {
  json::object o;
  o["name"] = u.name();
  o["displayName"] = u.display_name();
  o["role"] = RoleApiName(u.role());
  o["department"] = u.department();
  o["districts"] = json::array(u.districts().begin(), u.districts().end());
  o["disabled"] = u.disabled();
  o["createdAt"] = Rfc3339(u.created_at());
  o["updatedAt"] = Rfc3339(u.updated_at());
  o["passwordChangedAt"] = Rfc3339(u.password_changed_at());
  o["apiTokens"] = u.tokens_size();
  return o;
}

json::object PrincipalJson(const Principal& p) {
  json::object o;
  o["name"] = p.user_id;
  o["displayName"] = p.display_name;
  o["role"] = RoleApiName(p.role);
  o["department"] = p.department;
  o["districts"] = json::array(p.districts.begin(), p.districts.end());
  return o;
}

}  // namespace yiwang::web::internal
