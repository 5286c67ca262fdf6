// The gateway's sink (ingest/log_sink.h) on a real three-node JetStream cluster: events of
// concurrent frames packed per subject, each frame answered once with an outcome per event, a
// frame resent whole answered as duplicates, and the log's absence answered by the deadline
// (unavailable) or at once (overloaded), after which the sink resumes by itself.

#include "ingest/log_sink.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/metrics.h"
#include "tests/log/cluster_fixture.h"

namespace yiwang {
namespace {

using store::Outcome;

constexpr char kStream[] = "YW_EVENTS_TEST";

// Device ids name their district the way the demo fleet's do: "gw-500103-7" -> "500103".
ingest::DistrictLookup DistrictsFromIds() {
  ingest::DistrictLookup lookup;
  lookup.of_device = [](std::string_view id) -> std::string {
    const size_t dash = id.find('-');
    return dash == std::string_view::npos ? std::string() : std::string(id.substr(dash + 1, 6));
  };
  return lookup;
}

store::IngestRequest Request(const std::vector<std::pair<std::string, uint64_t>>& keys) {
  store::IngestRequest req;
  for (const auto& [device, seq] : keys) {
    yiwang::v1::StoredEvent& e = req.events.emplace_back();
    e.mutable_event()->set_device_id(device);
    e.mutable_event()->set_seq(seq);
    e.mutable_event()->mutable_device_health()->set_battery_pct(80);
    e.set_token_name("test");
  }
  return req;
}

class LogSinkTest : public test::LogClusterTest {
 protected:
  void SetUp() override {
    test::LogClusterTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Ensure({.name = kStream, .subjects = {"yw.ev.>"}}));
  }
  void TearDown() override {
    sink_.reset();  // answers nothing new; the publisher below answers what it holds
    publisher_.reset();
  }

  void MakeSink(log::PublisherOptions publisher_options, ingest::LogSinkOptions options = {}) {
    publisher_ = std::make_unique<log::LogPublisher>(log_.get(), publisher_options);
    sink_ = std::make_unique<ingest::LogSink>(
        publisher_.get(),
        [](std::string_view, yiwang::v1::TokenRecord*) { return Status::NotFound("no tokens"); },
        DistrictsFromIds(), &metrics_, test::LogTestLogger(), options);
  }

  // Submits and waits for the frame's answer (up to 60 s).
  std::vector<Outcome> SubmitAndWait(store::IngestRequest req) {
    auto answer = std::make_shared<std::promise<std::vector<Outcome>>>();
    auto future = answer->get_future();
    req.done = [answer](std::vector<Outcome> o) { answer->set_value(std::move(o)); };
    sink_->Submit(std::move(req));
    if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer within 60 s";
      return {};
    }
    return future.get();
  }

  // Every event in the stream by "device/seq", and the number of messages.
  std::map<std::string, int> StoredEvents(uint64_t* messages) {
    uint64_t last = 0;
    std::string leader;
    EXPECT_TRUE(log_->StreamState(kStream, &last, &leader).ok());
    std::map<std::string, int> copies;
    for (uint64_t seq = 1; seq <= last; ++seq) {
      log::LogMessage m;
      const Status s = log_->Read(kStream, seq, &m);
      EXPECT_TRUE(s.ok()) << s.ToString();
      yiwang::v1::LogEvents events;
      EXPECT_TRUE(events.ParseFromString(m.data)) << "#" << seq;
      for (const auto& e : events.events()) {
        ++copies[fmt::format("{}/{}", e.event().device_id(), e.event().seq())];
        EXPECT_EQ(m.subject, fmt::format("yw.ev.d.{}", e.event().device_id().substr(3, 6)))
            << "an event on another device's subject";
      }
    }
    *messages = last;
    return copies;
  }

  Metrics metrics_;
  std::unique_ptr<log::LogPublisher> publisher_;
  std::unique_ptr<ingest::LogSink> sink_;
};

// 2,000 frames of one event each, from four threads at once, over three subjects: each frame
// is answered accepted once, every event is in the log once, on its device's subject, and the
// events of concurrent frames share messages (a publish per frame would be 2,000 messages).
TEST_F(LogSinkTest, PacksConcurrentOneEventFramesIntoFewMessages) {
  MakeSink({.threads = 8, .max_pending = 1024});
  constexpr int kThreads = 4, kPerThread = 500;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::map<Outcome, int> outcomes;
  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t)
    senders.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store::IngestRequest req =
            Request({{fmt::format("gw-50010{}-{}", i % 3 + 1, t), static_cast<uint64_t>(i + 1)}});
        req.done = [&](std::vector<Outcome> o) {
          std::lock_guard lock(mu);
          EXPECT_EQ(o.size(), 1u);
          for (Outcome x : o) ++outcomes[x];
          ++answered;
          cv.notify_all();
        };
        sink_->Submit(std::move(req));
      }
    });
  for (auto& t : senders) t.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60),
                            [&] { return answered == kThreads * kPerThread; }))
        << answered << " answered";
    EXPECT_EQ(outcomes[Outcome::kAccepted], kThreads * kPerThread);
  }
  EXPECT_EQ(sink_->pending_events(), 0u);
  uint64_t messages = 0;
  const auto copies = StoredEvents(&messages);
  EXPECT_EQ(copies.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& [key, n] : copies) EXPECT_EQ(n, 1) << key << " stored twice";
  EXPECT_LT(messages, static_cast<uint64_t>(kThreads * kPerThread / 2))
      << "frames sent while their subject had a message in flight share the next one";
  std::cerr << kThreads * kPerThread << " one-event frames in " << messages << " messages\n";
}

