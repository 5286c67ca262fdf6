#include "web/sessions.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/digest.h"
#include "base/time.h"
#include "store/key_codec.h"
#include "web/tables.h"
#include "web/tokens.h"

namespace yiwang::web {

namespace v1 = yiwang::v1;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

constexpr size_t kSecretBytes = 32;  // session ids and CSRF tokens: 256 bits
constexpr size_t kSecretChars = 43;  // their base64url length
// last_seen_at is written back at most this often per session.
constexpr std::chrono::seconds kTouchInterval{60};

constexpr char kSessionPrefix = '\x01';
constexpr char kUserIndexPrefix = '\x02';

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
// (true for a user's index prefix: it ends in a user-name character).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// Appends the deletion of one session: its record and its entry in `user`'s index.
void AddEnd(std::string_view user, std::string_view id_hash, store::WriteSet* ws) {
  ws->Delete(tables::kSessions, SessionKey(id_hash));
  ws->Delete(tables::kSessions, UserIndexPrefix(user) + std::string(id_hash));
}

}  // namespace

Sessions::Sessions(store::EventStore* store, SessionOptions options, Clock clock)
    : store_(store), opts_(options), clock_(std::move(clock)) {}

Status Sessions::Create(std::string_view user, std::string* id, v1::SessionRecord* rec) {
  std::string csrf;
  if (!RandomBase64Url(kSecretBytes, id) || !RandomBase64Url(kSecretBytes, &csrf))
    return Status::IOError("no randomness for a session");
  const TimePoint now = Now();
  rec->set_user(std::string(user));
  rec->set_csrf_token(csrf);
  *rec->mutable_created_at() = ToProtoTime(now);
  *rec->mutable_last_seen_at() = ToProtoTime(now);
  *rec->mutable_expires_at() = ToProtoTime(now + opts_.absolute);
  const std::string hash = Sha256(*id);
  const std::string prefix = UserIndexPrefix(user);

  std::lock_guard lock(write_mu_);
  // The user's sessions, oldest first; ones past their absolute lifetime are dropped now.
  std::vector<std::pair<uint64_t, std::string>> existing;  // created ms, id hash
  auto collect = [&](std::string_view k, std::string_view v) {
    const uint64_t ms = v.size() == 8 ? store::DecodeFixed64BE(v.data()) : 0;
    existing.emplace_back(ms, std::string(k.substr(prefix.size())));
    return true;
  };
  Status s = store_->Scan(tables::kSessions, prefix, PrefixEnd(prefix), false, collect);
  if (!s.ok()) return s;
  std::sort(existing.begin(), existing.end());
  store::WriteSet ws;
  const uint64_t now_ms = static_cast<uint64_t>(UnixMillis(now));
  const uint64_t absolute_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(opts_.absolute).count());
  size_t keep = existing.size();
  for (const auto& [created_ms, id_hash] : existing) {
    const bool expired = created_ms + absolute_ms <= now_ms;
    const bool over = keep + 1 > opts_.max_per_user;
    if (!expired && !over) continue;
    AddEnd(user, id_hash, &ws);
    --keep;
  }
  std::string created_ms;
  store::PutFixed64BE(&created_ms, now_ms);
  ws.Put(tables::kSessions, SessionKey(hash), rec->SerializeAsString());
  ws.Put(tables::kSessions, prefix + hash, created_ms);
  return store_->Write(ws);
}

Status Sessions::Find(std::string_view id, Lookup* result, Session* out) {
  *result = Lookup::kUnknown;
  if (id.size() != kSecretChars) return Status::Ok();
  const std::string key = SessionKey(Sha256(id));
  std::string value;
  Status s = store_->Get(tables::kSessions, key, &value);
  if (s.code() == Status::Code::kNotFound) return Status::Ok();
  if (!s.ok()) return s;
  v1::SessionRecord rec;
  if (!rec.ParseFromString(value)) return Status::Corruption("session record");

  const TimePoint now = Now();
  if (now >= FromProtoTime(rec.expires_at()) ||
      now - FromProtoTime(rec.last_seen_at()) >= opts_.idle) {
    store::WriteSet ws;
    AddEnd(rec.user(), key.substr(1), &ws);
    std::lock_guard lock(write_mu_);
    (void)store_->Write(ws, /*sync=*/false);
    *result = Lookup::kExpired;
    return Status::Ok();
  }
  *result = Lookup::kLive;
  out->key = key;
  out->record = std::move(rec);
  return Status::Ok();
}

void Sessions::Touch(Session* session) {
  const TimePoint now = Now();
  if (now - FromProtoTime(session->record.last_seen_at()) < kTouchInterval) return;
  // Re-read under the lock: a sign-out or revocation since Find must stay done.
  std::lock_guard lock(write_mu_);
  std::string again;
  if (!store_->Get(tables::kSessions, session->key, &again).ok()) return;
  *session->record.mutable_last_seen_at() = ToProtoTime(now);
  store::WriteSet ws;
  ws.Put(tables::kSessions, session->key, session->record.SerializeAsString());
  (void)store_->Write(ws, /*sync=*/false);
}

Status Sessions::End(const Session& session) {
  store::WriteSet ws;
  AddEnd(session.record.user(), session.key.substr(1), &ws);
  std::lock_guard lock(write_mu_);
  return store_->Write(ws);
}

Status Sessions::AddEndAllOf(std::string_view user, store::WriteSet* ws) const {
  const std::string prefix = UserIndexPrefix(user);
  return store_->Scan(tables::kSessions, prefix, PrefixEnd(prefix), false,
                      [&](std::string_view k, std::string_view) {
                        AddEnd(user, k.substr(prefix.size()), ws);
                        return true;
                      });
}

std::string Sessions::Cookie(std::string_view id) const {
  return fmt::format("{}={}; Max-Age={}; Path=/; HttpOnly; SameSite=Strict{}", kSessionCookie, id,
                     opts_.absolute.count(), opts_.secure_cookie ? "; Secure" : "");
}

std::string Sessions::ClearedCookie() const {
  return fmt::format("{}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     opts_.secure_cookie ? "; Secure" : "");
}

}  // namespace yiwang::web
