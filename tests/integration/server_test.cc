// Integration: the real `yiwang serve` binary as a child process (fresh data dir, port 0), spoken
// to over real sockets: HTTP with tests/support/http_client.h, WebSocket with
// tools/client/ws_client.h. Every test starts its own server (tests/support/test_server.h),
// killed when the test ends whatever happened.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"
#include "tools/client/server_process.h"
#include "tools/client/ws_client.h"

namespace yiwang {
namespace {

using test::HttpGet;
using test::HttpReply;
using client::WsClient;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;
using yiwang::v1::SensorEvent;

// Close codes (RFC 6455 section 7.4.1).
constexpr int kCloseGoingAway = 1001;
constexpr int kCloseInvalidPayload = 1007;
constexpr int kCloseTooBig = 1009;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartServer(ServerArgs());
    now_ = test::WallSeconds();
  }

  virtual std::vector<std::string> ServerArgs() { return {}; }

  void StartServer(const std::vector<std::string>& args) {
    const Status s = server_.Start(args);
    ASSERT_TRUE(s.ok()) << s.ToString();
    admin_ = server_.admin();
  }

  std::string DataDir() const { return server_.DataDir(); }
  uint16_t port() const { return server_.port(); }
  client::ServerProcess& process() { return server_.process(); }

  std::string Provision(const std::string& name, const std::string& prefix) {
    return server_.DeviceToken(name, prefix);
  }

  std::unique_ptr<WsClient> Connect(const std::string& token) {
    auto c = std::make_unique<WsClient>();
    c->set_read_timeout(std::chrono::seconds(20));
    Status s = c->Connect("127.0.0.1", port(), "/ws/sensors", token);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(c) : nullptr;
  }

  IngestAck SendAndAck(WsClient* c, const IngestBatch& b, bool binary) {
    IngestAck ack;
    Status s = c->SendBatch(b, binary);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = c->ReadAck(&ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack;
  }

  // Walks GET /api/v1/devices/{id}/events page by page: seq -> how often it was listed.
  std::map<uint64_t, int> StoredSeqs(const std::string& device, size_t page_limit = 1000) {
    std::map<uint64_t, int> seqs;
    std::string before;
    for (int pages = 0; pages < 10000; ++pages) {
      std::string target =
          "/api/v1/devices/" + device + "/events?limit=" + std::to_string(page_limit);
      if (!before.empty()) target += "&before=" + before;
      HttpReply r = HttpGet(port(), target, admin_);
      if (r.status == 404) break;
      EXPECT_EQ(r.status, 200) << r.error << r.body;
      if (r.status != 200) break;
      boost::json::value v = boost::json::parse(r.body);
      for (const auto& e : v.at("events").as_array()) {
        EXPECT_EQ(e.at("event").at("deviceId").as_string(), device);
        ++seqs[std::stoull(std::string(e.at("event").at("seq").as_string()))];
      }
      const auto* next = v.as_object().if_contains("nextBefore");
      if (!next) break;
      before = std::string(next->as_string());
    }
    return seqs;
  }

  // GET /api/v1/devices/{id}: 404 -> null.
  boost::json::value Device(const std::string& device) {
    HttpReply r = HttpGet(port(), "/api/v1/devices/" + device, admin_);
    if (r.status == 404) return nullptr;
    EXPECT_EQ(r.status, 200) << r.body;
    return boost::json::parse(r.body);
  }

  uint64_t HealthzEvents() {
    HttpReply r = HttpGet(port(), "/healthz");
    EXPECT_EQ(r.status, 200);
    return boost::json::parse(r.body).at("events").to_number<uint64_t>();
  }

  // The value of one Prometheus sample `name{labels}`, or -1 if absent.
  double MetricValue(const std::string& series) { return server_.Metric(series); }

  SensorEvent Gas(const std::string& device, uint64_t seq, double ch4 = 5) {
    return test::GasEvent(device, seq, ch4, now_ - 60);
  }

  test::TestServer server_;
  std::string admin_;
  int64_t now_ = 0;
};

TEST_F(ServerTest, ReadyFileAndBootstrapAdminToken) {
  EXPECT_EQ(process().ready_content(), "http://127.0.0.1:" + std::to_string(port()) + "\n");
  struct stat st {};
  const std::string path = DataDir() + "/bootstrap-admin.token";
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << std::oct << (st.st_mode & 0777);
  EXPECT_EQ(admin_.size(), 47u);
  HttpReply r = HttpGet(port(), "/healthz");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("content-type"), "application/json");
}

