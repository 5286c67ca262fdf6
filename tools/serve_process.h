#pragma once
// What every role of `yiwang serve` (the single process, a cluster gateway) does the same way
// around its components: logging and process limits, the district lookups of ingest, the
// signal that stops it, and the ready file.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/logger.h>

#include "dispatcher/alarm_engine.h"
#include "ingest/sensor_endpoint.h"
#include "ingest/validation.h"
#include "store/log/jetstream.h"
#include "tools/serve_settings.h"
#include "web/district_locator.h"
#include "web/http_server.h"

namespace yiwang::tools {

// The named logger (one per component), created on first use.
std::shared_ptr<spdlog::logger> Logger(const std::string& name);

// Logging (level, pattern, protobuf's own messages), the open-file limit raised to the hard
// limit, malloc's mmap threshold. Returns the "serve" logger.
std::shared_ptr<spdlog::logger> SetUpProcess(const std::string& log_level);

// The district map the page build installs under the static root (empty, with a warning, if
// missing).
web::DistrictLocator LoadDistricts(const ServeSettings& s, spdlog::logger& log);

// Where ingest's events belong (ingest/validation.h): a device's district as the dispatcher files
// its cases (its binding, else a district code in its id), a point's by the map. Both must
// outlive the lookup.
ingest::DistrictLookup IngestDistricts(const dispatcher::AlarmRules* devices,
                                       const web::DistrictLocator* map);

// A connection to the cluster's log at `nats` ("URL[,URL...]"), named `name` in the servers'
// connection lists; null (and *status why) if no server answered.
std::unique_ptr<log::JetStreamLog> ConnectLog(const std::string& nats, const std::string& name,
                                              Status* status);

// The upgrade route of /ws/sensors: the endpoint admits or refuses the upgrade.
web::UpgradeRoute SensorsRoute(ingest::SensorEndpoint* sensors);

// "http://HOST:PORT" (IPv6 hosts in brackets).
std::string ListenUrl(const std::string& host, uint16_t port);

// Writes `url` and a newline to `path` (atomically, readable by all) once the server is ready;
// an empty path writes nothing.
void WriteReadyFile(const std::string& path, const std::string& url, spdlog::logger& log);

// SIGINT or SIGTERM, heard on the io_context, told to the thread that waits for it.
class StopSignal {
 public:
  StopSignal(boost::asio::io_context& ioc, spdlog::logger& log);
  void Wait();
  // True if the signal came within `timeout`.
  bool WaitFor(std::chrono::milliseconds timeout);

 private:
  boost::asio::signal_set signals_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
};

}  // namespace yiwang::tools
