#include "web/api.h"

#include <charconv>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "web/case_api.h"
#include "web/http_util.h"

namespace yiwang::web {

namespace http = boost::beast::http;

Api::Api(store::EventStore* store, Metrics* metrics, Accounts* accounts,
         std::shared_ptr<spdlog::logger> logger, const StaticFiles* pages,
         const dispatcher::Dispatcher* cases, DeviceTokenOptions device_tokens)
    : store_(store),
      metrics_(metrics),
      accounts_(accounts),
      pages_(pages),
      cases_(cases),
      log_(std::move(logger)),
      device_tokens_(store, metrics, log_, std::move(device_tokens)) {}

HttpResponse Api::Error(const HttpRequest& req, unsigned status, std::string_view code,
                        std::string_view message) {
  return ErrorResponse(metrics_, req, status, code, message);
}

HttpResponse Api::Handle(const HttpRequest& req) {
  try {
    return Route(req);
  } catch (const std::exception& e) {
    // Nothing below should throw; if it does, this request fails alone.
    log_->error("request handler threw: {}", e.what());
    return Error(req, 500, "internal", "internal error");
  }
}

HttpResponse Api::MethodNotAllowed(const HttpRequest& req, std::string_view allow) {
  return MethodNotAllowedResponse(metrics_, req, allow);
}

std::optional<HttpResponse> Api::RequireAdmin(const HttpRequest& req) {
  AuthResult auth = accounts_->Authenticate(req);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  if (std::get<Principal>(auth).role != yiwang::v1::ROLE_ADMIN)
    return Error(req, 403, "forbidden", "only an admin may use this route");
  return std::nullopt;
}

std::variant<Principal, HttpResponse> Api::RequireOperator(const HttpRequest& req) {
  AuthResult auth = accounts_->Authenticate(req);
  if (auto* res = std::get_if<HttpResponse>(&auth)) return std::move(*res);
  switch (std::get<Principal>(auth).role) {
    case yiwang::v1::ROLE_DISPATCHER:
    case yiwang::v1::ROLE_DEPARTMENT:
    case yiwang::v1::ROLE_SUPERVISOR:
    case yiwang::v1::ROLE_LEADER:
    case yiwang::v1::ROLE_ADMIN:
      return std::get<Principal>(std::move(auth));
    default:
      return Error(req, 403, "forbidden", "only an operator may use this route");
  }
}

std::optional<HttpResponse> Api::CheckDeviceScope(const HttpRequest& req, const Principal& p,
                                                  std::string_view device_id,
                                                  std::string_view query) {
  const bool scoped = p.role == yiwang::v1::ROLE_DEPARTMENT || !p.districts.empty();
  if (!scoped) return std::nullopt;
  // A scoped operator sees a device only as the sensor of a case in their scope: the device's
  // readings belong to every case of it, and its id says nothing about who owns it.
  auto case_id = QueryParam(query, "case");
  if (!case_id || !cases_)
    return Error(req, 403, "forbidden",
                 "your account reads a device through a case it may see: add ?case=<case id>");
  yiwang::v1::Case c;
  Status s = cases_->GetCase(*case_id, &c);
  if (!s.ok() && s.code() != Status::Code::kNotFound)
    return Error(req, 500, "internal", "could not read the case");
  if (!s.ok() || !CaseApi::MaySee(p, c) || c.device_id() != device_id)
    return Error(req, 404, "device_not_found", "no such device in a case of yours");
  return std::nullopt;
}

HttpResponse Api::Route(const HttpRequest& req) {
  if (auto res = accounts_->Handle(req)) return std::move(*res);
  std::string_view target = req.target();
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  const bool is_get = req.method() == http::verb::get || req.method() == http::verb::head;

  if (path == "/healthz") {
    if (!is_get) return MethodNotAllowed(req, "GET, HEAD");
    return MakeResponse(req, 200,
                        fmt::format(R"({{"status":"ok","storage":"{}","events":{}}})",
                                    store_->storage_full() ? "full" : "ok", store_->EventCount()));
  }
  if (path == "/metrics") {
    if (!is_get) return MethodNotAllowed(req, "GET, HEAD");
    return MakeResponse(req, 200, metrics_->RenderPrometheus(),
                        "text/plain; version=0.0.4; charset=utf-8");
  }
  if (DeviceTokens::Owns(path)) {
    if (auto denied = RequireAdmin(req)) return std::move(*denied);
    return *device_tokens_.Handle(req, path);
  }
  constexpr std::string_view kDevices = "/api/v1/devices/";
  if (path.starts_with(kDevices)) {
    std::string_view rest = path.substr(kDevices.size());
    constexpr std::string_view kEvents = "/events";
    bool events = false;
    if (rest.ends_with(kEvents)) {
      events = true;
      rest.remove_suffix(kEvents.size());
    }
    if (rest.empty() || rest.find('/') != std::string_view::npos)
      return Error(req, 404, "not_found", "no such route");
    if (!is_get) return MethodNotAllowed(req, "GET, HEAD");
    auto who = RequireOperator(req);
    if (auto* denied = std::get_if<HttpResponse>(&who)) return std::move(*denied);
    auto id = PercentDecodePath(rest);
    if (!id) return Error(req, 400, "bad_device_id", "bad percent-encoding in the device id");
    if (auto denied = CheckDeviceScope(req, std::get<Principal>(who), *id, query))
      return std::move(*denied);
    return events ? ListDeviceEvents(req, *id, query) : GetDevice(req, *id);
  }
  // The pages: after the API so that no file can shadow an API route.
  if (pages_) {
    if (auto res = pages_->Handle(req)) return std::move(*res);
  }
  return Error(req, 404, "not_found", "no such route");
}

HttpResponse Api::GetDevice(const HttpRequest& req, std::string_view device_id) {
  yiwang::v1::DeviceState st;
  Status s = store_->GetDevice(device_id, &st);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "device_not_found", "no events were ever accepted from this device");
  if (!s.ok()) return Error(req, 500, "internal", "could not read the device");
  return MakeResponse(req, 200, ToJson(st));
}

HttpResponse Api::ListDeviceEvents(const HttpRequest& req, std::string_view device_id,
                                   std::string_view query) {
  size_t limit = kDefaultEventsPageLimit;
  uint64_t before = 0;
  if (auto v = QueryParam(query, "limit")) {
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
    if (ec != std::errc() || p != v->data() + v->size() || limit == 0 ||
        limit > kMaxEventsPageLimit)
      return Error(req, 400, "bad_limit", "limit must be an integer from 1 to 1000");
  }
  if (auto v = QueryParam(query, "before")) {
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), before);
    if (ec != std::errc() || p != v->data() + v->size() || before == 0)
      return Error(req, 400, "bad_cursor", "before must be a positive integer (a seq)");
  }
  yiwang::v1::DeviceState st;
  Status s = store_->GetDevice(device_id, &st);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "device_not_found", "no events were ever accepted from this device");
  std::vector<yiwang::v1::StoredEvent> events;
  uint64_t next = 0;
  s = store_->ListDeviceEvents(device_id, before, limit, &events, &next);
  if (!s.ok()) return Error(req, 500, "internal", "could not read events");
  std::string body = R"({"events":[)";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i) body += ',';
    body += ToJson(events[i]);
  }
  body += ']';
  if (next) body += fmt::format(R"(,"nextBefore":"{}")", next);
  body += '}';
  return MakeResponse(req, 200, std::move(body));
}

}  // namespace yiwang::web
