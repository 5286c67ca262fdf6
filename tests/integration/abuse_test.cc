// Abuse of the real `yiwang serve` (port 0) by clients that do not play fair: slowloris
// handshakes (Debian's slowhttptest) while a real sensor keeps sending, a flood of connections
// that never finish a handshake, bodies and headers far over the limits, a device clock
// 10 minutes off, and the server's own clock stepped under libfaketime with SLA deadlines
// pending. Each test asserts that service goes on (answers within a generous bound, not a
// tight timing threshold) and that the defence engaged (its metric), and where resources are
// at stake that they are bounded and given back (descriptors in /proc/PID/fd, VmRSS).
//
// Attackers and real clients come from different loopback addresses (127.0.0.2, .3, ...: all
// of 127/8 is local on Linux), because the server caps connections per peer address.
//
// Already covered elsewhere (not repeated here): a stalled live-feed subscriber is dropped
// (live_test.cc LiveFeedSlowClientTest), oversized frames -> 1009 and bad UTF-8 -> 1007
// (server_test.cc, ws_conformance_test.cc), 413/431 on a complete oversized request
// (ServerTest.HttpBasicsOverTheWire, PhotoUploadsHaveTheirOwnBodyLimit), replayed
// (deviceId, seq) with another payload -> "replay" (ReplayIsRejectedAndTheOriginalKept),
// resends -> duplicates across connections and tokens (DuplicatesAreAckedAndStoredOnce),
// events of another device prefix -> "prefix_not_allowed" (PrefixNotAllowedPerEvent), the
// connection caps of ingest and the live feed (ConfigTest.OverridesLimits, LiveFeedLimitTest).

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/raw_ws.h"
#include "tests/support/tcp_conn.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kSlowHttpTest = "/usr/bin/slowhttptest";
constexpr const char* kFakeTimeLib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
// The generous bound every real request must meet while the server is under attack. Not a
// latency target: a server that stopped serving misses it, a slow shared CI machine does not.
constexpr auto kServiceBound = 5s;

