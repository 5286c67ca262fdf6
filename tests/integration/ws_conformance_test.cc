// WebSocket conformance of the real `yiwang serve` (port 0), after the case families of the
// Autobahn testsuite (which cannot run here): 1 framing, 2 ping/pong, 3 reserved bits,
// 4 reserved opcodes, 5 fragmentation, 6 UTF-8, 7 close handling, 9 size limits, 12/13
// compression (not negotiated), plus unmasked client frames.
//
// The client is tests/support/raw_ws.h: frames built by hand on a plain socket, so it can send
// what a client library refuses to. Every case asserts the exact observable result (the reply,
// the echoed close code, the TCP close) and that a bystander connection on the same server is
// still served afterwards. One server serves the whole suite: each case has its own connections.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/events.h"
#include "tests/support/http_client.h"
#include "tests/support/raw_ws.h"
#include "tests/support/test_server.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang {
namespace {

using test::FrameSpec;
using test::kOpBinary;
using test::kOpClose;
using test::kOpContinuation;
using test::kOpPing;
using test::kOpPong;
using test::kOpText;
using test::RawWs;
using test::WsFrame;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;

constexpr int kCloseNormal = 1000;
constexpr int kCloseProtocolError = 1002;
constexpr int kCloseInvalidPayload = 1007;
constexpr int kCloseTooBig = 1009;
constexpr size_t kSensorMaxFrame = 1u << 20;  // ingest::kDefaultMaxFrameBytes
constexpr size_t kLiveMaxMessage = 4096;      // the live feed's client message limit

// A binary frame payload of exactly `n` bytes (n == 0 or n >= 2) that is a valid IngestBatch
// whose batchId is filler: the ack echoes the batchId, so it proves the whole payload arrived.
std::string BinaryBatchOfSize(size_t n, std::string* batch_id) {
  IngestBatch b;
  if (n == 0) {
    batch_id->clear();
    return {};
  }
  for (size_t len = n - 1; len > 0; --len) {
    b.set_batch_id(std::string(len, 'b'));
    if (b.ByteSizeLong() == n) {
      *batch_id = b.batch_id();
      return b.SerializeAsString();
    }
  }
  ADD_FAILURE() << "no batch of " << n << " bytes";
  return {};
}

// A text frame payload of exactly `n` bytes (n >= 14): {"batchId":"ttt..."}.
std::string TextBatchOfSize(size_t n, std::string* batch_id) {
  *batch_id = std::string(n - 14, 't');
  return R"({"batchId":")" + *batch_id + R"("})";
}

class WsConformanceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::TestServer();
    const Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    admin_ = new std::string(server_->admin());
    device_ = new std::string(server_->DeviceToken("conf", "cf-"));
    ASSERT_FALSE(device_->empty());
  }
  static void TearDownTestSuite() {
    delete device_;
    delete admin_;
    delete server_;  // SIGKILLs the server
  }

  void SetUp() override {
    ASSERT_TRUE(server_ && server_->process().running());
    bystander_ = Open();
    ASSERT_TRUE(bystander_);
    ExpectBystanderServed();
  }
  void TearDown() override {
    if (!HasFailure()) ExpectBystanderServed();  // every case leaves the server serving others
    if (HasFailure()) server_->PrintLog();
  }

  static uint16_t port() { return server_->port(); }

  // A connection to /ws/sensors, upgraded.
  std::unique_ptr<RawWs> Open(const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    auto c = std::make_unique<RawWs>();
    auto headers = extra;
    headers.emplace_back("Authorization", "Bearer " + *device_);
    EXPECT_TRUE(c->Connect(port(), "/ws/sensors", headers)) << c->error();
    return c;
  }

  // The next frame must be an ack in the given encoding; returns it decoded.
  IngestAck ReadAck(RawWs& c, bool binary) {
    IngestAck ack;
    WsFrame f;
    if (!c.Read(&f, std::chrono::seconds(20))) {
      ADD_FAILURE() << "no ack: " << c.error();
      return ack;
    }
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.rsv, 0);
    EXPECT_FALSE(f.masked) << "server frames are never masked";
    EXPECT_EQ(f.opcode, binary ? kOpBinary : kOpText) << "the ack comes in the frame's encoding";
    if (f.opcode == kOpBinary) {
      EXPECT_TRUE(ack.ParseFromString(f.payload));
    } else if (f.opcode == kOpText) {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(f.payload, &ack).ok()) << f.payload;
    }
    return ack;
  }

  // The next frame must be a pong with `payload`.
  void ExpectPong(RawWs& c, const std::string& payload) {
    WsFrame f;
    ASSERT_TRUE(c.Read(&f)) << c.error();
    EXPECT_EQ(f.opcode, kOpPong);
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.payload, payload);
  }

  // The server must answer with a close frame of `code` (nothing else before it) and then
  // close the TCP connection.
  static void ExpectClose(RawWs& c, int code, bool skip_data = false) {
    WsFrame f;
    for (;;) {
      ASSERT_TRUE(c.Read(&f)) << "no close frame: " << c.error();
      if (f.opcode == kOpClose) break;
      ASSERT_TRUE(skip_data && (f.opcode == kOpText || f.opcode == kOpBinary))
          << "expected close " << code << ", got opcode " << int(f.opcode) << " '"
          << f.payload.substr(0, 80) << "'";
    }
    EXPECT_EQ(f.close_code(), code) << "reason '" << f.close_reason() << "'";
    EXPECT_TRUE(c.WaitForEof()) << "the server keeps the TCP connection open after its close";
  }

  // The bystander sends a real event and gets it acked as accepted.
  void ExpectBystanderServed() {
    IngestBatch b;
    *b.add_events() = test::GasEvent("cf-by", ++bystander_seq_, 5, test::WallSeconds() - 60);
    ASSERT_TRUE(bystander_->Send(kOpBinary, b.SerializeAsString())) << bystander_->error();
    IngestAck ack = ReadAck(*bystander_, true);
    EXPECT_EQ(ack.accepted(), 1u) << ack.DebugString();
  }

  static test::TestServer* server_;
  static std::string* admin_;
  static std::string* device_;
  static uint64_t bystander_seq_;
  std::unique_ptr<RawWs> bystander_;
};

