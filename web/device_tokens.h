#pragma once
// DeviceTokens: the admin routes of sensors' bearer tokens ("ywd_...", web/tokens.h).
//
//   POST   /api/v1/admin/device-tokens             {"name","devicePrefix"[,"districts"]}
//                                                  -> 201 {"token","id",...}: shown once
//   GET    /api/v1/admin/device-tokens             -> {"tokens":[{"id","name","devicePrefix",
//                                                     "districts","createdAt"[,"rotatedAt"]}]}
//   DELETE /api/v1/admin/device-tokens/{id}        -> 204: the token stops working
//   POST   /api/v1/admin/device-tokens/{id}/rotate -> 200 {"token",...}: a new secret, same id
//
// Names are unique among device tokens. `districts` (codes of the dispatch config) scope a
// token: ingest then rejects, event by event, what names or lies in another district
// (ingest/validation.h). The secret is never listed; the store (or a cluster's token bucket,
// DeviceTokenOptions::tokens) keeps only its hash. Revoking or rotating removes the old hash
// before it answers, so a new connection with the old secret is refused, and then calls
// `on_revoked` with that hash: `yiwang serve` wires
// it to ingest::SensorEndpoint::CloseToken, which closes the connections opened with it.
//
// The caller (web::Api) has checked that the request comes from an admin.
//
// Thread safety: Handle may be called from any thread; one mutex serialises the changes (so
// that two creations cannot take one name), never held across anything but the store.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "store/event_store.h"
#include "store/token_book.h"
#include "web/http_server.h"
#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::web {

struct DeviceTokenOptions {
  // The districts a token may be scoped to. nullptr: the built-in default config. Must outlive
  // the DeviceTokens.
  const yiwang::v1::DispatchConfig* dispatch_config = nullptr;
  // Called after a token was revoked or rotated, with the SHA-256 of its old secret.
  std::function<void(const std::string& token_hash)> on_revoked;
  // Where the tokens are kept: null, the store's own; a cluster core's, the cluster's token
  // bucket (docs/cluster.md). Must outlive the DeviceTokens.
  store::TokenBook* tokens = nullptr;
  Clock clock;
};

class DeviceTokens {
 public:
  // `store` (its tokens, unless options.tokens) and `metrics` must outlive the object.
  DeviceTokens(store::EventStore* store, Metrics* metrics, std::shared_ptr<spdlog::logger> logger,
               DeviceTokenOptions options = {});

  // The answer to a request below /api/v1/admin/device-tokens (405 for a method the path does
  // not take), or nullopt if `path` is not one of the routes above.
  std::optional<HttpResponse> Handle(const HttpRequest& req, std::string_view path);

  // Whether `path` is one of the routes above (for the caller's admin check).
  static bool Owns(std::string_view path);

 private:
  HttpResponse Create(const HttpRequest& req);
  HttpResponse List(const HttpRequest& req);
  HttpResponse Revoke(const HttpRequest& req, std::string_view id);
  HttpResponse Rotate(const HttpRequest& req, std::string_view id);
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message);
  HttpResponse StoreError(const HttpRequest& req, const Status& s);

  std::unique_ptr<store::StoreTokenBook> own_tokens_;  // when options.tokens is null
  store::TokenBook* tokens_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  DeviceTokenOptions opts_;
  const yiwang::v1::DispatchConfig* config_;
  std::mutex mu_;  // creations, revocations and rotations, one at a time
};

}  // namespace yiwang::web