TEST_F(ServerTest, HttpBasicsOverTheWire) {
  HttpReply r = HttpGet(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("yiwang_ingest_rejected_total{reason=\"lat_out_of_range\"} 0"),
            std::string::npos);
  HttpReply head = test::Http(port(), "HEAD", "/healthz");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.Header("content-length"), "0");
  HttpReply nope = HttpGet(port(), "/nope");
  EXPECT_EQ(nope.status, 404);
  EXPECT_NE(nope.body.find("\"code\":\"not_found\""), std::string::npos) << nope.body;
  // Bodies over the limit (1 MiB) are refused without being buffered.
  HttpReply big = test::HttpPost(port(), "/api/v1/admin/device-tokens", admin_,
                                 std::string((1u << 20) + 10, ' '));
  EXPECT_EQ(big.status, 413) << big.error;
  // Headers over the limit (16 KiB).
  HttpReply fat = test::Http(port(), "GET", "/healthz", {{"X-Filler", std::string(20000, 'x')}});
  EXPECT_EQ(fat.status, 431) << fat.error;
  // A WebSocket upgrade on a path with no endpoint.
  WsClient c;
  EXPECT_FALSE(c.Connect("127.0.0.1", port(), "/ws/nope", admin_).ok());
  EXPECT_EQ(c.http_status(), 404);
}

// The photo route alone takes bodies up to 10 MB (HttpLimits::body_limit_by_path); every
// other route keeps the 1 MiB default, a query string does not change the route's limit.
TEST_F(ServerTest, PhotoUploadsHaveTheirOwnBodyLimit) {
  const std::string two_mb(2u << 20, 'x');
  HttpReply photo = test::Http(port(), "POST", "/api/v1/photos?x=1",
                               {{"Content-Type", "image/jpeg"}}, two_mb);
  EXPECT_EQ(photo.status, 415) << photo.error << photo.body;  // read whole, then judged
  EXPECT_NE(photo.body.find("unsupported_media_type"), std::string::npos) << photo.body;
  HttpReply report = test::Http(port(), "POST", "/api/v1/reports",
                                {{"Content-Type", "application/json"}}, two_mb);
  EXPECT_EQ(report.status, 413) << report.error;
  HttpReply huge = test::Http(port(), "POST", "/api/v1/photos", {{"Content-Type", "image/jpeg"}},
                              std::string((10u << 20) + 1, 'x'));
  EXPECT_EQ(huge.status, 413) << huge.error;
  EXPECT_NE(huge.body.find("body_too_large"), std::string::npos) << huge.body;
}

TEST_F(ServerTest, UpgradeRefusedWithoutAValidDeviceToken) {
  const std::string device = Provision("gw", "cq-");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no token", ""},
      {"unknown token", "ywd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
      {"admin token", admin_},
      {"truncated device token", device.substr(0, device.size() - 1)},
  };
  for (const auto& [what, token] : cases) {
    WsClient c;
    Status s = c.Connect("127.0.0.1", port(), "/ws/sensors", token);
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_EQ(c.http_status(), 401) << what;
    EXPECT_NE(c.http_body().find("\"code\":\"unauthorized\""), std::string::npos)
        << what << ": " << c.http_body();
  }
  auto ok = Connect(device);
  ASSERT_TRUE(ok);
  EXPECT_NE(MetricValue("yiwang_ingest_handshakes_refused_total{reason=\"unauthorized\"}"), -1);
  EXPECT_EQ(MetricValue("yiwang_ingest_handshakes_refused_total{reason=\"unauthorized\"}"), 4);
}

TEST_F(ServerTest, PrefixNotAllowedPerEvent) {
  auto c = Connect(Provision("jiangbei", "cq-500105-"));
  ASSERT_TRUE(c);
  IngestBatch b;
  b.set_batch_id("p1");
  *b.add_events() = Gas("cq-500105-1", 1);
  *b.add_events() = Gas("cq-500106-1", 1);
  *b.add_events() = Gas("cq-500105-2", 1);
  *b.add_events() = Gas("cq-50010", 1);
  IngestAck ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.accepted(), 2u);
  ASSERT_EQ(ack.rejected_size(), 2);
  EXPECT_EQ(ack.rejected(0).index(), 1u);
  EXPECT_EQ(ack.rejected(0).reason(), "prefix_not_allowed");
  EXPECT_EQ(ack.rejected(1).index(), 3u);
  EXPECT_EQ(ack.rejected(1).reason(), "prefix_not_allowed");
  EXPECT_EQ(ack.batch_id(), "p1");
  EXPECT_TRUE(Device("cq-500106-1").is_null());
  EXPECT_FALSE(Device("cq-500105-2").is_null());
}