test::TestServer* WsConformanceTest::server_ = nullptr;
std::string* WsConformanceTest::admin_ = nullptr;
std::string* WsConformanceTest::device_ = nullptr;
uint64_t WsConformanceTest::bystander_seq_ = 0;

// ---- 1.x framing -------------------------------------------------------------------------

TEST_F(WsConformanceTest, Framing_BinarySizesAreReadWhole) {
  auto c = Open();
  for (size_t n : {size_t{0}, size_t{125}, size_t{126}, size_t{127}, size_t{65535},
                   size_t{65536}, kSensorMaxFrame}) {
    std::string id;
    const std::string payload = BinaryBatchOfSize(n, &id);
    ASSERT_EQ(payload.size(), n);
    ASSERT_TRUE(c->Send(kOpBinary, payload)) << n;
    IngestAck ack = ReadAck(*c, true);
    EXPECT_EQ(ack.batch_id(), id) << n;
    EXPECT_TRUE(ack.error().empty()) << n << ": " << ack.error();
  }
}

TEST_F(WsConformanceTest, Framing_TextSizesAreReadWhole) {
  auto c = Open();
  for (size_t n : {size_t{125}, size_t{126}, size_t{127}, size_t{65535}, size_t{65536},
                   kSensorMaxFrame}) {
    std::string id;
    const std::string payload = TextBatchOfSize(n, &id);
    ASSERT_EQ(payload.size(), n);
    ASSERT_TRUE(c->Send(kOpText, payload)) << n;
    IngestAck ack = ReadAck(*c, false);
    EXPECT_EQ(ack.batch_id(), id) << n;
    EXPECT_TRUE(ack.error().empty()) << n << ": " << ack.error();
  }
  // An empty text frame is a frame (answered with an error ack), not a protocol error.
  ASSERT_TRUE(c->Send(kOpText, ""));
  EXPECT_EQ(ReadAck(*c, false).error(), "malformed_frame");
}

