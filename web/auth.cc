#include "web/auth.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <unordered_map>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/digest.h"
#include "base/text.h"
#include "base/time.h"
#include "dispatcher/dispatch_config.h"
#include "store/key_codec.h"
#include "web/api.h"
#include "web/http_util.h"
#include "web/rate_limiter.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;
using std::chrono::system_clock;
using TimePoint = system_clock::time_point;

namespace {

constexpr size_t kSaltBytes = 32;
constexpr size_t kDerivedKeyBytes = 32;
constexpr size_t kSecretBytes = 32;          // session ids and CSRF tokens: 256 bits
constexpr size_t kSecretChars = 43;          // their base64url length
constexpr size_t kMinPasswordChars = 10;     // code points
constexpr size_t kMaxPasswordBytes = 1024;   // bounds the work a hash request can ask for
constexpr size_t kMaxNameChars = 64;
constexpr size_t kMaxDistrictsPerUser = 64;
constexpr size_t kMaxTokensPerUser = 20;
constexpr size_t kTokenIdBytes = 8;          // token ids: hex of the first 8 bytes of the hash
constexpr size_t kGeneratedPasswordBytes = 12;  // 16 base64url characters, 96 bits
// last_seen_at is written back at most this often per session (unsynced): idle expiry is
// accurate to this, and a busy session costs no write per request.
constexpr std::chrono::seconds kTouchInterval{60};

// Key prefixes in the sessions table (docs/architecture.md).
constexpr char kSessionPrefix = '\x01';    // 0x01 | sha256(id)               -> SessionRecord
constexpr char kUserIndexPrefix = '\x02';  // 0x02 | u8 len | user | sha256(id) -> u64 BE created ms

bool ValidUserName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameChars) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}


bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string SessionKey(std::string_view id_hash) {
  std::string k(1, kSessionPrefix);
  k += id_hash;
  return k;
}

std::string UserIndexPrefix(std::string_view user) {
  std::string k(1, kUserIndexPrefix);
  k += static_cast<char>(user.size());  // user names are at most 64 bytes
  k += user;
  return k;
}

// The first key after every key that starts with `prefix`. REQUIRES: prefix's last byte < 0xff
// (true for the prefixes above: they end in a user-name character).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

bool IsStateChanging(http::verb m) {
  return m == http::verb::post || m == http::verb::put || m == http::verb::patch ||
         m == http::verb::delete_;
}

std::optional<v1::Role> RoleFromApiName(std::string_view s) {
  for (v1::Role r : {v1::ROLE_DISPATCHER, v1::ROLE_DEPARTMENT, v1::ROLE_SUPERVISOR,
                     v1::ROLE_LEADER, v1::ROLE_ADMIN})
    if (RoleApiName(r) == s) return r;
  return std::nullopt;
}

// The value of cookie `name` in the request's Cookie headers (RFC 6265 section 5.4), if any.
std::optional<std::string_view> CookieValue(const HttpRequest& req, std::string_view name) {
  auto [begin, end] = req.equal_range(http::field::cookie);
  for (auto it = begin; it != end; ++it) {
    std::string_view rest = it->value();
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return value;
    }
  }
  return std::nullopt;
}

// A validation failure: the error code and a message naming the field.
struct FieldError {
  std::string code;
  std::string message;
};

// Limits the password hashes computed at once. Thread safety: atomic.
class HashSlot {
 public:
  HashSlot(std::atomic<size_t>* in_flight, size_t max) : in_flight_(in_flight) {
    ok_ = in_flight_->fetch_add(1) < max;
  }
  ~HashSlot() { in_flight_->fetch_sub(1); }
  bool ok() const { return ok_; }

 private:
  std::atomic<size_t>* in_flight_;
  bool ok_;
};

}  // namespace

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

// --- password hashing ------------------------------------------------------------------------

namespace {

bool ScryptParamsSane(uint32_t log2_n, uint32_t r, uint32_t p) {
  return log2_n >= 10 && log2_n <= 20 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
}

bool Scrypt(std::string_view password, std::string_view salt, uint32_t log2_n, uint32_t r,
            uint32_t p, unsigned char* out, size_t out_len) {
  const uint64_t n = uint64_t{1} << log2_n;
  // OpenSSL's bound: 128 * r * (N + 2) for V plus 128 * r * p for B; a little more for slack.
  const uint64_t maxmem = 128 * uint64_t{r} * (n + 2) + 128 * uint64_t{r} * p + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(),
                        reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, r, p,
                        maxmem, out, out_len) == 1;
}

}  // namespace