// Every rejection reason a client can cause, end to end, in both encodings.
class RejectionsTest : public ServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(RejectionsTest, EachReasonEndToEnd) {
  const bool binary = GetParam();
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  constexpr uint64_t kMalformedMarker = 987654321;
  std::vector<std::pair<SensorEvent, std::string>> rows;  // event, expected reason ("" = ok)
  auto add = [&](SensorEvent e, const std::string& reason) {
    rows.emplace_back(std::move(e), reason);
  };
  const SensorEvent good = Gas("cq-r", 1, 10);
  add(good, "");
  {
    SensorEvent e = Gas("cq-r", 2);
    e.clear_device_id();
    add(e, "missing_device_id");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.set_device_id("cq r");
    add(e, "invalid_device_id");
  }
  {
    SensorEvent e = Gas("zz-r", 2);
    add(e, "prefix_not_allowed");
  }
  {
    SensorEvent e = Gas("cq-r", 0);
    add(e, "missing_seq");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.clear_observed_at();
    add(e, "missing_observed_at");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    *e.mutable_observed_at() = test::Ts(0);
    add(e, "invalid_observed_at");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    *e.mutable_observed_at() = test::Ts(now_ + 3 * 86400);
    add(e, "observed_at_in_future");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.clear_location();
    add(e, "missing_location");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.mutable_location()->set_lat(95);
    add(e, "lat_out_of_range");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.mutable_location()->set_lon(-200);
    add(e, "lon_out_of_range");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.clear_payload();
    add(e, "missing_payload");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.mutable_ancient_tree();
    add(e, "empty_payload");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.mutable_septic_tank_gas()->set_ch4_percent_lel(std::nan(""));
    add(e, "reading_not_finite");
  }
  {
    SensorEvent e = Gas("cq-r", 2);
    e.mutable_septic_tank_gas()->set_h2s_ppm(5000);
    add(e, "reading_out_of_range");
  }
  add(Gas("cq-r", 1, 11), "replay");  // same (device, seq) as row 0, other payload
  add(good, "duplicate");             // resend of row 0 in the same frame
  if (!binary) add(Gas("cq-r", kMalformedMarker), "malformed_event");
  add(Gas("cq-r", 3), "");

  IngestBatch b;
  b.set_batch_id("every-reason");
  for (const auto& [e, reason] : rows) *b.add_events() = e;
  std::string data;
  if (binary) {
    data = b.SerializeAsString();
  } else {
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(b, &data).ok());
    const std::string marker = "\"seq\":\"" + std::to_string(kMalformedMarker) + "\"";
    size_t p = data.find(marker);
    ASSERT_NE(p, std::string::npos) << data;
    data.replace(p, marker.size(), "\"seq\":\"abc\"");
  }
  ASSERT_TRUE(c->SendRaw(data, binary).ok());
  std::string raw;
  bool got_binary = !binary;
  ASSERT_TRUE(c->ReadRaw(&raw, &got_binary).ok());
  EXPECT_EQ(got_binary, binary) << "the ack comes in the frame's encoding";
  IngestAck ack;
  if (binary) {
    ASSERT_TRUE(ack.ParseFromString(raw));
  } else {
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(raw, &ack).ok()) << raw;
    EXPECT_NE(raw.find("\"accepted\":2"), std::string::npos) << raw;
    EXPECT_NE(raw.find("\"batchId\":\"every-reason\""), std::string::npos) << raw;
  }

  std::map<uint32_t, std::string> expected, got;
  uint32_t want_accepted = 0, want_duplicates = 0;
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (rows[i].second.empty())
      ++want_accepted;
    else if (rows[i].second == "duplicate")
      ++want_duplicates;
    else
      expected[i] = rows[i].second;
  }
  for (const auto& r : ack.rejected()) {
    EXPECT_FALSE(got.count(r.index())) << "index " << r.index() << " rejected twice";
    got[r.index()] = r.reason();
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(ack.accepted(), want_accepted);
  EXPECT_EQ(ack.duplicates(), want_duplicates);
  EXPECT_EQ(ack.batch_id(), "every-reason");
  EXPECT_TRUE(ack.error().empty()) << ack.error();
  for (int i = 1; i < ack.rejected_size(); ++i)
    EXPECT_LT(ack.rejected(i - 1).index(), ack.rejected(i).index()) << "rejections in frame order";

  // Only the two good events are stored, once, with the first payload.
  EXPECT_EQ(StoredSeqs("cq-r"), (std::map<uint64_t, int>{{1, 1}, {3, 1}}));
  boost::json::value dev = Device("cq-r");
  EXPECT_EQ(dev.at("eventCount").as_string(), "2");
  EXPECT_EQ(HealthzEvents(), 2u);
  // Every reason was counted.
  for (const auto& [i, reason] : expected)
    EXPECT_EQ(MetricValue("yiwang_ingest_rejected_total{reason=\"" + reason + "\"}"), 1) << reason;
}

