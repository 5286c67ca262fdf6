// Finding 4 of issue 19, probed from outside as the black-box probe did: the real `yiwang serve`
// (tests/support/test_server.h), its admin API over HTTP, sensors over WebSocket.
//  - revoking a device token closes the connection open with it within a second, and the
//    token is refused from then on; rotating refuses the old secret and takes the new one;
//  - a token scoped to a district cannot send events of a device naming another district
//    (a token for cq-jb- filed a case in 渝中区 by naming cq-jb-septic-500103-0099);
//  - one frame of never-seen ids is bounded per token and hour, and ids sent once raise no
//    sys:device_offline cases (50 of them did, three minutes later), while devices the
//    configuration binds still do.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"
#include "tools/client/ws_client.h"

namespace yiwang {
namespace {

using client::WsClient;
using test::Http;
using test::HttpGet;
using test::HttpPost;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;
using Clock = std::chrono::steady_clock;

constexpr int kClosePolicyViolation = 1008;
constexpr char kBase[] = "/api/v1/admin/device-tokens";

class Finding4_DeviceTokensFromOutside : public ::testing::Test {
 protected:
  void Start(const std::string& config_json = {}) {
    const Status s =
        config_json.empty() ? server_.Start() : server_.Start(server_.Config(config_json));
    ASSERT_TRUE(s.ok()) << s.ToString();
    now_ = test::WallSeconds();
  }

  std::unique_ptr<WsClient> Connect(const std::string& token, int* http_status = nullptr) {
    auto c = std::make_unique<WsClient>();
    c->set_read_timeout(std::chrono::seconds(10));
    const Status s = c->Connect("127.0.0.1", server_.port(), "/ws/sensors", token);
    if (http_status) *http_status = s.ok() ? 101 : c->http_status();
    return s.ok() ? std::move(c) : nullptr;
  }

  IngestAck Send(WsClient* c, const IngestBatch& b) {
    IngestAck ack;
    Status s = c->SendBatch(b, true);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = c->ReadAck(&ack);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return ack;
  }

  IngestBatch Batch(const std::vector<std::string>& devices, uint64_t seq = 1) {
    IngestBatch b;
    for (const auto& d : devices) *b.add_events() = test::GasEvent(d, seq, 5, now_ - 10);
    return b;
  }

  // Waits for the server to close `c`: the time it took, or a failure after 5 s.
  std::chrono::milliseconds WaitClosed(WsClient* c) {
    const auto t0 = Clock::now();
    std::string data;
    bool binary = false;
    while (Clock::now() - t0 < std::chrono::seconds(5)) {
      const Status s = c->PollRaw(&data, &binary, std::chrono::milliseconds(50));
      if (!s.ok() && s.code() != Status::Code::kBusy) break;
    }
    EXPECT_FALSE(c->connected());
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  }

  // Cases of `category` the server has filed.
  int64_t Cases(const std::string& category) {
    const test::HttpReply r =
        HttpGet(server_.port(), "/api/v1/cases?category=" + category, server_.admin());
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return -1;
    return boost::json::parse(r.body).at("total").to_number<int64_t>();
  }

  test::TestServer server_;
  int64_t now_ = 0;
};

TEST_F(Finding4_DeviceTokensFromOutside, RevokeClosesTheOpenConnectionWithinASecond) {
  Start();
  std::string id;
  const std::string token = server_.DeviceToken("gw-revoke", "rv-", {}, &id);
  ASSERT_FALSE(id.empty()) << "POST /api/v1/admin/device-tokens gives no id";
  auto c = Connect(token);
  ASSERT_TRUE(c);
  EXPECT_EQ(Send(c.get(), Batch({"rv-1"})).accepted(), 1u);

  const test::HttpReply list = HttpGet(server_.port(), kBase, server_.admin());
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find("\"gw-revoke\""), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find(token.substr(4)), std::string::npos) << "the list shows a secret";

