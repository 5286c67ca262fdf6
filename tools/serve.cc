#include "tools/serve.h"


#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "dispatcher/alarm_engine.h"
#include "dispatcher/config_check.h"
#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"
#include "ingest/ingest_service.h"
#include "ingest/log_applier.h"
#include "ingest/token_directory.h"
#include "ingest/sensor_endpoint.h"
#include "store/event_store.h"
#include "store/log/jetstream.h"
#include "tools/serve_bootstrap.h"
#include "tools/serve_gateway.h"
#include "tools/serve_process.h"
#include "tools/serve_settings.h"
#include "tools/sim.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/case_api.h"
#include "web/citizen_api.h"
#include "web/district_locator.h"
#include "web/http_server.h"
#include "web/http_util.h"
#include "web/live_feed.h"
#include "web/open311.h"
#include "web/router.h"
#include "web/static_files.h"
#include "web/tables.h"

namespace yiwang::tools {

namespace net = boost::asio;

namespace {

// The store and, unless --no-dispatcher, the dispatcher on it. The dispatcher judges every
// stored event from its cursor on: opened before the first ingest commit, it also catches up
// on events stored while it was not running.
// A cluster core (--role core) also has the log it applies and the cluster's tokens
// (docs/cluster.md).
struct Storage {
  std::unique_ptr<store::EventStore> store;
  std::unique_ptr<dispatcher::Dispatcher> dispatch;
  std::unique_ptr<log::JetStreamLog> journal;
  std::unique_ptr<ingest::TokenDirectory> tokens;
  std::unique_ptr<ingest::ClusterTokenBook> token_book;
  std::unique_ptr<ingest::LogApplier> applier;
};

// A core's link to the cluster: its tokens (read before it answers anyone) and its intake, the
// events of the log from the store's position on. False (the reason logged) if the log cannot
// be reached.
bool StartCluster(const ServeOptions& o, Metrics* metrics, spdlog::logger& log, Storage* out) {
  Status st;
  out->journal = ConnectLog(o.nats, "yiwang-core", &st);
  if (!out->journal) {
    log.error("cannot reach the log at {}: {}", o.nats, st.ToString());
    return false;
  }
  out->tokens =
      ingest::TokenDirectory::Open(out->journal.get(), {}, Logger("tokens"), &st);
  if (!out->tokens || !out->tokens->WaitReady(std::chrono::seconds(30))) {
    log.error("the cluster's tokens: {}", st.ok() ? "not read within 30 s" : st.ToString());
    return false;
  }
  out->token_book = std::make_unique<ingest::ClusterTokenBook>(out->tokens.get());
  out->applier = std::make_unique<ingest::LogApplier>(out->journal.get(), out->store.get(),
                                                      metrics, Logger("core"));
  return true;
}

// False (the reason logged) if either cannot open.
bool OpenStorage(const ServeOptions& o, const ServeSettings& settings, Metrics* metrics,
                 spdlog::logger& log, Storage* out) {
  store::StoreOptions store_opts = settings.store;
  store_opts.tables = store::TablesOf(dispatcher::tables::kAll, web::tables::kAll);
  Status st;
  out->store = store::EventStore::Open(store_opts, Logger("store"), metrics, &st);
  if (!out->store) {
    log.error("cannot open the store at {}: {}", o.data_dir, st.ToString());
    return false;
  }
  // A core never makes an admin token of its own: a cluster has one source of them.
  if (o.role == "single") {
    if (Status s = EnsureBootstrapAdminToken(out->store.get(), o.data_dir, log); !s.ok()) {
      log.error("bootstrap admin token: {}", s.ToString());
      return false;
    }
  }
  if (!o.dispatcher) {
    log.warn("--no-dispatcher: no case workflow, no live feed (ingest and device API only)");
  } else {
    out->dispatch = dispatcher::Dispatcher::Open(out->store.get(), settings.dispatch,
                                                 dispatcher::DispatcherOptions{},
                                                 Logger("dispatcher"), metrics, &st);
    if (!out->dispatch) {
      log.error("cannot start the dispatcher: {}", st.ToString());
      return false;
    }
  }
  // After the dispatcher: it judges every event the applier commits.
  return o.role != "core" || StartCluster(o, metrics, log, out);
}

// Everything that answers a connection, built in this order (each part holds pointers to
// parts above it) and destroyed in reverse. It must outlive the io_context: connections still
// queued there when that is destroyed call back into the endpoints.
struct Components {
  Components(const ServeSettings& s, const Storage& storage, Metrics* metrics,
             web::DistrictLocator located, dispatcher::AlarmRules device_rules);