TEST_F(WsConformanceTest, Framing_NonMinimalLengthIsAProtocolError) {
  // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
  for (int length_bytes : {2, 8}) {
    SCOPED_TRACE(std::to_string(length_bytes) + "-byte length of a 40-byte payload");
    auto c = Open();
    std::string id;
    FrameSpec spec;
    spec.length_bytes = length_bytes;
    ASSERT_TRUE(c->Send(kOpBinary, BinaryBatchOfSize(40, &id), spec));
    ExpectClose(*c, kCloseProtocolError);
  }
}

TEST_F(WsConformanceTest, Framing_SixtyFourBitLengthWithTheTopBitSetFailsTheConnection) {
  // RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0. Beast does not check
  // the bit itself; the length is then far over the limit, so the connection fails with 1009.
  auto c = Open();
  std::string h = "\x82\xff";
  h += std::string("\x80\0\0\0\0\0\0\x01", 8);
  h += "abcd";
  ASSERT_TRUE(c->SendBytes(h));
  ExpectClose(*c, kCloseTooBig);
}

// ---- 2.x ping/pong -----------------------------------------------------------------------

TEST_F(WsConformanceTest, Ping_PayloadIsEchoedInThePong) {
  auto c = Open();
  ASSERT_TRUE(c->Send(kOpPing, ""));
  ExpectPong(*c, "");
  ASSERT_TRUE(c->Send(kOpPing, "Hello, 一网"));
  ExpectPong(*c, "Hello, 一网");
  std::string binary(125, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(255 - i);
  ASSERT_TRUE(c->Send(kOpPing, binary));  // the largest control payload
  ExpectPong(*c, binary);
  // Ten pings in a row: ten pongs, in order.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c->Send(kOpPing, "p" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) ExpectPong(*c, "p" + std::to_string(i));
  // A ping after a data frame: the pong may come before or after the ack, both must come.
  std::string id;
  ASSERT_TRUE(c->Send(kOpBinary, BinaryBatchOfSize(30, &id)));
  ASSERT_TRUE(c->Send(kOpPing, "after"));
  bool pong = false, ack = false;
  for (int i = 0; i < 2; ++i) {
    WsFrame f;
    ASSERT_TRUE(c->Read(&f)) << c->error();
    if (f.opcode == kOpPong) {
      EXPECT_EQ(f.payload, "after");
      pong = true;
    } else {
      EXPECT_EQ(f.opcode, kOpBinary);
      IngestAck a;
      ASSERT_TRUE(a.ParseFromString(f.payload));
      EXPECT_EQ(a.batch_id(), id);
      ack = true;
    }
  }
  EXPECT_TRUE(pong && ack);
}

TEST_F(WsConformanceTest, Ping_OverTheControlFrameLimitIsAProtocolError) {
  auto c = Open();
  ASSERT_TRUE(c->Send(kOpPing, std::string(126, 'x')));
  ExpectClose(*c, kCloseProtocolError);
}

TEST_F(WsConformanceTest, Pong_UnsolicitedIsIgnored) {
  auto c = Open();
  ASSERT_TRUE(c->Send(kOpPong, ""));
  ASSERT_TRUE(c->Send(kOpPong, "unsolicited"));
  std::string id;
  ASSERT_TRUE(c->Send(kOpText, TextBatchOfSize(20, &id)));
  EXPECT_EQ(ReadAck(*c, false).batch_id(), id) << "the pongs got no answer, the frame its ack";
}

// ---- 3.x reserved bits, 12/13 compression not negotiated ----------------------------------

TEST_F(WsConformanceTest, ReservedBits_AreAProtocolError) {
  for (uint8_t rsv = 1; rsv <= 7; ++rsv) {
    for (uint8_t opcode : {kOpText, kOpBinary, kOpPing}) {
      SCOPED_TRACE("rsv " + std::to_string(rsv) + " opcode " + std::to_string(opcode));
      auto c = Open();
      std::string id;
      // A good frame first: answered; then the bad one closes the connection.
      ASSERT_TRUE(c->Send(kOpText, TextBatchOfSize(20, &id)));
      EXPECT_EQ(ReadAck(*c, false).batch_id(), id);
      FrameSpec spec;
      spec.rsv = rsv;
      ASSERT_TRUE(c->Send(opcode, opcode == kOpText ? TextBatchOfSize(20, &id) : "x", spec));
      ExpectClose(*c, kCloseProtocolError);
    }
  }
}

TEST_F(WsConformanceTest, Compression_IsNotNegotiatedAndRsv1IsAProtocolError) {
  auto c = Open({{"Sec-WebSocket-Extensions",
                  "permessage-deflate; client_max_window_bits, permessage-deflate"}});
  std::string lower = c->response();
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  EXPECT_EQ(lower.find("sec-websocket-extensions"), std::string::npos)
      << "no extension may be accepted: " << c->response();
  // A "compressed" frame (RSV1) on a connection without the extension.
  FrameSpec spec;
  spec.rsv = 4;
  ASSERT_TRUE(c->Send(kOpBinary, std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7), spec));
  ExpectClose(*c, kCloseProtocolError);
}

