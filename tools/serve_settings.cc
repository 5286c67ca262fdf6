#include "tools/serve_settings.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include "dispatcher/dispatch_config.h"
#include "web/citizen_api.h"

namespace yiwang::tools {

namespace {

bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  try {
    int p = std::stoi(s.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return !host->empty();
}

// <directory of this executable>/web/static: build/yiwang serves build/web/static.
std::filesystem::path DefaultStaticRoot() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "web/static";
  return exe.parent_path() / "web" / "static";
}

// A configured value replaces the default; 0 (proto3's "not set") keeps it.
template <typename T>
void Override(T* target, uint32_t value) {
  if (value != 0) *target = static_cast<T>(value);
}

template <typename Duration>
void OverrideSeconds(Duration* target, uint32_t seconds) {
  if (seconds != 0) *target = std::chrono::seconds(seconds);
}

void ResolveStore(const yiwang::v1::StoreConfig& c, const std::string& data_dir,
                  store::StoreOptions* o) {
  o->data_dir = data_dir;
  if (c.block_cache_mb()) o->block_cache_bytes = static_cast<size_t>(c.block_cache_mb()) << 20;
  if (c.memtable_budget_mb())
    o->memtable_budget_bytes = static_cast<size_t>(c.memtable_budget_mb()) << 20;
  Override(&o->max_events_per_commit, c.max_events_per_commit());
  Override(&o->max_queued_events, c.max_queued_events());
}

void ResolveIngest(const yiwang::v1::IngestConfig& c, ingest::IngestLimits* o) {
  Override(&o->max_frame_bytes, c.max_frame_bytes());
  Override(&o->max_events_per_batch, c.max_events_per_batch());
  Override(&o->max_inflight_events, c.max_inflight_events());
  Override(&o->max_connections, c.max_connections());
  OverrideSeconds(&o->idle_timeout, c.idle_timeout_seconds());
  OverrideSeconds(&o->future_skew_flag, c.future_skew_flag_seconds());
  OverrideSeconds(&o->future_skew_reject, c.future_skew_reject_seconds());
  if (c.has_max_new_devices_per_hour()) o->max_new_devices_per_hour = c.max_new_devices_per_hour();
}

void ResolveHttp(const yiwang::v1::HttpConfig& c, web::HttpLimits* o) {
  Override(&o->max_body_bytes, c.max_body_bytes());
  Override(&o->max_header_bytes, c.max_header_bytes());
  Override(&o->max_connections, c.max_connections());
  OverrideSeconds(&o->idle_timeout, c.idle_timeout_seconds());
  OverrideSeconds(&o->header_timeout, c.header_timeout_seconds());
  Override(&o->max_connections_per_address, c.max_connections_per_address());
  o->https = c.https();  // HSTS on every response
  // Photos are the one large upload: their route alone takes up to 10 MB.
  o->body_limit_by_path.emplace("/api/v1/photos", web::kMaxPhotoBytes);
}

void ResolveLive(const yiwang::v1::HttpConfig& c, web::LiveLimits* o) {
  Override(&o->max_queued_bytes, c.live_max_queued_bytes());
  OverrideSeconds(&o->max_lag, c.live_max_lag_seconds());
  Override(&o->max_connections, c.live_max_connections());
  o->https = c.https();  // https:// pages only
}

Status ResolvePages(const yiwang::v1::HttpConfig& c, web::StaticOptions* o) {
  o->root = c.static_root().empty() ? DefaultStaticRoot() : std::filesystem::path(c.static_root());
  for (const auto& origin : c.csp_img_origins()) {
    if (!web::IsCspOrigin(origin))
      return Status::InvalidArgument(fmt::format(
          "http.cspImgOrigins: '{}' is not an origin (scheme://host[:port])", origin));
    o->img_origins.push_back(origin);
  }
  return Status::Ok();
}

}  // namespace

Status LoadServerConfig(const std::string& path, yiwang::v1::ServerConfig* config) {
  if (path.empty()) return Status::Ok();
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto st = google::protobuf::util::JsonStringToMessage(ss.str(), config);
  if (!st.ok()) return Status::InvalidArgument(path + ": " + std::string(st.message()));
  return Status::Ok();
}

namespace {

// The role and what it needs: a gateway and a core have the log's servers.
Status CheckRole(const ServeOptions& o) {
  if (o.role == "gateway" || o.role == "core") {
    if (o.nats.empty())
      return Status::InvalidArgument(
          fmt::format("--role {} needs --nats URL[,URL...] (the log's servers)", o.role));
    if (o.demo && o.role == "gateway")
      return Status::InvalidArgument(
          "--demo is for a single process or a core; a cluster's demo is `make cluster`");
    return Status::Ok();
  }
  if (o.role != "single")
    return Status::InvalidArgument(
        fmt::format("--role wants single, gateway or core, got '{}'", o.role));
  if (!o.nats.empty()) return Status::InvalidArgument("--nats is for --role gateway or core");
  return Status::Ok();
}

}  // namespace

Status ResolveServeSettings(const ServeOptions& o, ServeSettings* s) {
  if (Status st = CheckRole(o); !st.ok()) return st;
  if (Status st = LoadServerConfig(o.config_file, &s->config); !st.ok()) return st;
  if (Status st = dispatcher::ResolveDispatchConfig(s->config, &s->dispatch); !st.ok()) return st;
  if (!SplitHostPort(o.listen, &s->host, &s->port))
    return Status::InvalidArgument(fmt::format("--listen wants HOST:PORT, got '{}'", o.listen));
  s->io_threads = s->config.io_threads() ? s->config.io_threads()
                                         : std::max(1u, std::thread::hardware_concurrency());
  ResolveStore(s->config.store(), o.data_dir, &s->store);
  ResolveIngest(s->config.ingest(), &s->ingest);
  ResolveHttp(s->config.http(), &s->http);
  ResolveLive(s->config.http(), &s->live);
  return ResolvePages(s->config.http(), &s->pages);
}

}  // namespace yiwang::tools
