#pragma once
// Sessions: operator accounts' browser sessions in the store's sessions table, the per-user
// index that finds every session of a user, and the cookie that carries a session id.
//
// Keys of the sessions table (also in docs/architecture.md, "RocksDB key layout"):
//   0x01 | sha256(id)                    -> SessionRecord
//   0x02 | u8 len | user | sha256(id)    -> u64 big-endian creation time, ms since the epoch
// A session id and its CSRF token are 256 random bits each (43 base64url characters). The id
// leaves the server only in the HttpOnly cookie; only its SHA-256 is stored.
//
// A session is valid until `absolute` after its creation and while it was used within `idle`
// (last_seen_at, written back at most once a minute per session: a busy session costs no write
// per request, and idle expiry is accurate to a minute).
//
// Thread safety: every method may be called from any thread concurrently. Writes of session
// records are serialised by one mutex, so that a last_seen_at write-back (Touch) can never
// bring back a session that a sign-out or a revocation deleted meanwhile. A caller that deletes
// a user's sessions in a write of its own (a user record change) holds LockWrites() across
// AddEndAllOf and that write. No I/O but the store's is done under it.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "store/event_store.h"
#include "yiwang/v1/account.pb.h"

namespace yiwang::web {

inline constexpr std::string_view kSessionCookie = "yiwang_session";

struct SessionOptions {
  std::chrono::seconds idle{12 * 3600};
  std::chrono::seconds absolute{7 * 24 * 3600};  // also the cookie's Max-Age
  size_t max_per_user = 16;  // a new session beyond it ends the user's oldest
  bool secure_cookie = false;  // add `Secure` to the cookie
};

class Sessions {
 public:
  // A session found by its id.
  struct Session {
    std::string key;  // its sessions-table key
    yiwang::v1::SessionRecord record;
  };
  enum class Lookup {
    kLive,     // valid: *out is set
    kUnknown,  // no such session: signed out, revoked, or never was
    kExpired,  // past its idle or absolute limit; deleted now rather than kept as a dead record
  };

  // `store` must outlive the Sessions.
  Sessions(store::EventStore* store, SessionOptions options, Clock clock);

  // Creates a session of `user` and sets *id (the cookie value) and *rec. The user's sessions
  // past their absolute lifetime and, beyond max_per_user, the oldest ones end in the same
  // write. IOError if there is no randomness; store errors as they come.
  [[nodiscard]] Status Create(std::string_view user, std::string* id,
                              yiwang::v1::SessionRecord* rec);
  // Finds the session whose cookie value is `id` and sets *result (and *out for a live one).
  // Not OK for a store error or an unreadable record (then *result is meaningless).
  [[nodiscard]] Status Find(std::string_view id, Lookup* result, Session* out);
  // Records that `session` was used now: writes its last_seen_at back (unsynced: a crash
  // only shortens the idle window) if the stored one is a minute old or more, unless the
  // session was deleted since Find.
  void Touch(Session* session);
  // Ends `session` (sign-out).
  [[nodiscard]] Status End(const Session& session);

  // See "Thread safety" above.
  [[nodiscard]] std::unique_lock<std::mutex> LockWrites() { return std::unique_lock(write_mu_); }
  // Appends to *ws the deletion of every session of `user`.
  // REQUIRES: LockWrites() held until *ws is written.
  [[nodiscard]] Status AddEndAllOf(std::string_view user, store::WriteSet* ws) const;

  // Set-Cookie values: the session `id` (HttpOnly, SameSite=Strict, Max-Age = absolute), and
  // the one that removes it.
  std::string Cookie(std::string_view id) const;
  std::string ClearedCookie() const;

 private:
  std::chrono::system_clock::time_point Now() const { return clock_.Now(); }

  store::EventStore* store_;
  const SessionOptions opts_;
  Clock clock_;
  std::mutex write_mu_;
};

}  // namespace yiwang::web
