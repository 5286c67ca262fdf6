// IngestService with a real EventStore in a temp dir (no sockets): the ack for mixed batches in
// both encodings, frame errors, the future flag with an injected clock, shutdown, metrics and
// the Authenticate rules.

#include "ingest/ingest_service.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>

#include "ingest/frame_codec.h"
#include "tests/support/events.h"
#include "tests/support/temp_dir.h"

namespace yiwang::ingest {
namespace {

using test::GasEvent;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;
using yiwang::v1::SensorEvent;
using yiwang::v1::TokenRecord;

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(IngestLimits{}); }

  void Start(IngestLimits limits) {
    service_.reset();
    store_.reset();
    metrics_ = std::make_unique<Metrics>();
    store::StoreOptions opts;
    opts.data_dir = dir_.Sub("db" + std::to_string(++generation_));
    Status s;
    store_ = store::EventStore::Open(opts, test::NullLogger(), metrics_.get(), &s);
    ASSERT_TRUE(store_) << s.ToString();
    service_ = std::make_unique<IngestService>(store_.get(), limits, metrics_.get(),
                                               test::NullLogger(), Clock([this] { return now_; }),
                                               districts_);
    token_.set_name("gw-cq");
    token_.set_kind(yiwang::v1::TOKEN_KIND_DEVICE);
    token_.set_device_prefix("cq-");
  }

  // Sends one frame and returns the raw ack; *submitted gets HandleFrame's return value.
  std::string Frame(const std::string& data, bool binary, size_t* submitted = nullptr) {
    std::promise<std::string> p;
    auto f = p.get_future();
    int calls = 0;
    size_t n = service_->HandleFrame(data, binary, token_, [&](std::string ack) {
      ++calls;
      p.set_value(std::move(ack));
    });
    if (submitted) *submitted = n;
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    std::string ack = f.get();
    EXPECT_EQ(calls, 1);
    return ack;
  }
  IngestAck Send(const IngestBatch& b, bool binary, size_t* submitted = nullptr) {
    std::string data;
    if (binary) {
      data = b.SerializeAsString();
    } else {
      EXPECT_TRUE(google::protobuf::util::MessageToJsonString(b, &data).ok());
    }
    return Decode(Frame(data, binary, submitted), binary);
  }
  static IngestAck Decode(const std::string& raw, bool binary) {
    IngestAck ack;
    if (binary) {
      EXPECT_TRUE(ack.ParseFromString(raw));
    } else {
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(raw, &ack).ok()) << raw;
    }
    return ack;
  }
  uint64_t Rejected(const std::string& reason) {
    return metrics_->GetCounter("yiwang_ingest_rejected_total", "", {{"reason", reason}}).Value();
  }

  test::TempDir dir_;
  int generation_ = 0;
  std::chrono::system_clock::time_point now_ = test::FixedNow();
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<store::EventStore> store_;
  std::unique_ptr<IngestService> service_;
  TokenRecord token_;
  DistrictLookup districts_;  // for the next Start
};

struct Rej {
  uint32_t index;
  std::string reason;
};
std::vector<Rej> Rejections(const IngestAck& ack) {
  std::vector<Rej> out;
  for (const auto& r : ack.rejected()) out.push_back({r.index(), r.reason()});
  return out;
}
bool operator==(const Rej& a, const Rej& b) { return a.index == b.index && a.reason == b.reason; }
std::ostream& operator<<(std::ostream& os, const Rej& r) {
  return os << "{" << r.index << "," << r.reason << "}";
}

// One frame with a good event, a validation failure, a prefix violation, a duplicate of the
// good event and a replay of it: the ack counts each and lists rejections in frame order.
class MixedBatchTest : public IngestServiceTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MixedBatchTest, AckForAMixedBatch) {
  const bool binary = GetParam();
  IngestBatch b;
  b.set_batch_id("mixed-1");
  *b.add_events() = GasEvent("cq-1", 1, 10);  // 0 accepted
  SensorEvent bad_lat = GasEvent("cq-1", 2);
  bad_lat.mutable_location()->set_lat(95);
  *b.add_events() = bad_lat;                  // 1 lat_out_of_range
  *b.add_events() = GasEvent("sh-1", 1);      // 2 prefix_not_allowed
  *b.add_events() = GasEvent("cq-1", 1, 10);  // 3 duplicate of 0
  *b.add_events() = GasEvent("cq-1", 1, 11);  // 4 replay of 0
  *b.add_events() = GasEvent("cq-2", 5);      // 5 accepted
  size_t submitted = 0;
  IngestAck ack = Send(b, binary, &submitted);
  EXPECT_EQ(submitted, 4u);
  EXPECT_EQ(ack.accepted(), 2u);
  EXPECT_EQ(ack.duplicates(), 1u);
  EXPECT_EQ(ack.flagged(), 0u);
  EXPECT_EQ(ack.batch_id(), "mixed-1");
  EXPECT_TRUE(ack.error().empty());
  EXPECT_EQ(Rejections(ack),
            (std::vector<Rej>{{1, "lat_out_of_range"}, {2, "prefix_not_allowed"}, {4, "replay"}}));
  EXPECT_EQ(ack.rejected(0).detail(), "location.lat");
  EXPECT_EQ(ack.rejected(1).detail(), "deviceId");
  EXPECT_EQ(store_->EventCount(), 2u);

