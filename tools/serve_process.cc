#include "tools/serve_process.h"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <fmt/format.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/split.h"
#include "tools/serve_bootstrap.h"

namespace yiwang::tools {

namespace {

// Protobuf reports parse problems of untrusted bytes (e.g. invalid UTF-8 in a string field of a
// hostile frame) at ERROR on stderr, one line per frame: a client could flood the log. They go
// to the "protobuf" logger at debug instead (the frame itself is rejected and counted).
void ProtobufLogToSpdlog(google::protobuf::LogLevel level, const char* file, int line,
                         const std::string& message) {
  static const std::shared_ptr<spdlog::logger> log = Logger("protobuf");
  if (level == google::protobuf::LOGLEVEL_FATAL) {
    log->critical("{}:{}: {}", file, line, message);
  } else {
    log->debug("{}:{}: {}", file, line, message);
  }
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  return spdlog::stderr_color_mt(name);
}

// Logging, descriptors and malloc, as a server with thousands of connections needs them.
std::shared_ptr<spdlog::logger> SetUpProcess(const std::string& log_level) {
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  auto log = Logger("serve");
  google::protobuf::SetLogHandler(&ProtobufLogToSpdlog);

  // Every sensor and operator connection holds a descriptor, RocksDB holds its files: the
  // usual soft limit of 1,024 would refuse connections long before the ingest limit (20,000),
  // so the soft limit goes up to the hard one.
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    log->info("open-file limit {}", rl.rlim_cur);
  }
  // Blocks of 1 MiB and more (memtable arena blocks: 8 MiB; RocksDB's file buffers: 1 MiB; big
  // group commits) come from mmap and go back to the system when freed. glibc's default
  // threshold rises to the size of the largest block freed, after which such blocks came from
  // the heap and their memory stayed with malloc: up to 155 MiB kept after 4 minutes at 10,000
  // events/s. A 4 MiB threshold still let 1-4 MiB blocks pile up (196 MiB free in the heap
  // after 17 minutes); 1 MiB kept it near 10 MiB (docs/architecture.md, "Memory").
  if (::mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1) log->warn("mallopt(M_MMAP_THRESHOLD) refused");
  return log;
}

web::DistrictLocator LoadDistricts(const ServeSettings& s, spdlog::logger& log) {
  web::DistrictLocator districts;
  const auto path = s.pages.root / "data" / "chongqing-districts.geojson";
  if (Status st = web::DistrictLocator::Load(path.string(), &districts); !st.ok())
    log.warn("no district map ({}): citizen reports are refused, and the locations of sensor "
             "events are not checked against their tokens' districts, nor the locations of "
             "filed cases against their districts",
             st.ToString());
  return districts;
}

ingest::DistrictLookup IngestDistricts(const dispatcher::AlarmRules* devices,
                                       const web::DistrictLocator* map) {
  return ingest::DistrictLookup{
      .of_device =
          [devices](std::string_view id) {
            return devices->FactsFor(id, yiwang::v1::SENSOR_KIND_UNSPECIFIED).district;
          },
      .of_point =
          [map](double lat, double lon) {
            auto hit = map->Locate(lat, lon);
            return hit ? hit->code : std::string();
          },
  };
}

std::unique_ptr<log::JetStreamLog> ConnectLog(const std::string& nats, const std::string& name,
                                              Status* status) {
  log::ConnectOptions connect;
  connect.urls = SplitList(nats);
  connect.name = name;
  return log::JetStreamLog::Connect(connect, Logger("log"), status);
}

web::UpgradeRoute SensorsRoute(ingest::SensorEndpoint* sensors) {
  return [sensors](const web::HttpRequest& req)
             -> std::variant<web::HttpResponse, web::UpgradeFn> {
    auto d = sensors->Admit(req);
    if (auto* res = std::get_if<ingest::HttpResponse>(&d)) return std::move(*res);
    return std::get<ingest::UpgradeFn>(std::move(d));
  };
}

std::string ListenUrl(const std::string& host, uint16_t port) {
  return fmt::format("http://{}:{}",
                     host.find(':') != std::string::npos ? "[" + host + "]" : host, port);
}

void WriteReadyFile(const std::string& path, const std::string& url, spdlog::logger& log) {
  if (path.empty()) return;
  if (Status s = WriteSecretFile(path, url + "\n"); !s.ok())
    log.error("ready file: {}", s.ToString());
  else
    ::chmod(path.c_str(), 0644);
}

StopSignal::StopSignal(boost::asio::io_context& ioc, spdlog::logger& log)
    : signals_(ioc, SIGINT, SIGTERM) {
  signals_.async_wait([this, &log](boost::system::error_code ec, int sig) {
    if (ec) return;
    log.info("signal {}: stopping", sig);
    std::lock_guard lock(mu_);
    stop_requested_ = true;
    cv_.notify_all();
  });
}

void StopSignal::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_requested_; });
}

bool StopSignal::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return stop_requested_; });
}

}  // namespace yiwang::tools