  const auto t0 = Clock::now();
  const test::HttpReply del =
      Http(server_.port(), "DELETE", std::string(kBase) + "/" + id,
           {{"Authorization", "Bearer " + server_.admin()}});
  EXPECT_EQ(del.status, 204) << del.body;
  WaitClosed(c.get());
  const auto closed_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  EXPECT_LE(closed_after.count(), 1000) << "the revoked token's connection stayed open";
  EXPECT_EQ(c->close_code(), kClosePolicyViolation);
  int status = 0;
  EXPECT_FALSE(Connect(token, &status));
  EXPECT_EQ(status, 401);
  EXPECT_EQ(server_.Metric("yiwang_ingest_revoked_connections_total"), 1);
}

TEST_F(Finding4_DeviceTokensFromOutside, RotateRefusesTheOldSecretAndTakesTheNew) {
  Start();
  std::string id;
  const std::string old_token = server_.DeviceToken("gw-rotate", "rt-", {}, &id);
  ASSERT_FALSE(id.empty());
  auto c = Connect(old_token);
  ASSERT_TRUE(c);
  const test::HttpReply r =
      HttpPost(server_.port(), std::string(kBase) + "/" + id + "/rotate", server_.admin(), "");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string fresh(boost::json::parse(r.body).at("token").as_string());
  EXPECT_LE(WaitClosed(c.get()).count(), 1000);
  int status = 0;
  EXPECT_FALSE(Connect(old_token, &status));
  EXPECT_EQ(status, 401);
  auto c2 = Connect(fresh);
  ASSERT_TRUE(c2);
  EXPECT_EQ(Send(c2.get(), Batch({"rt-1"})).accepted(), 1u);
  // Names are unique.
  const test::HttpReply dup = HttpPost(server_.port(), kBase, server_.admin(),
                                       R"({"name":"gw-rotate","devicePrefix":"x-"})");
  EXPECT_EQ(dup.status, 409) << dup.body;
}

TEST_F(Finding4_DeviceTokensFromOutside, AScopedTokenCannotNameAnotherDistrict) {
  Start();
  const std::string token = server_.DeviceToken("jiangbei", "cq-jb-", {"500105"});
  ASSERT_FALSE(token.empty());
  auto c = Connect(token);
  ASSERT_TRUE(c);
  // 渝中区 (500103) by name; then a device of 江北区 itself; both at 观音桥 (江北区).
  IngestBatch b = Batch({"cq-jb-septic-500103-0099", "cq-jb-septic-500105-0001"});
  for (auto& e : *b.mutable_events()) {
    e.mutable_location()->set_lat(29.5790);
    e.mutable_location()->set_lon(106.5330);
  }
  const IngestAck ack = Send(c.get(), b);
  EXPECT_EQ(ack.accepted(), 1u);
  ASSERT_EQ(ack.rejected_size(), 1);
  EXPECT_EQ(ack.rejected(0).index(), 0u);
  EXPECT_EQ(ack.rejected(0).reason(), "district_not_allowed");
  EXPECT_EQ(ack.rejected(0).detail(), "deviceId");
  EXPECT_EQ(server_.Metric("yiwang_ingest_rejected_total{reason=\"district_not_allowed\"}"), 1);
  EXPECT_EQ(HttpGet(server_.port(), "/api/v1/devices/cq-jb-septic-500103-0099", server_.admin())
                .status,
            404);
}

TEST_F(Finding4_DeviceTokensFromOutside, NewIdsAreBoundedAndIdsSentOnceRaiseNoOfflineCase) {
  // Septic tanks report every second (offline after 3 s of silence); devices "off-bound-" are
  // bound by the configuration; at most 60 new ids per token and hour.
  Start(R"({"ingest":{"maxNewDevicesPerHour":60},
            "dispatch":{"sensorKinds":[
              {"kind":"SENSOR_KIND_SEPTIC_TANK_GAS","defaultCategory":"0302","reportingIntervalSeconds":1},
              {"kind":"SENSOR_KIND_MANHOLE_COVER","defaultCategory":"0114","reportingIntervalSeconds":300},
              {"kind":"SENSOR_KIND_ANCIENT_TREE","defaultCategory":"0401","reportingIntervalSeconds":600,"baselineSamples":3},
              {"kind":"SENSOR_KIND_DEVICE_HEALTH","reportingIntervalSeconds":3600}],
             "devices":[{"devicePrefix":"off-bound-"}]}})");
  const std::string token = server_.DeviceToken("gw-offline", "off-");
  auto c = Connect(token);
  ASSERT_TRUE(c);
  std::vector<std::string> fake, bound;
  for (int i = 0; i < 50; ++i) fake.push_back("off-septic-500105-" + std::to_string(1000 + i));
  for (int i = 0; i < 20; ++i) bound.push_back("off-bound-500105-" + std::to_string(1000 + i));
  EXPECT_EQ(Send(c.get(), Batch(fake)).accepted(), 50u);
  // Ten of these fit in the hour's budget; the other ten are refused, clearly.
  const IngestAck ack = Send(c.get(), Batch(bound));
  EXPECT_EQ(ack.accepted(), 10u);
  ASSERT_EQ(ack.rejected_size(), 10);
  for (const auto& r : ack.rejected()) EXPECT_EQ(r.reason(), "too_many_new_devices");
  EXPECT_EQ(server_.Metric("yiwang_ingest_rejected_total{reason=\"too_many_new_devices\"}"), 10);
  // A device already known is not new: its next reading passes.
  EXPECT_EQ(Send(c.get(), Batch({fake[0]}, 2)).accepted(), 1u);

  // Well past 3 x 1 s of silence: the ten bound devices are offline cases, the fifty ids
  // sent once (once and twice) are not.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Cases("sys:device_offline") < 10 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Cases("sys:device_offline"), 10);
}

}  // namespace
}  // namespace yiwang