Status Accounts::HashPassword(std::string_view password, const ScryptParams& params,
                              v1::ScryptHash* out) {
  if (!ScryptParamsSane(params.log2_n, params.r, params.p))
    return Status::InvalidArgument("scrypt parameters out of range");
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return Status::IOError("no randomness for a salt");
  unsigned char dk[kDerivedKeyBytes];
  const std::string_view salt_view(reinterpret_cast<const char*>(salt), sizeof salt);
  if (!Scrypt(password, salt_view, params.log2_n, params.r, params.p, dk, sizeof dk))
    return Status::IOError("EVP_PBE_scrypt failed");
  out->set_log2_n(params.log2_n);
  out->set_r(params.r);
  out->set_p(params.p);
  out->set_salt(std::string(salt_view));
  out->set_dk(reinterpret_cast<const char*>(dk), sizeof dk);
  OPENSSL_cleanse(dk, sizeof dk);
  return Status::Ok();
}

bool Accounts::VerifyPassword(std::string_view password, const v1::ScryptHash& hash) {
  if (!ScryptParamsSane(hash.log2_n(), hash.r(), hash.p()) || hash.dk().size() != kDerivedKeyBytes)
    return false;
  unsigned char dk[kDerivedKeyBytes];
  if (!Scrypt(password, hash.salt(), hash.log2_n(), hash.r(), hash.p(), dk, sizeof dk))
    return false;
  const bool equal = CRYPTO_memcmp(dk, hash.dk().data(), sizeof dk) == 0;
  OPENSSL_cleanse(dk, sizeof dk);
  return equal;
}

// --- Impl ------------------------------------------------------------------------------------

class Accounts::Impl {
 public:
  Impl(store::EventStore* store, Metrics* metrics, std::shared_ptr<spdlog::logger> logger,
       AccountsOptions options)
      : store_(store),
        metrics_(metrics),
        log_(std::move(logger)),
        opts_(std::move(options)),
        config_(opts_.dispatch_config ? opts_.dispatch_config
                                      : &dispatcher::DefaultDispatchConfig()),
        user_failures_(opts_.max_failures_per_user, opts_.failure_window,
                       opts_.max_throttle_entries, opts_.clock),
        client_failures_(opts_.max_failures_per_client, opts_.failure_window,
                         opts_.max_throttle_entries, opts_.clock),
        m_hash_seconds_(metrics->GetHistogram("yiwang_auth_password_hash_seconds",
                                              "Time of one scrypt password hash",
                                              Metrics::LatencyBuckets())) {}

  // The session of a cookie-authenticated request (for GET/DELETE /api/v1/session).
  struct SessionInfo {
    std::string key;  // sessions-table key
    v1::SessionRecord record;
  };

  AuthResult Authenticate(const HttpRequest& req, SessionInfo* session);
  std::optional<HttpResponse> Handle(const HttpRequest& req);
  Status EnsureUser(const NewUser& user, std::string* generated_password);