// ---- 4.x reserved opcodes ----------------------------------------------------------------

TEST_F(WsConformanceTest, ReservedOpcodes_AreAProtocolError) {
  for (uint8_t opcode : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    SCOPED_TRACE("opcode " + std::to_string(opcode));
    auto c = Open();
    ASSERT_TRUE(c->Send(opcode, opcode < 8 ? std::string(30, 'r') : std::string()));
    ExpectClose(*c, kCloseProtocolError);
  }
}

// ---- 5.x fragmentation -------------------------------------------------------------------

TEST_F(WsConformanceTest, Fragments_AreOneMessage) {
  auto c = Open();
  FrameSpec more;
  more.fin = false;
  // Text in two fragments.
  std::string id;
  std::string text = TextBatchOfSize(100, &id);
  ASSERT_TRUE(c->Send(kOpText, text.substr(0, 40), more));
  ASSERT_TRUE(c->Send(kOpContinuation, text.substr(40)));
  EXPECT_EQ(ReadAck(*c, false).batch_id(), id);
  // Binary, one byte per fragment, with empty fragments at both ends.
  std::string bin = BinaryBatchOfSize(60, &id);
  ASSERT_TRUE(c->Send(kOpBinary, "", more));
  for (char ch : bin) ASSERT_TRUE(c->Send(kOpContinuation, std::string(1, ch), more));
  ASSERT_TRUE(c->Send(kOpContinuation, ""));
  EXPECT_EQ(ReadAck(*c, true).batch_id(), id);
  // A ping between fragments is answered at once; the message still arrives whole.
  text = TextBatchOfSize(80, &id);
  ASSERT_TRUE(c->Send(kOpText, text.substr(0, 30), more));
  ASSERT_TRUE(c->Send(kOpPing, "between"));
  ExpectPong(*c, "between");
  ASSERT_TRUE(c->Send(kOpPong, "unsolicited, between"));
  ASSERT_TRUE(c->Send(kOpContinuation, text.substr(30)));
  EXPECT_EQ(ReadAck(*c, false).batch_id(), id);
}

TEST_F(WsConformanceTest, Fragments_ContinuationWithoutStartIsAProtocolError) {
  for (bool fin : {true, false}) {
    SCOPED_TRACE(fin ? "final continuation" : "non-final continuation");
    auto c = Open();
    FrameSpec spec;
    spec.fin = fin;
    ASSERT_TRUE(c->Send(kOpContinuation, "{}", spec));
    ExpectClose(*c, kCloseProtocolError);
  }
}

TEST_F(WsConformanceTest, Fragments_NewMessageBeforeTheLastFragmentIsAProtocolError) {
  auto c = Open();
  FrameSpec more;
  more.fin = false;
  ASSERT_TRUE(c->Send(kOpText, "{\"batch", more));
  ASSERT_TRUE(c->Send(kOpText, "{}"));
  ExpectClose(*c, kCloseProtocolError);
}

