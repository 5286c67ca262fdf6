// `yiwang bench soak`: the long run of issue 5, point 7. A real server (spawned from this binary,
// or the one at --server-url) takes a fixed rate of sensor events from many connections while
// operators watch the live feed; then a burst of several times the rate; then the base rate
// again. The run reports, interval by interval, what the client sent and got acked, the ack
// latency, the server's RSS and RocksDB's write-stall state; at the end it stops the server and
// checks the store against the client's ack ledger: every acked event stored exactly once.
//
// Phases (times from the moment every connection is up):
//   steady    --duration-s at --rate events/s (default 30 min at 10,000/s)
//   burst     --burst-s at --burst-factor x the rate (default 60 s at 10x)
//   recovery  --recovery-s at the base rate again (default 120 s)
// then sending stops, the frames in flight are acked, the subscribers close and the server
// gets SIGTERM (it must exit 0); the data dir is opened with store::EventStore and every stored
// event is matched against the ledger (tools/stored_events.h, shared with the crash test).
//
// The sensors are bench::LoadConnection (tools/bench_load.h, the client of `bench ingest`): one
// device per connection with --batch 1, seq one higher each frame, a frame due every
// connections/rate seconds from a random phase. A connection keeps up to --inflight frames
// unacked; when the server is slower than the schedule the frames due pile up in the client
// (the backlog: what a sensor buffers) and are sent as soon as the window allows. Latency runs
// from the frame's due time, so a server that pushes back shows up as latency, not as fewer
// samples. Every --alarm-every-th connection sends CH4 episodes that trip the dispatcher's
// septic-tank rule, so the live feed carries real alarms and cases.
//
// The subscribers sign in as operators (role dispatcher; one user per 10 subscribers, one
// session each, like browser tabs), open /ws/live with the session cookie, read every message
// and count it by type. A subscriber the server drops (resync, or the connection ends) counts
// as dropped and reconnects after a second, as the console does.
//
// Output: one line per interval on stderr (a table), one JSON line per interval and one JSON
// summary line on stdout. Exit 0 when nothing acked was lost or stored twice, nothing refused
// was stored, no ack was malformed, the server exited 0 and its RSS stayed under
// --max-rss-mib; else 1. 2 for bad options.
//
// Threading: the main thread drives the phases, samples every interval and runs the final
// check. Sensor connections and subscribers share one io_context (--client-threads threads),
// one strand each. The ledger is per connection (touched only on that connection's strand, read
// by the main thread after the client threads are joined); the interval counters are atomics.

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <array>
#include <bit>
#include <map>
#include <set>

#include "base/metrics.h"
#include "store/event_store.h"
#include "tools/bench_load.h"
#include "tools/commands.h"
#include "tools/stored_events.h"

namespace yiwang::tools {
namespace {

using namespace bench;  // the shared load client (tools/bench_load.h)

// --- defaults -------------------------------------------------------------------------------

constexpr int kSoakConnections = 2000;
constexpr int kConnectWave = 500;  // sensors connecting at once (see the per-address cap)
constexpr double kSoakRate = 10000;         // events/s
constexpr double kSoakDurationS = 30 * 60;  // the steady phase
constexpr double kSoakBurstFactor = 10;
constexpr double kSoakBurstS = 60;
constexpr double kSoakRecoveryS = 120;
constexpr double kSoakIntervalS = 10;
constexpr int kSoakSubscribers = 50;
// Frames a sensor may have unacked. 2,000 x 256 is more than the server's write queue
// (200,000 events): a burst reaches the server's limits, not only the client's window.
constexpr int kSoakInflight = 256;
constexpr int kSoakAlarmEvery = 100;
constexpr double kSoakMaxRssMib = 2048;
constexpr int kSubscribersPerUser = 10;  // a user has at most 16 sessions
constexpr int kMaxSubscribers = 1000;    // the live feed's default connection limit
constexpr std::chrono::seconds kSubscriberRetry{1};
constexpr std::chrono::seconds kSoakDrainTimeout{120};  // acks of the frames in flight
constexpr char kLivePath[] = "/ws/live";
constexpr char kOperatorRole[] = "dispatcher";
constexpr size_t kMaxLiveMessageBytes = 8u << 20;

// --- latency histogram ----------------------------------------------------------------------

// Latencies in microseconds in log-linear buckets (64 per power of two: within 1.6 %), filled
// by every connection at once and read-and-reset by the main thread each interval. A sample
// racing with the reset lands in one of the two intervals.
//
// Thread safety: Record from any thread; TakeSnapshot from one thread at a time.
class LatencyHistogram {
 public:
  struct Snapshot {
    uint64_t count = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
  };

  void Record(int64_t ns) {
    const uint64_t us = ns > 0 ? static_cast<uint64_t>(ns) / 1000 : 0;
    buckets_[Bucket(us)].fetch_add(1, std::memory_order_relaxed);
    uint64_t prev = max_us_.load(std::memory_order_relaxed);
    while (us > prev && !max_us_.compare_exchange_weak(prev, us, std::memory_order_relaxed)) {
    }
  }

  // Quantiles are the upper edge of their bucket; max is exact.
  Snapshot TakeSnapshot() {
    std::array<uint64_t, kBuckets> counts{};
    Snapshot s;
    for (size_t i = 0; i < kBuckets; ++i) {
      counts[i] = buckets_[i].exchange(0, std::memory_order_relaxed);
      s.count += counts[i];
    }
    s.max_ms = static_cast<double>(max_us_.exchange(0, std::memory_order_relaxed)) / 1e3;
    if (s.count == 0) return s;
    auto quantile = [&](double q) {
      const uint64_t rank =
          std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(s.count))));
      uint64_t seen = 0;
      for (size_t i = 0; i < kBuckets; ++i) {
        seen += counts[i];
        if (seen >= rank) return std::min(static_cast<double>(UpperEdgeUs(i)) / 1e3, s.max_ms);
      }
      return s.max_ms;
    };
    s.p50_ms = quantile(0.50);
    s.p99_ms = quantile(0.99);
    return s;
  }

 private:
  static constexpr size_t kSub = 64;
  static constexpr size_t kBuckets = kSub + kSub * 58;  // up to 2^64 us

  static size_t Bucket(uint64_t us) {
    if (us < kSub) return us;
    const int e = static_cast<int>(std::bit_width(us)) - 1;  // >= 6
    const int shift = e - 6;
    return kSub + static_cast<size_t>(shift) * kSub + ((us >> shift) - kSub);
  }
  static uint64_t UpperEdgeUs(size_t bucket) {
    if (bucket < kSub) return bucket + 1;
    const size_t shift = (bucket - kSub) / kSub;
    const uint64_t m = kSub + (bucket - kSub) % kSub;
    return (m + 1) << shift;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_us_{0};
};