 private:
  TimePoint Now() const { return opts_.clock.Now(); }

  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message) {
    return ErrorResponse(metrics_, req, status, code, message);
  }
  HttpResponse Internal(const HttpRequest& req, std::string_view what, const Status& s) {
    log_->error("{}: {}", what, s.ToString());
    if (s.code() == Status::Code::kNoSpace) return Error(req, 507, "storage_full", "disk full");
    return Error(req, 500, "internal", std::string(what));
  }
  HttpResponse Json(const HttpRequest& req, unsigned status, const json::value& v) {
    return MakeResponse(req, status, json::serialize(v));
  }
  Counter& LoginCounter(std::string_view result) {
    return metrics_->GetCounter("yiwang_auth_logins_total", "Login attempts, by result",
                                {{"result", std::string(result)}});
  }

  AuthResult AuthenticateBearer(const HttpRequest& req, std::string_view token);
  AuthResult AuthenticateSession(const HttpRequest& req, std::string_view id,
                                 SessionInfo* session);
  // 401 for a cookie that names no valid session; it also clears the cookie.
  HttpResponse SessionRefused(const HttpRequest& req, std::string_view message);

  // Session routes.
  HttpResponse Login(const HttpRequest& req);
  HttpResponse GetSession(const HttpRequest& req);
  HttpResponse Logout(const HttpRequest& req);
  // Admin users API.
  HttpResponse ListUsers(const HttpRequest& req);
  HttpResponse CreateUser(const HttpRequest& req);
  HttpResponse GetUser(const HttpRequest& req, const std::string& name);
  HttpResponse PatchUser(const HttpRequest& req, const std::string& name);
  HttpResponse DeleteUser(const HttpRequest& req, const std::string& name);
  HttpResponse ListTokens(const HttpRequest& req, const std::string& name);
  HttpResponse CreateUserToken(const HttpRequest& req, const std::string& name);
  HttpResponse RevokeUserToken(const HttpRequest& req, const std::string& name,
                               std::string_view id);

  // Applies the fields of `body` to *rec (create: a new record; else a PATCH), validating
  // each; on success *new_password holds a password to hash ("" if none was given).
  std::optional<FieldError> ApplyFields(const json::object& body, bool create,
                                        v1::UserRecord* rec, std::string* new_password) const;
  // Validates, hashes and stores a new user. Returns the HTTP status: 201, or the error in *err.
  unsigned CreateUserRecord(const json::object& body, v1::UserRecord* out, FieldError* err);

  Status ReadUser(std::string_view name, v1::UserRecord* out) const;
  // ReadUser for a route on users/{name}: nullopt when read, else the response to send
  // (404 user_not_found, 500).
  std::optional<HttpResponse> LoadUser(const HttpRequest& req, const std::string& name,
                                       v1::UserRecord* out);
  // Appends to *ws the deletion of every session of `user`. REQUIRES: sessions_mu_ held.
  Status AddSessionDeletes(std::string_view user, store::WriteSet* ws) const;
  // Creates a session for `user` (ending its oldest beyond the limit); sets *id and *rec.
  Status CreateSession(const v1::UserRecord& user, std::string* id, v1::SessionRecord* rec);

  json::object UserJson(const v1::UserRecord& u) const;
  static json::object PrincipalJson(const Principal& p);
  std::string SessionCookie(std::string_view id) const;
  std::string ClearedCookie() const;
  const v1::ScryptHash& DummyHash();

  store::EventStore* store_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  const AccountsOptions opts_;
  const v1::DispatchConfig* config_;
  // The sign-in throttle: failed sign-ins per user name and per client address.
  RateLimiter user_failures_;
  RateLimiter client_failures_;
  std::atomic<size_t> hashes_in_flight_{0};
  Histogram& m_hash_seconds_;
  // Serialises read-modify-write of user records (admin API, EnsureUser). Taken before
  // sessions_mu_ when both are needed.
  std::mutex users_mu_;
  // Serialises writes of session records, so that a last_seen_at write-back can never bring
  // back a session that a logout or a revocation deleted meanwhile (it re-reads under it).
  std::mutex sessions_mu_;
  std::once_flag dummy_once_;
  v1::ScryptHash dummy_hash_;
};

const v1::ScryptHash& Accounts::Impl::DummyHash() {
  std::call_once(dummy_once_, [this] {
    if (!HashPassword("no such user: a dummy password", opts_.scrypt, &dummy_hash_).ok())
      log_->warn("could not compute the dummy password hash");
  });
  return dummy_hash_;
}

std::string Accounts::Impl::SessionCookie(std::string_view id) const {
  return fmt::format("{}={}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict{}", kSessionCookie, id,
                     opts_.session_absolute.count(), opts_.secure_cookie ? "; Secure" : "");
}

