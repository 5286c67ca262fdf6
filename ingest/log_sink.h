#pragma once
// LogSink: the EventSink of a cluster gateway (docs/cluster.md): accepted events go into the
// replicated log instead of a local store, and a frame's events are acknowledged when JetStream
// has acknowledged every message that carries them (stored and fsynced on a quorum).
//
// Events travel by subject (EventSubject: a function of the device alone). Each subject has at
// most one message in flight; events of any frames that arrive meanwhile are packed into the
// subject's next message, sent the moment the one in flight is answered. An idle subject sends
// at once (no timer, no added latency), and under load a message carries what arrived during
// one round trip to the log: many 1-event frames cost one publish. A message carries at most
// `max_events_per_message` events and `max_bytes_per_message` bytes; its Msg-Id is derived from
// its events (EventsMsgId), so a frame resent whole into an idle subject is a duplicate that
// JetStream drops; packed with other events it is stored again and a core's (deviceId, seq)
// check drops it (docs/api.md, "Acks in cluster mode").
//
// A frame's outcome per event: accepted (its message acknowledged), duplicate (JetStream dropped
// its message as a resend), unavailable (not acknowledged by the publisher's deadline: maybe
// stored, resend), overloaded (more than `max_pending_events` waiting, or the publisher's queue
// full: not sent). Submit never blocks.
//
// Thread safety: every method may be called from any thread. Frames' `done` run on the
// publisher's threads (or on Submit's caller when refused at once).

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "ingest/event_sink.h"
#include "ingest/log_routing.h"
#include "ingest/validation.h"
#include "store/log/publisher.h"
#include "yiwang/v1/log.pb.h"

namespace yiwang::ingest {

struct LogSinkOptions {
  size_t max_events_per_message = 1000;
  size_t max_bytes_per_message = 512 * 1024;  // NATS refuses payloads over 1 MiB by default
  size_t max_pending_events = 200000;         // submitted, not yet answered
};

class LogSink final : public EventSink {
 public:
  // The record of a device token by its secret (a gateway's: the token directory).
  using TokenLookup =
      std::function<Status(std::string_view token, yiwang::v1::TokenRecord* out)>;

  // `publisher` and `metrics` must outlive the sink; the sink must outlive every Submit's
  // `done` (destroy the publisher first: it answers everything queued).
  LogSink(log::LogPublisher* publisher, TokenLookup tokens, DistrictLookup districts,
          Metrics* metrics, std::shared_ptr<spdlog::logger> logger, LogSinkOptions options = {});
  ~LogSink() override;

  Status LookupToken(std::string_view token, yiwang::v1::TokenRecord* out) const override;
  // A gateway has no store: no device is known before this process saw it, so a token's
  // new-device budget counts the devices this gateway saw first since it started.
  bool KnownDevice(std::string_view) const override { return false; }
  void Submit(store::IngestRequest req) override;

  size_t pending_events() const;

 private:
  struct Frame;  // one Submit: its outcomes, filled in as its messages are answered
  // The events of one frame that a message carries, by their position in the frame.
  struct Part {
    std::shared_ptr<Frame> frame;
    std::vector<uint32_t> indexes;
  };
  // Events of one subject, from one or more frames.
  struct Message {
    yiwang::v1::LogEvents events;
    std::vector<EventKey> keys;
    std::vector<Part> parts;
    size_t bytes = 0;
  };
  using MessagePtr = std::shared_ptr<Message>;
  // A subject's message in flight (at most one) and the messages waiting behind it; the last
  // waiting one takes new events until it is full.
  struct Subject {
    bool in_flight = false;
    std::deque<MessagePtr> waiting;
  };

  // Appends the events of `req` at `indexes` to `subject`'s waiting messages. REQUIRES: mu_.
  void PackLocked(Subject& subject, const std::shared_ptr<Frame>& frame,
                  const std::vector<uint32_t>& indexes, store::IngestRequest& req);
  // The message to send now on `subject`: its first waiting one, if none is in flight (it is
  // then in flight). REQUIRES: mu_.
  static MessagePtr NextLocked(Subject& subject);
  // Hands `message` to the publisher; if refused (full queue), answers it overloaded and goes
  // on with the subject's next one.
  void Publish(const std::string& subject, MessagePtr message);
  // The publisher's answer to the message in flight on `subject`: its frames learn their
  // outcome, and the subject's next message goes out. Unavailable also answers the messages
  // waiting behind it (the log is not answering: their senders hear so at once).
  void Answer(const std::string& subject, const MessagePtr& message, store::Outcome outcome);
  // Fills the outcome of every event `message` carries; completes the frames it finishes.
  void Complete(const Message& message, store::Outcome outcome);

  log::LogPublisher* const publisher_;
  const TokenLookup tokens_;
  const DistrictLookup districts_;
  const LogSinkOptions options_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Subject> subjects_;
  size_t pending_events_ = 0;

  Counter& m_messages_acked_;
  Counter& m_messages_duplicate_;
  Counter& m_messages_unavailable_;
  Counter& m_messages_overloaded_;
  Histogram& m_events_per_message_;
  Gauge& m_pending_events_;
};

}  // namespace yiwang::ingest
