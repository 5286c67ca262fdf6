// Frame codec: binary (protobuf) and text (canonical JSON) decoding, the per-event JSON
// fallback, frame-level errors, and ack encoding in both forms.

#include "ingest/frame_codec.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/events.h"

namespace yiwang::ingest {
namespace {

using google::protobuf::util::MessageDifferencer;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;

IngestBatch ThreeEvents() {
  IngestBatch b;
  *b.add_events() = test::GasEvent("cq-1", 1, 29.5749);
  *b.add_events() = test::HealthEvent("cq-1", 2, 71.25);
  *b.add_events() = test::ManholeEvent("cq-2", 9, 3.5);
  b.set_batch_id("b-42");
  return b;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

// A valid JSON event as a device would write it by hand.
std::string JsonEvent(const std::string& device, const std::string& seq_json) {
  return R"({"deviceId":")" + device + R"(","seq":)" + seq_json +
         R"(,"observedAt":"2024-04-30T23:59:00Z","location":{"lat":29.563,"lon":106.5516},)"
         R"("septicTankGas":{"ch4PercentLel":5}})";
}

TEST(FrameCodecTest, BinaryRoundTrip) {
  const IngestBatch b = ThreeEvents();
  DecodedFrame f = DecodeFrame(b.SerializeAsString(), /*binary=*/true, IngestLimits{});
  EXPECT_TRUE(f.error.empty()) << f.error << ": " << f.message;
  EXPECT_TRUE(f.malformed.empty());
  EXPECT_TRUE(MessageDifferencer::Equals(f.batch, b)) << f.batch.DebugString();
}

TEST(FrameCodecTest, JsonRoundTrip) {
  const IngestBatch b = ThreeEvents();
  DecodedFrame f = DecodeFrame(ToJson(b), /*binary=*/false, IngestLimits{});
  EXPECT_TRUE(f.error.empty()) << f.error << ": " << f.message;
  EXPECT_TRUE(f.malformed.empty());
  EXPECT_TRUE(MessageDifferencer::Equals(f.batch, b)) << f.batch.DebugString();
}

TEST(FrameCodecTest, HandWrittenJsonWithRfc3339Offset) {
  const std::string text =
      R"({"batchId":"x","events":[{"deviceId":"cq-9","seq":"12","observedAt":"2024-05-01T08:00:00.250+08:00",)"
      R"("location":{"lat":29.5,"lon":106.5},"ancientTree":{"tiltDeg":1.5,"soilMoisturePct":40}}]})";
  DecodedFrame f = DecodeFrame(text, false, IngestLimits{});
  ASSERT_TRUE(f.error.empty()) << f.message;
  ASSERT_EQ(f.batch.events_size(), 1);
  const auto& e = f.batch.events(0);
  EXPECT_EQ(e.device_id(), "cq-9");
  EXPECT_EQ(e.seq(), 12u);
  EXPECT_EQ(e.observed_at().seconds(), test::kNowSeconds);  // 08:00+08:00 == 00:00Z
  EXPECT_EQ(e.observed_at().nanos(), 250000000);
  EXPECT_TRUE(e.has_ancient_tree());
  EXPECT_DOUBLE_EQ(e.ancient_tree().tilt_deg(), 1.5);
  EXPECT_TRUE(e.ancient_tree().has_soil_moisture_pct());
  EXPECT_FALSE(e.ancient_tree().has_vibration_mg());
  EXPECT_EQ(f.batch.batch_id(), "x");
}

// seq is uint64: JSON clients may send it as a number or (canonical mapping) as a string, and
// the largest value must survive both, also on the per-event fallback path.
TEST(FrameCodecTest, SixtyFourBitSeqAsNumberAndAsString) {
  for (const std::string seq : {"18446744073709551615", "\"18446744073709551615\"",
                                "9007199254740993", "\"9007199254740993\""}) {
    const uint64_t want = seq.find("1844") != std::string::npos ? UINT64_MAX : 9007199254740993ull;
    DecodedFrame f =
        DecodeFrame(R"({"events":[)" + JsonEvent("d", seq) + "]}", false, IngestLimits{});
    ASSERT_TRUE(f.error.empty()) << seq << ": " << f.message;
    ASSERT_TRUE(f.malformed.empty()) << seq << ": " << f.malformed[0].second;
    EXPECT_EQ(f.batch.events(0).seq(), want) << seq;
    // Same value next to a malformed event (fallback path through Boost.JSON).
    f = DecodeFrame(R"({"events":[)" + JsonEvent("d", seq) + "," + JsonEvent("d", "\"abc\"") + "]}",
                    false, IngestLimits{});
    ASSERT_TRUE(f.error.empty()) << seq << ": " << f.message;
    ASSERT_EQ(f.malformed.size(), 1u);
    EXPECT_EQ(f.batch.events(0).seq(), want) << seq << " (fallback path)";
  }
}

TEST(FrameCodecTest, OneMalformedEventAmongGoodOnes) {
  const std::string text = R"({"batchId":"mixed","events":[)" + JsonEvent("a", "1") + "," +
                           JsonEvent("a", "\"abc\"") + "," + JsonEvent("a", "3") + "]}";
  DecodedFrame f = DecodeFrame(text, false, IngestLimits{});
  EXPECT_TRUE(f.error.empty()) << f.error;
  ASSERT_EQ(f.malformed.size(), 1u);
  EXPECT_EQ(f.malformed[0].first, 1u);
  EXPECT_FALSE(f.malformed[0].second.empty());
  ASSERT_EQ(f.batch.events_size(), 3);
  EXPECT_EQ(f.batch.events(0).seq(), 1u);
  EXPECT_EQ(f.batch.events(1).ByteSizeLong(), 0u);  // empty placeholder
  EXPECT_EQ(f.batch.events(2).seq(), 3u);
  EXPECT_DOUBLE_EQ(f.batch.events(2).septic_tank_gas().ch4_percent_lel(), 5);
  EXPECT_EQ(f.batch.batch_id(), "mixed");
}

TEST(FrameCodecTest, PerEventFallbackKeepsEveryGoodEventIdentical) {
  // The fallback re-serialises each event with Boost.JSON: doubles and timestamps must come
  // out bit-identical to the fast path (else a resend would look like a replay).
  IngestBatch b = ThreeEvents();
  b.mutable_events(0)->mutable_location()->set_lat(29.574912345678901);
  b.mutable_events(1)->mutable_observed_at()->set_nanos(123456789);
  boost::json::value v = boost::json::parse(ToJson(b));
  v.as_object()["events"].as_array().emplace_back(boost::json::parse(R"({"seq":"x"})"));
  DecodedFrame f = DecodeFrame(boost::json::serialize(v), false, IngestLimits{});
  ASSERT_TRUE(f.error.empty()) << f.message;
  ASSERT_EQ(f.malformed.size(), 1u);
  EXPECT_EQ(f.malformed[0].first, 3u);
  ASSERT_EQ(f.batch.events_size(), 4);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(MessageDifferencer::Equals(f.batch.events(i), b.events(i)))
        << f.batch.events(i).DebugString() << " vs " << b.events(i).DebugString();
}

TEST(FrameCodecTest, UnknownFieldInAnEventIsThatEventOnly) {
  std::string bad = JsonEvent("a", "2");
  bad.insert(1, R"("colour":"red",)");
  DecodedFrame f =
      DecodeFrame(R"({"events":[)" + JsonEvent("a", "1") + "," + bad + "]}", false, IngestLimits{});
  EXPECT_TRUE(f.error.empty());
  ASSERT_EQ(f.malformed.size(), 1u);
  EXPECT_EQ(f.malformed[0].first, 1u);
}

TEST(FrameCodecTest, MalformedFrames) {
  const IngestLimits limits;
  for (const std::string& text :
       {std::string("not json"), std::string("{"), std::string("[]"), std::string("42"),
        std::string(R"({"events":[]},)"),
        R"({"events":[)" + JsonEvent("a", "1") + R"(],"unknownTopLevel":1})",
        std::string(R"({"events":"a"})"),
        R"({"batchId":7,"events":[)" + JsonEvent("a", "\"x\"") + "]}",
        R"({"events":[)" + JsonEvent("a", "1") + "]"}) {
    DecodedFrame f = DecodeFrame(text, false, limits);
    EXPECT_EQ(f.error, "malformed_frame") << text;
    EXPECT_FALSE(f.message.empty()) << text;
    EXPECT_TRUE(f.malformed.empty()) << text;
  }
  // Not asserted either way: protobuf 3.21's JSON parser is lenient and reads
  // {"events":{...}} (an object where the canonical mapping wants an array) as a one-event batch.
}

TEST(FrameCodecTest, GarbageBinaryIsMalformed) {
  const IngestLimits limits;
  const std::string cases[] = {
      std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),  // varint too long
      std::string("\x0f", 1),              // field 1, wire type 7 (does not exist)
      std::string("\x0a\x7f\x01", 3),      // events: length 127, 1 byte present
      std::string("\x0a\x05\x0a\x03", 4),  // truncated nested event
  };
  for (const auto& data : cases) {
    DecodedFrame f = DecodeFrame(data, true, limits);
    EXPECT_EQ(f.error, "malformed_frame");
    EXPECT_EQ(f.batch.events_size(), 0);
  }
  // A truncated real batch.
  const std::string whole = ThreeEvents().SerializeAsString();
  DecodedFrame f = DecodeFrame(whole.substr(0, whole.size() - 3), true, limits);
  EXPECT_EQ(f.error, "malformed_frame");
  // An empty binary frame is an empty batch, not an error.
  f = DecodeFrame("", true, limits);
  EXPECT_TRUE(f.error.empty());
  EXPECT_EQ(f.batch.events_size(), 0);
}

TEST(FrameCodecTest, TooManyEvents) {
  IngestLimits limits;
  limits.max_events_per_batch = 5;
  IngestBatch b;
  for (int i = 1; i <= 6; ++i) *b.add_events() = test::GasEvent("d", static_cast<uint64_t>(i));
  DecodedFrame f = DecodeFrame(b.SerializeAsString(), true, limits);
  EXPECT_EQ(f.error, "too_many_events");
  EXPECT_NE(f.message.find('6'), std::string::npos) << f.message;
  b.set_batch_id("many");
  f = DecodeFrame(ToJson(b), false, limits);
  EXPECT_EQ(f.error, "too_many_events");
  EXPECT_EQ(f.batch.batch_id(), "many");
  // Also on the fallback path (one event malformed).
  boost::json::value v = boost::json::parse(ToJson(b));
  v.as_object()["events"].as_array()[0].as_object()["seq"] = "abc";
  f = DecodeFrame(boost::json::serialize(v), false, limits);
  EXPECT_EQ(f.error, "too_many_events");
  EXPECT_EQ(f.batch.batch_id(), "many");
  // Exactly the limit is fine.
  b.mutable_events()->RemoveLast();
  f = DecodeFrame(b.SerializeAsString(), true, limits);
  EXPECT_TRUE(f.error.empty());
  EXPECT_EQ(f.batch.events_size(), 5);
  // The default limit is 10,000.
  EXPECT_EQ(IngestLimits{}.max_events_per_batch, 10000u);
}

TEST(FrameCodecTest, BinaryAckRoundTrip) {
  IngestAck ack;
  ack.set_accepted(3);
  ack.set_duplicates(1);
  ack.set_batch_id("b-1");
  auto* r = ack.add_rejected();
  r->set_index(0);
  r->set_reason("lat_out_of_range");
  r->set_detail("location.lat");
  IngestAck back;
  ASSERT_TRUE(back.ParseFromString(EncodeAck(ack, true)));
  EXPECT_TRUE(MessageDifferencer::Equals(back, ack));
}

TEST(FrameCodecTest, JsonAckUsesLowerCamelCaseAndPrintsZeros) {
  IngestAck ack;
  ack.set_accepted(0);
  ack.set_duplicates(2);
  ack.set_batch_id("b-7");
  ack.set_flagged(1);
  auto* r = ack.add_rejected();
  r->set_index(0);
  r->set_reason("prefix_not_allowed");
  r->set_detail("deviceId");
  const std::string text = EncodeAck(ack, false);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  ASSERT_FALSE(ec) << text;
  const auto& o = v.as_object();
  ASSERT_TRUE(o.contains("accepted")) << text;  // zero, but information
  EXPECT_EQ(o.at("accepted").to_number<int>(), 0);
  EXPECT_EQ(o.at("duplicates").to_number<int>(), 2);
  EXPECT_EQ(o.at("flagged").to_number<int>(), 1);
  EXPECT_EQ(o.at("batchId").as_string(), "b-7");
  EXPECT_FALSE(o.contains("batch_id"));
  const auto& rej = o.at("rejected").as_array();
  ASSERT_EQ(rej.size(), 1u);
  EXPECT_EQ(rej[0].at("index").to_number<int>(), 0);  // index 0 printed
  EXPECT_EQ(rej[0].at("reason").as_string(), "prefix_not_allowed");
  EXPECT_EQ(rej[0].at("detail").as_string(), "deviceId");
  // And it parses back as an IngestAck.
  IngestAck back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text, &back).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(back, ack));
}

TEST(FrameCodecTest, JsonErrorAck) {
  IngestAck ack;
  ack.set_error("malformed_frame");
  ack.set_message("not JSON");
  boost::json::value v = boost::json::parse(EncodeAck(ack, false));
  EXPECT_EQ(v.at("error").as_string(), "malformed_frame");
  EXPECT_EQ(v.at("message").as_string(), "not JSON");
  EXPECT_EQ(v.at("accepted").to_number<int>(), 0);
  EXPECT_TRUE(v.at("rejected").as_array().empty());
}

}  // namespace
}  // namespace yiwang::ingest
