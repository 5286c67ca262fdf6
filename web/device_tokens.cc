#include "web/device_tokens.h"

#include <algorithm>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"
#include "dispatcher/dispatch_config.h"
#include "store/key_codec.h"
#include "web/http_util.h"
#include "web/internal/user_json.h"
#include "web/tokens.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

namespace {

constexpr std::string_view kBase = "/api/v1/admin/device-tokens";
constexpr std::string_view kRotate = "/rotate";
constexpr size_t kMaxNameBytes = 128;

// A stored device token: its key (the hash of its secret) and record.
struct Stored {
  std::string hash;
  v1::TokenRecord rec;
};

// Every device token in force (a record marked revoked by an older version is left out).
Status LoadDeviceTokens(const store::TokenBook& tokens, std::vector<Stored>* out) {
  out->clear();
  return tokens.Scan([&](std::string_view hash, const v1::TokenRecord& rec) {
    if (rec.kind() == v1::TOKEN_KIND_DEVICE && !rec.revoked())
      out->push_back({std::string(hash), rec});
    return true;
  });
}

json::object TokenJson(const Stored& t) {
  json::object o;
  o["id"] = store::TokenId(t.hash, t.rec);
  o["name"] = t.rec.name();
  o["devicePrefix"] = t.rec.device_prefix();
  o["districts"] = json::array(t.rec.districts().begin(), t.rec.districts().end());
  o["createdAt"] = Rfc3339(t.rec.created_at());
  if (t.rec.has_rotated_at()) o["rotatedAt"] = Rfc3339(t.rec.rotated_at());
  return o;
}

}  // namespace

DeviceTokens::DeviceTokens(store::EventStore* store, Metrics* metrics,
                           std::shared_ptr<spdlog::logger> logger, DeviceTokenOptions options)
    : own_tokens_(options.tokens ? nullptr : std::make_unique<store::StoreTokenBook>(store)),
      tokens_(options.tokens ? options.tokens : own_tokens_.get()),
      metrics_(metrics),
      log_(std::move(logger)),
      opts_(std::move(options)),
      config_(opts_.dispatch_config ? opts_.dispatch_config
                                    : &dispatcher::DefaultDispatchConfig()) {}

bool DeviceTokens::Owns(std::string_view path) {
  if (path == kBase) return true;
  if (!path.starts_with(kBase) || path.size() <= kBase.size() + 1 || path[kBase.size()] != '/')
    return false;
  std::string_view rest = path.substr(kBase.size() + 1);
  if (rest.ends_with(kRotate)) rest.remove_suffix(kRotate.size());
  return !rest.empty() && rest.find('/') == std::string_view::npos;
}

std::optional<HttpResponse> DeviceTokens::Handle(const HttpRequest& req, std::string_view path) {
  if (!Owns(path)) return std::nullopt;
  const http::verb m = req.method();
  if (path == kBase) {
    if (m == http::verb::get || m == http::verb::head) return List(req);
    if (m == http::verb::post) return Create(req);
    return MethodNotAllowedResponse(metrics_, req, "GET, HEAD, POST");
  }
  std::string_view id = path.substr(kBase.size() + 1);
  if (id.ends_with(kRotate)) {
    id.remove_suffix(kRotate.size());
    if (m != http::verb::post) return MethodNotAllowedResponse(metrics_, req, "POST");
    return Rotate(req, id);
  }
  if (m != http::verb::delete_) return MethodNotAllowedResponse(metrics_, req, "DELETE");
  return Revoke(req, id);
}

HttpResponse DeviceTokens::Error(const HttpRequest& req, unsigned status, std::string_view code,
                                 std::string_view message) {
  return ErrorResponse(metrics_, req, status, code, message);
}

HttpResponse DeviceTokens::StoreError(const HttpRequest& req, const Status& s) {
  if (s.code() == Status::Code::kNoSpace) return Error(req, 507, "storage_full", "disk full");
  // A cluster core whose token bucket (the log) did not answer in time.
  if (s.code() == Status::Code::kUnavailable)
    return RetryLaterResponse(metrics_, req, 503, "unavailable",
                              "the cluster's token bucket did not answer; retry", 1);
  log_->error("device tokens: {}", s.ToString());
  return Error(req, 500, "internal", "could not read or write the tokens");
}

