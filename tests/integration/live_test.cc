// Integration: the operators' live feed /ws/live through the real `yiwang serve`: who may
// connect (credentials, same Origin), the hello, a case change arriving without polling, and
// that a sensor alarm is pushed as an alarm and as its case, and that a connection ends when
// its credentials do.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <atomic>
#include <chrono>
#include <thread>
#include <string>

#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"
#include "tools/client/ws_client.h"

namespace yiwang {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class LiveFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const Status s = server_.Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    admin_ = server_.admin();
  }
  uint16_t port() const { return server_.port(); }

  // Reads live messages until one of `type` satisfying `match` arrives (ticks and others are
  // skipped); null on timeout.
  json::value WaitFor(client::WsClient& c, const std::string& type,
                      const std::function<bool(const json::object&)>& match = {}) {
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      std::string data;
      bool binary = true;
      Status s = c.PollRaw(&data, &binary, std::chrono::milliseconds(200));
      if (s.code() == Status::Code::kBusy) continue;
      if (!s.ok()) {
        ADD_FAILURE() << "live feed read: " << s.ToString();
        return nullptr;
      }
      EXPECT_FALSE(binary) << "the live feed sends text frames";
      json::value v = json::parse(data);
      const json::object& o = v.as_object();
      if (o.at("type").as_string() == type && (!match || match(o))) return v;
    }
    ADD_FAILURE() << "no live message of type " << type;
    return nullptr;
  }

  test::TestServer server_;
  std::string admin_;
};

