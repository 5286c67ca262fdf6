#include "tools/serve.h"

#include "tools/sim.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "dispatcher/alarm_engine.h"
#include "dispatcher/config_check.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/dispatcher.h"
#include "dispatcher/tables.h"
#include "ingest/ingest_service.h"
#include "ingest/sensor_endpoint.h"
#include "store/event_store.h"
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
#include "yiwang/v1/config.pb.h"

namespace yiwang::tools {

namespace net = boost::asio;

namespace {

std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  auto l = spdlog::stderr_color_mt(name);
  return l;
}

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

// Writes `content` to `path` with mode 0600, atomically (write a temp file, then rename).
Status WriteSecretFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());
  // Created 0600 from the start: the token is never readable by others, not even briefly.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::IOError("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Status::IOError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError("rename " + path.string() + ": " + ec.message());
  return Status::Ok();
}

// The demo fleet's device token: reused from DIR/demo-device.token while it is valid, else
// created (prefix "sim-").
Status DemoDeviceToken(store::EventStore* store, const std::string& data_dir, std::string* token) {
  const auto path = std::filesystem::path(data_dir) / "demo-device.token";
  std::ifstream in(path);
  yiwang::v1::TokenRecord rec;
  if (in && std::getline(in, *token) && store->LookupToken(*token, &rec).ok() && !rec.revoked())
    return Status::Ok();
  Status s = web::CreateToken(store, yiwang::v1::TOKEN_KIND_DEVICE, "demo-fleet", "sim-", token);
  if (!s.ok()) return s;
  return WriteSecretFile(path, *token + "\n");
}

// One operator per role for `serve --demo`. The department user works for 江北区城市管理局:
// the default routing sends manhole-cover alarms (category 0114 by default) and the fallback
// categories of 500105 there, and the demo fleet has devices in 江北区 (e.g.
// sim-septic-500105-0001).
struct DemoUser {
  const char* name;
  const char* display_name;
  yiwang::v1::Role role;
  const char* department;
  const char* district;
};
constexpr DemoUser kDemoUsers[] = {
    {"dispatcher", "指挥中心派遣员 (demo)", yiwang::v1::ROLE_DISPATCHER, "", ""},
    {"cgj-jiangbei", "江北区城市管理局 (demo)", yiwang::v1::ROLE_DEPARTMENT, "cgj-500105", "500105"},
    {"supervisor", "监督中心督查员 (demo)", yiwang::v1::ROLE_SUPERVISOR, "", ""},
    {"leader", "领导 (demo)", yiwang::v1::ROLE_LEADER, "", ""},
    {"admin", "系统管理员 (demo)", yiwang::v1::ROLE_ADMIN, "", ""},
};

// Ensures the demo users exist. Their passwords are generated when a user is created and kept
// in DIR/demo-users.txt (mode 0600, "name password" per line), so a restart on the same data
// dir shows the same credentials. *lines gets "role  name  password" lines for the banner.
Status EnsureDemoUsers(web::Accounts* accounts, const std::string& data_dir,
                       std::vector<std::string>* lines) {
  const auto path = std::filesystem::path(data_dir) / "demo-users.txt";
  std::map<std::string, std::string> passwords;
  {
    std::ifstream in(path);
    std::string name, password;
    while (in >> name >> password) passwords[name] = password;
  }
  bool changed = false;
  for (const DemoUser& d : kDemoUsers) {
    web::NewUser u;
    u.name = d.name;
    u.display_name = d.display_name;
    u.role = d.role;
    u.department = d.department;
    if (*d.district) u.districts.push_back(d.district);
    // A user deleted by an admin comes back with the password the file remembers.
    if (auto it = passwords.find(d.name); it != passwords.end()) u.password = it->second;
    std::string generated;
    if (Status s = accounts->EnsureUser(u, &generated); !s.ok())
      return Status::InvalidArgument(fmt::format("demo user {}: {}", d.name, s.ToString()));
    if (!generated.empty()) {
      passwords[d.name] = generated;
      changed = true;
    }
    auto it = passwords.find(d.name);
    lines->push_back(fmt::format("{:<11} {:<13} {}", web::RoleApiName(d.role), d.name,
                                 it != passwords.end() ? it->second
                                                       : "(unknown: demo-users.txt is gone)"));
  }
  if (!changed) return Status::Ok();
  std::string content;
  for (const auto& [name, password] : passwords) content += name + " " + password + "\n";
  return WriteSecretFile(path, content);
}