// --- the ack ledger -------------------------------------------------------------------------

// What became of each frame, per connection, indexed by seq. A frame carries one event per
// device of the connection, all with the frame's seq.
enum class FrameState : uint8_t {
  kUnsent = 0,
  kSent,      // no ack (yet): stored at most once
  kAccepted,  // every event accepted: stored exactly once
  kRefused,  // refused whole (frame error, or every event rejected as overloaded/...): never stored
  kMixed,    // some accepted, some not (only with --batch > 1): each stored at most once
};

struct SoakCounters {
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> events_sent{0};
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_refused{0};  // refused whole or rejected, by the reasons below
  std::atomic<uint64_t> refused_overloaded{0};
  std::atomic<uint64_t> refused_other{0};  // shutting_down, storage_full
  std::atomic<uint64_t> bad_acks{0};       // unparsable, duplicates, other rejections
  std::atomic<uint64_t> conn_failures{0};
  LatencyHistogram latency;
};

// Thread safety: see AckObserver; states_[i] only on connection i's strand, or after the
// client threads are joined.
class SoakLedger : public AckObserver {
 public:
  SoakLedger(int connections, int batch, SoakCounters* counters)
      : batch_(batch), counters_(counters), states_(static_cast<size_t>(connections)) {}

  void OnSent(int index, uint64_t seq) override {
    auto& v = states_[static_cast<size_t>(index)];
    if (v.size() <= seq) v.resize(std::max<size_t>(seq + 1, v.size() * 2), FrameState::kUnsent);
    v[seq] = FrameState::kSent;
    counters_->frames_sent.fetch_add(1, std::memory_order_relaxed);
    counters_->events_sent.fetch_add(static_cast<uint64_t>(batch_), std::memory_order_relaxed);
  }

  void OnAck(int index, uint64_t seq, int64_t latency_ns,
             const yiwang::v1::IngestAck* ack) override {
    FrameState& st = states_[static_cast<size_t>(index)][seq];
    if (!ack) {
      counters_->bad_acks.fetch_add(1, std::memory_order_relaxed);
      return;  // stays kSent: stored at most once
    }
    counters_->latency.Record(latency_ns);
    const uint64_t batch = static_cast<uint64_t>(batch_);
    if (!ack->error().empty()) {
      Refused(ack->error(), batch);
      st = FrameState::kRefused;
      return;
    }
    uint64_t refusals = 0;
    for (const auto& r : ack->rejected()) {
      if (IsRefusal(r.reason())) {
        Refused(r.reason(), 1);
        ++refusals;
      }
    }
    counters_->events_accepted.fetch_add(ack->accepted(), std::memory_order_relaxed);
    if (ack->accepted() == batch) {
      st = FrameState::kAccepted;
    } else if (refusals == batch) {
      st = FrameState::kRefused;
    } else {
      st = FrameState::kMixed;
    }
    // Fresh devices and seqs: a duplicate or any other rejection is a bug somewhere.
    if (ack->duplicates() > 0 || ack->rejected_size() > static_cast<int>(refusals) ||
        ack->accepted() + refusals != batch)
      counters_->bad_acks.fetch_add(1, std::memory_order_relaxed);
  }

  void OnFailed(int, const std::string&) override {
    counters_->conn_failures.fetch_add(1, std::memory_order_relaxed);
  }

  int batch() const { return batch_; }
  const std::vector<std::vector<FrameState>>& states() const { return states_; }

 private:
  static bool IsRefusal(const std::string& reason) {
    return reason == "overloaded" || reason == "shutting_down" || reason == "storage_full";
  }
  void Refused(const std::string& reason, uint64_t events) {
    counters_->events_refused.fetch_add(events, std::memory_order_relaxed);
    (reason == "overloaded" ? counters_->refused_overloaded : counters_->refused_other)
        .fetch_add(events, std::memory_order_relaxed);
  }

  const int batch_;
  SoakCounters* const counters_;
  std::vector<std::vector<FrameState>> states_;
};

struct LedgerCheck {
  uint64_t events_checked = 0;  // stored events of this run matched against the ledger
  uint64_t acked = 0;           // events the ledger says were accepted
  uint64_t lost = 0;            // acked, not stored
  uint64_t duplicated = 0;      // stored more than once
  uint64_t refused_but_stored = 0;
  uint64_t unacked_stored = 0;  // sent, never acked (in flight at a failure), stored once: fine
  uint64_t stored_unsent = 0;   // a seq the client never sent
  uint64_t foreign = 0;         // stored events of other devices (not this run's)
  std::string error;            // the scan failed
};

