#pragma once
// The JSON form of a user in the admin users API (private to the accounts files: web/auth.cc,
// web/login_routes.cc, web/users_api.cc, web/user_tokens.cc; and web/device_tokens.cc, whose
// tokens take districts by the same rule): the rules a user's fields must meet, applied to a
// record, and a record or a principal as JSON. docs/api.md lists the fields and every error
// code.
//
// Thread safety: pure functions.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "web/auth.h"
#include "yiwang/v1/account.pb.h"
#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::web::internal {

inline constexpr size_t kMaxNameChars = 64;       // user names, display names, token labels
inline constexpr size_t kMinPasswordChars = 10;   // code points
inline constexpr size_t kMaxPasswordBytes = 1024;  // bounds the work a hash request can ask for

// A validation failure: the error code and a message that starts with the field.
struct FieldError {
  std::string code;
  std::string message;
};

// Applies the fields of `body` to *rec, checking each against the rules and `config` (the
// departments and districts a user may be given): `create` for a new user (username, password
// and role required), else a PATCH of *rec. On success *new_password holds the password to hash
// ("" if none was given); on failure *rec is partly changed and must be dropped.
std::optional<FieldError> ApplyUserFields(const boost::json::object& body, bool create,
                                          const yiwang::v1::DispatchConfig& config,
                                          yiwang::v1::UserRecord* rec, std::string* new_password);

// A `districts` member: an array of at most 64 district codes of `config`, none twice, into
// *codes (empty: every district). Errors: bad_districts, unknown_district.
std::optional<FieldError> ParseDistricts(const boost::json::value& districts,
                                         const yiwang::v1::DispatchConfig& config,
                                         std::vector<std::string>* codes);

// A user as the API shows it (never the password hash or the token hashes).
boost::json::object UserJson(const yiwang::v1::UserRecord& u);
// The caller of GET /api/v1/session.
boost::json::object PrincipalJson(const Principal& p);

}  // namespace yiwang::web::internal