size_t CountFds(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// A JSON integer that may come as a number or as a string (protobuf's int64 mapping).
int64_t AsInt(const json::value& v) {
  return v.is_string() ? std::stoll(std::string(v.as_string())) : v.to_number<int64_t>();
}

// Polls `pred` every 100 ms until it holds or `timeout` passes.
template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

using test::TcpConn;

class AbuseTest : public ::testing::Test {
 protected:
  // Starts a server with `config_json` (a ServerConfig in protobuf's JSON mapping) and `env`
  // (extra "NAME=value" entries), and provisions a device token for "ab-" devices.
  void Start(const std::string& config_json, std::vector<std::string> env = {}) {
    server_.process().set_extra_env(std::move(env));
    const Status s = server_.Start(server_.Config(config_json));
    ASSERT_TRUE(s.ok()) << s.ToString();
    admin_ = server_.admin();
    device_ = server_.DeviceToken("abuse", "ab-");
    ASSERT_FALSE(device_.empty());
  }

  uint16_t port() const { return server_.port(); }
  pid_t pid() const { return server_.pid(); }

  // The value of one Prometheus sample `name{labels}`, or -1 if absent.
  double Metric(const std::string& series) { return server_.Metric(series); }

  // A sensor connection from `source_ip`; null (and a failure) if the upgrade does not
  // complete within kServiceBound.
  std::unique_ptr<test::RawWs> OpenSensor(const std::string& source_ip) {
    auto c = std::make_unique<test::RawWs>();
    const auto t0 = Clock::now();
    const bool ok =
        c->Connect(port(), "/ws/sensors", {{"Authorization", "Bearer " + device_}}, source_ip);
    const auto took = Clock::now() - t0;
    EXPECT_TRUE(ok) << c->error();
    EXPECT_LT(took, kServiceBound) << "handshake took "
                                   << std::chrono::duration<double>(took).count() << " s";
    RecordLatency(took);
    return ok ? std::move(c) : nullptr;
  }

  // One real event, acked as accepted within kServiceBound.
  void SendEvent(test::RawWs& c, const std::string& device) {
    yiwang::v1::IngestBatch b;
    *b.add_events() = test::GasEvent(device, ++seq_, 5, test::WallSeconds() - 5);
    const auto t0 = Clock::now();
    ASSERT_TRUE(c.Send(test::kOpBinary, b.SerializeAsString())) << c.error();
    test::WsFrame f;
    ASSERT_TRUE(c.Read(&f, kServiceBound)) << "no ack within 5 s: " << c.error();
    RecordLatency(Clock::now() - t0);
    yiwang::v1::IngestAck ack;
    ASSERT_TRUE(ack.ParseFromString(f.payload));
    EXPECT_EQ(ack.accepted(), 1u) << ack.DebugString();
  }

  void RecordLatency(Clock::duration d) {
    max_latency_ = std::max(max_latency_, d);
    ++requests_;
  }
  std::string LatencySummary() const {
    std::ostringstream s;
    s << requests_ << " real requests, slowest "
      << std::chrono::duration<double, std::milli>(max_latency_).count() << " ms";
    return s.str();
  }

  test::TestServer server_;
  std::string admin_;
  std::string device_;
  uint64_t seq_ = 0;
  Clock::duration max_latency_{};
  size_t requests_ = 0;
};

// ---- slowloris ---------------------------------------------------------------------------

// slowhttptest opens 600 slowloris handshakes (an upgrade request to /ws/sensors whose header
// never ends: one more header line a second) from 127.0.0.1. The server keeps 200 of them at
// most (the per-address cap), closes the rest at once, and drops each kept one when its header
// is not complete 3 s after the accept. A real sensor on 127.0.0.2 sends an event every 200 ms
// on its connection and makes a fresh handshake every round: every one is answered in time.
TEST_F(AbuseTest, SlowlorisHandshakesDoNotStopRealTraffic) {
  if (access(kSlowHttpTest, X_OK) != 0)
    GTEST_SKIP() << kSlowHttpTest << " missing (tools/setup.sh)";
  Start(R"({"http":{"headerTimeoutSeconds":3,"maxConnectionsPerAddress":200}})");
  auto sensor = OpenSensor("127.0.0.2");
  ASSERT_TRUE(sensor);
  SendEvent(*sensor, "ab-real");

  std::atomic<bool> attack_done{false};
  client::ExitStatus attack_status;
  std::string attack_output;
  std::thread attacker([&] {
    attack_status = client::RunToExit(
        kSlowHttpTest,
        {"-H", "-c", "600", "-r", "200", "-i", "1", "-x", "24", "-p", "3", "-l", "12", "-u",
         "http://127.0.0.1:" + std::to_string(port()) + "/ws/sensors"},
        60s, &attack_output);
    attack_done = true;
  });
  while (!attack_done) {
    SendEvent(*sensor, "ab-real");
    auto fresh = OpenSensor("127.0.0.2");
    if (fresh) SendEvent(*fresh, "ab-fresh");
    if (HasFatalFailure()) break;
    std::this_thread::sleep_for(200ms);
  }
  attacker.join();
  std::cerr << "slowloris: " << LatencySummary() << "\n";
  ASSERT_TRUE(attack_status.exited && attack_status.code == 0)
      << attack_status.ToString() << "\n" << attack_output;
  EXPECT_GE(requests_, 20u) << "the real client barely ran during the attack";

  // The defences engaged: connections over the per-address cap were closed at once, and
  // handshakes that did not finish in time were dropped.
  EXPECT_GT(Metric("yiwang_http_connections_refused_per_address_total"), 0);
  EXPECT_GT(Metric("yiwang_http_header_timeouts_total"), 0);
  // The server is healthy afterwards, from the attacker's address too.
  EXPECT_EQ(test::HttpGet(port(), "/healthz").status, 200);
  SendEvent(*sensor, "ab-real");
}

// ---- connection flood --------------------------------------------------------------------

// 5,000 connections from 127.0.0.3 that never send a byte. The server holds at most the
// per-address cap (500) of them, closes those when the header timeout (2 s) passes, and ends
// with as many descriptors as before; a real client is served all along.
TEST_F(AbuseTest, ConnectionFloodIsCappedAndItsDescriptorsReleased) {
  // The flood needs 5,000 descriptors in this process: raise the soft limit (to the hard one).
  rlimit nofile{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &nofile), 0);
  if (nofile.rlim_cur < 6000 && nofile.rlim_max >= 6000) {
    nofile.rlim_cur = 6000;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &nofile), 0);
  }
  if (nofile.rlim_cur < 6000)
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << nofile.rlim_max << " < 6000";
  Start(R"({"http":{"headerTimeoutSeconds":2,"maxConnectionsPerAddress":500}})");
  ASSERT_EQ(test::HttpGet(port(), "/healthz").status, 200);
  auto sensor = OpenSensor("127.0.0.2");
  ASSERT_TRUE(sensor);
  SendEvent(*sensor, "ab-real");
  // Baseline with the sensor connected: the flood's descriptors come and go on top of it.
  ASSERT_TRUE(WaitUntil([&] { return CountFds(pid()) > 0; }, 5s));
  const size_t baseline = CountFds(pid());

  constexpr size_t kFlood = 5000;
  constexpr size_t kPerAddress = 500;
  std::vector<std::unique_ptr<TcpConn>> flood;
  size_t connected = 0, peak = 0;
  for (size_t i = 0; i < kFlood; ++i) {
    flood.push_back(std::make_unique<TcpConn>(port(), "127.0.0.3", 2s));
    connected += flood.back()->ok();
    if (i % 500 == 499) {
      peak = std::max(peak, CountFds(pid()));
      SendEvent(*sensor, "ab-real");  // served in the middle of the flood
    }
  }
  peak = std::max(peak, CountFds(pid()));
  std::cerr << "flood: " << connected << " of " << kFlood << " connected; server fds "
            << baseline << " before, at most " << peak << " during; " << LatencySummary()
            << "\n";
  EXPECT_GE(connected, kFlood * 9 / 10);
  // Held at most the cap (plus a little: connections being accepted and closed right now).
  EXPECT_LE(peak, baseline + kPerAddress + 50);
  // A fresh client on another address, HTTP and WebSocket, during the flood.
  test::HttpReply health = test::HttpGet(port(), "/healthz");
  EXPECT_EQ(health.status, 200) << health.error;
  auto fresh = OpenSensor("127.0.0.2");
  ASSERT_TRUE(fresh);
  SendEvent(*fresh, "ab-fresh");
  fresh.reset();

  // The header timeout frees the held ones even though the flood keeps its sockets open.
  EXPECT_TRUE(WaitUntil([&] { return CountFds(pid()) <= baseline + 5; }, 20s))
      << CountFds(pid()) << " descriptors open, " << baseline << " before the flood";
  EXPECT_GE(Metric("yiwang_http_connections_refused_per_address_total"),
            static_cast<double>(connected - kPerAddress - 50));
  EXPECT_GE(Metric("yiwang_http_header_timeouts_total"), 1);
  flood.clear();
  EXPECT_TRUE(WaitUntil([&] { return CountFds(pid()) <= baseline + 5; }, 10s))
      << CountFds(pid()) << " descriptors open, " << baseline << " before the flood";
  SendEvent(*sensor, "ab-real");
}

