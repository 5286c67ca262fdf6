#pragma once
// EventSink: where the sensor endpoint stores the events it accepted, and the little it reads
// of stored state (a token's record, whether a device is known). The single process stores into
// its embedded store (StoreSink, below); a gateway of cluster mode will publish into the
// replicated log instead (docs/cluster.md, "Next: the gateway").
//
// Thread safety: every method may be called from any thread.

#include <string_view>

#include "base/status.h"
#include "store/event_store.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::ingest {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // The record of a bearer token (the secret, not its hash). NotFound if unknown.
  virtual Status LookupToken(std::string_view token, yiwang::v1::TokenRecord* out) const = 0;
  // True if an event of `device_id` was stored before.
  virtual bool KnownDevice(std::string_view device_id) const = 0;
  // Takes validated events; calls `req.done` exactly once, with one outcome per event, when each
  // is durable or refused (store::IngestRequest says where that may run).
  virtual void Submit(store::IngestRequest req) = 0;
};

// The embedded store of the single process: an ack means fsynced on this machine.
class StoreSink final : public EventSink {
 public:
  // `store` must outlive the sink.
  explicit StoreSink(store::EventStore* store) : store_(store) {}
  Status LookupToken(std::string_view token, yiwang::v1::TokenRecord* out) const override {
    return store_->LookupToken(token, out);
  }
  bool KnownDevice(std::string_view device_id) const override {
    yiwang::v1::DeviceState state;
    return store_->GetDevice(device_id, &state).ok();
  }
  void Submit(store::IngestRequest req) override {
    store::PrepareIngest(&req);  // serialise and hash here, off the single writer thread
    store_->SubmitIngest(std::move(req));
  }

 private:
  store::EventStore* const store_;
};

}  // namespace yiwang::ingest