  // The whole frame again: all duplicates now, except the same rejections.
  ack = Send(b, binary);
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_EQ(ack.duplicates(), 3u);
  EXPECT_EQ(Rejections(ack),
            (std::vector<Rej>{{1, "lat_out_of_range"}, {2, "prefix_not_allowed"}, {4, "replay"}}));
  EXPECT_EQ(store_->EventCount(), 2u);
  EXPECT_EQ(Rejected("lat_out_of_range"), 2u);
  EXPECT_EQ(Rejected("replay"), 2u);
  EXPECT_EQ(
      metrics_->GetCounter("yiwang_ingest_events_total", "", {{"result", "accepted"}}).Value(), 2u);
  EXPECT_EQ(
      metrics_->GetCounter("yiwang_ingest_events_total", "", {{"result", "duplicate"}}).Value(),
      4u);
  EXPECT_EQ(metrics_
                ->GetCounter("yiwang_ingest_frames_total", "",
                             {{"encoding", binary ? "protobuf" : "json"}})
                .Value(),
            2u);
}

INSTANTIATE_TEST_SUITE_P(BothEncodings, MixedBatchTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Binary" : "Json"; });

TEST_F(IngestServiceTest, StoredEventCarriesReceiptTimeTokenAndFutureFlag) {
  IngestBatch b;
  *b.add_events() = GasEvent("cq-f", 1, 1, test::kNowSeconds + 400);    // flagged, accepted
  *b.add_events() = GasEvent("cq-f", 2, 1, test::kNowSeconds + 90000);  // rejected
  *b.add_events() = GasEvent("cq-f", 3, 1, test::kNowSeconds - 10);
  IngestAck ack = Send(b, true);
  EXPECT_EQ(ack.accepted(), 2u);
  EXPECT_EQ(ack.flagged(), 1u);
  EXPECT_EQ(Rejections(ack), (std::vector<Rej>{{1, "observed_at_in_future"}}));
  std::vector<yiwang::v1::StoredEvent> all;
  ASSERT_TRUE(store_->ScanEvents(1, 10, &all).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].received_at().seconds(), test::kNowSeconds);
  EXPECT_EQ(all[0].token_name(), "gw-cq");
  ASSERT_EQ(all[0].flags_size(), 1);
  EXPECT_EQ(all[0].flags(0), yiwang::v1::EVENT_FLAG_FUTURE_OBSERVED_AT);
  EXPECT_EQ(all[1].flags_size(), 0);
  EXPECT_EQ(metrics_->GetCounter("yiwang_ingest_flagged_total", "").Value(), 1u);

  // The clock is the injected one: move it and the same observedAt is no longer ahead.
  now_ += std::chrono::hours(30);
  ack = Send(b, true);
  EXPECT_EQ(ack.accepted(), 1u);  // seq 2 now acceptable (gap fill)
  EXPECT_EQ(ack.duplicates(), 2u);
  EXPECT_EQ(ack.flagged(), 0u);
}

TEST_F(IngestServiceTest, JsonMalformedEventAmongGoodOnes) {
  const std::string ev1 =
      R"({"deviceId":"cq-j","seq":1,"observedAt":"2024-04-30T23:00:00Z","location":{"lat":29.5,"lon":106.5},"deviceHealth":{"batteryPct":50}})";
  const std::string bad =
      R"({"deviceId":"cq-j","seq":"abc","observedAt":"2024-04-30T23:00:00Z","location":{"lat":29.5,"lon":106.5},"deviceHealth":{"batteryPct":50}})";
  const std::string ev3 =
      R"({"deviceId":"cq-j","seq":"3","observedAt":"2024-04-30T23:00:00Z","location":{"lat":29.5,"lon":106.5},"deviceHealth":{"batteryPct":50}})";
  const std::string raw =
      Frame(R"({"batchId":"j1","events":[)" + ev1 + "," + bad + "," + ev3 + "]}", false);
  // The JSON ack as a client sees it.
  boost::json::value v = boost::json::parse(raw);
  EXPECT_EQ(v.at("accepted").to_number<int>(), 2) << raw;
  EXPECT_EQ(v.at("duplicates").to_number<int>(), 0) << raw;
  EXPECT_EQ(v.at("batchId").as_string(), "j1") << raw;
  const auto& rej = v.at("rejected").as_array();
  ASSERT_EQ(rej.size(), 1u) << raw;
  EXPECT_EQ(rej[0].at("index").to_number<int>(), 1);
  EXPECT_EQ(rej[0].at("reason").as_string(), "malformed_event");
  EXPECT_FALSE(rej[0].at("detail").as_string().empty());
  EXPECT_EQ(store_->EventCount(), 2u);
  EXPECT_EQ(Rejected("malformed_event"), 1u);
}