// ---- oversized headers and bodies --------------------------------------------------------

// A 1 GiB Content-Length is answered 413 from the header alone; the client then pushes body
// bytes as fast as the server takes them: the server takes almost none and its memory stays
// where it was.
TEST_F(AbuseTest, HugeContentLengthIs413WithoutReadingTheBody) {
  Start("{}");
  const uint64_t rss_before = client::ResidentKib(pid()).value_or(0);
  TcpConn c(port(), "127.0.0.2");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nContent-Length: 1073741824\r\n\r\n"));
  ASSERT_TRUE(c.Readable(kServiceBound)) << "no answer to the header alone";
  const std::string chunk(64 << 10, 'x');
  size_t sent = 0;
  while (sent < (256u << 20) && c.Send(chunk)) sent += chunk.size();
  const std::string reply = c.ReadAll(kServiceBound);
  const uint64_t rss_after = client::ResidentKib(pid()).value_or(0);
  std::cerr << "1 GiB Content-Length: client pushed " << (sent >> 10) << " KiB before the "
            << "server closed; server RSS " << rss_before << " -> " << rss_after << " KiB\n";
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find("body_too_large"), std::string::npos) << reply.substr(0, 400);
  EXPECT_LT(sent, 64u << 20) << "the server kept reading a body it had refused";
  EXPECT_LT(rss_after, rss_before + (32u << 10)) << "server memory grew with the refused body";
}

