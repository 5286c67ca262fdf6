#pragma once
// IngestService: turns one frame from an authenticated sensor connection into a durable write
// and an ack. No sockets here (sensor_endpoint.h owns those), so tests drive it directly; no
// storage either: it writes through an EventSink (event_sink.h: the embedded store, or the
// replicated log of a cluster gateway).
//
// Thread safety: HandleFrame and Authenticate may be called from any thread concurrently.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "ingest/event_sink.h"
#include "ingest/limits.h"
#include "ingest/new_device_budget.h"
#include "ingest/validation.h"
#include "store/event_store.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::ingest {

struct DecodedFrame;  // ingest/frame_codec.h

class IngestService {
 public:
  // `sink` and `metrics` must outlive the service. `clock` defaults to the system clock.
  // `districts` tells where events belong, for tokens scoped to districts (validation.h).
  IngestService(EventSink* sink, IngestLimits limits, Metrics* metrics,
                std::shared_ptr<spdlog::logger> logger, Clock clock = {},
                DistrictLookup districts = {});
  // Into the embedded store (a StoreSink of its own); `store` must outlive the service.
  IngestService(store::EventStore* store, IngestLimits limits, Metrics* metrics,
                std::shared_ptr<spdlog::logger> logger, Clock clock = {},
                DistrictLookup districts = {});

  // Checks an `Authorization: Bearer <token>` header value. On success fills *token with the
  // device token's record (its id set, store::TokenId) and *hash, if given, with the token's
  // hash (the key SensorEndpoint::CloseToken names it by). Errors: Status::InvalidArgument
  // (no/ill-formed header) and Status::NotFound (unknown, revoked or non-device token); both
  // mean HTTP 401.
  Status Authenticate(std::string_view authorization, yiwang::v1::TokenRecord* token,
                      std::string* hash = nullptr) const;

  // Called with the encoded ack (same encoding as the frame) once every event of the frame is
  // durable or refused. Runs on the store's writer thread or on the caller's thread.
  using Reply = std::function<void(std::string ack)>;

  // Decodes, validates (ValidateEvent, then CheckDistrictScope and the token's new-device
  // budget) and submits one frame. Returns the number of events submitted to the
  // store (0 if the frame was answered at once): the caller counts them as in flight until
  // `reply` runs. `reply` is called exactly once.
  size_t HandleFrame(std::string_view data, bool binary, const yiwang::v1::TokenRecord& token,
                     Reply reply);

  // Refuse new frames from now on (answered with error "shutting_down").
  void BeginShutdown() { shutting_down_.store(true); }

  const IngestLimits& limits() const { return limits_; }

 private:
  IngestService(std::unique_ptr<EventSink> own_sink, EventSink* sink, IngestLimits limits,
                Metrics* metrics, std::shared_ptr<spdlog::logger> logger, Clock clock,
                DistrictLookup districts);
  struct Pending;
  // Answers a frame refused whole (ack error and message); returns 0 events submitted.
  size_t RefuseFrame(Pending& p, const std::string& error, const std::string& message);
  // Judges each event of a decoded frame: the ones to store, the others rejected into p's ack.
  store::IngestRequest Admit(DecodedFrame* frame, const yiwang::v1::TokenRecord& token,
                             std::chrono::system_clock::time_point now, Pending* p);
  // Completes p's ack with the store's outcome of each submitted event and sends it.
  void Acknowledge(Pending& p, const std::vector<store::Outcome>& outcomes);
  void AddRejection(yiwang::v1::IngestAck* ack, uint32_t index, Reject r, std::string detail);
  Counter& RejectCounter(Reject r);
  void CountFrameError(const std::string& error);

  std::unique_ptr<EventSink> own_sink_;  // the StoreSink of the store constructor
  EventSink* sink_;
  IngestLimits limits_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Clock clock_;
  DistrictLookup districts_;
  NewDeviceBudget new_devices_;
  std::atomic<bool> shutting_down_{false};

  Counter& m_accepted_;
  Counter& m_duplicates_;
  Counter& m_flagged_;
  Counter& m_frames_binary_;
  Counter& m_frames_text_;
  Histogram& m_ack_seconds_;
  Histogram& m_events_per_frame_;
  std::vector<Counter*> m_rejected_;  // indexed by Reject
};

}  // namespace yiwang::ingest