  // Which endpoint takes a WebSocket upgrade, by path. Sensors connect to a cluster's gateways,
  // not to its cores (`sensors` false).
  std::map<std::string, web::UpgradeRoute> Upgrades(bool sensors);

  // The districts of citizen reports and filed cases come from their location; sensor events
  // of tokens scoped to districts are checked against them too (web/district_locator.h).
  const web::DistrictLocator districts;
  // A device's district as the dispatcher files its cases: its binding, else a district code
  // in its id.
  const dispatcher::AlarmRules device_districts;
  ingest::IngestService ingest;
  ingest::SensorEndpoint sensors;
  web::Accounts accounts;
  const web::Authenticator authenticate;
  const web::StaticFiles pages;
  web::Api api;
  // The case workflow's parts, without --no-dispatcher.
  std::unique_ptr<web::CaseApi> cases;
  std::unique_ptr<web::CitizenApi> citizen;
  std::unique_ptr<web::Open311> open311;
  std::unique_ptr<web::LiveFeed> live;
  // Every plain HTTP request goes through the routing table (web/router.h): a path it does not
  // list is 404, whatever a component would answer.
  web::Router router;
};

web::AccountsOptions AccountsOptionsOf(const ServeSettings& s, const Storage& storage) {
  web::AccountsOptions o;
  o.secure_cookie = s.http.https;  // served over HTTPS (behind a TLS proxy)
  o.dispatch_config = &s.dispatch;
  o.tokens = storage.token_book.get();  // a core: the cluster's tokens too
  return o;
}

// A revoked or rotated device token's open connections are closed at once.
web::DeviceTokenOptions DeviceTokenOptionsOf(const ServeSettings& s, const Storage& storage,
                                             ingest::SensorEndpoint* sensors) {
  web::DeviceTokenOptions o;
  o.dispatch_config = &s.dispatch;
  o.tokens = storage.token_book.get();  // a core: made in the cluster's bucket
  o.on_revoked = [sensors](const std::string& hash) { sensors->CloseToken(hash); };
  return o;
}

Components::Components(const ServeSettings& s, const Storage& storage, Metrics* metrics,
                       web::DistrictLocator located, dispatcher::AlarmRules device_rules)
    : districts(std::move(located)),
      device_districts(std::move(device_rules)),
      ingest(storage.store.get(), s.ingest, metrics, Logger("ingest"), Clock(),
             IngestDistricts(&device_districts, &districts)),
      sensors(&ingest, metrics, Logger("ingest")),
      accounts(storage.store.get(), metrics, Logger("auth"), AccountsOptionsOf(s, storage)),
      authenticate([this](const web::HttpRequest& req) { return accounts.Authenticate(req); }),
      pages(s.pages),
      api(storage.store.get(), metrics, &accounts, Logger("web"), &pages, storage.dispatch.get(),
          DeviceTokenOptionsOf(s, storage, &sensors)),
      cases(storage.dispatch ? std::make_unique<web::CaseApi>(storage.dispatch.get(), authenticate,
                                                            metrics, Logger("web"), &districts)
                             : nullptr),
      citizen(storage.dispatch
                  ? std::make_unique<web::CitizenApi>(storage.dispatch.get(), storage.store.get(),
                                                      &districts, metrics, Logger("web"))
                  : nullptr),
      open311(storage.dispatch ? std::make_unique<web::Open311>(citizen.get(), storage.dispatch.get(),
                                                                authenticate, metrics, Logger("web"))
                               : nullptr),
      live(storage.dispatch
               ? std::make_unique<web::LiveFeed>(storage.dispatch.get(), storage.store.get(),
                                                 authenticate, metrics, Logger("live"), s.live)
               : nullptr),
      router({.api = &api, .cases = cases.get(), .citizen = citizen.get(), .open311 = open311.get()},
             metrics, Logger("web")) {}

std::map<std::string, web::UpgradeRoute> Components::Upgrades(bool with_sensors) {
  std::map<std::string, web::UpgradeRoute> upgrades;
  if (with_sensors)
    upgrades["/ws/sensors"] = SensorsRoute(&sensors);
  if (live) upgrades["/ws/live"] = [this](const web::HttpRequest& req) { return live->Admit(req); };
  return upgrades;
}

// --demo: the simulated fleet runs in this process and talks to the server over WebSocket like
// any real gateway, with a device token of its own (kept in DIR/demo-device.token). Returns the
// fleet's thread (not joinable if it could not start).
std::thread StartDemoFleet(const ServeOptions& o, const std::string& url, store::EventStore* store,
                           const std::vector<std::string>& demo_users,
                           const std::atomic<bool>& stop, spdlog::logger& log) {
  SimOptions sim;
  sim.url = url;
  sim.log_level = o.log_level;
  if (Status s = DemoDeviceToken(store, o.data_dir, &sim.token); !s.ok()) {
    log.error("demo device token: {}", s.ToString());
    return {};
  }
  std::thread fleet([sim, &stop] { RunSim(sim, stop); });
  log.info("demo fleet: {} simulated devices (device token in {}/demo-device.token)", sim.devices,
           o.data_dir);
  PrintDemoBanner(url, o.data_dir, demo_users);
  return fleet;
}

// No new connections; sessions stop reading; the writer commits and acks everything already
// queued; sessions write those acks and close with 1001 (within 5 s); then the io threads end.
void StopGracefully(Components& parts, web::HttpServer& server, Storage& storage,
                    net::io_context& ioc, std::vector<std::thread>& pool) {
  server.StopAccepting();
  parts.sensors.Shutdown();
  if (parts.live) parts.live->Shutdown();
  storage.applier.reset();  // a core: after its request in flight is committed
  storage.store->StopWriter();
  if (storage.dispatch) storage.dispatch->Stop();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (parts.sensors.connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ioc.stop();
  for (auto& t : pool) t.join();
}

}  // namespace

int RunServe(const ServeOptions& o) {
  auto log = SetUpProcess(o.log_level);
  // Every setting is checked before anything starts: a bad file is refused now (exit 2, naming
  // the field), not at the first alarm.
  ServeSettings settings;
  if (Status s = ResolveServeSettings(o, &settings); !s.ok()) {
    log->error("config: {}", s.message());
    return 2;
  }
  dispatcher::AlarmRules device_rules;
  if (Status s = dispatcher::AlarmRules::Create(settings.dispatch, &device_rules); !s.ok()) {
    log->error("config: {}", s.ToString());
    return 2;
  }
  if (o.role == "gateway") return RunGateway(o, settings, std::move(device_rules), *log);
  Metrics metrics;
  ExportProcessMemory(&metrics);
  Storage storage;
  if (!OpenStorage(o, settings, &metrics, *log, &storage)) return 1;

  Components parts(settings, storage, &metrics, LoadDistricts(settings, *log),
                   std::move(device_rules));
  if (std::error_code ec; !std::filesystem::is_regular_file(settings.pages.root / "index.html", ec))
    log->warn("no web pages at {} (build the yiwang_web_ui target): pages answer 404",
              settings.pages.root.string());
  std::vector<std::string> demo_users;
  if (o.demo) {
    if (Status s = EnsureDemoUsers(&parts.accounts, o.data_dir, &demo_users); !s.ok()) {
      log->error("{}", s.ToString());
      return 1;
    }
  }

  net::io_context ioc(static_cast<int>(settings.io_threads));
  web::HttpServer server(
      ioc, settings.http, [&parts](const web::HttpRequest& req) { return parts.router.Handle(req); },
      parts.Upgrades(/*sensors=*/o.role == "single"), &metrics, Logger("web"));
  if (Status s = server.Listen(settings.host, settings.port); !s.ok()) {
    log->error("{}", s.ToString());
    return 1;
  }
  const std::string url = ListenUrl(settings.host, server.port());
  StopSignal stop(ioc, *log);
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < settings.io_threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  log->info("listening on {} (data dir {}, {} io threads)", url, o.data_dir, settings.io_threads);
  // A core is ready once it has applied what the log held when it started.
  while (storage.applier && !storage.applier->WaitCaughtUp(std::chrono::milliseconds(200)))
    if (stop.WaitFor(std::chrono::milliseconds(0))) break;
  WriteReadyFile(o.ready_file, url, *log);

  std::atomic<bool> sim_stop{false};
  // A core's --demo makes the demo users only: `make cluster` runs the fleet over the gateways.
  std::thread sim = o.demo && o.role == "single"
                        ? StartDemoFleet(o, url, storage.store.get(), demo_users, sim_stop, *log)
                        : std::thread();
  stop.Wait();
  sim_stop = true;
  if (sim.joinable()) sim.join();
  StopGracefully(parts, server, storage, ioc, pool);
  log->info("stopped: {} events stored", storage.store->EventCount());
  return 0;
}

}  // namespace yiwang::tools

#include <CLI/CLI.hpp>

#include "tools/commands.h"

namespace yiwang::tools {

CLI::App* AddServeCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<ServeOptions>();
  auto* s = app.add_subcommand("serve", "Run the server (sensor ingest, API, pages)");
  s->add_option("--data-dir", opts->data_dir, "RocksDB data directory")->capture_default_str();
  s->add_option("--listen", opts->listen, "HOST:PORT to listen on (port 0 picks one)")
      ->capture_default_str();
  s->add_option("--ready-file", opts->ready_file,
                "Write http://HOST:PORT and a newline here once ready");
  s->add_option("--config", opts->config_file, "Server configuration (JSON, see docs/api.md)");
  s->add_flag("--demo", opts->demo,
              "Demo users, and the demo sensor fleet against this server (a core: users only)");
  s->add_flag("!--no-dispatcher", opts->dispatcher,
              "Ingest and device API only: no case workflow (benchmark baseline)");
  s->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  s->add_option("--role", opts->role,
                "single: one process on its embedded store; gateway: the sensors' WebSocket in "
                "front of the cluster's log; core: applies the log into its store and serves "
                "the web (docs/cluster.md)")
      ->check(CLI::IsMember({"single", "gateway", "core"}))
      ->capture_default_str();
  s->add_option("--nats", opts->nats,
                "The cluster's NATS servers: URL[,URL...] (--role gateway or core)");
  s->callback([opts, exit_code] { *exit_code = RunServe(*opts); });
  return s;
}

CLI::App* AddConfigCommand(CLI::App& app, int* exit_code) {
  auto* c = app.add_subcommand("config", "Configuration tools");
  c->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  auto* check = c->add_subcommand(
      "check", "Check a configuration file offline as `serve --config` would at start-up");
  check->add_option("FILE", *path, "Server config (JSON) or a bare dispatch section")->required();
  check->callback([path, exit_code] { *exit_code = dispatcher::RunConfigCheck(*path, std::cout, std::cerr); });
  return c;
}

}  // namespace yiwang::tools