// A chunked body (no Content-Length) is read up to the limit only, then refused with 413.
TEST_F(AbuseTest, EndlessChunkedBodyIs413AtTheLimit) {
  Start("{}");
  const uint64_t rss_before = client::ResidentKib(pid()).value_or(0);
  TcpConn c(port(), "127.0.0.2");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
  size_t sent = 0;
  while (sent < (256u << 20) && !c.Readable(0ms) && c.Send(chunk)) sent += 0x10000;
  const std::string reply = c.ReadAll(kServiceBound);
  const uint64_t rss_after = client::ResidentKib(pid()).value_or(0);
  std::cerr << "chunked: " << (sent >> 10) << " KiB sent when the answer came; server RSS "
            << rss_before << " -> " << rss_after << " KiB\n";
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 200);
  EXPECT_LT(sent, 64u << 20);
  EXPECT_LT(rss_after, rss_before + (32u << 10));
}

// Header lines dribbled one at a time: 431 once they pass 16 KiB, not a buffer that grows.
TEST_F(AbuseTest, DribbledHeadersAre431AtTheLimit) {
  Start("{}");
  TcpConn c(port(), "127.0.0.2");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  size_t sent = 0;
  for (int i = 0; i < 1000 && !c.Readable(5ms); ++i) {
    const std::string line = "X-Pad-" + std::to_string(i) + ": " + std::string(1000, 'p') + "\r\n";
    if (!c.Send(line)) break;
    sent += line.size();
  }
  const std::string reply = c.ReadAll(kServiceBound);
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply.substr(0, 200);
  EXPECT_LT(sent, 64u << 10) << "the server read far past the 16 KiB header limit";
}

// ---- device clock skew -------------------------------------------------------------------

// A device clock 10 minutes ahead: accepted and flagged (over the 5-minute flag, under the
// 24-hour rejection). 10 minutes behind: accepted as is (event time is the device's; a
// gateway's buffered readings are judged as they happened). An alarm observed 10 minutes ago
// files a case whose SLA runs on server time: its deadline counts from now, not from
// observedAt.
TEST_F(AbuseTest, DeviceClockSkewOfTenMinutes) {
  Start("{}");
  auto sensor = OpenSensor("127.0.0.2");
  ASSERT_TRUE(sensor);
  const int64_t now = test::WallSeconds();
  auto send = [&](const yiwang::v1::SensorEvent& e) {
    yiwang::v1::IngestBatch b;
    *b.add_events() = e;
    EXPECT_TRUE(sensor->Send(test::kOpBinary, b.SerializeAsString()));
    test::WsFrame f;
    EXPECT_TRUE(sensor->Read(&f, kServiceBound)) << sensor->error();
    yiwang::v1::IngestAck ack;
    EXPECT_TRUE(ack.ParseFromString(f.payload));
    return ack;
  };
  yiwang::v1::IngestAck ahead = send(test::GasEvent("ab-ahead", 1, 5, now + 600));
  EXPECT_EQ(ahead.accepted(), 1u);
  EXPECT_EQ(ahead.flagged(), 1u);
  EXPECT_EQ(ahead.rejected_size(), 0);
  yiwang::v1::IngestAck behind = send(test::GasEvent("ab-behind", 1, 5, now - 600));
  EXPECT_EQ(behind.accepted(), 1u);
  EXPECT_EQ(behind.flagged(), 0u);
  EXPECT_EQ(Metric("yiwang_ingest_flagged_total"), 1);

  // A tilted manhole cover (an alarm on its first reading) observed 10 minutes ago.
  yiwang::v1::IngestAck alarm =
      send(test::ManholeEvent("ab-cover-5001030102000009", 1, 40, now - 600));
  ASSERT_EQ(alarm.accepted(), 1u);
  json::value cases;
  ASSERT_TRUE(WaitUntil(
      [&] {
        test::HttpReply r = test::HttpGet(port(), "/api/v1/cases?limit=10", admin_);
        if (r.status != 200) return false;
        cases = json::parse(r.body);
        return !cases.at("cases").as_array().empty();
      },
      15s))
      << cases;
  const json::object& c = cases.at("cases").as_array().at(0).as_object();
  ASSERT_TRUE(c.contains("createdMs")) << c;
  // Filed on server time: within a minute of now, not 10 minutes before (observedAt).
  const int64_t created_s = AsInt(c.at("createdMs")) / 1000;
  EXPECT_LT(std::abs(created_s - test::WallSeconds()), 60) << c;
  // And its deadline counts from there.
  ASSERT_TRUE(c.contains("deadlineMs")) << c;
  EXPECT_GT(AsInt(c.at("deadlineMs")) / 1000, created_s) << c;
}