// Scans the stopped server's data dir and matches every stored event against the ledger.
LedgerCheck CheckStore(const std::filesystem::path& data_dir, const std::string& run_tag,
                       const SoakLedger& ledger) {
  LedgerCheck out;
  Metrics metrics;
  store::StoreOptions options;
  options.data_dir = data_dir.string();
  Status st;
  auto store = store::EventStore::Open(options, Logger("soak-check"), &metrics, &st);
  if (!store) {
    out.error = "open " + data_dir.string() + ": " + st.ToString();
    return out;
  }
  const auto& states = ledger.states();
  const size_t batch = static_cast<size_t>(ledger.batch());
  // Times each (connection, device, seq) was stored.
  std::vector<std::vector<uint8_t>> seen(states.size() * batch);
  for (size_t c = 0; c < states.size(); ++c)
    for (size_t k = 0; k < batch; ++k) seen[c * batch + k].resize(states[c].size(), 0);
  const std::string prefix = fmt::format("{}{}-", kDevicePrefix, run_tag);
  uint64_t total = 0;
  const Status scan = ForEachStoredEvent(
      *store,
      [&](const std::string& device, uint64_t seq) {
        // "bench-<run>-<connection>-<k>"
        unsigned long c = 0, k = 0;
        int used = 0;
        if (!device.starts_with(prefix) ||
            std::sscanf(device.c_str() + prefix.size(), "%lu-%lu%n", &c, &k, &used) != 2 ||
            prefix.size() + static_cast<size_t>(used) != device.size() || c >= states.size() ||
            k >= batch) {
          ++out.foreign;
          return;
        }
        ++out.events_checked;
        auto& times = seen[c * batch + k];
        if (seq >= times.size() || states[c][seq] == FrameState::kUnsent) {
          ++out.stored_unsent;
          return;
        }
        if (times[seq] < 255) ++times[seq];
      },
      &total);
  if (!scan.ok()) out.error = scan.ToString();
  for (size_t c = 0; c < states.size(); ++c) {
    for (size_t seq = 1; seq < states[c].size(); ++seq) {
      const FrameState s = states[c][seq];
      for (size_t k = 0; k < batch; ++k) {
        const uint8_t n = seen[c * batch + k][seq];
        if (n > 1) ++out.duplicated;
        switch (s) {
          case FrameState::kAccepted:
            ++out.acked;
            if (n == 0) ++out.lost;
            break;
          case FrameState::kRefused:
            if (n > 0) ++out.refused_but_stored;
            break;
          case FrameState::kSent:
          case FrameState::kMixed:
            if (n == 1) ++out.unacked_stored;
            break;
          case FrameState::kUnsent:
            break;
        }
      }
    }
  }
  return out;
}

// --- live-feed subscribers ------------------------------------------------------------------

struct LiveCounters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> cases{0};    // type case or escalation
  std::atomic<uint64_t> alarms{0};   // type alarm
  std::atomic<uint64_t> ticks{0};    // type tick
  std::atomic<uint64_t> resyncs{0};  // type resync (the server drops the client after it)
  std::atomic<uint64_t> dropped{0};  // connections that ended while the run went on
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<int> connected{0};
};

// One operator's live map: /ws/live with a session cookie; reads and counts every message; when
// the connection ends before Stop(), counts a drop and reconnects after kSubscriberRetry.
//
// Thread safety: everything on the subscriber's strand; Start and Stop from any thread.
class LiveSubscriber : public std::enable_shared_from_this<LiveSubscriber> {
 public:
  LiveSubscriber(net::io_context& ioc, tcp::endpoint endpoint, std::string host_header,
                 std::string cookie, LiveCounters* counters)
      : strand_(net::make_strand(ioc)),
        timer_(strand_),
        endpoint_(endpoint),
        host_header_(std::move(host_header)),
        cookie_(std::move(cookie)),
        counters_(counters) {}

  void Start() {
    net::dispatch(strand_, beast::bind_front_handler(&LiveSubscriber::Connect, shared_from_this()));
  }

  void Stop() {
    net::dispatch(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
      if (self->ws_ && self->open_) {
        self->ws_->async_close(websocket::close_code::normal,
                               [self](beast::error_code) { self->Closed(); });
      } else if (self->ws_) {
        beast::get_lowest_layer(*self->ws_).close();
      }
    });
  }

  bool stopped() const { return done_.load(); }

 private:
  void Connect() {
    if (stopping_) return Closed();
    ws_.emplace(strand_);
    beast::get_lowest_layer(*ws_).expires_after(kConnectTimeout);
    beast::get_lowest_layer(*ws_).async_connect(
        endpoint_, beast::bind_front_handler(&LiveSubscriber::OnConnect, shared_from_this()));
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Retry(/*was_open=*/false);
    beast::get_lowest_layer(*ws_).expires_never();
    ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    const std::string cookie = cookie_;
    ws_->set_option(websocket::stream_base::decorator([cookie](websocket::request_type& req) {
      req.set(http::field::user_agent, "yiwang-bench-soak");
      req.set(http::field::cookie, cookie);
    }));
    ws_->read_message_max(kMaxLiveMessageBytes);
    ws_->async_handshake(
        host_header_, kLivePath,
        beast::bind_front_handler(&LiveSubscriber::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return Retry(/*was_open=*/false);
    open_ = true;
    counters_->connected.fetch_add(1);
    DoRead();
  }

  void DoRead() {
    ws_->async_read(buffer_,
                    beast::bind_front_handler(&LiveSubscriber::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      if (stopping_) return;  // the close handshake ends the read
      return Retry(/*was_open=*/true);
    }
    const std::string_view msg(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    counters_->messages.fetch_add(1, std::memory_order_relaxed);
    // Every message is {"type":"...",...}: the type is enough to count it.
    constexpr std::string_view kType = "\"type\":\"";
    const size_t at = msg.find(kType);
    const std::string_view type =
        at == std::string_view::npos
            ? std::string_view()
            : msg.substr(at + kType.size(), msg.find('"', at + kType.size()) - at - kType.size());
    if (type == "case" || type == "escalation") {
      counters_->cases.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "alarm") {
      counters_->alarms.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "tick") {
      counters_->ticks.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "resync") {
      counters_->resyncs.fetch_add(1, std::memory_order_relaxed);
    }
    buffer_.consume(buffer_.size());
    DoRead();
  }

  // The connection ended or never opened: count it and try again in a second.
  void Retry(bool was_open) {
    if (open_) counters_->connected.fetch_sub(1);
    open_ = false;
    (was_open ? counters_->dropped : counters_->connect_failures).fetch_add(1);
    if (ws_) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
    if (stopping_) return Closed();
    timer_.expires_after(kSubscriberRetry);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->stopping_) return self->Closed();
      self->Connect();
    });
  }

  void Closed() {
    if (open_) counters_->connected.fetch_sub(1);
    open_ = false;
    done_ = true;
  }

  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer timer_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  const tcp::endpoint endpoint_;
  const std::string host_header_;
  const std::string cookie_;
  LiveCounters* const counters_;
  bool open_ = false;
  bool stopping_ = false;
  std::atomic<bool> done_{false};
};

