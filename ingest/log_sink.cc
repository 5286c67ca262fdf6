#include "ingest/log_sink.h"

#include <utility>

namespace yiwang::ingest {

using store::Outcome;

// One Submit: an outcome per event, and how many are still unanswered. `done` runs once, when
// the last of its messages is answered.
struct LogSink::Frame {
  explicit Frame(size_t events, std::function<void(std::vector<Outcome>)> done_fn)
      : outcomes(events, Outcome::kUnavailable), unanswered(events), done(std::move(done_fn)) {}
  std::mutex mu;
  std::vector<Outcome> outcomes;
  size_t unanswered;
  std::function<void(std::vector<Outcome>)> done;
};

LogSink::LogSink(log::LogPublisher* publisher, TokenLookup tokens, DistrictLookup districts,
                 Metrics* metrics, std::shared_ptr<spdlog::logger> logger, LogSinkOptions options)
    : publisher_(publisher),
      tokens_(std::move(tokens)),
      districts_(std::move(districts)),
      options_(options),
      log_(std::move(logger)),
      m_messages_acked_(metrics->GetCounter("yiwang_gateway_log_messages_total",
                                            "Messages of sensor events sent to the log, by answer",
                                            {{"result", "acked"}})),
      m_messages_duplicate_(metrics->GetCounter(
          "yiwang_gateway_log_messages_total",
          "Messages of sensor events sent to the log, by answer", {{"result", "duplicate"}})),
      m_messages_unavailable_(metrics->GetCounter(
          "yiwang_gateway_log_messages_total",
          "Messages of sensor events sent to the log, by answer", {{"result", "unavailable"}})),
      m_messages_overloaded_(metrics->GetCounter(
          "yiwang_gateway_log_messages_total",
          "Messages of sensor events sent to the log, by answer", {{"result", "overloaded"}})),
      m_events_per_message_(metrics->GetHistogram(
          "yiwang_gateway_events_per_message", "Sensor events packed into one log message",
          {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})),
      m_pending_events_(metrics->GetGauge("yiwang_gateway_pending_events",
                                          "Sensor events sent to the log, not yet answered")) {}

LogSink::~LogSink() {
  // Messages never handed to the publisher (the gateway stopped first) are answered too.
  std::vector<MessagePtr> left;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, subject] : subjects_)
      for (auto& m : subject.waiting) left.push_back(std::move(m));
    subjects_.clear();
  }
  for (const auto& m : left) Complete(*m, Outcome::kStopped);
}

Status LogSink::LookupToken(std::string_view token, yiwang::v1::TokenRecord* out) const {
  return tokens_(token, out);
}

size_t LogSink::pending_events() const {
  std::lock_guard lock(mu_);
  return pending_events_;
}

void LogSink::Submit(store::IngestRequest req) {
  const size_t n = req.events.size();
  if (n == 0) {
    req.done({});
    return;
  }
  // Grouped by subject in the order of first appearance, each group in frame order.
  std::vector<std::pair<std::string, std::vector<uint32_t>>> groups;
  std::unordered_map<std::string, size_t> group_of;
  for (uint32_t i = 0; i < n; ++i) {
    std::string subject = EventSubject(req.events[i].event().device_id(), districts_);
    auto [it, added] = group_of.try_emplace(std::move(subject), groups.size());
    if (added) groups.emplace_back(it->first, std::vector<uint32_t>{});
    groups[it->second].second.push_back(i);
  }
  auto frame = std::make_shared<Frame>(n, std::move(req.done));
  std::vector<std::pair<std::string, MessagePtr>> to_send;
  {
    std::lock_guard lock(mu_);
    if (pending_events_ + n > options_.max_pending_events) {
      frame->outcomes.assign(n, Outcome::kOverloaded);
    } else {
      pending_events_ += n;
      m_pending_events_.Set(static_cast<int64_t>(pending_events_));
      for (auto& [name, indexes] : groups) {
        Subject& subject = subjects_[name];
        PackLocked(subject, frame, indexes, req);
        if (MessagePtr m = NextLocked(subject)) to_send.emplace_back(name, std::move(m));
      }
      frame.reset();  // its messages hold it now
    }
  }
  if (frame) {  // refused: more than max_pending_events wait for the log
    m_messages_overloaded_.Inc();
    frame->done(std::move(frame->outcomes));
    return;
  }
  for (auto& [name, m] : to_send) Publish(name, std::move(m));
}

