#pragma once
// What `yiwang serve` runs with: its command line and configuration file (docs/api.md,
// "Configuration") resolved into each component's options, and checked, before anything
// starts: a bad setting is refused at once, naming it, not at the first alarm.

#include <cstdint>
#include <string>

#include "base/status.h"
#include "ingest/limits.h"
#include "store/options.h"
#include "tools/serve.h"
#include "web/http_server.h"
#include "web/live_feed.h"
#include "web/static_files.h"
#include "yiwang/v1/config.pb.h"
#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::tools {

struct ServeSettings {
  yiwang::v1::ServerConfig config;      // as read (defaults where the file says nothing)
  yiwang::v1::DispatchConfig dispatch;  // the dispatch section resolved and validated
  std::string host;
  uint16_t port = 0;
  unsigned io_threads = 1;
  store::StoreOptions store;  // without its tables (serve declares them)
  ingest::IngestLimits ingest;
  web::HttpLimits http;
  web::StaticOptions pages;
  web::LiveLimits live;
};

// InvalidArgument (or NotFound for an unreadable file) naming the setting: serve exits 2.
Status ResolveServeSettings(const ServeOptions& options, ServeSettings* settings);

}  // namespace yiwang::tools