// A frame resent whole (its ack was lost) to an idle subject is the same message: JetStream
// drops it, and the frame's events are answered duplicates. A frame over two subjects is two
// messages, each event answered by its own.
TEST_F(LogSinkTest, AFrameResentWholeIsAnsweredDuplicates) {
  MakeSink({.threads = 2});
  const std::vector<std::pair<std::string, uint64_t>> keys = {
      {"gw-500103-1", 1}, {"gw-500104-1", 1}, {"gw-500103-2", 7}};
  EXPECT_EQ(SubmitAndWait(Request(keys)), std::vector<Outcome>(3, Outcome::kAccepted));
  EXPECT_EQ(SubmitAndWait(Request(keys)), std::vector<Outcome>(3, Outcome::kDuplicate));
  uint64_t messages = 0;
  const auto copies = StoredEvents(&messages);
  EXPECT_EQ(messages, 2u) << "one message per subject, the resend stored in neither";
  EXPECT_EQ(copies.size(), 3u);
}

// A frame with more events than a message may carry travels in several, each within both
// bounds (events and bytes), and is answered once, when the last of them is acknowledged.
TEST_F(LogSinkTest, AFrameBiggerThanAMessageTravelsInSeveral) {
  // 250 events of ~35 bytes: 3 messages by the event bound alone, more by the byte bound.
  constexpr size_t kMaxEvents = 100, kMaxBytes = 2048;
  MakeSink({.threads = 4},
           {.max_events_per_message = kMaxEvents, .max_bytes_per_message = kMaxBytes});
  std::vector<std::pair<std::string, uint64_t>> keys;
  for (uint64_t seq = 1; seq <= 250; ++seq) keys.emplace_back("gw-500103-1", seq);
  EXPECT_EQ(SubmitAndWait(Request(keys)), std::vector<Outcome>(250, Outcome::kAccepted));
  uint64_t messages = 0;
  EXPECT_EQ(StoredEvents(&messages).size(), 250u);
  for (uint64_t seq = 1; seq <= messages; ++seq) {
    log::LogMessage m;
    ASSERT_TRUE(log_->Read(kStream, seq, &m).ok());
    yiwang::v1::LogEvents events;
    ASSERT_TRUE(events.ParseFromString(m.data));
    EXPECT_LE(static_cast<size_t>(events.events_size()), kMaxEvents) << "#" << seq;
    EXPECT_LE(m.data.size(), kMaxBytes) << "#" << seq;
  }
  EXPECT_GT(messages, 3u) << "the byte bound split it further than the event bound";
  std::cerr << "250 events of one frame in " << messages << " messages\n";
}

// With every server down, a frame is answered unavailable by the publisher's deadline and a
// frame beyond the pending bound overloaded at once; nothing blocks. The servers back, the
// same sink stores the resent frame by itself.
TEST_F(LogSinkTest, AnswersWithoutTheLogAndResumesByItself) {
  MakeSink({.threads = 2, .deadline = std::chrono::milliseconds(1500)},
           {.max_pending_events = 10});
  for (int i = 0; i < cluster_->size(); ++i) cluster_->Kill(i);

  std::vector<std::pair<std::string, uint64_t>> eight;
  for (uint64_t s = 1; s <= 8; ++s) eight.emplace_back("gw-500103-1", s);
  auto first = std::make_shared<std::promise<std::vector<Outcome>>>();
  store::IngestRequest req = Request(eight);
  req.done = [first](std::vector<Outcome> o) { first->set_value(std::move(o)); };
  const auto t0 = SteadyClock::now();
  sink_->Submit(std::move(req));
  EXPECT_EQ(SubmitAndWait(Request({{"gw-500105-1", 1}, {"gw-500105-1", 2}, {"gw-500105-1", 3}})),
            std::vector<Outcome>(3, Outcome::kOverloaded))
      << "8 pending + 3 is over the bound of 10";
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::milliseconds(500)) << "refused at once";
  auto future = first->get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(future.get(), std::vector<Outcome>(8, Outcome::kUnavailable));
  EXPECT_LT(SteadyClock::now() - t0, std::chrono::milliseconds(3500)) << "by the deadline";

  for (int i = 0; i < cluster_->size(); ++i) ASSERT_TRUE(cluster_->Restart(i).ok());
  // Resent until answered (as a sensor does): accepted, or duplicates if an unanswered try
  // was stored after all.
  auto stored = [](const std::vector<Outcome>& o) {
    return o == std::vector<Outcome>(8, Outcome::kAccepted) ||
           o == std::vector<Outcome>(8, Outcome::kDuplicate);
  };
  std::vector<Outcome> answer;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  do {
    answer = SubmitAndWait(Request(eight));
  } while (!stored(answer) && SteadyClock::now() < deadline);
  EXPECT_TRUE(stored(answer));
  uint64_t messages = 0;
  EXPECT_EQ(StoredEvents(&messages).size(), 8u);
}

}  // namespace
}  // namespace yiwang