// Regression (found by the fuzz smoke test): a frame whose events are all refused is answered
// without the store, and its rejections must still be in frame order although malformed and
// invalid events are found by different code.
TEST_F(IngestServiceTest, AllRefusedJsonFrameListsRejectionsInFrameOrder) {
  const std::string invalid =
      R"({"deviceId":"cq-j","seq":1,"observedAt":"2024-04-30T23:00:00Z","location":{"lat":99,"lon":106.5},"deviceHealth":{"batteryPct":50}})";
  size_t submitted = 9;
  IngestAck ack = Decode(
      Frame(R"({"events":[)" + invalid + R"(,{"deviceId":5},{"nope":1},)" + invalid + "]}", false,
            &submitted),
      false);
  EXPECT_EQ(submitted, 0u);
  EXPECT_EQ(Rejections(ack),
            (std::vector<Rej>{{0, "lat_out_of_range"}, {1, "malformed_event"},
                              {2, "malformed_event"}, {3, "lat_out_of_range"}}));
}

TEST_F(IngestServiceTest, FrameErrorsAreAnsweredAtOnce) {
  size_t submitted = 99;
  IngestAck ack = Decode(Frame(std::string("\x0f", 1), true, &submitted), true);
  EXPECT_EQ(submitted, 0u);
  EXPECT_EQ(ack.error(), "malformed_frame");
  EXPECT_EQ(ack.accepted(), 0u);
  ack = Decode(Frame("{nope", false), false);
  EXPECT_EQ(ack.error(), "malformed_frame");
  EXPECT_EQ(
      metrics_->GetCounter("yiwang_ingest_frame_errors_total", "", {{"error", "malformed_frame"}})
          .Value(),
      2u);
  EXPECT_EQ(store_->EventCount(), 0u);
}

TEST_F(IngestServiceTest, TooManyEvents) {
  IngestLimits limits;
  limits.max_events_per_batch = 3;
  Start(limits);
  IngestBatch b;
  for (uint64_t s = 1; s <= 4; ++s) *b.add_events() = GasEvent("cq-t", s);
  for (bool binary : {true, false}) {
    IngestAck ack = Send(b, binary);
    EXPECT_EQ(ack.error(), "too_many_events");
    EXPECT_EQ(ack.accepted(), 0u);
  }
  EXPECT_EQ(store_->EventCount(), 0u);
  b.mutable_events()->RemoveLast();
  EXPECT_EQ(Send(b, true).accepted(), 3u);
}

// The frame decoded, so its batchId is known and echoed even though it is refused whole (a
// pipelining client matches acks by id).
TEST_F(IngestServiceTest, TooManyEventsAckEchoesBatchId) {
  IngestLimits limits;
  limits.max_events_per_batch = 1;
  Start(limits);
  IngestBatch b;
  b.set_batch_id("big-1");
  *b.add_events() = GasEvent("cq-t", 1);
  *b.add_events() = GasEvent("cq-t", 2);
  IngestAck ack = Send(b, true);
  EXPECT_EQ(ack.error(), "too_many_events");
  EXPECT_EQ(ack.batch_id(), "big-1");
}

TEST_F(IngestServiceTest, AllRejectedIsAnsweredWithoutTheStore) {
  IngestBatch b;
  *b.add_events() = GasEvent("xx-1", 1);
  size_t submitted = 9;
  IngestAck ack = Send(b, true, &submitted);
  EXPECT_EQ(submitted, 0u);
  EXPECT_EQ(Rejections(ack), (std::vector<Rej>{{0, "prefix_not_allowed"}}));
  EXPECT_EQ(Send(IngestBatch(), true).accepted(), 0u);  // empty frame: empty ack
}