// Creates the operators and signs each subscriber in (one session each). Returns the cookies.
Status SignInOperators(const std::string& host, uint16_t port, const std::string& admin,
                       const std::string& run_tag, int subscribers,
                       std::vector<std::string>* cookies) {
  const int users = (subscribers + kSubscribersPerUser - 1) / kSubscribersPerUser;
  std::random_device rd;
  const std::string password =
      fmt::format("soak-{:016x}{:08x}", std::uniform_int_distribution<uint64_t>()(rd), rd());
  for (int u = 0; u < users; ++u) {
    const std::string name = fmt::format("soak-{}-{}", run_tag, u);
    int code = 0;
    std::string body;
    if (Status s = HttpCall(host, port, http::verb::post, "/api/v1/admin/users", admin,
                            fmt::format(R"({{"username":"{}","password":"{}","role":"{}"}})", name,
                                        password, kOperatorRole),
                            &code, &body);
        !s.ok())
      return s;
    if (code != 201) return Status::Unavailable(fmt::format("create user: HTTP {} {}", code, body));
    for (int k = u * kSubscribersPerUser; k < std::min(subscribers, (u + 1) * kSubscribersPerUser);
         ++k) {
      std::string cookie;
      // The server checks at most 4 passwords at once (503 busy): sign in one by one.
      if (Status s = HttpCall(host, port, http::verb::post, "/api/v1/session", "",
                              fmt::format(R"({{"username":"{}","password":"{}"}})", name, password),
                              &code, &body, &cookie);
          !s.ok())
        return s;
      if (code != 200 || cookie.empty())
        return Status::Unavailable(fmt::format("sign in: HTTP {} {}", code, body));
      cookies->push_back(std::move(cookie));
    }
  }
  return Status::Ok();
}

// --- sampling the server --------------------------------------------------------------------

// VmRSS of `pid` in MiB (/proc/PID/status), or nullopt.
std::optional<double> RssMib(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return std::nullopt;
}