INSTANTIATE_TEST_SUITE_P(BothEncodings, RejectionsTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Binary" : "Json"; });

TEST_F(ServerTest, DuplicatesAreAckedAndStoredOnce) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  IngestBatch b;
  for (uint64_t s = 1; s <= 10; ++s) *b.add_events() = Gas("cq-d", s, static_cast<double>(s));
  IngestAck ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.accepted(), 10u);
  EXPECT_EQ(ack.duplicates(), 0u);
  ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_EQ(ack.duplicates(), 10u);
  // The same events in JSON are the same events.
  ack = SendAndAck(c.get(), b, false);
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_EQ(ack.duplicates(), 10u);
  EXPECT_EQ(ack.rejected_size(), 0);
  // And over another connection with another token of the same prefix.
  auto c2 = Connect(Provision("gw-2", "cq-d"));
  ASSERT_TRUE(c2);
  ack = SendAndAck(c2.get(), b, true);
  EXPECT_EQ(ack.duplicates(), 10u);

  std::map<uint64_t, int> want;
  for (uint64_t s = 1; s <= 10; ++s) want[s] = 1;
  EXPECT_EQ(StoredSeqs("cq-d"), want);
  EXPECT_EQ(StoredSeqs("cq-d", 3), want);  // through several pages
  EXPECT_EQ(Device("cq-d").at("eventCount").as_string(), "10");
  EXPECT_EQ(HealthzEvents(), 10u);
  EXPECT_EQ(MetricValue("yiwang_ingest_events_total{result=\"duplicate\"}"), 30);
  EXPECT_EQ(MetricValue("yiwang_ingest_events_total{result=\"accepted\"}"), 10);
}

TEST_F(ServerTest, ReplayIsRejectedAndTheOriginalKept) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  IngestBatch first;
  *first.add_events() = Gas("cq-rp", 1, 10);
  ASSERT_EQ(SendAndAck(c.get(), first, true).accepted(), 1u);
  IngestBatch replay;
  *replay.add_events() = Gas("cq-rp", 1, 60);
  IngestAck ack = SendAndAck(c.get(), replay, false);
  EXPECT_EQ(ack.accepted(), 0u);
  ASSERT_EQ(ack.rejected_size(), 1);
  EXPECT_EQ(ack.rejected(0).index(), 0u);
  EXPECT_EQ(ack.rejected(0).reason(), "replay");
  boost::json::value dev = Device("cq-rp");
  EXPECT_DOUBLE_EQ(dev.at("septicTankGas").at("ch4PercentLel").to_number<double>(), 10);
  EXPECT_EQ(StoredSeqs("cq-rp"), (std::map<uint64_t, int>{{1, 1}}));
}

TEST_F(ServerTest, MalformedBinaryFrameKeepsTheConnectionUsable) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->SendRaw(std::string("\x0f\xff\xff", 3), true).ok());
  IngestAck ack;
  ASSERT_TRUE(c->ReadAck(&ack).ok());
  EXPECT_EQ(ack.error(), "malformed_frame");
  EXPECT_FALSE(ack.message().empty());
  ASSERT_TRUE(c->SendRaw("{\"events\": [", false).ok());
  ASSERT_TRUE(c->ReadAck(&ack).ok());
  EXPECT_EQ(ack.error(), "malformed_frame");
  IngestBatch b;
  *b.add_events() = Gas("cq-m", 1);
  ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.accepted(), 1u);
  EXPECT_TRUE(ack.error().empty());
  EXPECT_EQ(MetricValue("yiwang_ingest_frame_errors_total{error=\"malformed_frame\"}"), 2);
}