std::string Accounts::Impl::ClearedCookie() const {
  return fmt::format("{}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     opts_.secure_cookie ? "; Secure" : "");
}

Status Accounts::Impl::ReadUser(std::string_view name, v1::UserRecord* out) const {
  std::string value;
  Status s = store_->Get(store::Table::kUsers, name, &value);
  if (!s.ok()) return s;
  if (!out->ParseFromString(value)) return Status::Corruption("user record " + std::string(name));
  return Status::Ok();
}

// --- authentication --------------------------------------------------------------------------

AuthResult Accounts::Impl::Authenticate(const HttpRequest& req, SessionInfo* session) {
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
  Status s = store_->LookupToken(token, &rec);
  if (s.code() == Status::Code::kNotFound || (s.ok() && rec.revoked()))
    return Error(req, 401, "unauthorized", "unknown or revoked token");
  if (!s.ok()) return Internal(req, "could not read the token", s);
  Principal p;
  switch (rec.kind()) {
    case v1::TOKEN_KIND_ADMIN:
      p.user_id = rec.name();
      p.display_name = rec.name();
      p.role = v1::ROLE_ADMIN;
      return p;
    case v1::TOKEN_KIND_USER: {
      v1::UserRecord user;
      s = ReadUser(rec.user(), &user);
      if (s.code() == Status::Code::kNotFound)
        return Error(req, 401, "unauthorized", "unknown or revoked token");
      if (!s.ok()) return Internal(req, "could not read the user", s);
      const std::string hash = store::TokenHash(token);
      const bool listed = std::any_of(user.tokens().begin(), user.tokens().end(),
                                      [&](const auto& t) { return t.token_hash() == hash; });
      if (!listed) return Error(req, 401, "unauthorized", "unknown or revoked token");
      if (user.disabled()) return Error(req, 401, "unauthorized", "the account is disabled");
      p.user_id = user.name();
      p.display_name = user.display_name();
      p.role = user.role();
      p.department = user.department();
      p.districts.assign(user.districts().begin(), user.districts().end());
      return p;
    }
    default:
      return Error(req, 403, "forbidden", "a device token may not use this API");
  }
}

HttpResponse Accounts::Impl::SessionRefused(const HttpRequest& req, std::string_view message) {
  HttpResponse res = Error(req, 401, "unauthorized", message);
  res.set(http::field::set_cookie, ClearedCookie());
  return res;
}

AuthResult Accounts::Impl::AuthenticateSession(const HttpRequest& req, std::string_view id,
                                               SessionInfo* session) {
  if (id.size() != kSecretChars) return SessionRefused(req, "session expired or signed out");
  const std::string key = SessionKey(Sha256(id));
  std::string value;
  Status s = store_->Get(store::Table::kSessions, key, &value);
  if (s.code() == Status::Code::kNotFound)
    return SessionRefused(req, "session expired or signed out");
  if (!s.ok()) return Internal(req, "could not read the session", s);
  v1::SessionRecord rec;
  if (!rec.ParseFromString(value))
    return Internal(req, "could not read the session", Status::Corruption("session record"));

  const TimePoint now = Now();
  const TimePoint created = FromProtoTime(rec.created_at());
  const TimePoint last_seen = FromProtoTime(rec.last_seen_at());
  if (now >= FromProtoTime(rec.expires_at()) || now - last_seen >= opts_.session_idle) {
    // Expired: forget it now rather than keep a dead record.
    store::WriteSet ws;
    ws.Delete(store::Table::kSessions, key);
    ws.Delete(store::Table::kSessions, UserIndexPrefix(rec.user()) + key.substr(1));
    {
      std::lock_guard lock(sessions_mu_);
      (void)store_->Write(ws, /*sync=*/false);
    }
    return SessionRefused(req, "session expired; sign in again");
  }
  v1::UserRecord user;
  s = ReadUser(rec.user(), &user);
  if (s.code() == Status::Code::kNotFound) return SessionRefused(req, "the account was deleted");
  if (!s.ok()) return Internal(req, "could not read the user", s);
  if (user.disabled()) return SessionRefused(req, "the account is disabled");
  if (user.has_password_changed_at() && FromProtoTime(user.password_changed_at()) > created)
    return SessionRefused(req, "the password was changed; sign in again");

  if (IsStateChanging(req.method()) && !ConstantTimeEquals(req[kCsrfHeader], rec.csrf_token()))
    return Error(req, 403, "csrf_failed",
                 "a signed-in browser request that changes something must send the session's "
                 "csrfToken as X-CSRF-Token");

  if (now - last_seen >= kTouchInterval) {
    // Re-read under the lock: a logout or revocation since the read above must stay done.
    std::lock_guard lock(sessions_mu_);
    std::string again;
    if (store_->Get(store::Table::kSessions, key, &again).ok()) {
      *rec.mutable_last_seen_at() = ToProtoTime(now);
      store::WriteSet ws;
      ws.Put(store::Table::kSessions, key, rec.SerializeAsString());
      // Unsynced: losing a last-seen time in a crash only shortens the idle window.
      (void)store_->Write(ws, /*sync=*/false);
    }
  }

  Principal p;
  p.user_id = user.name();
  p.display_name = user.display_name();
  p.role = user.role();
  p.department = user.department();
  p.districts.assign(user.districts().begin(), user.districts().end());
  p.via_session = true;
  if (session) {
    session->key = key;
    session->record = std::move(rec);
  }
  return p;
}

Status Accounts::Impl::AddSessionDeletes(std::string_view user, store::WriteSet* ws) const {
  const std::string prefix = UserIndexPrefix(user);
  return store_->Scan(store::Table::kSessions, prefix, PrefixEnd(prefix), false,
                      [&](std::string_view k, std::string_view) {
                        ws->Delete(store::Table::kSessions, std::string(k));
                        ws->Delete(store::Table::kSessions, SessionKey(k.substr(prefix.size())));
                        return true;
                      });
}

Status Accounts::Impl::CreateSession(const v1::UserRecord& user, std::string* id,
                                     v1::SessionRecord* rec) {
  std::string csrf;
  if (!RandomBase64Url(kSecretBytes, id) || !RandomBase64Url(kSecretBytes, &csrf))
    return Status::IOError("no randomness for a session");
  const TimePoint now = Now();
  rec->set_user(user.name());
  rec->set_csrf_token(csrf);
  *rec->mutable_created_at() = ToProtoTime(now);
  *rec->mutable_last_seen_at() = ToProtoTime(now);
  *rec->mutable_expires_at() = ToProtoTime(now + opts_.session_absolute);
  const std::string hash = Sha256(*id);
  const std::string prefix = UserIndexPrefix(user.name());

  std::lock_guard lock(sessions_mu_);
  // The user's sessions, oldest first; ones past their absolute lifetime are dropped now.
  std::vector<std::pair<uint64_t, std::string>> existing;  // created ms, index key
  Status s = store_->Scan(store::Table::kSessions, prefix, PrefixEnd(prefix), false,
                          [&](std::string_view k, std::string_view v) {
                            const uint64_t ms = v.size() == 8 ? store::DecodeFixed64BE(v.data()) : 0;
                            existing.emplace_back(ms, std::string(k));
                            return true;
                          });
  if (!s.ok()) return s;
  std::sort(existing.begin(), existing.end());
  store::WriteSet ws;
  const uint64_t now_ms = static_cast<uint64_t>(UnixMillis(now));
  const uint64_t absolute_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(opts_.session_absolute).count());
  size_t keep = existing.size();
  for (size_t i = 0; i < existing.size(); ++i) {
    const bool expired = existing[i].first + absolute_ms <= now_ms;
    const bool over = keep + 1 > opts_.max_sessions_per_user;
    if (!expired && !over) continue;
    ws.Delete(store::Table::kSessions, existing[i].second);
    ws.Delete(store::Table::kSessions, SessionKey(existing[i].second.substr(prefix.size())));
    --keep;
  }
  std::string created_ms;
  store::PutFixed64BE(&created_ms, now_ms);
  ws.Put(store::Table::kSessions, SessionKey(hash), rec->SerializeAsString());
  ws.Put(store::Table::kSessions, prefix + hash, created_ms);
  return store_->Write(ws);
}