// The server's /metrics, as "name{labels}" -> value.
Status ScrapeMetrics(const std::string& host, uint16_t port, std::map<std::string, double>* out) {
  int code = 0;
  std::string body;
  if (Status s = HttpCall(host, port, http::verb::get, "/metrics", "", "", &code, &body); !s.ok())
    return s;
  if (code != 200) return Status::Unavailable(fmt::format("/metrics: HTTP {}", code));
  out->clear();
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    (*out)[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return Status::Ok();
}

std::optional<double> Metric(const std::map<std::string, double>& m, const std::string& key) {
  const auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

// --- the run --------------------------------------------------------------------------------

struct SoakOptions {
  LoadSettings load;
  double duration_s = kSoakDurationS;
  double burst_factor = kSoakBurstFactor;
  double burst_s = kSoakBurstS;
  double recovery_s = kSoakRecoveryS;
  double interval_s = kSoakIntervalS;
  int subscribers = kSoakSubscribers;
  double max_rss_mib = kSoakMaxRssMib;
  std::string server_url;
  int server_pid = 0;
  std::string admin_token_file;
  std::string server_log_level = kDefaultServerLogLevel;
};

struct IntervalSample {
  double elapsed_s = 0;
  std::string phase;
  uint64_t offered = 0, sent = 0, accepted = 0, refused = 0;
  double events_per_s = 0;
  LatencyHistogram::Snapshot latency;
  std::optional<double> rss_mib;
  std::optional<double> queued_events, write_stopped, delayed_write_rate, stall_micros,
      pending_compaction_bytes;
  // RocksDB's memory (MiB): memtables, block cache (data, index and filter blocks), table
  // readers outside the cache. RSS minus these is the rest of the server.
  std::optional<double> memtable_mib, block_cache_mib, table_readers_mib;
  // The server's malloc heap (MiB): in use, and freed but kept by malloc.
  std::optional<double> heap_in_use_mib, heap_free_mib;
  uint64_t live_messages = 0, live_total = 0, live_cases = 0, live_alarms = 0;
  int subscribers_connected = 0;
  uint64_t subscribers_dropped = 0;
  uint64_t conn_failures = 0;
};

std::string IntervalJson(const IntervalSample& s) {
  JsonLine j;
  j.Str("bench", "soak")
      .Str("type", "interval")
      .Num("elapsed_s", s.elapsed_s, 1)
      .Str("phase", s.phase)
      .Int("offered", static_cast<int64_t>(s.offered))
      .Int("sent", static_cast<int64_t>(s.sent))
      .Int("acked", static_cast<int64_t>(s.accepted))
      .Int("refused", static_cast<int64_t>(s.refused))
      .Int("backlog", static_cast<int64_t>(s.offered > s.sent ? s.offered - s.sent : 0))
      .Num("events_per_s", s.events_per_s, 0)
      .Num("ack_p50_ms", s.latency.p50_ms, 2)
      .Num("ack_p99_ms", s.latency.p99_ms, 2)
      .Num("ack_max_ms", s.latency.max_ms, 2)
      .Num("server_rss_mib", s.rss_mib, 1)
      .Num("queued_events", s.queued_events, 0)
      .Num("rocksdb_write_stopped", s.write_stopped, 0)
      .Num("rocksdb_delayed_write_rate", s.delayed_write_rate, 0)
      .Num("rocksdb_stall_micros", s.stall_micros, 0)
      .Num("rocksdb_pending_compaction_bytes", s.pending_compaction_bytes, 0)
      .Num("rocksdb_memtable_mib", s.memtable_mib, 1)
      .Num("rocksdb_block_cache_mib", s.block_cache_mib, 1)
      .Num("rocksdb_table_readers_mib", s.table_readers_mib, 1)
      .Num("heap_in_use_mib", s.heap_in_use_mib, 1)
      .Num("heap_free_mib", s.heap_free_mib, 1)
      .Int("live_messages", static_cast<int64_t>(s.live_messages))
      .Int("live_cases", static_cast<int64_t>(s.live_cases))
      .Int("live_alarms", static_cast<int64_t>(s.live_alarms))
      .Int("subscribers_connected", s.subscribers_connected)
      .Int("subscribers_dropped", static_cast<int64_t>(s.subscribers_dropped))
      .Int("connection_failures", static_cast<int64_t>(s.conn_failures));
  return j.Finish();
}

void PrintIntervalHeader() {
  fmt::print(stderr,
             "{:>7} {:>8} {:>10} {:>10} {:>9} {:>8} {:>8} {:>9} {:>9} {:>8} {:>6} {:>6} {:>6} "
             "{:>6} {:>7} {:>5} {:>9} {:>8} {:>5} {:>5}\n",
             "t_s", "phase", "sent", "acked", "backlog", "ev/s", "p50_ms", "p99_ms", "max_ms",
             "rss_mib", "mem", "cache", "rdrs", "hfree", "queued", "stop", "stall_ms", "live",
             "subs", "drops");
}

void PrintIntervalLine(const IntervalSample& s) {
  auto num = [](std::optional<double> v, double scale = 1) {
    return v ? fmt::format("{:.0f}", *v * scale) : std::string("-");
  };
  fmt::print(stderr,
             "{:>7.0f} {:>8} {:>10} {:>10} {:>9} {:>8.0f} {:>8.1f} {:>9.1f} {:>9.1f} "
             "{:>8} {:>6} {:>6} {:>6} {:>6} {:>7} {:>5} {:>9} {:>8} {:>5} {:>5}\n",
             s.elapsed_s, s.phase, s.sent, s.accepted, s.offered > s.sent ? s.offered - s.sent : 0,
             s.events_per_s, s.latency.p50_ms, s.latency.p99_ms, s.latency.max_ms, num(s.rss_mib),
             num(s.memtable_mib), num(s.block_cache_mib), num(s.table_readers_mib),
             num(s.heap_free_mib),
             num(s.queued_events), num(s.write_stopped), num(s.stall_micros, 1e-3), s.live_messages,
             s.subscribers_connected, s.subscribers_dropped);
}

// Raises this process's open-file limit to its hard limit (children inherit it): 2,000 sensor
// connections and 50 subscribers need more than the usual 1,024 on both ends.
void RaiseFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Least-squares slope of y over x (MiB per second), or nullopt with fewer than 2 points.
std::optional<double> Slope(const std::vector<std::pair<double, double>>& pts) {
  if (pts.size() < 2) return std::nullopt;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : pts) sx += x, sy += y, sxx += x * x, sxy += x * y;
  const double n = static_cast<double>(pts.size());
  const double d = n * sxx - sx * sx;
  if (d == 0) return std::nullopt;
  return (n * sxy - sx * sy) / d;
}

void Progress(const std::string& what) { fmt::print(stderr, "bench soak: {}\n", what); }

int RunSoak(const SoakOptions& o) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  if (!o.server_url.empty() && o.admin_token_file.empty()) {
    fmt::print(stderr, "bench soak: --server-url needs --admin-token-file\n");
    return 2;
  }
  RaiseFileLimit();
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  const uint64_t fds_needed = static_cast<uint64_t>(o.load.connections + o.subscribers) + 256;
  if (rl.rlim_cur < fds_needed) {
    fmt::print(stderr,
               "bench soak: the open-file limit is {} (hard {}); {} connections need "
               "about {}: raise it (ulimit -Hn)\n",
               rl.rlim_cur, rl.rlim_max, o.load.connections + o.subscribers, fds_needed);
    return 2;
  }

  // The server.
  ServerProcess spawned;
  std::string url = o.server_url;
  pid_t pid = o.server_pid;
  if (url.empty()) {
    Progress("starting the server");
    if (Status s = spawned.Start(o.server_log_level); !s.ok()) {
      Progress("server: " + s.ToString());
      return 1;
    }
    url = spawned.url();
    pid = spawned.pid();
  }
  LoadTarget target;
  target.run_tag = RunTag();
  if (!SplitUrl(url, &target.host, &target.port)) {
    Progress("bad server URL " + url);
    return 2;
  }
  std::string admin;
  const std::filesystem::path admin_file = o.server_url.empty()
                                               ? spawned.data_dir() / kAdminTokenFile
                                               : std::filesystem::path(o.admin_token_file);
  if (Status s = ReadFirstLine(admin_file, &admin); !s.ok()) {
    Progress(s.ToString());
    return 1;
  }
  if (Status s = ProvisionDeviceToken(target.host, target.port, admin, &target.token); !s.ok()) {
    Progress("device token: " + s.ToString());
    return 1;
  }
  std::vector<std::string> cookies;
  if (o.subscribers > 0) {
    Progress(fmt::format("signing in {} operators", o.subscribers));
    if (Status s = SignInOperators(target.host, target.port, admin, target.run_tag, o.subscribers,
                                   &cookies);
        !s.ok()) {
      Progress("operators: " + s.ToString());
      return 1;
    }
  }

  // The client: subscribers first (they watch from the start), then the sensors.
  beast::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(target.host, ec), target.port);
  if (ec) {
    Progress("bad host " + target.host);
    return 2;
  }
  net::io_context ioc(o.load.client_threads);
  auto work = net::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.load.client_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });

  LiveCounters live;
  std::vector<std::shared_ptr<LiveSubscriber>> subscribers;
  for (const auto& cookie : cookies) {
    subscribers.push_back(std::make_shared<LiveSubscriber>(
        ioc, endpoint, fmt::format("{}:{}", target.host, target.port), cookie, &live));
    subscribers.back()->Start();
  }

  SoakCounters counters;
  SoakLedger ledger(o.load.connections, o.load.batch, &counters);
  RunControl control;
  control.observer = &ledger;
  Progress(fmt::format("connecting {} sensors", o.load.connections));
  std::vector<std::shared_ptr<LoadConnection>> conns;
  const int n = o.load.connections;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_shared<LoadConnection>(ioc, target, o.load, i, &control));
    conns.back()->Start(endpoint);
    // In waves: all sensors come from one address here, and the server closes connections of
    // one address beyond its cap of those still in their HTTP phase (1,024 by default).
    if ((i + 1) % kConnectWave == 0 || i + 1 == n)
      WaitFor([&] { return control.connected.load() + control.finished.load() >= i + 1; },
              kConnectTimeout);
  }
  const int sensors_failed = control.finished.load();
  Progress(fmt::format("{} sensors connected, {} failed; {} subscribers connected",
                       control.connected.load(), sensors_failed, live.connected.load()));

  // The phases.
  struct Phase {
    const char* name;
    double seconds;
    double scale;
  };
  const Phase phases[] = {{"steady", o.duration_s, 1.0},
                          {"burst", o.burst_s, o.burst_factor},
                          {"recovery", o.recovery_s, 1.0}};
  const int64_t t0 = NowNs();
  control.burst_scale = o.burst_factor;
  control.burst_end_ns = t0 + static_cast<int64_t>((o.duration_s + o.burst_s) * 1e9);
  control.burst_start_ns = t0 + static_cast<int64_t>(o.duration_s * 1e9);
  // Events due so far by the schedule, to within a frame per connection: what was sent before
  // t0 (while the others connected), then the rate of each phase.
  double offered = static_cast<double>(counters.events_sent.load());
  int64_t last_ns = t0;
  uint64_t last_accepted = 0, last_live = 0;
  std::vector<IntervalSample> samples;
  std::optional<double> rss_start = RssMib(pid);
  std::map<std::string, double> metrics;
  PrintIntervalHeader();
  double phase_end_s = 0;
  for (const Phase& phase : phases) {
    const double phase_start_s = phase_end_s;
    phase_end_s += phase.seconds;
    if (phase.seconds <= 0) continue;
    while (true) {
      const double now_s = static_cast<double>(NowNs() - t0) / 1e9;
      if (now_s >= phase_end_s - 1e-3) break;
      // Intervals end on multiples of interval_s from the phase's start, and at its end.
      const double k = std::floor((now_s - phase_start_s) / o.interval_s) + 1;
      const double next_s = std::min(phase_end_s, phase_start_s + k * o.interval_s);
      std::this_thread::sleep_for(Millis(next_s - now_s));
      const int64_t t = NowNs();
      offered += o.load.rate * phase.scale * static_cast<double>(t - last_ns) / 1e9;
      IntervalSample s;
      s.elapsed_s = static_cast<double>(t - t0) / 1e9;
      s.phase = phase.name;
      s.offered = static_cast<uint64_t>(offered);
      s.sent = counters.events_sent.load();
      s.accepted = counters.events_accepted.load();
      s.refused = counters.events_refused.load();
      s.events_per_s = static_cast<double>(s.accepted - last_accepted) /
                       (static_cast<double>(t - last_ns) / 1e9);
      s.latency = counters.latency.TakeSnapshot();
      s.rss_mib = RssMib(pid);
      if (ScrapeMetrics(target.host, target.port, &metrics).ok()) {
        s.queued_events = Metric(metrics, "yiwang_store_queued_events");
        s.write_stopped = Metric(metrics, "yiwang_store_rocksdb_write_stopped");
        s.delayed_write_rate = Metric(metrics, "yiwang_store_rocksdb_delayed_write_rate_bytes");
        s.stall_micros = Metric(metrics, "yiwang_store_rocksdb_stall_micros_total");
        s.pending_compaction_bytes =
            Metric(metrics, "yiwang_store_rocksdb_pending_compaction_bytes");
        auto mib = [](std::optional<double> bytes) -> std::optional<double> {
          if (!bytes) return std::nullopt;
          return *bytes / (1024.0 * 1024.0);
        };
        s.memtable_mib = mib(Metric(metrics, "yiwang_store_rocksdb_memtable_bytes"));
        s.block_cache_mib = mib(Metric(metrics, "yiwang_store_rocksdb_block_cache_bytes"));
        s.table_readers_mib = mib(Metric(metrics, "yiwang_store_rocksdb_table_readers_bytes"));
        s.heap_in_use_mib = mib(Metric(metrics, "yiwang_process_heap_in_use_bytes"));
        s.heap_free_mib = mib(Metric(metrics, "yiwang_process_heap_free_bytes"));
      }
      s.live_total = live.messages.load();
      s.live_messages = s.live_total - last_live;
      s.live_cases = live.cases.load();
      s.live_alarms = live.alarms.load();
      s.subscribers_connected = live.connected.load();
      s.subscribers_dropped = live.dropped.load();
      s.conn_failures = counters.conn_failures.load();
      last_ns = t;
      last_accepted = s.accepted;
      last_live = s.live_total;
      PrintIntervalLine(s);
      fmt::print("{}\n", IntervalJson(s));
      std::fflush(stdout);
      samples.push_back(std::move(s));
    }
  }

  // Stop sending; the frames in flight (and the backlog the window holds) are acked.
  Progress("stopping: waiting for the acks of frames in flight");
  control.stop_sending = true;
  for (auto& c : conns) c->Stop();
  int stuck = 0;
  if (!WaitFor([&] { return control.finished.load() >= n; },
               std::chrono::duration_cast<std::chrono::milliseconds>(kSoakDrainTimeout)))
    stuck = n - control.finished.load();
  for (auto& s : subscribers) s->Stop();
  WaitFor(
      [&] {
        return std::all_of(subscribers.begin(), subscribers.end(),
                           [](const auto& s) { return s->stopped(); });
      },
      std::chrono::milliseconds(5000));
  const std::optional<double> rss_end = RssMib(pid);
  std::optional<double> stall_end, overloaded_server;
  if (ScrapeMetrics(target.host, target.port, &metrics).ok()) {
    stall_end = Metric(metrics, "yiwang_store_rocksdb_stall_micros_total");
    overloaded_server = Metric(metrics, "yiwang_ingest_rejected_total{reason=\"overloaded\"}");
  }
  work.reset();
  ioc.stop();
  for (auto& t : threads) t.join();

  // The server stops; the store is checked against the ledger.
  std::optional<LedgerCheck> check;
  std::string server_exit = "not ours";
  if (o.server_url.empty()) {
    Progress("stopping the server (SIGTERM)");
    const Status stop = spawned.Stop();
    server_exit = stop.ok() ? "0" : stop.ToString();
    Progress("checking the store against the ack ledger");
    check = CheckStore(spawned.data_dir(), target.run_tag, ledger);
  }

  // Summary.
  std::optional<double> rss_max, rss_steady_first, rss_steady_last, rss_before_burst, rss_max_burst;
  std::vector<std::pair<double, double>> steady_pts;
  // RSS minus RocksDB's memory (memtables, block cache, table readers): the rest of the server,
  // whose growth would be a leak, where RocksDB's is bounded by its budgets.
  std::vector<std::pair<double, double>> steady_rest_pts;
  std::optional<double> memtable_max, block_cache_max, table_readers_max, heap_free_max;
  uint64_t backlog_max = 0;
  std::optional<double> recovered_after_s;
  double burst_end_s = o.duration_s + o.burst_s;
  uint64_t accepted_before_burst = 0, accepted_after_burst = 0, refused_before_burst = 0,
           refused_after_burst = 0, offered_burst_start = 0, offered_burst_end = 0,
           sent_burst_start = 0, sent_burst_end = 0;
  std::optional<double> queued_max_burst;
  std::string p99_series = "[";
  for (const auto& s : samples) {
    if (s.rss_mib) rss_max = std::max(rss_max.value_or(0), *s.rss_mib);
    auto track_max = [](std::optional<double>* max, std::optional<double> v) {
      if (v) *max = std::max(max->value_or(0), *v);
    };
    track_max(&memtable_max, s.memtable_mib);
    track_max(&block_cache_max, s.block_cache_mib);
    track_max(&table_readers_max, s.table_readers_mib);
    track_max(&heap_free_max, s.heap_free_mib);
    p99_series += fmt::format("{}{:.2f}", p99_series.size() > 1 ? "," : "", s.latency.p99_ms);
    const uint64_t backlog = s.offered > s.sent ? s.offered - s.sent : 0;
    if (s.phase == "steady") {
      if (!rss_steady_first && s.rss_mib) rss_steady_first = s.rss_mib;
      if (s.rss_mib) rss_steady_last = s.rss_mib, steady_pts.push_back({s.elapsed_s, *s.rss_mib});
      if (s.rss_mib && s.memtable_mib && s.block_cache_mib && s.table_readers_mib)
        steady_rest_pts.push_back(
            {s.elapsed_s,
             *s.rss_mib - *s.memtable_mib - *s.block_cache_mib - *s.table_readers_mib});
      rss_before_burst = s.rss_mib;
      accepted_before_burst = s.accepted;
      refused_before_burst = s.refused;
      offered_burst_start = s.offered;
      sent_burst_start = s.sent;
    } else if (s.phase == "burst") {
      backlog_max = std::max(backlog_max, backlog);
      if (s.rss_mib) rss_max_burst = std::max(rss_max_burst.value_or(0), *s.rss_mib);
      if (s.queued_events)
        queued_max_burst = std::max(queued_max_burst.value_or(0), *s.queued_events);
      accepted_after_burst = s.accepted;
      refused_after_burst = s.refused;
      offered_burst_end = s.offered;
      sent_burst_end = s.sent;
    } else {
      backlog_max = std::max(backlog_max, backlog);
      if (s.rss_mib) rss_max_burst = std::max(rss_max_burst.value_or(0), *s.rss_mib);
      // Recovered: the backlog is below one second of the base rate.
      if (!recovered_after_s && static_cast<double>(backlog) < o.load.rate)
        recovered_after_s = s.elapsed_s - burst_end_s;
    }
  }
  p99_series += "]";
  // Drop the first steady point (start-up, caches filling) from the growth fit when there are
  // enough.
  if (steady_pts.size() > 3) steady_pts.erase(steady_pts.begin());
  if (steady_rest_pts.size() > 3) steady_rest_pts.erase(steady_rest_pts.begin());
  const std::optional<double> slope = Slope(steady_pts);
  const std::optional<double> rest_slope = Slope(steady_rest_pts);
  // The second half of the steady phase alone: whether RSS has levelled off once caches, heap
  // and memtables have grown to their working size.
  auto second_half = [](const std::vector<std::pair<double, double>>& pts) {
    return Slope(std::vector<std::pair<double, double>>(
        pts.begin() + static_cast<std::ptrdiff_t>(pts.size() / 2), pts.end()));
  };
  const std::optional<double> late_slope = second_half(steady_pts);
  const std::optional<double> late_rest_slope = second_half(steady_rest_pts);
  const uint64_t burst_refused = refused_after_burst - refused_before_burst;
  const uint64_t burst_offered = offered_burst_end - offered_burst_start;
  const uint64_t burst_sent = sent_burst_end - sent_burst_start;
  std::string outcome;
  if (o.burst_s > 0 && o.burst_factor > 0) {
    const bool pushed_back = burst_sent + static_cast<uint64_t>(o.load.rate) < burst_offered;
    outcome = pushed_back && burst_refused > 0 ? "back-pressure and refusal"
              : pushed_back                    ? "back-pressure"
              : burst_refused > 0              ? "refusal"
                                               : "absorbed";
  }
  const bool rss_ok = !rss_max || *rss_max <= o.max_rss_mib;
  const bool check_ok =
      !check || (check->error.empty() && check->lost == 0 && check->duplicated == 0 &&
                 check->refused_but_stored == 0 && check->stored_unsent == 0);
  const bool ok = check_ok && rss_ok && sensors_failed == 0 && counters.bad_acks.load() == 0 &&
                  stuck == 0 &&
                  (server_exit == "0" || server_exit == "not ours");

  JsonLine j;
  j.Str("bench", "soak")
      .Str("type", "summary")
      .Int("connections", o.load.connections)
      .Int("batch", o.load.batch)
      .Int("inflight", o.load.inflight)
      .Num("rate", o.load.rate, 0)
      .Num("steady_s", o.duration_s, 0)
      .Num("burst_factor", o.burst_factor, 1)
      .Num("burst_s", o.burst_s, 0)
      .Num("recovery_s", o.recovery_s, 0)
      .Int("subscribers", o.subscribers)
      .Int("sensors_failed_to_connect", sensors_failed)
      .Int("cores", std::thread::hardware_concurrency())
      .Int("events_sent", static_cast<int64_t>(counters.events_sent.load()))
      .Int("events_acked", static_cast<int64_t>(counters.events_accepted.load()))
      .Int("events_refused", static_cast<int64_t>(counters.events_refused.load()))
      .Int("refused_overloaded", static_cast<int64_t>(counters.refused_overloaded.load()))
      .Num("server_rejected_overloaded", overloaded_server, 0)
      .Int("bad_acks", static_cast<int64_t>(counters.bad_acks.load()))
      .Int("connection_failures", static_cast<int64_t>(counters.conn_failures.load()))
      .Int("connections_stuck_at_end", stuck)
      .Num("rss_start_mib", rss_start, 1)
      .Num("rss_max_mib", rss_max, 1)
      .Num("rss_end_mib", rss_end, 1)
      .Num("rss_steady_first_mib", rss_steady_first, 1)
      .Num("rss_steady_last_mib", rss_steady_last, 1)
      .Num("rss_steady_growth_mib",
           rss_steady_first && rss_steady_last
               ? std::optional<double>(*rss_steady_last - *rss_steady_first)
               : std::nullopt,
           1)
      .Num("rss_steady_slope_mib_per_hour",
           slope ? std::optional<double>(*slope * 3600) : std::nullopt, 1)
      .Num("rss_rest_steady_slope_mib_per_hour",
           rest_slope ? std::optional<double>(*rest_slope * 3600) : std::nullopt, 1)
      .Num("rss_steady_second_half_slope_mib_per_hour",
           late_slope ? std::optional<double>(*late_slope * 3600) : std::nullopt, 1)
      .Num("rss_rest_steady_second_half_slope_mib_per_hour",
           late_rest_slope ? std::optional<double>(*late_rest_slope * 3600) : std::nullopt, 1)
      .Num("rocksdb_memtable_max_mib", memtable_max, 1)
      .Num("rocksdb_block_cache_max_mib", block_cache_max, 1)
      .Num("rocksdb_table_readers_max_mib", table_readers_max, 1)
      .Num("heap_free_max_mib", heap_free_max, 1)
      .Num("rss_before_burst_mib", rss_before_burst, 1)
      .Num("rss_max_burst_mib", rss_max_burst, 1)
      .Str("burst_outcome", outcome)
      .Int("burst_offered", static_cast<int64_t>(burst_offered))
      .Int("burst_sent", static_cast<int64_t>(burst_sent))
      .Int("burst_acked", static_cast<int64_t>(accepted_after_burst - accepted_before_burst))
      .Int("burst_refused", static_cast<int64_t>(burst_refused))
      .Int("backlog_max", static_cast<int64_t>(backlog_max))
      .Num("queued_events_max_burst", queued_max_burst, 0)
      .Num("recovered_after_s", recovered_after_s, 0)
      .Num("rocksdb_stall_micros", stall_end, 0)
      .Int("live_messages", static_cast<int64_t>(live.messages.load()))
      .Int("live_cases", static_cast<int64_t>(live.cases.load()))
      .Int("live_alarms", static_cast<int64_t>(live.alarms.load()))
      .Int("live_ticks", static_cast<int64_t>(live.ticks.load()))
      .Int("live_resyncs", static_cast<int64_t>(live.resyncs.load()))
      .Int("subscribers_dropped", static_cast<int64_t>(live.dropped.load()))
      .Int("subscriber_connect_failures", static_cast<int64_t>(live.connect_failures.load()))
      .Str("server_exit", server_exit);
  if (check) {
    j.Int("events_checked", static_cast<int64_t>(check->events_checked))
        .Int("acked_checked", static_cast<int64_t>(check->acked))
        .Int("lost", static_cast<int64_t>(check->lost))
        .Int("duplicated", static_cast<int64_t>(check->duplicated))
        .Int("refused_but_stored", static_cast<int64_t>(check->refused_but_stored))
        .Int("unacked_stored", static_cast<int64_t>(check->unacked_stored))
        .Int("stored_unsent", static_cast<int64_t>(check->stored_unsent))
        .Int("foreign_events", static_cast<int64_t>(check->foreign));
    if (!check->error.empty()) j.Str("check_error", check->error);
  }
  j.Bool("ok", ok);
  std::string out = j.Finish();
  // The p99 series is an array: JsonLine writes flat objects, so it goes in before the end.
  out.insert(out.size() - 1, ",\"ack_p99_ms_series\":" + p99_series);
  fmt::print("{}\n", out);
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