TEST_F(WsConformanceTest, Fragments_FragmentedControlFrameIsAProtocolError) {
  for (uint8_t opcode : {kOpPing, kOpPong, kOpClose}) {
    SCOPED_TRACE("opcode " + std::to_string(opcode));
    auto c = Open();
    FrameSpec more;
    more.fin = false;
    ASSERT_TRUE(c->Send(opcode, opcode == kOpClose ? test::ClosePayload(1000) : "frag", more));
    ExpectClose(*c, kCloseProtocolError);
  }
}

// ---- 6.x UTF-8 ---------------------------------------------------------------------------

TEST_F(WsConformanceTest, Utf8_ValidTextIsAcceptedEvenSplitMidCharacter) {
  auto c = Open();
  const std::string id = "一网统管 𝄞 ü";
  const std::string text = R"({"batchId":")" + id + R"("})";
  ASSERT_TRUE(c->Send(kOpText, text));
  EXPECT_EQ(ReadAck(*c, false).batch_id(), id);
  // Every split point, including inside the 3- and 4-byte sequences.
  FrameSpec more;
  more.fin = false;
  for (size_t cut = 13; cut < 13 + id.size(); ++cut) {
    ASSERT_TRUE(c->Send(kOpText, text.substr(0, cut), more));
    ASSERT_TRUE(c->Send(kOpContinuation, text.substr(cut)));
    EXPECT_EQ(ReadAck(*c, false).batch_id(), id) << "cut at " << cut;
  }
}

TEST_F(WsConformanceTest, Utf8_InvalidTextCloses1007) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"0xff", "\xff"},
      {"overlong '/'", "\xc0\xaf"},
      {"overlong NUL", "\xe0\x80\x80"},
      {"surrogate", "\xed\xa0\x80"},
      {"over U+10FFFF", "\xf4\x90\x80\x80"},
      {"lone continuation", "\x80"},
      {"truncated at the end", "\xe4\xb8"},
  };
  for (const auto& [what, bytes] : bad) {
    SCOPED_TRACE(what);
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpText, "{\"batchId\":\"" + bytes));
    ExpectClose(*c, kCloseInvalidPayload);
  }
}

TEST_F(WsConformanceTest, Utf8_InvalidAcrossFragmentsCloses1007) {
  FrameSpec more;
  more.fin = false;
  {
    // A lead byte at the end of one fragment, a non-continuation at the start of the next.
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpText, "{\"batchId\":\"\xe4", more));
    ASSERT_TRUE(c->Send(kOpContinuation, "(\"}"));
    ExpectClose(*c, kCloseInvalidPayload);
  }
  {
    // Fail fast: the invalid first fragment closes the connection before the message ends.
    auto c = Open();
    // "κόσμε" and then a surrogate (U+D800).
    ASSERT_TRUE(c->Send(
        kOpText, "{\"batchId\":\"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80", more));
    ExpectClose(*c, kCloseInvalidPayload);
  }
  {
    // The last fragment leaves a sequence unfinished.
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpText, "{\"batchId\":\"ok", more));
    ASSERT_TRUE(c->Send(kOpContinuation, "\xf0\x9d\x84"));
    ExpectClose(*c, kCloseInvalidPayload);
  }
}

// ---- 7.x close handling ------------------------------------------------------------------

TEST_F(WsConformanceTest, Close_ValidCodesAreEchoed) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000,
                   4999}) {
    SCOPED_TRACE("code " + std::to_string(code));
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(code, "bye 再见")));
    ExpectClose(*c, code);
  }
}

TEST_F(WsConformanceTest, Close_EmptyCloseIsAnsweredAndNothingAfterItIsRead) {
  auto c = Open();
  ASSERT_TRUE(c->Send(kOpClose, ""));
  // Frames after the close are never read: no ack, no second close.
  std::string id;
  c->Send(kOpText, TextBatchOfSize(20, &id));
  c->Send(kOpClose, test::ClosePayload(3000));
  // A close without a code is answered with 1000 (normal).
  ExpectClose(*c, kCloseNormal);
}