void LogSink::PackLocked(Subject& subject, const std::shared_ptr<Frame>& frame,
                         const std::vector<uint32_t>& indexes, store::IngestRequest& req) {
  Part* part = nullptr;
  for (uint32_t i : indexes) {
    yiwang::v1::StoredEvent& event = req.events[i];
    const size_t bytes = event.ByteSizeLong() + 4;  // + the field's tag and length
    if (subject.waiting.empty() ||
        subject.waiting.back()->keys.size() >= options_.max_events_per_message ||
        subject.waiting.back()->bytes + bytes > options_.max_bytes_per_message) {
      subject.waiting.push_back(std::make_shared<Message>());
      part = nullptr;
    }
    Message& m = *subject.waiting.back();
    if (!part) part = &m.parts.emplace_back(Part{frame, {}});
    part->indexes.push_back(i);
    m.keys.push_back(EventKey{event.event().device_id(), event.event().seq()});
    m.events.add_events()->Swap(&event);
    m.bytes += bytes;
  }
}

LogSink::MessagePtr LogSink::NextLocked(Subject& subject) {
  if (subject.in_flight || subject.waiting.empty()) return nullptr;
  MessagePtr m = std::move(subject.waiting.front());
  subject.waiting.pop_front();
  subject.in_flight = true;
  return m;
}

void LogSink::Publish(const std::string& subject, MessagePtr message) {
  while (message) {
    std::string data = message->events.SerializeAsString();
    yiwang::v1::LogEvents().Swap(&message->events);  // the bytes are all the log needs now
    std::string msg_id = EventsMsgId(message->keys);
    m_events_per_message_.Observe(static_cast<double>(message->keys.size()));
    Status s = publisher_->Submit(
        subject, std::move(msg_id), std::move(data),
        [this, subject, message](const Status& status, const log::PubAck& ack) {
          Outcome outcome = Outcome::kUnavailable;
          if (status.ok()) outcome = ack.duplicate ? Outcome::kDuplicate : Outcome::kAccepted;
          Answer(subject, message, outcome);
        });
    if (s.ok()) return;
    // The publisher's queue is full: this message is refused, the next one may fit.
    m_messages_overloaded_.Inc();
    Complete(*message, Outcome::kOverloaded);
    std::lock_guard lock(mu_);
    Subject& sub = subjects_[subject];
    sub.in_flight = false;
    message = NextLocked(sub);
  }
}

void LogSink::Answer(const std::string& subject, const MessagePtr& message, Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccepted: m_messages_acked_.Inc(); break;
    case Outcome::kDuplicate: m_messages_duplicate_.Inc(); break;
    default: m_messages_unavailable_.Inc(); break;
  }
  Complete(*message, outcome);
  std::deque<MessagePtr> unanswerable;
  MessagePtr next;
  {
    std::lock_guard lock(mu_);
    Subject& sub = subjects_[subject];
    sub.in_flight = false;
    if (outcome == Outcome::kUnavailable) unanswerable.swap(sub.waiting);
    next = NextLocked(sub);
  }
  if (!unanswerable.empty())
    log_->debug("{}: the log did not answer; {} waiting messages answered unavailable", subject,
                unanswerable.size());
  for (const auto& m : unanswerable) {
    m_messages_unavailable_.Inc();
    Complete(*m, Outcome::kUnavailable);
  }
  if (next) Publish(subject, std::move(next));
}

void LogSink::Complete(const Message& message, Outcome outcome) {
  // Not pending any more before any frame hears so: a caller that saw its last answer sees
  // pending_events() without it.
  {
    std::lock_guard lock(mu_);
    pending_events_ -= message.keys.size();
    m_pending_events_.Set(static_cast<int64_t>(pending_events_));
  }
  for (const Part& part : message.parts) {
    std::vector<Outcome> outcomes;
    {
      std::lock_guard lock(part.frame->mu);
      for (uint32_t i : part.indexes) part.frame->outcomes[i] = outcome;
      part.frame->unanswered -= part.indexes.size();
      if (part.frame->unanswered == 0) outcomes = std::move(part.frame->outcomes);
    }
    if (!outcomes.empty()) part.frame->done(std::move(outcomes));
  }
}

}  // namespace yiwang::ingest
