#include "tools/serve_gateway.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "ingest/ingest_service.h"
#include "ingest/log_routing.h"
#include "ingest/log_sink.h"
#include "ingest/sensor_endpoint.h"
#include "ingest/token_directory.h"
#include "store/log/jetstream.h"
#include "store/log/publisher.h"
#include "tools/serve_process.h"
#include "web/http_server.h"
#include "web/http_util.h"

namespace yiwang::tools {

namespace {

namespace net = boost::asio;

// A frame waits for the log at most this long before it is answered "unavailable".
constexpr std::chrono::milliseconds kPublishDeadline{5000};
// Publishes in flight at once: one per subject at most (ingest/log_sink.h), and a city's
// sensors spread over its districts and the hash buckets.
constexpr size_t kPublisherThreads = 32;
// How long a gateway waits at start for the token directory to be read.
constexpr std::chrono::seconds kTokensTimeout{30};

// What a gateway answers besides the sensors' WebSocket.
web::HttpResponse GatewayHttp(const web::HttpRequest& req, Metrics* metrics,
                              const ingest::LogSink& sink) {
  std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  using boost::beast::http::verb;
  const bool is_get = req.method() == verb::get || req.method() == verb::head;
  if (path == "/healthz" || path == "/metrics") {
    if (!is_get) return web::MethodNotAllowedResponse(metrics, req, "GET, HEAD");
    if (path == "/metrics")
      return web::MakeResponse(req, 200, metrics->RenderPrometheus(),
                               "text/plain; version=0.0.4; charset=utf-8");
    return web::MakeResponse(
        req, 200,
        fmt::format(R"({{"status":"ok","role":"gateway","pendingEvents":{}}})",
                    sink.pending_events()));
  }
  return web::ErrorResponse(metrics, req, 404, "not_found",
                            "a gateway serves /ws/sensors, /healthz and /metrics only");
}

}  // namespace

int RunGateway(const ServeOptions& o, const ServeSettings& settings,
               dispatcher::AlarmRules device_rules, spdlog::logger& log) {
  Metrics metrics;
  ExportProcessMemory(&metrics);
  Status st;
  auto journal = ConnectLog(o.nats, "yiwang-gateway", &st);
  if (!journal) {
    log.error("cannot reach the log at {}: {}", o.nats, st.ToString());
    return 1;
  }
  uint64_t last = 0;
  std::string leader;
  if (Status s = journal->StreamState(ingest::kEventsStream, &last, &leader); !s.ok())
    log.warn("stream {}: {} (run `yiwang cluster init`); frames are answered unavailable until "
             "it answers",
             ingest::kEventsStream, s.ToString());

  // A revoked or rotated token's open connections are closed at once, as in the single process.
  std::atomic<ingest::SensorEndpoint*> endpoint{nullptr};
  ingest::TokenDirectory::Options token_options;
  token_options.on_change = [&endpoint](const std::string& hash,
                                        const yiwang::v1::TokenRecord* record) {
    ingest::SensorEndpoint* e = endpoint.load();
    if (e && (!record || record->revoked())) e->CloseToken(hash);
  };
  auto tokens = ingest::TokenDirectory::Open(journal.get(), token_options, Logger("tokens"), &st);
  if (!tokens) {
    log.error("token directory: {}", st.ToString());
    return 1;
  }
  if (!tokens->WaitReady(kTokensTimeout)) {
    log.error("the token directory was not read within {} s", kTokensTimeout.count());
    return 1;
  }

  const web::DistrictLocator districts = LoadDistricts(settings, log);
  const ingest::DistrictLookup lookup = IngestDistricts(&device_rules, &districts);
  auto publisher = std::make_unique<log::LogPublisher>(
      journal.get(), log::PublisherOptions{.threads = kPublisherThreads,
                                           .max_pending = 4096,
                                           .deadline = kPublishDeadline});
  ingest::LogSink sink(
      publisher.get(),
      [&tokens](std::string_view token, yiwang::v1::TokenRecord* out) {
        return tokens->Lookup(token, out);
      },
      lookup, &metrics, Logger("ingest"));
  ingest::IngestService ingest(&sink, settings.ingest, &metrics, Logger("ingest"), Clock(),
                               lookup);
  ingest::SensorEndpoint sensors(&ingest, &metrics, Logger("ingest"));
  endpoint = &sensors;

  net::io_context ioc(static_cast<int>(settings.io_threads));
  std::map<std::string, web::UpgradeRoute> upgrades;
  upgrades["/ws/sensors"] = SensorsRoute(&sensors);
  web::HttpServer server(
      ioc, settings.http,
      [&](const web::HttpRequest& req) { return GatewayHttp(req, &metrics, sink); },
      std::move(upgrades), &metrics, Logger("web"));
  if (Status s = server.Listen(settings.host, settings.port); !s.ok()) {
    log.error("{}", s.ToString());
    return 1;
  }
  const std::string url = ListenUrl(settings.host, server.port());
  StopSignal stop(ioc, log);
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < settings.io_threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  WriteReadyFile(o.ready_file, url, log);
  log.info("gateway listening on {} (log {}, {} device tokens, {} io threads)", url, o.nats,
           tokens->size(), settings.io_threads);

  stop.Wait();
  // No new connections; sessions stop reading and write the acks of the frames they hold,
  // which the log answers within the publish deadline; then they close with 1001.
  server.StopAccepting();
  sensors.Shutdown();
  const auto deadline =
      std::chrono::steady_clock::now() + kPublishDeadline + std::chrono::seconds(2);
  while (sensors.connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  endpoint = nullptr;
  ioc.stop();
  for (auto& t : pool) t.join();
  tokens.reset();     // its watch calls into the endpoint no more
  publisher.reset();  // answers what it still holds, into the sink, before the sink goes
  log.info("stopped");
  return 0;
}

}  // namespace yiwang::tools