// --- routes ----------------------------------------------------------------------------------

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
  auto name = PercentDecode(parts[0]);
  if (!name) return Error(req, 400, "bad_username", "bad percent-encoding in the user name");
  if (parts.size() == 1) {
    if (is_get) return GetUser(req, *name);
    return m == http::verb::patch ? PatchUser(req, *name) : DeleteUser(req, *name);
  }
  if (parts.size() == 2) return is_get ? ListTokens(req, *name) : CreateUserToken(req, *name);
  return RevokeUserToken(req, *name, parts[2]);
}

HttpResponse Accounts::Impl::Login(const HttpRequest& req) {
  // A JSON body: a cross-site form cannot send one without a CORS preflight, which this server
  // never grants, so no other site can sign a browser in to an account of its choosing.
  HttpResponse bad;
  const auto obj = JsonObjectBody(
      metrics_, req, &bad,
      JsonBodyRules::JsonTypeOnly("the credentials", R"({"username","password"})"));
  if (!obj) return bad;
  const auto* username = obj->if_contains("username");
  const auto* password = obj->if_contains("password");
  if (!username || !username->is_string() || username->get_string().empty() ||
      username->get_string().size() > kMaxNameChars)
    return Error(req, 400, "bad_username", "\"username\" must be a string of 1..64 characters");
  if (!password || !password->is_string() || password->get_string().empty() ||
      password->get_string().size() > kMaxPasswordBytes)
    return Error(req, 400, "bad_password", "\"password\" must be a string of 1..1024 bytes");
  const std::string name = AsciiLower(username->get_string());
  const std::string_view pass = password->get_string();
  const std::string client = ClientAddress(req);

  const uint64_t wait =
      std::max(user_failures_.RetryAfter(name), client_failures_.RetryAfter(client));
  if (wait > 0) {
    LoginCounter("throttled").Inc();
    log_->warn("login for '{}' from {} refused: too many failed attempts", name, client);
    return RetryLaterResponse(metrics_, req, 429, "too_many_attempts",
                              fmt::format("too many failed sign-ins; try again in {} s", wait),
                              wait);
  }

  HashSlot slot(&hashes_in_flight_, opts_.max_concurrent_hashes);
  if (!slot.ok()) {
    LoginCounter("busy").Inc();
    return RetryLaterResponse(metrics_, req, 503, "busy",
                              "too many sign-ins at once; retry in a second", 1);
  }
  v1::UserRecord user;
  Status s = ReadUser(name, &user);
  if (!s.ok() && s.code() != Status::Code::kNotFound)
    return Internal(req, "could not read the user", s);
  const bool known = s.ok();
  const auto t0 = std::chrono::steady_clock::now();
  // An unknown name costs a hash too, so that the answer's timing does not tell names apart.
  const bool match = VerifyPassword(pass, known ? user.password() : DummyHash()) && known;
  m_hash_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!match) {
    // Counted only: the next attempt asks RetryAfter.
    (void)user_failures_.Acquire(name);
    (void)client_failures_.Acquire(client);
    LoginCounter("invalid_credentials").Inc();
    log_->info("failed sign-in for '{}' from {}", name, client);
    return Error(req, 401, "invalid_credentials", "wrong user name or password");
  }
  if (user.disabled()) {
    LoginCounter("disabled").Inc();
    return Error(req, 403, "account_disabled", "this account is disabled; ask an admin");
  }
  user_failures_.Reset(name);

  std::string id;
  v1::SessionRecord rec;
  s = CreateSession(user, &id, &rec);
  if (!s.ok()) return Internal(req, "could not store the session", s);
  LoginCounter("ok").Inc();
  log_->info("'{}' signed in from {}", name, client);
  json::object out;
  out["user"] = UserJson(user);
  out["csrfToken"] = rec.csrf_token();
  out["expiresAt"] = Rfc3339(rec.expires_at());
  HttpResponse res = Json(req, 200, out);
  res.set(http::field::set_cookie, SessionCookie(id));
  return res;
}