void AddBenchSoakCommand(CLI::App* bench, int* exit_code) {
  auto o = std::make_shared<SoakOptions>();
  o->load.connections = kSoakConnections;
  o->load.rate = kSoakRate;
  o->load.inflight = kSoakInflight;
  o->load.alarm_every = kSoakAlarmEvery;
  auto* soak = bench->add_subcommand(
      "soak",
      "Long run against a real server: fixed rate from many sensors, live-feed subscribers, a "
      "burst, then the store checked against the ack ledger; see docs/benchmarks.md");
  soak->add_option("--connections", o->load.connections, "Sensor connections")
      ->check(CLI::Range(1, kMaxConnections))
      ->capture_default_str();
  soak->add_option("--rate", o->load.rate, "Base rate, events/s (all connections together)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--batch", o->load.batch, "Events per frame (one device each)")
      ->check(CLI::Range(1, kMaxBatch))
      ->capture_default_str();
  soak->add_option("--inflight", o->load.inflight, "Frames a connection may have unacked")
      ->check(CLI::Range(1, kMaxInflight))
      ->capture_default_str();
  soak->add_option("--duration-s", o->duration_s, "Steady phase at the base rate, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--burst-factor", o->burst_factor, "Burst rate = this x the base rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  soak->add_option("--burst-s", o->burst_s, "Burst length, seconds (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--recovery-s", o->recovery_s, "Base rate after the burst, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--interval-s", o->interval_s, "Seconds between report lines")
      ->check(CLI::Range(0.5, 3600.0))
      ->capture_default_str();
  soak->add_option("--subscribers", o->subscribers, "Live-feed subscribers (operators)")
      ->check(CLI::Range(0, kMaxSubscribers))
      ->capture_default_str();
  soak->add_option("--alarm-every", o->load.alarm_every,
                   "Every Nth connection sends CH4 alarm episodes (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  soak->add_option("--client-threads", o->load.client_threads, "I/O threads of the client")
      ->check(CLI::Range(1, kMaxClientThreads))
      ->capture_default_str();
  soak->add_option("--max-rss-mib", o->max_rss_mib, "Fail if the server's RSS exceeds this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* url = soak->add_option("--server-url", o->server_url,
                               "Drive this running server (http://HOST:PORT) instead of "
                               "spawning one (no store check then)");
  soak->add_option("--server-pid", o->server_pid, "With --server-url: its pid, for its RSS")
      ->needs(url);
  soak->add_option("--admin-token-file", o->admin_token_file,
                   "With --server-url: the admin token (device token, operators)")
      ->needs(url);
  soak->add_option("--server-log-level", o->server_log_level, "Log level of the spawned server")
      ->capture_default_str();
  soak->callback([o, exit_code] { *exit_code = RunSoak(*o); });
}

}  // namespace yiwang::tools