TEST_F(ServerTest, OversizedFrameClosesWith1009AndSparesOtherConnections) {
  const std::string token = Provision("gw", "cq-");
  auto victim = Connect(token);
  auto bystander = Connect(token);
  ASSERT_TRUE(victim && bystander);
  IngestBatch b;
  *b.add_events() = Gas("cq-by", 1);
  EXPECT_EQ(SendAndAck(bystander.get(), b, true).accepted(), 1u);

  ASSERT_TRUE(victim->SendRaw(std::string((1u << 20) + 1, '\x0a'), true).ok());
  std::string raw;
  bool binary = false;
  Status s = victim->ReadRaw(&raw, &binary);
  EXPECT_FALSE(s.ok()) << "expected a close, got a frame of " << raw.size() << " bytes";
  EXPECT_EQ(victim->close_code(), kCloseTooBig);

  b.mutable_events(0)->set_seq(2);
  EXPECT_EQ(SendAndAck(bystander.get(), b, false).accepted(), 1u);
  EXPECT_EQ(MetricValue("yiwang_ingest_connection_errors_total{error=\"message_too_big\"}"), 1);
  EXPECT_EQ(StoredSeqs("cq-by"), (std::map<uint64_t, int>{{1, 1}, {2, 1}}));
  // A frame of exactly the limit is read (and refused as a frame, not as a connection).
  auto third = Connect(token);
  ASSERT_TRUE(third);
  ASSERT_TRUE(third->SendRaw(std::string(1u << 20, '\xff'), true).ok());
  IngestAck ack;
  ASSERT_TRUE(third->ReadAck(&ack).ok());
  EXPECT_EQ(ack.error(), "malformed_frame");
}

TEST_F(ServerTest, InvalidUtf8TextFrameClosesWith1007) {
  const std::string token = Provision("gw", "cq-");
  auto c = Connect(token);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->SendRaw("{\"events\":[],\"batchId\":\"\xff\xfe\"}", false).ok());
  std::string raw;
  bool binary = false;
  EXPECT_FALSE(c->ReadRaw(&raw, &binary).ok()) << raw;
  EXPECT_EQ(c->close_code(), kCloseInvalidPayload);
  // The server is fine.
  auto other = Connect(token);
  ASSERT_TRUE(other);
  IngestBatch b;
  *b.add_events() = Gas("cq-u", 1);
  EXPECT_EQ(SendAndAck(other.get(), b, false).accepted(), 1u);
  EXPECT_EQ(MetricValue("yiwang_ingest_connection_errors_total{error=\"bad_utf8\"}"), 1);
}

TEST_F(ServerTest, TooManyEventsIsAnErrorAck) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  IngestBatch b;
  b.set_batch_id("huge");
  for (uint64_t s = 1; s <= 10001; ++s) *b.add_events() = Gas("cq-many", s);
  ASSERT_LT(b.ByteSizeLong(), 1u << 20);
  IngestAck ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.error(), "too_many_events");
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_TRUE(Device("cq-many").is_null());
  // 10,000 is the limit, and allowed.
  b.mutable_events()->RemoveLast();
  ack = SendAndAck(c.get(), b, true);
  EXPECT_TRUE(ack.error().empty()) << ack.error();
  EXPECT_EQ(ack.accepted(), 10000u);
  EXPECT_EQ(HealthzEvents(), 10000u);
}

// A client may pipeline frames without waiting: the acks come back strictly in frame order,
// also when a frame answered at once (malformed) follows frames that wait for the disk.
TEST_F(ServerTest, PipelinedFramesAreAckedInOrder) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  constexpr int kFrames = 120;
  for (int f = 0; f < kFrames; ++f) {
    if (f % 10 == 7) {
      ASSERT_TRUE(
          c->SendRaw(f % 20 == 7 ? std::string("\x0f", 1) : std::string("{]"), f % 20 == 7).ok());
      continue;
    }
    IngestBatch b;
    b.set_batch_id("p" + std::to_string(f));
    for (uint64_t s = 1; s <= 20; ++s)
      *b.add_events() = Gas("cq-pipe-" + std::to_string(f % 3), static_cast<uint64_t>(f) * 100 + s);
    ASSERT_TRUE(c->SendBatch(b, f % 2 == 0).ok());
  }
  uint64_t accepted = 0;
  for (int f = 0; f < kFrames; ++f) {
    IngestAck ack;
    ASSERT_TRUE(c->ReadAck(&ack).ok()) << "ack " << f;
    if (f % 10 == 7) {
      EXPECT_EQ(ack.error(), "malformed_frame") << "ack " << f << ": " << ack.ShortDebugString();
    } else {
      EXPECT_EQ(ack.batch_id(), "p" + std::to_string(f));
      EXPECT_EQ(ack.accepted(), 20u) << ack.ShortDebugString();
      accepted += ack.accepted();
    }
  }
  EXPECT_EQ(HealthzEvents(), accepted);
}