// ---- the server's clock stepped (libfaketime) --------------------------------------------

// Two septic-tank gas cases (emergency: 5 minutes to accept, wall-clock) wait for acceptance.
// The server's wall clock (CLOCK_REALTIME only, as an NTP step would) is stepped through a
// libfaketime timestamp file: back 30 minutes (nothing is due: nothing fires), forward 1 hour
// (both deadlines passed: each case escalates once, to red), back to the real time (nothing
// fires again) and forward 2 hours (still nothing: each level is raised once per stage run).
TEST_F(AbuseTest, SteppedServerClockFiresDueEscalationsOnce) {
  if (access(kFakeTimeLib, R_OK) != 0)
    GTEST_SKIP() << kFakeTimeLib << " missing (tools/setup.sh)";
  const std::string offset_file = server_.work().Sub("faketime");
  auto step = [&](const std::string& offset) { std::ofstream(offset_file) << offset << "\n"; };
  step("+0");
  Start("{}", {std::string("LD_PRELOAD=") + kFakeTimeLib, "FAKETIME_TIMESTAMP_FILE=" + offset_file,
               "FAKETIME_CACHE_DURATION=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"});

  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    test::HttpReply r = test::HttpPost(
        port(), "/api/v1/cases", admin_,
        R"({"category":"0302","description":"化粪池异味","district":"500103","source":"hotline"})");
    ASSERT_EQ(r.status, 201) << r.body;
    ids.emplace_back(json::parse(r.body).at("case").at("id").as_string());
  }
  // Waits until the server's clock (serverTimeMs of the points endpoint) is `offset_s` off the
  // real one, give or take 60 s; then for a few dispatcher polls (500 ms each).
  auto settle = [&](int64_t offset_s) {
    int64_t server_ms = 0;
    EXPECT_TRUE(WaitUntil(
        [&] {
          test::HttpReply r = test::HttpGet(port(), "/api/v1/cases/points", admin_);
          if (r.status != 200) return false;
          server_ms = AsInt(json::parse(r.body).at("serverTimeMs"));
          return std::abs(server_ms / 1000 - (test::WallSeconds() + offset_s)) < 60;
        },
        15s))
        << "server clock " << server_ms / 1000 << ", want " << test::WallSeconds() + offset_s;
    std::this_thread::sleep_for(2s);
  };
  auto escalations = [&] { return Metric("yiwang_dispatch_escalations_total"); };
  // The ESCALATE entries of a case's timeline, and whether one raised red.
  auto timeline_escalations = [&](const std::string& id, bool* red) {
    test::HttpReply r = test::HttpGet(port(), "/api/v1/cases/" + id, admin_);
    EXPECT_EQ(r.status, 200) << r.body;
    size_t n = 0;
    *red = false;
    const json::value v = json::parse(r.body);
    for (const auto& e : v.at("timeline").as_array()) {
      if (e.at("action").as_string() != "CASE_ACTION_ESCALATE") continue;
      ++n;
      const auto* level = e.as_object().if_contains("escalationLevel");
      *red |= level && level->as_string() == "SLA_LEVEL_RED";
    }
    return n;
  };

  step("-1800");
  settle(-1800);
  EXPECT_EQ(escalations(), 0) << "a clock stepped back fired an escalation";

  step("+3600");
  settle(3600);
  EXPECT_TRUE(WaitUntil([&] { return escalations() >= 2; }, 10s)) << escalations();
  for (const auto& id : ids) {
    bool red = false;
    EXPECT_EQ(timeline_escalations(id, &red), 1u) << id;
    EXPECT_TRUE(red) << id << ": both levels were due, red is raised";
  }

  step("+0");
  settle(0);
  step("+7200");
  settle(7200);
  EXPECT_EQ(escalations(), 2) << "an escalation fired twice";
  for (const auto& id : ids) {
    bool red = false;
    EXPECT_EQ(timeline_escalations(id, &red), 1u) << "escalated twice: " << id;
  }
}

}  // namespace
}  // namespace yiwang