TEST_F(WsConformanceTest, Close_AfterCloseIsIgnored) {
  auto c = Open();
  std::string id;
  ASSERT_TRUE(c->Send(kOpText, TextBatchOfSize(20, &id)));
  EXPECT_EQ(ReadAck(*c, false).batch_id(), id);
  ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(kCloseNormal)));
  c->Send(kOpClose, test::ClosePayload(3000));
  c->Send(kOpPing, "late");
  ExpectClose(*c, kCloseNormal);
}

TEST_F(WsConformanceTest, Close_InvalidCodesAndLengthsAreAProtocolError) {
  for (int code : {0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999}) {
    SCOPED_TRACE("code " + std::to_string(code));
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(code)));
    ExpectClose(*c, kCloseProtocolError);
  }
  {
    SCOPED_TRACE("one-byte payload");
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpClose, std::string(1, '\x03')));
    ExpectClose(*c, kCloseProtocolError);
  }
  {
    SCOPED_TRACE("126-byte payload");
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(kCloseNormal, std::string(124, 'r'))));
    ExpectClose(*c, kCloseProtocolError);
  }
}

// Codes from 5000 up are not defined by RFC 6455 (Autobahn's 7.13.x only report what happens):
// Beast treats them as application codes and echoes them. Pinned here so a change shows.
TEST_F(WsConformanceTest, Close_UndefinedCodesAboveTheRangesAreEchoed) {
  for (int code : {5000, 65535}) {
    SCOPED_TRACE("code " + std::to_string(code));
    auto c = Open();
    ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(code)));
    ExpectClose(*c, code);
  }
}

TEST_F(WsConformanceTest, Close_ReasonOfInvalidUtf8IsRefused) {
  auto c = Open();
  ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(kCloseNormal, "\xce\xba\xed\xa0\x80")));
  ExpectClose(*c, kCloseProtocolError);
}

TEST_F(WsConformanceTest, Close_BetweenFragmentsDropsTheIncompleteMessage) {
  auto c = Open();
  FrameSpec more;
  more.fin = false;
  ASSERT_TRUE(c->Send(kOpText, "{\"batchId\":\"x", more));
  ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(kCloseNormal)));
  ExpectClose(*c, kCloseNormal);  // and no ack before it
}

// ---- 9.x size limits ---------------------------------------------------------------------

TEST_F(WsConformanceTest, Limits_FrameOverTheLimitCloses1009WithoutItsPayload) {
  auto c = Open();
  // Only the header of a frame one byte over the limit: the server refuses on the header and
  // never waits for the payload.
  std::string h = "\x82\xff";
  const uint64_t n = kSensorMaxFrame + 1;
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  h += "abcd";
  ASSERT_TRUE(c->SendBytes(h));
  ExpectClose(*c, kCloseTooBig);
}

TEST_F(WsConformanceTest, Limits_HugeLengthCloses1009) {
  auto c = Open();
  std::string h = "\x82\xff";
  h += std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);  // 2^63 - 1
  h += "abcd";
  ASSERT_TRUE(c->SendBytes(h));
  ExpectClose(*c, kCloseTooBig);
}

TEST_F(WsConformanceTest, Limits_MessageOverTheLimitInFragmentsCloses1009) {
  auto c = Open();
  FrameSpec more;
  more.fin = false;
  const std::string half(kSensorMaxFrame / 2 + 1, 'x');  // each fragment under the limit
  ASSERT_TRUE(c->Send(kOpBinary, half, more));
  c->Send(kOpContinuation, half);  // may fail: the server can close before reading it all
  ExpectClose(*c, kCloseTooBig);
}

// ---- masking -----------------------------------------------------------------------------