// SIGTERM while a client pipelines frames: every frame the server read is acked before the
// close (1001), the server exits 0, and after a restart exactly the accepted events are there.
TEST_F(ServerTest, SigtermStopsGracefully) {
  const std::string token = Provision("gw", "cq-");
  auto c = Connect(token);
  ASSERT_TRUE(c);
  constexpr int kFrames = 40, kPerFrame = 50;
  auto frame = [&](int f) {
    IngestBatch b;
    b.set_batch_id("f" + std::to_string(f));
    for (uint64_t s = 1; s <= kPerFrame; ++s) *b.add_events() = Gas("cq-t-" + std::to_string(f), s);
    return b;
  };
  // Frame 0 makes sure the connection is live; the rest are pipelined right before SIGTERM.
  ASSERT_EQ(SendAndAck(c.get(), frame(0), true).accepted(), static_cast<uint32_t>(kPerFrame));
  for (int f = 1; f < kFrames; ++f) ASSERT_TRUE(c->SendBatch(frame(f), f % 2 == 0).ok());
  process().Signal(SIGTERM);

  std::set<int> accepted = {0}, refused;
  int answered = 1;
  for (;;) {
    IngestAck ack;
    Status s = c->ReadAck(&ack);
    if (!s.ok()) break;
    // Acks come in frame order; a frame that did not decode would carry no batchId.
    const int f = ack.batch_id().empty() ? answered : std::stoi(ack.batch_id().substr(1));
    EXPECT_EQ(f, answered) << "acks in frame order";
    ++answered;
    if (ack.accepted() == static_cast<uint32_t>(kPerFrame)) {
      accepted.insert(f);
    } else {
      // Refused whole (read after the stop began) or event by event (store already stopped).
      EXPECT_EQ(ack.accepted(), 0u);
      EXPECT_TRUE(ack.error() == "shutting_down" ||
                  (ack.rejected_size() == kPerFrame && ack.rejected(0).reason() == "shutting_down"))
          << ack.ShortDebugString();
      refused.insert(f);
    }
  }
  EXPECT_EQ(c->close_code(), kCloseGoingAway);
  client::ExitStatus st = process().Wait();
  EXPECT_TRUE(st.exited && st.code == 0) << st.ToString();
  std::cerr << "[ info ] " << accepted.size() << " frames accepted, " << refused.size()
            << " refused, " << (kFrames - answered) << " never read before the stop\n";

  StartServer({});
  for (int f = 0; f < kFrames; ++f) {
    const std::string dev = "cq-t-" + std::to_string(f);
    boost::json::value d = Device(dev);
    if (accepted.count(f)) {
      ASSERT_FALSE(d.is_null()) << "acked frame " << f << " lost";
      EXPECT_EQ(d.at("eventCount").as_string(), std::to_string(kPerFrame)) << dev;
      EXPECT_EQ(d.at("lastSeq").as_string(), std::to_string(kPerFrame)) << dev;
    } else {
      EXPECT_TRUE(d.is_null()) << "frame " << f << " was not acked as accepted but is stored";
    }
  }
  EXPECT_EQ(HealthzEvents(), accepted.size() * kPerFrame);
}

// A client that never answers the server's close frame must not keep the server from
// stopping. After its 5 s wait RunServe stops the io_context with the session still open; the
// session is destroyed with the io_context, which is why the endpoint is declared before it in
// tools/serve.cc (run under ASan to see a violation of that order).
TEST_F(ServerTest, SigtermWithASilentClientStillExitsCleanly) {
  auto silent = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(silent);
  IngestBatch b;
  *b.add_events() = Gas("cq-s", 1);
  ASSERT_EQ(SendAndAck(silent.get(), b, true).accepted(), 1u);
  // The client now neither reads nor answers the server's close frame.
  process().Signal(SIGTERM);
  client::ExitStatus st = process().Wait(std::chrono::seconds(30));
  EXPECT_TRUE(st.exited && st.code == 0) << st.ToString();
  EXPECT_FALSE(st.timed_out);
}