TEST_F(IngestServiceTest, ShuttingDownRefusesNewFrames) {
  service_->BeginShutdown();
  IngestBatch b;
  b.set_batch_id("late");
  *b.add_events() = GasEvent("cq-s", 1);
  for (bool binary : {true, false}) {
    IngestAck ack = Send(b, binary);
    EXPECT_EQ(ack.error(), "shutting_down");
    EXPECT_FALSE(ack.message().empty());
    EXPECT_EQ(ack.batch_id(), "late");
  }
  EXPECT_EQ(store_->EventCount(), 0u);
}

TEST_F(IngestServiceTest, StoppedStoreRejectsEachEventAsShuttingDown) {
  store_->StopWriter();
  IngestBatch b;
  *b.add_events() = GasEvent("cq-s", 1);
  *b.add_events() = GasEvent("cq-s", 2);
  IngestAck ack = Send(b, true);
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_EQ(Rejections(ack), (std::vector<Rej>{{0, "shutting_down"}, {1, "shutting_down"}}));
  EXPECT_EQ(Rejected("shutting_down"), 2u);
}

TEST_F(IngestServiceTest, EveryRejectReasonHasAZeroCounterUpFront) {
  const std::string text = metrics_->RenderPrometheus();
  for (int i = 1; i < kRejectCount; ++i) {
    const std::string line = std::string("yiwang_ingest_rejected_total{reason=\"") +
                             RejectName(static_cast<Reject>(i)) + "\"} 0\n";
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

class AuthenticateTest : public IngestServiceTest {
 protected:
  void Put(const std::string& token, yiwang::v1::TokenKind kind, bool revoked = false) {
    TokenRecord rec;
    rec.set_name("n-" + token);
    rec.set_kind(kind);
    rec.set_device_prefix("cq-");
    rec.set_revoked(revoked);
    ASSERT_TRUE(store_->PutToken(token, rec).ok());
  }
};

TEST_F(AuthenticateTest, Rules) {
  Put("ywd_good", yiwang::v1::TOKEN_KIND_DEVICE);
  Put("ywd_revoked", yiwang::v1::TOKEN_KIND_DEVICE, true);
  Put("ywa_admin", yiwang::v1::TOKEN_KIND_ADMIN);
  Put("ywx_unspecified", yiwang::v1::TOKEN_KIND_UNSPECIFIED);
  TokenRecord rec;
  Status s = service_->Authenticate("Bearer ywd_good", &rec);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rec.name(), "n-ywd_good");
  EXPECT_EQ(rec.device_prefix(), "cq-");

  // The scheme is case-insensitive (RFC 7235) and spaces around the token do not matter.
  for (const char* h : {"bearer ywd_good", "BEARER ywd_good", "Bearer  ywd_good", "Bearer ywd_good "})
    EXPECT_TRUE(service_->Authenticate(h, &rec).ok()) << "'" << h << "'";

  // Missing or ill-formed header: InvalidArgument.
  for (const char* h :
       {"", "Bearer ", "Bearer   ", "Bearer", "Basic ywd_good", "ywd_good", "Token ywd_good"})
    EXPECT_EQ(service_->Authenticate(h, &rec).code(), Status::Code::kInvalidArgument)
        << "'" << h << "'";
  // Unknown, revoked, admin, not-a-device: NotFound (all 401 for the client).
  for (const char* h : {"Bearer ywd_unknown", "Bearer ywd_revoked", "Bearer ywa_admin",
                        "Bearer ywx_unspecified", "Bearer ywd_goo", "Bearer ywd_good2"})
    EXPECT_EQ(service_->Authenticate(h, &rec).code(), Status::Code::kNotFound) << "'" << h << "'";
}

// Finding 4 of issue 19: a token for cq-jb- filed a case in 渝中区 by naming
// cq-jb-septic-500103-0099, and one frame of never-seen ids was taken whole.
class Finding4_IngestScope : public IngestServiceTest {
 protected:
  void SetUp() override {
    // As `yiwang serve` wires it, in miniature: a device's district is a six-digit segment of
    // its id; north of 29.57 N is 江北区 (500105), south of it 渝中区 (500103).
    districts_.of_device = [](std::string_view id) {
      for (size_t at = 0; at + 6 <= id.size(); ++at)
        if ((at == 0 || id[at - 1] == '-') && (at + 6 == id.size() || id[at + 6] == '-') &&
            id.substr(at, 6).find_first_not_of("0123456789") == std::string_view::npos)
          return std::string(id.substr(at, 6));
      return std::string();
    };
    districts_.of_point = [](double lat, double) {
      return std::string(lat >= 29.57 ? "500105" : "500103");
    };
    IngestServiceTest::SetUp();
    token_.set_device_prefix("cq-jb-");
    token_.add_districts("500105");
  }
  static SensorEvent At(SensorEvent e, double lat) {
    e.mutable_location()->set_lat(lat);
    return e;
  }
};

TEST_F(Finding4_IngestScope, EventsNamingOrLyingInAnotherDistrictAreRejected) {
  IngestBatch b;
  *b.add_events() = At(GasEvent("cq-jb-septic-500103-0099", 1), 29.58);  // 0 names 渝中区
  *b.add_events() = At(GasEvent("cq-jb-septic-500105-0001", 1), 29.58);  // 1 in 江北区
  *b.add_events() = At(GasEvent("cq-jb-septic-500105-0002", 1), 29.55);  // 2 lies in 渝中区
  *b.add_events() = At(GasEvent("cq-jb-septic-0003", 1), 29.58);         // 3 no name, 江北区
  *b.add_events() = At(GasEvent("cq-jb-septic-0004", 1), 29.55);         // 4 no name, 渝中区
  const IngestAck ack = Send(b, true);
  EXPECT_EQ(ack.accepted(), 2u);
  EXPECT_EQ(Rejections(ack), (std::vector<Rej>{{0, "district_not_allowed"},
                                               {2, "district_not_allowed"},
                                               {4, "district_not_allowed"}}));
  EXPECT_EQ(ack.rejected(0).detail(), "deviceId");
  EXPECT_EQ(ack.rejected(1).detail(), "location");
  EXPECT_EQ(Rejected("district_not_allowed"), 3u);

  // The same frame from a token without districts: everything is taken.
  token_.clear_districts();
  IngestBatch again;
  for (int i = 0; i < b.events_size(); ++i) {
    *again.add_events() = b.events(i);
    again.mutable_events(i)->set_seq(2);
  }
  EXPECT_EQ(Send(again, true).accepted(), 5u);
}

TEST_F(Finding4_IngestScope, AScopedTokenSendsNothingWhereDistrictsCannotBeTold) {
  districts_ = {};
  Start(IngestLimits{});
  IngestBatch b;
  *b.add_events() = At(GasEvent("cq-jb-septic-500105-0001", 1), 29.58);
  const IngestAck ack = Send(b, true);
  EXPECT_EQ(ack.accepted(), 0u);
  EXPECT_EQ(Rejections(ack), (std::vector<Rej>{{0, "district_not_allowed"}}));
}

TEST_F(Finding4_IngestScope, NewDeviceIdsPerTokenAndHourAreBounded) {
  IngestLimits limits;
  limits.max_new_devices_per_hour = 10;
  districts_ = {};
  Start(limits);
  token_.clear_districts();
  token_.set_id("tok-a");
  auto frame = [](const std::string& prefix, int n, uint64_t seq) {
    IngestBatch b;
    for (int i = 0; i < n; ++i) *b.add_events() = GasEvent(prefix + std::to_string(i), seq);
    return b;
  };
  // One frame of 50 never-seen ids: ten pass, forty are refused, each counted.
  IngestAck ack = Send(frame("cq-new-", 50, 1), true);
  EXPECT_EQ(ack.accepted(), 10u);
  ASSERT_EQ(ack.rejected_size(), 40);
  EXPECT_EQ(ack.rejected(0).index(), 10u);
  EXPECT_EQ(ack.rejected(0).reason(), "too_many_new_devices");
  EXPECT_EQ(ack.rejected(0).detail(), "deviceId");
  EXPECT_EQ(Rejected("too_many_new_devices"), 40u);
  // The ten admitted are known from now on: they pass without counting.
  EXPECT_EQ(Send(frame("cq-new-", 10, 2), true).accepted(), 10u);
  // This token's budget is spent until the hour is over; another token has one of its own.
  EXPECT_EQ(Send(frame("cq-more-", 1, 1), true).accepted(), 0u);
  token_.set_id("tok-b");
  EXPECT_EQ(Send(frame("cq-b-", 3, 1), true).accepted(), 3u);
  token_.set_id("tok-a");
  now_ += std::chrono::hours(1);
  EXPECT_EQ(Send(frame("cq-later-", 12, 1), true).accepted(), 10u);
  // Devices the store knows are known to a server started again on it.
  service_ = std::make_unique<IngestService>(store_.get(), limits, metrics_.get(),
                                             test::NullLogger(), Clock([this] { return now_; }));
  EXPECT_EQ(Send(frame("cq-new-", 10, 3), true).accepted(), 10u);
  EXPECT_EQ(Send(frame("cq-later-", 10, 2), true).accepted(), 10u);
}

}  // namespace
}  // namespace yiwang::ingest
