#include "ingest/ingest_service.h"

#include <algorithm>

#include "base/text.h"
#include "base/time.h"
#include "ingest/frame_codec.h"

namespace yiwang::ingest {

using yiwang::v1::IngestAck;
using yiwang::v1::StoredEvent;
using yiwang::v1::TokenRecord;

IngestService::IngestService(store::EventStore* store, IngestLimits limits, Metrics* metrics,
                             std::shared_ptr<spdlog::logger> logger, Clock clock,
                             DistrictLookup districts)
    : IngestService(std::make_unique<StoreSink>(store), nullptr, limits, metrics,
                    std::move(logger), std::move(clock), std::move(districts)) {}

IngestService::IngestService(EventSink* sink, IngestLimits limits, Metrics* metrics,
                             std::shared_ptr<spdlog::logger> logger, Clock clock,
                             DistrictLookup districts)
    : IngestService(nullptr, sink, limits, metrics, std::move(logger), std::move(clock),
                    std::move(districts)) {}

IngestService::IngestService(std::unique_ptr<EventSink> own_sink, EventSink* sink,
                             IngestLimits limits, Metrics* metrics,
                             std::shared_ptr<spdlog::logger> logger, Clock clock,
                             DistrictLookup districts)
    : own_sink_(std::move(own_sink)),
      sink_(own_sink_ ? own_sink_.get() : sink),
      limits_(limits),
      metrics_(metrics),
      log_(std::move(logger)),
      clock_(std::move(clock)),
      districts_(std::move(districts)),
      new_devices_(sink_, limits.max_new_devices_per_hour, kDefaultMaxKnownDevices, clock_),
      m_accepted_(metrics->GetCounter("yiwang_ingest_events_total", "Sensor events by result",
                                      {{"result", "accepted"}})),
      m_duplicates_(metrics->GetCounter("yiwang_ingest_events_total", "Sensor events by result",
                                        {{"result", "duplicate"}})),
      m_flagged_(metrics->GetCounter("yiwang_ingest_flagged_total",
                                     "Accepted events stored with a flag (observedAt ahead)")),
      m_frames_binary_(metrics->GetCounter("yiwang_ingest_frames_total", "Frames received",
                                           {{"encoding", "protobuf"}})),
      m_frames_text_(metrics->GetCounter("yiwang_ingest_frames_total", "Frames received",
                                         {{"encoding", "json"}})),
      m_ack_seconds_(metrics->GetHistogram("yiwang_ingest_ack_seconds",
                                           "From frame received to ack ready (durable)",
                                           Metrics::LatencyBuckets())),
      m_events_per_frame_(metrics->GetHistogram(
          "yiwang_ingest_events_per_frame", "Events carried by one frame",
          {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000})),
      m_rejected_(kRejectCount, nullptr) {
  for (int i = 1; i < kRejectCount; ++i) {
    m_rejected_[i] = &metrics->GetCounter("yiwang_ingest_rejected_total",
                                          "Sensor events rejected, by reason",
                                          {{"reason", RejectName(static_cast<Reject>(i))}});
  }
}

Counter& IngestService::RejectCounter(Reject r) { return *m_rejected_[static_cast<int>(r)]; }

void IngestService::CountFrameError(const std::string& error) {
  metrics_->GetCounter("yiwang_ingest_frame_errors_total", "Frames refused whole, by error",
                       {{"error", error}})
      .Inc();
}

Status IngestService::Authenticate(std::string_view authorization, TokenRecord* token,
                                   std::string* hash) const {
  auto raw = BearerToken(authorization);
  if (!raw) return Status::InvalidArgument("missing bearer token");
  Status s = sink_->LookupToken(*raw, token);
  if (!s.ok()) return Status::NotFound("unknown token");
  if (token->revoked() || token->kind() != yiwang::v1::TOKEN_KIND_DEVICE)
    return Status::NotFound("token is not a valid device token");
  const std::string key = store::TokenHash(*raw);
  token->set_id(store::TokenId(key, *token));  // the new-device budget counts by it
  if (hash) *hash = key;
  return Status::Ok();
}

// A frame's events on their way to the store: what its ack needs once the store has decided.
struct IngestService::Pending {
  IngestAck ack;                  // rejections so far, in frame order
  std::vector<uint32_t> indexes;  // position in the frame of each submitted event
  std::vector<bool> flagged;      // per submitted event: observedAt ahead
  bool binary = false;
  std::chrono::steady_clock::time_point received;
  Reply reply;
};

size_t IngestService::HandleFrame(std::string_view data, bool binary, const TokenRecord& token,
                                  Reply reply) {
  Pending p;
  p.binary = binary;
  p.received = std::chrono::steady_clock::now();
  p.reply = std::move(reply);
  const auto now = clock_.Now();
  (binary ? m_frames_binary_ : m_frames_text_).Inc();

  DecodedFrame frame = DecodeFrame(data, binary, limits_);
  p.ack.set_batch_id(frame.batch.batch_id());
  if (shutting_down_.load())
    return RefuseFrame(p, "shutting_down", "server is stopping; resend after reconnecting");
  if (!frame.error.empty()) {
    log_->debug("frame refused: {} ({})", frame.error, frame.message);
    return RefuseFrame(p, frame.error, frame.message);
  }
  m_events_per_frame_.Observe(frame.batch.events_size());

  store::IngestRequest req = Admit(&frame, token, now, &p);
  if (req.events.empty()) {
    Acknowledge(p, {});
    return 0;
  }
  const size_t submitted = req.events.size();
  req.done = [this, p = std::move(p)](std::vector<store::Outcome> outcomes) mutable {
    Acknowledge(p, outcomes);
  };
  sink_->Submit(std::move(req));
  return submitted;
}

size_t IngestService::RefuseFrame(Pending& p, const std::string& error,
                                  const std::string& message) {
  p.ack.set_error(error);
  p.ack.set_message(message);
  CountFrameError(error);
  p.reply(EncodeAck(p.ack, p.binary));
  return 0;
}

void IngestService::AddRejection(IngestAck* ack, uint32_t index, Reject r, std::string detail) {
  auto* rej = ack->add_rejected();
  rej->set_index(index);
  rej->set_reason(RejectName(r));
  if (!detail.empty()) rej->set_detail(std::move(detail));
  RejectCounter(r).Inc();
}

store::IngestRequest IngestService::Admit(DecodedFrame* frame, const TokenRecord& token,
                                          std::chrono::system_clock::time_point now, Pending* p) {
  // Malformed events are rejected in the same pass as invalid ones, so that the rejections of a
  // frame answered at once are in frame order too (the fuzz smoke test found them out of order).
  std::vector<std::string*> malformed(frame->batch.events_size(), nullptr);
  for (auto& [index, message] : frame->malformed) malformed[index] = &message;

  store::IngestRequest req;
  req.events.reserve(frame->batch.events_size());
  const google::protobuf::Timestamp received_at = ToProtoTime(now);
  for (int i = 0; i < frame->batch.events_size(); ++i) {
    const auto index = static_cast<uint32_t>(i);
    if (malformed[i]) {
      AddRejection(&p->ack, index, Reject::kMalformedEvent, std::move(*malformed[i]));
      continue;
    }
    auto* ev = frame->batch.mutable_events(i);
    Verdict v = ValidateEvent(*ev, token.device_prefix(), now, limits_);
    if (v.reject == Reject::kNone) {
      const Verdict scope = CheckDistrictScope(*ev, token.districts(), districts_);
      if (scope.reject != Reject::kNone) v = scope;
    }
    // Last: only an event that is valid otherwise may spend the token's budget.
    if (v.reject == Reject::kNone && !new_devices_.Admit(token.id(), ev->device_id()))
      v = {Reject::kTooManyNewDevices, "deviceId"};
    if (v.reject != Reject::kNone) {
      AddRejection(&p->ack, index, v.reject, std::move(v.detail));
      continue;
    }
    StoredEvent& se = req.events.emplace_back();
    se.mutable_event()->Swap(ev);
    *se.mutable_received_at() = received_at;
    se.set_token_name(token.name());
    if (v.future_flag) se.add_flags(yiwang::v1::EVENT_FLAG_FUTURE_OBSERVED_AT);
    p->flagged.push_back(v.future_flag);
    p->indexes.push_back(index);
  }
  return req;
}

namespace {

// A frame none of whose events was stored, all refused for one reason of the server's (not of
// the events), carries that reason as its error too: the client resends it whole.
void SetWholeFrameRefusal(IngestAck* ack, const std::vector<store::Outcome>& outcomes) {
  if (outcomes.empty() ||
      std::any_of(outcomes.begin(), outcomes.end(), [&](auto o) { return o != outcomes[0]; }))
    return;
  switch (outcomes[0]) {
    case store::Outcome::kStorageFull:
      ack->set_error("storage_full");
      ack->set_message("the server's disk is full; nothing was stored, resend later");
      return;
    case store::Outcome::kOverloaded:
      ack->set_error("overloaded");
      ack->set_message("the server's write queue is full; nothing was stored, resend later");
      return;
    case store::Outcome::kUnavailable:
      ack->set_error("unavailable");
      ack->set_message(
          "the replicated log did not acknowledge in time; resend (a resend is never stored "
          "twice)");
      return;
    default:
      return;
  }
}

}  // namespace

void IngestService::Acknowledge(Pending& p, const std::vector<store::Outcome>& outcomes) {
  uint32_t accepted = 0, duplicates = 0, flagged_accepted = 0;
  for (size_t k = 0; k < outcomes.size(); ++k) {
    Reject r = Reject::kNone;
    switch (outcomes[k]) {
      case store::Outcome::kAccepted:
        ++accepted;
        flagged_accepted += p.flagged[k];
        continue;
      case store::Outcome::kDuplicate: ++duplicates; continue;
      case store::Outcome::kReplay: r = Reject::kReplay; break;
      case store::Outcome::kStorageFull: r = Reject::kStorageFull; break;
      case store::Outcome::kOverloaded: r = Reject::kOverloaded; break;
      case store::Outcome::kStopped: r = Reject::kShuttingDown; break;
      case store::Outcome::kUnavailable: r = Reject::kUnavailable; break;
    }
    AddRejection(&p.ack, p.indexes[k], r, {});
  }
  // Rejections were appended in two passes; keep them in frame order for the client.
  std::sort(p.ack.mutable_rejected()->begin(), p.ack.mutable_rejected()->end(),
            [](const auto& a, const auto& b) { return a.index() < b.index(); });
  p.ack.set_accepted(accepted);
  p.ack.set_duplicates(duplicates);
  p.ack.set_flagged(flagged_accepted);
  if (accepted == 0 && duplicates == 0) SetWholeFrameRefusal(&p.ack, outcomes);
  m_accepted_.Inc(accepted);
  m_duplicates_.Inc(duplicates);
  m_flagged_.Inc(flagged_accepted);
  m_ack_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - p.received).count());
  p.reply(EncodeAck(p.ack, p.binary));
}

}  // namespace yiwang::ingest