TEST_F(ServerTest, RestartKeepsDeviceStateEventsAndTokens) {
  const std::string token = Provision("gw", "cq-");
  {
    auto c = Connect(token);
    ASSERT_TRUE(c);
    IngestBatch b;
    for (uint64_t s = 1; s <= 20; ++s) *b.add_events() = Gas("cq-k", s, static_cast<double>(s));
    *b.add_events() = test::HealthEvent("cq-k", 21, 42, now_ - 30);
    ASSERT_EQ(SendAndAck(c.get(), b, true).accepted(), 21u);
    c->Close();
  }
  const std::string device_before = boost::json::serialize(Device("cq-k"));
  const auto seqs_before = StoredSeqs("cq-k");
  ASSERT_EQ(seqs_before.size(), 21u);
  client::ExitStatus st = process().Stop(SIGTERM);
  ASSERT_TRUE(st.exited && st.code == 0) << st.ToString();

  const std::string admin_before = admin_;
  StartServer({});
  EXPECT_EQ(admin_, admin_before) << "the bootstrap token is created on the first start only";
  EXPECT_EQ(boost::json::serialize(Device("cq-k")), device_before);
  EXPECT_EQ(StoredSeqs("cq-k"), seqs_before);
  EXPECT_EQ(HealthzEvents(), 21u);
  auto c = Connect(token);  // the device token is still valid
  ASSERT_TRUE(c);
  IngestBatch b;
  for (uint64_t s = 1; s <= 22; ++s) *b.add_events() = Gas("cq-k", s, static_cast<double>(s));
  b.mutable_events(20)->CopyFrom(test::HealthEvent("cq-k", 21, 42, now_ - 30));
  IngestAck ack = SendAndAck(c.get(), b, true);
  EXPECT_EQ(ack.duplicates(), 21u);
  EXPECT_EQ(ack.accepted(), 1u);
  boost::json::value d = Device("cq-k");
  EXPECT_EQ(d.at("lastSeq").as_string(), "22");
  EXPECT_EQ(d.at("eventCount").as_string(), "22");
  // New events continue the arrival ids after the old ones.
  HttpReply page = HttpGet(port(), "/api/v1/devices/cq-k/events?limit=1", admin_);
  boost::json::value v = boost::json::parse(page.body);
  EXPECT_EQ(v.at("events").as_array()[0].at("arrivalId").as_string(), "22");
  // And the token API still works with the old admin token.
  EXPECT_FALSE(Provision("gw-2", "cq-2").empty());
}

TEST_F(ServerTest, MetricsCountRejectionsByReason) {
  auto c = Connect(Provision("gw", "cq-"));
  ASSERT_TRUE(c);
  IngestBatch b;
  for (uint64_t s = 1; s <= 3; ++s) {
    SensorEvent e = Gas("cq-mt", s);
    e.mutable_location()->set_lat(-95);
    *b.add_events() = e;
  }
  *b.add_events() = Gas("xx-mt", 1);
  *b.add_events() = Gas("cq-mt", 9);
  SendAndAck(c.get(), b, true);
  b.Clear();
  *b.add_events() = Gas("cq-mt", 9, 77);
  SendAndAck(c.get(), b, false);
  EXPECT_EQ(MetricValue("yiwang_ingest_rejected_total{reason=\"lat_out_of_range\"}"), 3);
  EXPECT_EQ(MetricValue("yiwang_ingest_rejected_total{reason=\"prefix_not_allowed\"}"), 1);
  EXPECT_EQ(MetricValue("yiwang_ingest_rejected_total{reason=\"replay\"}"), 1);
  EXPECT_EQ(MetricValue("yiwang_ingest_rejected_total{reason=\"lon_out_of_range\"}"), 0);
  EXPECT_EQ(MetricValue("yiwang_ingest_events_total{result=\"accepted\"}"), 1);
  EXPECT_EQ(MetricValue("yiwang_ingest_frames_total{encoding=\"protobuf\"}"), 1);
  EXPECT_EQ(MetricValue("yiwang_ingest_frames_total{encoding=\"json\"}"), 1);
  EXPECT_GE(MetricValue("yiwang_store_fsyncs_total"), 1);
}

// --config overrides limits; a bad config makes serve exit non-zero before listening.
class ConfigTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return server_.Config(
        R"({"ingest":{"maxEventsPerBatch":5,"maxConnections":2,"maxFrameBytes":4096,)"
        R"("idleTimeoutSeconds":2}})");
  }
};

TEST_F(ConfigTest, OverridesLimits) {
  const std::string token = Provision("gw", "cq-");
  auto c = Connect(token);
  ASSERT_TRUE(c);
  IngestBatch b;
  for (uint64_t s = 1; s <= 6; ++s) *b.add_events() = Gas("cq-cfg", s);
  EXPECT_EQ(SendAndAck(c.get(), b, true).error(), "too_many_events");
  b.mutable_events()->RemoveLast();
  IngestAck ack = SendAndAck(c.get(), b, false);
  EXPECT_TRUE(ack.error().empty()) << ack.error();
  EXPECT_EQ(ack.accepted(), 5u);
  // maxConnections 2: the third sensor connection is refused with 503.
  auto second = Connect(token);
  ASSERT_TRUE(second);
  WsClient third;
  EXPECT_FALSE(third.Connect("127.0.0.1", port(), "/ws/sensors", token).ok());
  EXPECT_EQ(third.http_status(), 503);
  EXPECT_NE(third.http_body().find("too_many_connections"), std::string::npos) << third.http_body();
  // maxFrameBytes 4096: a bigger frame closes that connection with 1009.
  ASSERT_TRUE(second->SendRaw(std::string(5000, '\x0a'), true).ok());
  std::string raw;
  bool binary;
  EXPECT_FALSE(second->ReadRaw(&raw, &binary).ok());
  EXPECT_EQ(second->close_code(), kCloseTooBig);
}