// <directory of this executable>/web/static: build/yiwang serves build/web/static.
std::filesystem::path DefaultStaticRoot() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "web/static";
  return exe.parent_path() / "web" / "static";
}

template <typename T>
void Override(T* target, uint32_t value) {
  if (value != 0) *target = static_cast<T>(value);
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

int RunServe(const ServeOptions& o) {
  spdlog::set_level(spdlog::level::from_str(o.log_level));
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

  yiwang::v1::ServerConfig config;
  if (Status s = LoadServerConfig(o.config_file, &config); !s.ok()) {
    log->error("config: {}", s.ToString());
    return 2;
  }
  // The dispatcher's configuration is checked before anything starts: a bad file is refused
  // now (exit 2, naming the field), not at the first alarm.
  yiwang::v1::DispatchConfig dispatch_config;
  if (Status s = dispatcher::ResolveDispatchConfig(config, &dispatch_config); !s.ok()) {
    log->error("config: {}", s.message());
    return 2;
  }
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(o.listen, &host, &port)) {
    log->error("--listen wants HOST:PORT, got '{}'", o.listen);
    return 2;
  }

  store::StoreOptions store_opts;
  store_opts.data_dir = o.data_dir;
  if (config.store().block_cache_mb())
    store_opts.block_cache_bytes = static_cast<size_t>(config.store().block_cache_mb()) << 20;
  if (config.store().memtable_budget_mb())
    store_opts.memtable_budget_bytes = static_cast<size_t>(config.store().memtable_budget_mb())
                                       << 20;
  Override(&store_opts.max_events_per_commit, config.store().max_events_per_commit());
  Override(&store_opts.max_queued_events, config.store().max_queued_events());

  ingest::IngestLimits ingest_limits;
  const auto& ic = config.ingest();
  Override(&ingest_limits.max_frame_bytes, ic.max_frame_bytes());
  Override(&ingest_limits.max_events_per_batch, ic.max_events_per_batch());
  Override(&ingest_limits.max_inflight_events, ic.max_inflight_events());
  Override(&ingest_limits.max_connections, ic.max_connections());
  if (ic.idle_timeout_seconds()) ingest_limits.idle_timeout = std::chrono::seconds(ic.idle_timeout_seconds());
  if (ic.future_skew_flag_seconds())
    ingest_limits.future_skew_flag = std::chrono::seconds(ic.future_skew_flag_seconds());
  if (ic.future_skew_reject_seconds())
    ingest_limits.future_skew_reject = std::chrono::seconds(ic.future_skew_reject_seconds());
  if (ic.has_max_new_devices_per_hour())
    ingest_limits.max_new_devices_per_hour = ic.max_new_devices_per_hour();

  web::HttpLimits http_limits;
  const auto& hc = config.http();
  Override(&http_limits.max_body_bytes, hc.max_body_bytes());
  Override(&http_limits.max_header_bytes, hc.max_header_bytes());
  Override(&http_limits.max_connections, hc.max_connections());
  if (hc.idle_timeout_seconds()) http_limits.idle_timeout = std::chrono::seconds(hc.idle_timeout_seconds());
  if (hc.header_timeout_seconds())
    http_limits.header_timeout = std::chrono::seconds(hc.header_timeout_seconds());
  Override(&http_limits.max_connections_per_address, hc.max_connections_per_address());
  // Served over HTTPS (behind a TLS proxy): HSTS here, the Secure cookie and the live feed's
  // https:// origin below.
  http_limits.https = hc.https();
  // Photos are the one large upload: their route alone takes up to 10 MB.
  http_limits.body_limit_by_path.emplace("/api/v1/photos", web::kMaxPhotoBytes);

  web::StaticOptions static_options;
  static_options.root =
      hc.static_root().empty() ? DefaultStaticRoot() : std::filesystem::path(hc.static_root());
  for (const auto& origin : hc.csp_img_origins()) {
    if (!web::IsCspOrigin(origin)) {
      log->error("config: http.cspImgOrigins: '{}' is not an origin (scheme://host[:port])",
                 origin);
      return 2;
    }
    static_options.img_origins.push_back(origin);
  }

  Metrics metrics;
  ExportProcessMemory(&metrics);
  Status st;
  store_opts.tables = store::TablesOf(dispatcher::tables::kAll, web::tables::kAll);
  auto store = store::EventStore::Open(store_opts, Logger("store"), &metrics, &st);
  if (!store) {
    log->error("cannot open the store at {}: {}", o.data_dir, st.ToString());
    return 1;
  }

  // First start on an empty data dir: create the bootstrap admin token.
  std::string bootstrapped;
  if (store->GetMeta("bootstrap_admin", &bootstrapped).code() == Status::Code::kNotFound) {
    std::string token;
    Status s = web::CreateToken(store.get(), yiwang::v1::TOKEN_KIND_ADMIN, "bootstrap-admin", "",
                                &token);
    if (s.ok())
      s = WriteSecretFile(std::filesystem::path(o.data_dir) / "bootstrap-admin.token", token + "\n");
    if (s.ok()) s = store->PutMeta("bootstrap_admin", "1");
    if (!s.ok()) {
      log->error("bootstrap admin token: {}", s.ToString());
      return 1;
    }
    log->info("bootstrap admin token written to {}/bootstrap-admin.token", o.data_dir);
  }
  // The dispatcher judges every stored event from its cursor on: registered before the first
  // ingest commit, it also catches up on events stored while it was not running.
  std::unique_ptr<dispatcher::Dispatcher> dispatch;
  if (o.dispatcher) {
    dispatcher::DispatcherOptions dispatch_opts;
    dispatch = dispatcher::Dispatcher::Open(store.get(), dispatch_config, dispatch_opts,
                                            Logger("dispatcher"), &metrics, &st);
    if (!dispatch) {
      log->error("cannot start the dispatcher: {}", st.ToString());
      return 1;
    }
  } else {
    log->warn("--no-dispatcher: no case workflow, no live feed (ingest and device API only)");
  }

  const unsigned threads =
      config.io_threads() ? config.io_threads() : std::max(1u, std::thread::hardware_concurrency());
  // The districts of citizen reports come from their location, by the district map the page
  // build installs under the static root (without it reports answer 503); sensor events of
  // tokens scoped to districts are checked against it too.
  web::DistrictLocator districts;
  const auto district_map = static_options.root / "data" / "chongqing-districts.geojson";
  if (Status s = web::DistrictLocator::Load(district_map.string(), &districts); !s.ok())
    log->warn("no district map ({}): citizen reports are refused, and the locations of sensor "
              "events are not checked against their tokens' districts, nor the locations of "
              "filed cases against their districts",
              s.ToString());
  // A device's district as the dispatcher files its cases: its binding, else a district code
  // in its id (the config was validated above, so the rules compile).
  dispatcher::AlarmRules device_districts;
  if (Status s = dispatcher::AlarmRules::Create(dispatch_config, &device_districts); !s.ok()) {
    log->error("config: {}", s.ToString());
    return 2;
  }
  ingest::DistrictLookup event_districts{
      .of_device =
          [&device_districts](std::string_view id) {
            return device_districts.FactsFor(id, yiwang::v1::SENSOR_KIND_UNSPECIFIED).district;
          },
      .of_point =
          [&districts](double lat, double lon) {
            auto hit = districts.Locate(lat, lon);
            return hit ? hit->code : std::string();
          },
  };
  // Declared before the io_context so they outlive it: connections still queued in it when it
  // is destroyed call back into the endpoint.
  ingest::IngestService ingest_service(store.get(), ingest_limits, &metrics, Logger("ingest"),
                                       Clock(), event_districts);
  ingest::SensorEndpoint sensors(&ingest_service, &metrics, Logger("ingest"));
  web::AccountsOptions accounts_opts;
  accounts_opts.dispatch_config = &dispatch_config;
  accounts_opts.secure_cookie = hc.https();
  web::Accounts accounts(store.get(), &metrics, Logger("auth"), accounts_opts);
  web::StaticFiles pages(static_options);
  if (std::error_code ec; !std::filesystem::is_regular_file(static_options.root / "index.html", ec))
    log->warn("no web pages at {} (build the yiwang_web_ui target): pages answer 404",
              static_options.root.string());
  // A revoked or rotated device token's open connections are closed at once.
  web::DeviceTokenOptions device_token_opts;
  device_token_opts.dispatch_config = &dispatch_config;
  device_token_opts.on_revoked = [&sensors](const std::string& hash) { sensors.CloseToken(hash); };
  web::Api api(store.get(), &metrics, &accounts, Logger("web"), &pages, dispatch.get(),
               device_token_opts);
  std::vector<std::string> demo_users;
  if (o.demo) {
    if (Status s = EnsureDemoUsers(&accounts, o.data_dir, &demo_users); !s.ok()) {
      log->error("{}", s.ToString());
      return 1;
    }
  }
  web::Authenticator authenticate = [&accounts](const web::HttpRequest& req) {
    return accounts.Authenticate(req);
  };
  std::unique_ptr<web::CaseApi> case_api;
  std::unique_ptr<web::LiveFeed> live;
  std::unique_ptr<web::CitizenApi> citizen_api;
  std::unique_ptr<web::Open311> open311;
  if (dispatch) {
    case_api = std::make_unique<web::CaseApi>(dispatch.get(), authenticate, &metrics,
                                              Logger("web"), &districts);
    citizen_api = std::make_unique<web::CitizenApi>(dispatch.get(), store.get(), &districts,
                                                    &metrics, Logger("web"));
    open311 = std::make_unique<web::Open311>(citizen_api.get(), dispatch.get(), authenticate,
                                             &metrics, Logger("web"));
    web::LiveLimits live_limits;
    Override(&live_limits.max_queued_bytes, config.http().live_max_queued_bytes());
    if (config.http().live_max_lag_seconds())
      live_limits.max_lag = std::chrono::seconds(config.http().live_max_lag_seconds());
    Override(&live_limits.max_connections, config.http().live_max_connections());
    live_limits.https = hc.https();
    live = std::make_unique<web::LiveFeed>(dispatch.get(), store.get(), authenticate, &metrics,
                                           Logger("live"), live_limits);
  }
  net::io_context ioc(static_cast<int>(threads));

  std::map<std::string, web::UpgradeRoute> upgrades;
  upgrades["/ws/sensors"] = [&sensors](const web::HttpRequest& req)
      -> std::variant<web::HttpResponse, web::UpgradeFn> {
    auto d = sensors.Admit(req);
    if (auto* res = std::get_if<ingest::HttpResponse>(&d)) return std::move(*res);
    return std::get<ingest::UpgradeFn>(std::move(d));
  };
  if (live)
    upgrades["/ws/live"] = [&live](const web::HttpRequest& req) { return live->Admit(req); };
  // Every plain HTTP request goes through the routing table (web/router.h): a path it does
  // not list is 404, whatever a component would answer.
  web::Router router({.api = &api,
                      .cases = case_api.get(),
                      .citizen = citizen_api.get(),
                      .open311 = open311.get()},
                     &metrics, Logger("web"));
  web::HttpServer server(ioc, http_limits,
                         [&router](const web::HttpRequest& req) { return router.Handle(req); },
                         std::move(upgrades), &metrics, Logger("web"));
  if (Status s = server.Listen(host, port); !s.ok()) {
    log->error("{}", s.ToString());
    return 1;
  }
  const std::string url = fmt::format("http://{}:{}", host.find(':') != std::string::npos
                                                          ? "[" + host + "]" : host,
                                      server.port());

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log->info("signal {}: stopping", sig);
    std::lock_guard lock(mu);
    stop_requested = true;
    cv.notify_all();
  });

  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });

  if (!o.ready_file.empty()) {
    if (Status s = WriteSecretFile(o.ready_file, url + "\n"); !s.ok()) {
      log->error("ready file: {}", s.ToString());
    } else {
      ::chmod(o.ready_file.c_str(), 0644);
    }
  }
  log->info("listening on {} (data dir {}, {} io threads)", url, o.data_dir, threads);

  // --demo: the simulated fleet runs in this process and talks to the server over WebSocket
  // like any real gateway, with a device token of its own (kept in DIR/demo-device.token).
  std::atomic<bool> sim_stop{false};
  std::thread sim_thread;
  if (o.demo) {
    SimOptions sim;
    sim.url = url;
    sim.log_level = o.log_level;
    if (Status s = DemoDeviceToken(store.get(), o.data_dir, &sim.token); !s.ok()) {
      log->error("demo device token: {}", s.ToString());
    } else {
      sim_thread = std::thread([sim, &sim_stop] { RunSim(sim, sim_stop); });
      log->info("demo fleet: {} simulated devices (device token in {}/demo-device.token)",
                sim.devices, o.data_dir);
      // What a newcomer running `make run` needs, on stdout, apart from the log.
      std::string users;
      for (const auto& line : demo_users) users += "    " + line + "\n";
      std::printf(
          "\nYiwang is running: %s\n"
          "  console:      %s/\n"
          "  citizen form: %s/report\n"
          "  health:       %s/healthz\n"
          "  metrics:      %s/metrics\n"
          "  admin token:  %s/bootstrap-admin.token\n"
          "  a device:     curl -H \"Authorization: Bearer $(cat %s/bootstrap-admin.token)\" "
          "%s/api/v1/devices/sim-septic-500105-0001\n"
          "  demo users (role, user name, password; also in %s/demo-users.txt):\n%s"
          "  sign in:      curl -c jar -H 'Content-Type: application/json' "
          "-d '{\"username\":\"dispatcher\",\"password\":\"...\"}' %s/api/v1/session\n"
          "  stop:         Ctrl-C\n\n",
          url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(), o.data_dir.c_str(),
          o.data_dir.c_str(), url.c_str(), o.data_dir.c_str(), users.c_str(), url.c_str());
      std::fflush(stdout);
    }
  }

  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stop_requested; });
  }

  sim_stop = true;
  if (sim_thread.joinable()) sim_thread.join();

  // Graceful stop: no new connections; sessions stop reading; the writer commits and acks
  // everything already queued; sessions write those acks and close with 1001.
  server.StopAccepting();
  sensors.Shutdown();
  if (live) live->Shutdown();
  store->StopWriter();
  if (dispatch) dispatch->Stop();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (sensors.connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ioc.stop();
  for (auto& t : pool) t.join();
  log->info("stopped: {} events stored", store->EventCount());
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
  s->add_flag("--demo", opts->demo, "Also run the demo sensor fleet against this server");
  s->add_flag("!--no-dispatcher", opts->dispatcher,
              "Ingest and device API only: no case workflow (benchmark baseline)");
  s->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
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