HttpResponse Accounts::Impl::GetSession(const HttpRequest& req) {
  SessionInfo session;
  AuthResult auth = Authenticate(req, &session);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  const Principal& p = std::get<Principal>(auth);
  json::object out;
  out["user"] = PrincipalJson(p);
  if (p.via_session) {
    out["csrfToken"] = session.record.csrf_token();
    out["expiresAt"] = Rfc3339(session.record.expires_at());
  }
  return Json(req, 200, out);
}

HttpResponse Accounts::Impl::Logout(const HttpRequest& req) {
  SessionInfo session;
  AuthResult auth = Authenticate(req, &session);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  if (!std::get<Principal>(auth).via_session)
    return Error(req, 400, "not_a_session",
                 "this request is authenticated by a bearer token, not a session");
  store::WriteSet ws;
  ws.Delete(store::Table::kSessions, session.key);
  ws.Delete(store::Table::kSessions,
            UserIndexPrefix(session.record.user()) + session.key.substr(1));
  Status s;
  {
    std::lock_guard lock(sessions_mu_);
    s = store_->Write(ws);
  }
  if (!s.ok()) return Internal(req, "could not end the session", s);
  log_->info("'{}' signed out", session.record.user());
  HttpResponse res = MakeResponse(req, 204, "");
  res.set(http::field::set_cookie, ClearedCookie());
  return res;
}

// --- admin users API -------------------------------------------------------------------------

json::object Accounts::Impl::UserJson(const v1::UserRecord& u) const {
  json::object o;
  o["name"] = u.name();
  o["displayName"] = u.display_name();
  o["role"] = RoleApiName(u.role());
  o["department"] = u.department();
  json::array districts;
  for (const auto& d : u.districts()) districts.emplace_back(d);
  o["districts"] = std::move(districts);
  o["disabled"] = u.disabled();
  o["createdAt"] = Rfc3339(u.created_at());
  o["updatedAt"] = Rfc3339(u.updated_at());
  o["passwordChangedAt"] = Rfc3339(u.password_changed_at());
  o["apiTokens"] = u.tokens_size();
  return o;
}

json::object Accounts::Impl::PrincipalJson(const Principal& p) {
  json::object o;
  o["name"] = p.user_id;
  o["displayName"] = p.display_name;
  o["role"] = RoleApiName(p.role);
  o["department"] = p.department;
  json::array districts;
  for (const auto& d : p.districts) districts.emplace_back(d);
  o["districts"] = std::move(districts);
  return o;
}