TEST_F(LiveFeedTest, OnlyOperatorsOfThisOriginMayListen) {
  client::WsClient anonymous;
  EXPECT_EQ(anonymous.Connect("127.0.0.1", port(), "/ws/live", "").code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(anonymous.http_status(), 401);

  const std::string device = server_.DeviceToken("gw", "live-");
  client::WsClient gateway;
  EXPECT_FALSE(gateway.Connect("127.0.0.1", port(), "/ws/live", device).ok());
  EXPECT_EQ(gateway.http_status(), 403);

  // A page of another site riding an operator's credentials: refused before the upgrade.
  const std::string host = "127.0.0.1:" + std::to_string(port());
  test::HeaderList upgrade = {{"Host", host},
                              {"Upgrade", "websocket"},
                              {"Connection", "Upgrade"},
                              {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                              {"Sec-WebSocket-Version", "13"},
                              {"Authorization", "Bearer " + admin_}};
  test::HeaderList evil = upgrade;
  evil.push_back({"Origin", "http://evil.example"});
  test::HttpReply r = test::Http(port(), "GET", "/ws/live", evil);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("bad_origin"), std::string::npos) << r.body;
  // The same Origin passes that check (here to the credentials check: no token -> 401).
  test::HeaderList same = upgrade;
  same.pop_back();  // no Authorization
  same.push_back({"Origin", "http://" + host});
  r = test::Http(port(), "GET", "/ws/live", same);
  EXPECT_EQ(r.status, 401) << r.body << r.error;
}

TEST_F(LiveFeedTest, CaseChangesAndAlarmsArriveWithoutPolling) {
  client::WsClient live;
  ASSERT_TRUE(live.Connect("127.0.0.1", port(), "/ws/live", admin_).ok());
  json::value hello = WaitFor(live, "hello");
  ASSERT_FALSE(hello.is_null());
  EXPECT_EQ(hello.at("user").at("role").as_string(), "admin");

  // A case filed through the API is pushed with its summary and journal entry.
  test::HttpReply filed = test::HttpPost(
      port(), "/api/v1/cases", admin_,
      R"({"category":"event:0111","description":"积水","district":"500103","source":"hotline"})");
  ASSERT_EQ(filed.status, 201) << filed.body;
  const std::string id(json::parse(filed.body).at("case").at("id").as_string());
  json::value msg = WaitFor(live, "case", [&](const json::object& o) {
    return o.at("case").at("id").as_string() == id;
  });
  ASSERT_FALSE(msg.is_null());
  EXPECT_EQ(msg.at("entry").at("action").as_string(), "CASE_ACTION_CREATE");
  EXPECT_EQ(msg.at("case").at("state").as_string(), "CASE_STATE_PENDING_ACCEPT");

  // A manhole cover tilted 40 deg: the alarm and its case (auto-dispatched) are pushed.
  const std::string device = server_.DeviceToken("gw", "live-");
  client::WsClient gw;
  ASSERT_TRUE(gw.Connect("127.0.0.1", port(), "/ws/sensors", device).ok());
  yiwang::v1::IngestBatch batch;
  *batch.add_events() =
      test::ManholeEvent("live-cover-5001030102000007", 1, 40, test::WallSeconds() - 1);
  ASSERT_TRUE(gw.SendBatch(batch, true).ok());
  yiwang::v1::IngestAck ack;
  ASSERT_TRUE(gw.ReadAck(&ack).ok());
  ASSERT_EQ(ack.accepted(), 1u);
  msg = WaitFor(live, "alarm");
  ASSERT_FALSE(msg.is_null());
  EXPECT_EQ(msg.at("alarm").at("kind").as_string(), "ALARM_SIGNAL_KIND_RAISE");
  EXPECT_EQ(msg.at("alarm").at("category").as_string(), "0102");  // 污水井盖, from the code
  msg = WaitFor(live, "case", [](const json::object& o) {
    return o.at("entry").at("action").as_string() == "CASE_ACTION_TRANSFER";
  });
  ASSERT_FALSE(msg.is_null());
  EXPECT_EQ(msg.at("case").at("department").as_string(), "cq-drainage");
  // Ticks report the ingest rate.
  ASSERT_FALSE(WaitFor(live, "tick").is_null());
}

// The credentials of a live connection are checked again every second: signing out, revoking
// the token, disabling the user or changing their districts ends that user's connection
// (1008) within a few seconds, while other operators' connections go on.
TEST_F(LiveFeedTest, EndsWhenItsCredentialsDo) {
  auto admin_call = [&](const std::string& method, const std::string& target,
                        const std::string& body) {
    test::HttpReply r = test::Http(port(), method, target,
                                   {{"Authorization", "Bearer " + admin_},
                                    {"Content-Type", "application/json"}},
                                   body);
    EXPECT_LT(r.status, 300) << method << " " << target << ": " << r.body;
    return r;
  };
  auto make_user = [&](const std::string& name) {
    admin_call("POST", "/api/v1/admin/users",
               R"({"username":")" + name +
                   R"(","password":"correct horse battery","role":"dispatcher","districts":["500103"]})");
    test::HttpReply t = admin_call("POST", "/api/v1/admin/users/" + name + "/tokens", "{}");
    return json::parse(t.body).as_object();
  };
  // Reads until the server closes; the close code, or 0 if it did not within 10 s.
  auto closed_with = [](client::WsClient& c) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      std::string data;
      bool binary = false;
      Status s = c.PollRaw(&data, &binary, std::chrono::milliseconds(200));
      if (!s.ok() && s.code() != Status::Code::kBusy) return c.close_code();
    }
    return 0;
  };
  auto connect = [&](client::WsClient& c, const std::string& token) {
    ASSERT_TRUE(c.Connect("127.0.0.1", port(), "/ws/live", token).ok()) << c.http_body();
    ASSERT_FALSE(WaitFor(c, "hello").is_null());
  };

  const json::object revoked = make_user("live-revoked"), disabled = make_user("live-disabled"),
                     moved = make_user("live-moved");
  make_user("live-signed-in");
  test::HttpReply signed_in = test::Http(
      port(), "POST", "/api/v1/session", {{"Content-Type", "application/json"}},
      R"({"username":"live-signed-in","password":"correct horse battery"})");
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  const std::string set_cookie = signed_in.Header("set-cookie");
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string csrf(json::parse(signed_in.body).at("csrfToken").as_string());

  client::WsClient by_revoked, by_disabled, by_moved, by_session, bystander;
  connect(by_revoked, std::string(revoked.at("token").as_string()));
  connect(by_disabled, std::string(disabled.at("token").as_string()));
  connect(by_moved, std::string(moved.at("token").as_string()));
  by_session.set_cookie(cookie);
  connect(by_session, "");
  connect(bystander, admin_);

  admin_call("DELETE",
             "/api/v1/admin/users/live-revoked/tokens/" +
                 std::string(revoked.at("id").as_string()),
             "");
  admin_call("PATCH", "/api/v1/admin/users/live-disabled", R"({"disabled":true})");
  admin_call("PATCH", "/api/v1/admin/users/live-moved", R"({"districts":["500105"]})");
  test::HttpReply out = test::Http(port(), "DELETE", "/api/v1/session",
                                   {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
  ASSERT_EQ(out.status, 204) << out.body;

  EXPECT_EQ(closed_with(by_revoked), 1008) << "token revoked";
  EXPECT_EQ(closed_with(by_disabled), 1008) << "user disabled";
  EXPECT_EQ(closed_with(by_moved), 1008) << "districts changed";
  EXPECT_EQ(closed_with(by_session), 1008) << "signed out";
  // The admin's connection is untouched: it still gets its ticks.
  ASSERT_FALSE(WaitFor(bystander, "tick").is_null());
  EXPECT_EQ(server_.Metric("yiwang_live_credentials_ended_total"), 4);
  // And the page's reconnect is refused.
  client::WsClient again;
  again.set_cookie(cookie);
  EXPECT_FALSE(again.Connect("127.0.0.1", port(), "/ws/live", "").ok());
  EXPECT_EQ(again.http_status(), 401);
}

// A subscriber that stops reading is told to resync and dropped once its queue is full (so the
// backlog stops growing there); a subscriber that reads gets every message, bursts included.
TEST(LiveFeedSlowClientTest, AStalledSubscriberIsDroppedOthersKeepUp) {
  test::TestServer server;
  const Status started = server.Start(server.Config(R"({"http":{"liveMaxQueuedBytes":1048576}})"));
  ASSERT_TRUE(started.ok()) << started.ToString();
  const std::string admin = server.admin();

  client::WsClient stalled, reader;
  ASSERT_TRUE(stalled.Connect("127.0.0.1", server.port(), "/ws/live", admin).ok());
  ASSERT_TRUE(reader.Connect("127.0.0.1", server.port(), "/ws/live", admin).ok());
  // The reader reads all along, on its own thread.
  std::atomic<bool> stop{false};
  std::atomic<int> transfers{0};
  std::atomic<bool> reader_dropped{false}, reader_resynced{false};
  std::thread reading([&] {
    std::string data;
    bool binary = false;
    while (!stop) {
      Status s = reader.PollRaw(&data, &binary, std::chrono::milliseconds(100));
      if (s.code() == Status::Code::kBusy) continue;
      if (!s.ok()) {
        reader_dropped = true;
        return;
      }
      if (data.find("\"type\":\"resync\"") != std::string::npos) reader_resynced = true;
      if (data.find("CASE_ACTION_TRANSFER") != std::string::npos) ++transfers;
    }
  });

  // 40 frames of 200 tilted covers: each raises an alarm that files, accepts and transfers a
  // case: 4 live messages (~3 KiB) per event, ~0.6 MiB per frame (under the 1 MiB queue: a
  // reading client absorbs each burst), ~24 MiB in all (far beyond the socket buffers and the
  // stalled client's 1 MiB).
  const std::string device = server.DeviceToken("gw", "slow-");
  client::WsClient gw;
  ASSERT_TRUE(gw.Connect("127.0.0.1", server.port(), "/ws/sensors", device).ok());
  const int64_t now = test::WallSeconds();
  int cases_expected = 0;
  for (int f = 0; f < 40; ++f) {
    yiwang::v1::IngestBatch batch;
    for (int i = 0; i < 200; ++i) {
      *batch.add_events() = test::ManholeEvent(
          "slow-cover-50010301020" + std::to_string(10000 + f * 200 + i), 1, 40, now - 1);
      ++cases_expected;
    }
    ASSERT_TRUE(gw.SendBatch(batch, true).ok());
    yiwang::v1::IngestAck ack;
    ASSERT_TRUE(gw.ReadAck(&ack).ok());
    ASSERT_EQ(ack.accepted(), 200u);
    // One burst at a time: wait until the reader has this frame's cases.
    const auto until = Clock::now() + std::chrono::seconds(30);
    while (transfers < cases_expected && !reader_dropped && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The reader sees every case transferred.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (transfers < cases_expected && !reader_dropped && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  reading.join();
  EXPECT_FALSE(reader_dropped);
  EXPECT_FALSE(reader_resynced);
  EXPECT_EQ(transfers.load(), cases_expected);

  EXPECT_EQ(server.Metric("yiwang_live_dropped_clients_total"), 1);
  std::string data;
  bool binary = false;

  // The stalled client: its buffered messages end with a resync, then the connection closes.
  bool resync = false;
  for (;;) {
    Status s = stalled.ReadRaw(&data, &binary);
    if (!s.ok()) break;
    if (data.find("\"type\":\"resync\"") != std::string::npos) resync = true;
  }
  EXPECT_TRUE(resync) << "the dropped client is told to resync";
}


// The live feed takes at most http.liveMaxConnections clients; one more is refused with 503
// before the upgrade, and a slot freed by a client that left is taken again.
TEST(LiveFeedLimitTest, ConnectionsBeyondTheCapAreRefused) {
  test::TestServer server;
  const Status started = server.Start(server.Config(R"({"http":{"liveMaxConnections":2}})"));
  ASSERT_TRUE(started.ok()) << started.ToString();
  const std::string admin = server.admin();
  auto a = std::make_unique<client::WsClient>();
  client::WsClient b, c;
  ASSERT_TRUE(a->Connect("127.0.0.1", server.port(), "/ws/live", admin).ok());
  ASSERT_TRUE(b.Connect("127.0.0.1", server.port(), "/ws/live", admin).ok());
  EXPECT_EQ(c.Connect("127.0.0.1", server.port(), "/ws/live", admin).code(),
            Status::Code::kUnavailable);
  EXPECT_EQ(c.http_status(), 503);
  EXPECT_NE(c.http_body().find("too_many_connections"), std::string::npos) << c.http_body();
  // One leaves: its slot is free again once the server has seen it go.
  a.reset();
  bool admitted = false;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!admitted && Clock::now() < deadline) {
    client::WsClient d;
    admitted = d.Connect("127.0.0.1", server.port(), "/ws/live", admin).ok();
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(admitted);
}

}  // namespace
}  // namespace yiwang