HttpResponse DeviceTokens::Create(const HttpRequest& req) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  for (const auto& kv : *body)
    if (kv.key() != "name" && kv.key() != "devicePrefix" && kv.key() != "districts")
      return Error(req, 400, "unknown_field",
                   fmt::format("{}: not a field of a device token", std::string(kv.key())));
  const auto* name = body->if_contains("name");
  const auto* prefix = body->if_contains("devicePrefix");
  if (!name || !name->is_string() || name->get_string().empty() ||
      name->get_string().size() > kMaxNameBytes || !IsText(name->get_string()) ||
      HasControlChars(name->get_string()))
    return Error(req, 400, "bad_name",
                 "\"name\" must be a string of 1..128 bytes without control characters or "
                 "noncharacters");
  if (!prefix || !prefix->is_string() || !store::DeviceIdChars(prefix->get_string()))
    return Error(req, 400, "bad_device_prefix",
                 "\"devicePrefix\" must be a string of at most 64 of [A-Za-z0-9._:-] "
                 "(empty allows every device)");
  std::vector<std::string> districts;
  if (const auto* d = body->if_contains("districts")) {
    if (auto error = internal::ParseDistricts(*d, *config_, &districts))
      return Error(req, 400, error->code, error->message);
  }

  std::lock_guard lock(mu_);
  std::vector<Stored> tokens;
  if (Status s = LoadDeviceTokens(*tokens_, &tokens); !s.ok()) return StoreError(req, s);
  if (std::any_of(tokens.begin(), tokens.end(),
                  [&](const Stored& t) { return t.rec.name() == name->get_string(); }))
    return Error(req, 409, "duplicate_name",
                 "a device token of this name exists: revoke or rotate it, or pick another name");
  Stored t;
  std::string token;
  if (Status s = MintToken(v1::TOKEN_KIND_DEVICE, &token); !s.ok()) return StoreError(req, s);
  t.hash = store::TokenHash(token);
  t.rec.set_name(std::string(name->get_string()));
  t.rec.set_kind(v1::TOKEN_KIND_DEVICE);
  t.rec.set_device_prefix(std::string(prefix->get_string()));
  t.rec.set_id(store::TokenId(t.hash, t.rec));
  for (auto& d : districts) t.rec.add_districts(std::move(d));
  *t.rec.mutable_created_at() = ToProtoTime(opts_.clock.Now());
  if (Status s = tokens_->Put(token, t.rec); !s.ok()) return StoreError(req, s);
  log_->info("device token '{}' ({}) created", t.rec.name(), t.rec.id());
  json::object out = TokenJson(t);
  out["token"] = token;
  return MakeResponse(req, 201, json::serialize(out));
}

HttpResponse DeviceTokens::List(const HttpRequest& req) {
  std::vector<Stored> tokens;
  if (Status s = LoadDeviceTokens(*tokens_, &tokens); !s.ok()) return StoreError(req, s);
  // Oldest first (the store keeps them in hash order, which means nothing).
  std::sort(tokens.begin(), tokens.end(), [](const Stored& a, const Stored& b) {
    const auto& x = a.rec.created_at();
    const auto& y = b.rec.created_at();
    if (x.seconds() != y.seconds()) return x.seconds() < y.seconds();
    if (x.nanos() != y.nanos()) return x.nanos() < y.nanos();
    return a.rec.name() < b.rec.name();
  });
  json::array list;
  for (const Stored& t : tokens) list.emplace_back(TokenJson(t));
  json::object out;
  out["tokens"] = std::move(list);
  return MakeResponse(req, 200, json::serialize(out));
}

HttpResponse DeviceTokens::Revoke(const HttpRequest& req, std::string_view id) {
  std::string hash;
  {
    std::lock_guard lock(mu_);
    std::vector<Stored> tokens;
    if (Status s = LoadDeviceTokens(*tokens_, &tokens); !s.ok()) return StoreError(req, s);
    auto it = std::find_if(tokens.begin(), tokens.end(),
                           [&](const Stored& t) { return store::TokenId(t.hash, t.rec) == id; });
    if (it == tokens.end())
      return Error(req, 404, "token_not_found", "no device token has this id");
    if (Status s = tokens_->Delete(it->hash); !s.ok()) return StoreError(req, s);
    hash = it->hash;
    log_->info("device token '{}' ({}) revoked", it->rec.name(), std::string(id));
  }
  if (opts_.on_revoked) opts_.on_revoked(hash);
  return MakeResponse(req, 204, "");
}

HttpResponse DeviceTokens::Rotate(const HttpRequest& req, std::string_view id) {
  Stored t;
  std::string old_hash, token;
  {
    std::lock_guard lock(mu_);
    std::vector<Stored> tokens;
    if (Status s = LoadDeviceTokens(*tokens_, &tokens); !s.ok()) return StoreError(req, s);
    auto it = std::find_if(tokens.begin(), tokens.end(),
                           [&](const Stored& x) { return store::TokenId(x.hash, x.rec) == id; });
    if (it == tokens.end())
      return Error(req, 404, "token_not_found", "no device token has this id");
    if (Status s = MintToken(v1::TOKEN_KIND_DEVICE, &token); !s.ok()) return StoreError(req, s);
    old_hash = it->hash;
    t.rec = it->rec;
    t.rec.set_id(std::string(id));  // kept: the id of a record made before ids is its old hash's
    *t.rec.mutable_rotated_at() = ToProtoTime(opts_.clock.Now());
    t.hash = store::TokenHash(token);
    if (Status s = tokens_->Replace(old_hash, token, t.rec); !s.ok())
      return StoreError(req, s);
    log_->info("device token '{}' ({}) rotated", t.rec.name(), t.rec.id());
  }
  if (opts_.on_revoked) opts_.on_revoked(old_hash);
  json::object out = TokenJson(t);
  out["token"] = token;
  return MakeResponse(req, 200, json::serialize(out));
}

}  // namespace yiwang::web