std::optional<FieldError> Accounts::Impl::ApplyFields(const json::object& body, bool create,
                                                      v1::UserRecord* rec,
                                                      std::string* new_password) const {
  static constexpr std::string_view kCreateFields[] = {"username", "displayName", "password",
                                                       "role", "department", "districts",
                                                       "disabled"};
  for (const auto& kv : body) {
    const std::string_view key = kv.key();
    const bool known =
        std::find(std::begin(kCreateFields), std::end(kCreateFields), key) !=
            std::end(kCreateFields) &&
        (create || key != "username");
    if (!known)
      return FieldError{"unknown_field",
                        fmt::format("{}: not a field of a user{}", std::string(key),
                                    key == "username" ? " that can be changed" : "")};
  }
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
        Utf8Length(v->get_string()).value_or(0) > kMaxNameChars || HasControlChars(v->get_string()))
      return FieldError{"bad_display_name",
                        "displayName: a string of 1..64 characters without control characters"};
    rec->set_display_name(std::string(v->get_string()));
  } else if (create) {
    rec->set_display_name(rec->name());
  }
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
  const v1::Role old_role = rec->role();
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
  const auto* dept = body.if_contains("department");
  if (dept && !dept->is_string())
    return FieldError{"bad_department", "department: a department id (string)"};
  if (dept) rec->set_department(std::string(dept->get_string()));
  if (const auto* v = body.if_contains("districts")) {
    if (!v->is_array() || v->get_array().size() > kMaxDistrictsPerUser)
      return FieldError{"bad_districts",
                        "districts: an array of at most 64 district codes (empty: all)"};
    std::vector<std::string> codes;
    for (size_t i = 0; i < v->get_array().size(); ++i) {
      const auto& d = v->get_array()[i];
      const bool known_code =
          d.is_string() &&
          std::any_of(config_->districts().begin(), config_->districts().end(),
                      [&](const v1::District& x) { return x.code() == d.get_string(); });
      if (!known_code)
        return FieldError{"unknown_district",
                          fmt::format("districts[{}]: not a district code of the dispatch config",
                                      i)};
      if (std::find(codes.begin(), codes.end(), d.get_string()) != codes.end())
        return FieldError{"bad_districts",
                          fmt::format("districts[{}]: listed twice", i)};
      codes.emplace_back(d.get_string());
    }
    rec->clear_districts();
    for (auto& c : codes) rec->add_districts(std::move(c));
  }
  if (const auto* v = body.if_contains("disabled")) {
    if (!v->is_bool()) return FieldError{"bad_disabled", "disabled: true or false"};
    rec->set_disabled(v->get_bool());
  }

  // The department belongs to department staff only.
  if (rec->role() != v1::ROLE_DEPARTMENT) {
    if (dept && !dept->get_string().empty())
      return FieldError{"department_not_allowed",
                        "department: only users of role department have one"};
    if (old_role == v1::ROLE_DEPARTMENT || create) rec->clear_department();
  } else {
    if (rec->department().empty())
      return FieldError{"department_required", "department: required for role department"};
    const auto& deps = config_->departments();
    auto it = std::find_if(deps.begin(), deps.end(),
                           [&](const v1::Department& d) { return d.id() == rec->department(); });
    if (it == deps.end())
      return FieldError{"unknown_department",
                        fmt::format("department: '{}' is not a department of the dispatch config",
                                    rec->department())};
    const bool everywhere =
        std::find(it->districts().begin(), it->districts().end(), "*") != it->districts().end();
    for (int i = 0; !everywhere && i < rec->districts_size(); ++i) {
      if (std::find(it->districts().begin(), it->districts().end(), rec->districts(i)) ==
          it->districts().end())
        return FieldError{"district_outside_department",
                          fmt::format("districts[{}]: '{}' is not served by department '{}'", i,
                                      rec->districts(i), rec->department())};
    }
  }
  return std::nullopt;
}