TEST_F(WsConformanceTest, Unmasked_ClientFramesAreAProtocolError) {
  for (uint8_t opcode : {kOpText, kOpBinary, kOpPing, kOpClose}) {
    SCOPED_TRACE("opcode " + std::to_string(opcode));
    auto c = Open();
    FrameSpec spec;
    spec.mask = false;
    std::string id;
    ASSERT_TRUE(c->Send(opcode,
                        opcode == kOpText    ? TextBatchOfSize(20, &id)
                        : opcode == kOpClose ? test::ClosePayload(kCloseNormal)
                                             : std::string("x"),
                        spec));
    ExpectClose(*c, kCloseProtocolError);
  }
}

// ---- the operators' live feed: the same protocol checks on /ws/live ------------------------

class LiveConformanceTest : public WsConformanceTest {
 protected:
  std::unique_ptr<RawWs> OpenLive() {
    auto c = std::make_unique<RawWs>();
    EXPECT_TRUE(c->Connect(port(), "/ws/live", {{"Authorization", "Bearer " + *admin_}}))
        << c->error();
    WsFrame hello;
    EXPECT_TRUE(c->Read(&hello)) << c->error();
    EXPECT_NE(hello.payload.find("\"type\":\"hello\""), std::string::npos) << hello.payload;
    return c;
  }
};

TEST_F(LiveConformanceTest, PingIsEchoedAndClientMessagesIgnored) {
  auto c = OpenLive();
  ASSERT_TRUE(c->Send(kOpText, "{\"anything\":1}"));
  ASSERT_TRUE(c->Send(kOpPing, "live"));
  WsFrame f;
  do {
    ASSERT_TRUE(c->Read(&f)) << c->error();
  } while (f.opcode == kOpText);  // ticks may come first
  EXPECT_EQ(f.opcode, kOpPong);
  EXPECT_EQ(f.payload, "live");
  ASSERT_TRUE(c->Send(kOpClose, test::ClosePayload(4000)));
  ExpectClose(*c, 4000, /*skip_data=*/true);
}

TEST_F(LiveConformanceTest, ViolationsCloseWithTheRightCode) {
  FrameSpec more;
  more.fin = false;
  FrameSpec rsv1;
  rsv1.rsv = 4;
  FrameSpec unmasked;
  unmasked.mask = false;
  struct Case {
    std::string what;
    uint8_t opcode;
    std::string payload;
    FrameSpec spec;
    int code;
  };
  const std::vector<Case> cases = {
      {"reserved bit", kOpText, "{}", rsv1, kCloseProtocolError},
      {"reserved opcode", 5, "x", {}, kCloseProtocolError},
      {"continuation without start", kOpContinuation, "x", {}, kCloseProtocolError},
      {"fragmented ping", kOpPing, "x", more, kCloseProtocolError},
      {"ping of 126 bytes", kOpPing, std::string(126, 'p'), {}, kCloseProtocolError},
      {"unmasked", kOpText, "{}", unmasked, kCloseProtocolError},
      {"bad close code", kOpClose, test::ClosePayload(1005), {}, kCloseProtocolError},
      {"invalid UTF-8", kOpText, "\xed\xa0\x80", {}, kCloseInvalidPayload},
      {"message over 4 KiB", kOpText, std::string(kLiveMaxMessage + 1, 'm'), {}, kCloseTooBig},
      {"close 1000", kOpClose, test::ClosePayload(kCloseNormal), {}, kCloseNormal},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.what);
    auto c = OpenLive();
    ASSERT_TRUE(c->Send(k.opcode, k.payload, k.spec));
    ExpectClose(*c, k.code, /*skip_data=*/true);
  }
  // A message of exactly the limit is read (and ignored): the connection stays.
  auto ok = OpenLive();
  ASSERT_TRUE(ok->Send(kOpText, std::string(kLiveMaxMessage, 'm')));
  ASSERT_TRUE(ok->Send(kOpPing, "still here"));
  WsFrame f;
  do {
    ASSERT_TRUE(ok->Read(&f)) << ok->error();
  } while (f.opcode == kOpText);
  EXPECT_EQ(f.opcode, kOpPong);
}

}  // namespace
}  // namespace yiwang