// idleTimeoutSeconds 2: a peer that upgraded and then went dead (answers nothing, not even the
// server's pings) is closed after about 2 s, while a live client (its WsClient answers pings)
// on the same server stays connected over the same time.
TEST_F(ConfigTest, IdleTimeoutClosesADeadPeerOnly) {
  const std::string token = Provision("gw", "cq-");
  auto live = Connect(token);
  ASSERT_TRUE(live);

  // The dead peer: a raw TCP socket that does the upgrade handshake and then only listens.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};  // a receive can wait 10 s at most: the test fails rather than hangs
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string upgrade =
      "GET /ws/sensors HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " +
      token + "\r\n\r\n";
  ASSERT_EQ(::send(fd, upgrade.data(), upgrade.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(upgrade.size()));
  // The dead peer listens on its own thread; meanwhile this thread keeps the live client's
  // connection serviced (a blocking WsClient answers the server's pings only inside its calls).
  std::atomic<bool> dead_done{false};
  std::string received;
  bool eof = false;
  double secs = 0;
  std::thread dead([&] {
    const auto t0 = std::chrono::steady_clock::now();
    char buf[512];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        eof = n == 0 || errno == ECONNRESET;
        break;
      }
      received.append(buf, static_cast<size_t>(n));
    }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    dead_done = true;
  });
  std::string frame;
  bool binary = false;
  while (!dead_done) (void)live->PollRaw(&frame, &binary, std::chrono::milliseconds(100));
  dead.join();
  ::close(fd);
  EXPECT_EQ(received.rfind("HTTP/1.1 101", 0), 0u) << received.substr(0, 80);
  EXPECT_TRUE(eof) << "the server did not close the dead peer within 10 s";
  EXPECT_GE(secs, 1.5) << "closed too early: the idle timeout is 2 s";

  // The live client was connected throughout and still works.
  IngestBatch b;
  *b.add_events() = Gas("cq-idle", 1);
  EXPECT_EQ(SendAndAck(live.get(), b, true).accepted(), 1u);
}

TEST(ServeConfigTest, InvalidConfigExitsNonZero) {
  test::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"unknown field", R"({"ingest":{"maxEventsPerBatchTypo":5}})"},
      {"not json", "ingest: 5"},
      {"wrong type", R"({"ingest":{"maxEventsPerBatch":"many"}})"},
      {"negative", R"({"ingest":{"maxEventsPerBatch":-5}})"},
      {"unknown section", R"({"dispatcher":{}})"},
  };
  int n = 0;
  for (const auto& [what, content] : configs) {
    const std::string cfg = dir.Sub("c" + std::to_string(++n) + ".json");
    std::ofstream(cfg) << content;
    const std::string ready = dir.Sub("ready" + std::to_string(n));
    std::string output;
    client::ExitStatus st = client::RunToExit(test::ServerBinary(),
                                          {"serve", "--data-dir", dir.Sub("data"), "--listen",
                                           "127.0.0.1:0", "--ready-file", ready, "--config", cfg},
                                          std::chrono::seconds(20), &output);
    EXPECT_TRUE(st.exited && st.code != 0) << what << ": " << st.ToString() << "\n" << output;
    EXPECT_FALSE(std::filesystem::exists(ready)) << what;
  }
  std::string output;
  client::ExitStatus st = client::RunToExit(test::ServerBinary(),
                                        {"serve", "--data-dir", dir.Sub("data"), "--listen",
                                         "127.0.0.1:0", "--config", dir.Sub("missing.json")},
                                        std::chrono::seconds(20), &output);
  EXPECT_TRUE(st.exited && st.code != 0) << "missing file: " << st.ToString() << "\n" << output;
  st = client::RunToExit(test::ServerBinary(),
                       {"serve", "--data-dir", dir.Sub("data"), "--listen", "nonsense"},
                       std::chrono::seconds(20), &output);
  EXPECT_TRUE(st.exited && st.code != 0) << "bad --listen: " << st.ToString() << "\n" << output;
}

}  // namespace
}  // namespace yiwang