unsigned Accounts::Impl::CreateUserRecord(const json::object& body, v1::UserRecord* rec,
                                          FieldError* err) {
  std::string password;
  if (auto e = ApplyFields(body, /*create=*/true, rec, &password)) {
    *err = std::move(*e);
    return 400;
  }
  Status s = HashPassword(password, opts_.scrypt, rec->mutable_password());
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
  store::WriteSet ws;
  ws.Put(store::Table::kUsers, rec->name(), rec->SerializeAsString());
  s = store_->Write(ws);
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
  Status s = store_->Scan(store::Table::kUsers, "", "", false,
                          [&](std::string_view, std::string_view v) {
                            v1::UserRecord u;
                            if (!u.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                              bad = Status::Corruption("user record");
                              return false;
                            }
                            users.emplace_back(UserJson(u));
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
  return Json(req, 201, UserJson(rec));
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

HttpResponse Accounts::Impl::GetUser(const HttpRequest& req, const std::string& name) {
  v1::UserRecord u;
  if (auto missing = LoadUser(req, name, &u)) return std::move(*missing);
  return Json(req, 200, UserJson(u));
}

HttpResponse Accounts::Impl::PatchUser(const HttpRequest& req, const std::string& name) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;

  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  Status s;
  const bool was_disabled = rec.disabled();
  std::string password;
  if (auto e = ApplyFields(*body, /*create=*/false, &rec, &password))
    return Error(req, 400, e->code, e->message);
  const auto now = ToProtoTime(Now());
  if (!password.empty()) {
    s = HashPassword(password, opts_.scrypt, rec.mutable_password());
    if (!s.ok()) return Internal(req, "could not hash the password", s);
    *rec.mutable_password_changed_at() = now;
  }
  *rec.mutable_updated_at() = now;
  store::WriteSet ws;
  ws.Put(store::Table::kUsers, rec.name(), rec.SerializeAsString());
  // A new password or a disabled account ends every session at once, in the same write.
  const bool revoke = !password.empty() || (rec.disabled() && !was_disabled);
  std::lock_guard session_lock(sessions_mu_);
  if (revoke) {
    s = AddSessionDeletes(rec.name(), &ws);
    if (!s.ok()) return Internal(req, "could not read the user's sessions", s);
  }
  s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("user '{}' changed{}", rec.name(), revoke ? "; sessions ended" : "");
  return Json(req, 200, UserJson(rec));
}

HttpResponse Accounts::Impl::DeleteUser(const HttpRequest& req, const std::string& name) {
  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  Status s;
  store::WriteSet ws;
  ws.Delete(store::Table::kUsers, name);
  std::lock_guard session_lock(sessions_mu_);
  s = AddSessionDeletes(name, &ws);
  if (s.ok()) s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not delete the user", s);
  // The user's API tokens die with the record: a token authenticates only while listed in it.
  log_->info("user '{}' deleted", name);
  return MakeResponse(req, 204, "");
}

HttpResponse Accounts::Impl::ListTokens(const HttpRequest& req, const std::string& name) {
  v1::UserRecord u;
  if (auto missing = LoadUser(req, name, &u)) return std::move(*missing);
  json::array tokens;
  for (const auto& t : u.tokens()) {
    json::object o;
    o["id"] = Hex(t.token_hash().substr(0, kTokenIdBytes));
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
  if (!req.body().empty()) {
    HttpResponse bad;
    const auto body = JsonObjectBody(metrics_, req, &bad);
    if (!body) return bad;
    for (const auto& kv : *body)
      if (kv.key() != "name")
        return Error(req, 400, "unknown_field",
                     fmt::format("{}: not a field of a token", std::string(kv.key())));
    if (const auto* v = body->if_contains("name")) {
      if (!v->is_string() || v->get_string().empty() ||
          Utf8Length(v->get_string()).value_or(0) > kMaxNameChars || HasControlChars(v->get_string()))
        return Error(req, 400, "bad_name", "name: a string of 1..64 characters");
      label = std::string(v->get_string());
    }
  }
  std::lock_guard lock(users_mu_);
  v1::UserRecord rec;
  if (auto missing = LoadUser(req, name, &rec)) return std::move(*missing);
  Status s;
  if (static_cast<size_t>(rec.tokens_size()) >= kMaxTokensPerUser)
    return Error(req, 409, "too_many_tokens",
                 fmt::format("a user has at most {} API tokens; revoke one first",
                             kMaxTokensPerUser));
  std::string token;
  s = CreateToken(store_, v1::TOKEN_KIND_USER, label, "", &token, name);
  if (!s.ok()) return Internal(req, "could not store the token", s);
  // The token works from the moment the user record lists it (written second).
  auto* ref = rec.add_tokens();
  ref->set_token_hash(store::TokenHash(token));
  ref->set_label(label);
  *ref->mutable_created_at() = ToProtoTime(Now());
  *rec.mutable_updated_at() = ref->created_at();
  store::WriteSet ws;
  ws.Put(store::Table::kUsers, rec.name(), rec.SerializeAsString());
  s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("API token '{}' created for user '{}'", label, name);
  json::object out;
  out["token"] = token;
  out["id"] = Hex(ref->token_hash().substr(0, kTokenIdBytes));
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
  Status s;
  auto* tokens = rec.mutable_tokens();
  auto it = std::find_if(tokens->begin(), tokens->end(), [&](const v1::UserTokenRef& t) {
    return Hex(t.token_hash().substr(0, kTokenIdBytes)) == id;
  });
  if (it == tokens->end())
    return Error(req, 404, "token_not_found", "this user has no API token with this id");
  tokens->erase(it);
  *rec.mutable_updated_at() = ToProtoTime(Now());
  store::WriteSet ws;
  ws.Put(store::Table::kUsers, rec.name(), rec.SerializeAsString());
  s = store_->Write(ws);
  if (!s.ok()) return Internal(req, "could not store the user", s);
  log_->info("API token {} of user '{}' revoked", std::string(id), name);
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
  json::array districts;
  for (const auto& d : user.districts) districts.emplace_back(d);
  body["districts"] = std::move(districts);
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

// --- Accounts --------------------------------------------------------------------------------

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

}  // namespace yiwang::web
