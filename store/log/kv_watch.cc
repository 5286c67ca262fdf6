#include "store/log/kv_watch.h"

#include <cstring>

#include <fmt/format.h>

#include "store/log/internal/nats.h"

namespace yiwang::log {

namespace {

using internal::FromNats;
using internal::MsgPtr;
using internal::StreamInfoPtr;

// nats.c's marker of a delete or purge: a header on an otherwise empty message.
bool IsDeletion(natsMsg* msg) {
  const char* op = nullptr;
  if (natsMsgHeader_Get(msg, "KV-Operation", &op) != NATS_OK || op == nullptr) return false;
  return std::strcmp(op, "DEL") == 0 || std::strcmp(op, "PURGE") == 0;
}

// How many messages of the consumer are still to come after `msg` (0: it was the last one the
// stream held when it was delivered). -1 if the message carries no metadata.
int64_t PendingAfter(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK || meta == nullptr) return -1;
  const auto pending = static_cast<int64_t>(meta->NumPending);
  jsMsgMetaData_Destroy(meta);
  return pending;
}

}  // namespace

struct KvWatch::Sub {
  ~Sub() {
    // Destroy (unlike Unsubscribe) does not ask the server to delete the consumer, which could
    // wait a request timeout with the cluster down; the server drops an ephemeral consumer
    // nobody listens to by itself.
    if (sub) natsSubscription_Destroy(sub);
  }
  natsSubscription* sub = nullptr;
};

KvWatch::KvWatch(JetStreamLog* log, std::string bucket, Handlers handlers)
    : log_(log),
      bucket_(std::move(bucket)),
      prefix_(fmt::format("$KV.{}.", bucket_)),
      handlers_(std::move(handlers)),
      sub_(std::make_unique<Sub>()) {}

std::unique_ptr<KvWatch> KvWatch::Start(JetStreamLog* log, std::string_view bucket,
                                        Handlers handlers, Status* status) {
  internal::Connection& c = internal::ConnectionOf(*log);
  std::unique_ptr<KvWatch> w(new KvWatch(log, std::string(bucket), std::move(handlers)));
  const std::string stream = fmt::format("KV_{}", bucket);
  // An empty bucket delivers nothing, so "caught up" cannot wait for a last message: it is known
  // from the stream's count, read before the consumer starts (a write in between is delivered
  // after on_caught_up, as any later write).
  jsErrCode err = static_cast<jsErrCode>(0);
  jsStreamInfo* raw_info = nullptr;
  natsStatus s = js_GetStreamInfo(&raw_info, c.js, stream.c_str(), nullptr, &err);
  StreamInfoPtr info(raw_info);
  if (s != NATS_OK) {
    *status = FromNats(s, err, "bucket info " + std::string(bucket));
    return nullptr;
  }
  const bool empty = info->State.Msgs == 0;

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverLastPerSubject;
  // nats.c's default for ordered consumers is 5 s, and it checks for missed heartbeats every two:
  // the loss of the consumer's server stopped the watch for 10 to 20 s (measured).
  so.Config.Heartbeat = std::chrono::nanoseconds(kHeartbeat).count();
  const std::string subject = w->prefix_ + ">";
  s = js_SubscribeSync(&w->sub_->sub, c.js, subject.c_str(), nullptr, &so, &err);
  // Never drop a delivered message as a slow consumer: a large bucket arrives at once.
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(w->sub_->sub, -1, -1);
  if (s != NATS_OK) {
    *status = FromNats(s, err, "watch bucket " + std::string(bucket));
    return nullptr;
  }
  w->thread_ = std::thread([raw = w.get(), empty] { raw->Run(empty); });
  *status = Status::Ok();
  return w;
}

KvWatch::~KvWatch() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// Waits for messages in steps of kPoll, so that the destructor is answered within one step
// whatever the connection's state.
void KvWatch::Run(bool empty_at_start) {
  internal::Connection& c = internal::ConnectionOf(*log_);
  bool caught_up = false;
  if (empty_at_start) {
    caught_up = true;
    if (handlers_.on_caught_up) handlers_.on_caught_up();
  }
  while (!stop_) {
    natsMsg* raw = nullptr;
    natsStatus s = natsSubscription_NextMsg(&raw, sub_->sub, kPoll.count());
    MsgPtr msg(raw);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      // Not expected (the consumer recreates itself); say so and keep trying.
      c.log->warn("watch of bucket {}: {}", bucket_, FromNats(s, 0, "next").ToString());
      std::this_thread::sleep_for(kPoll);
      continue;
    }
    const std::string_view subject = natsMsg_GetSubject(msg.get());
    if (subject.size() <= prefix_.size() || subject.substr(0, prefix_.size()) != prefix_) {
      c.log->warn("watch of bucket {}: ignored a message on {}", bucket_, subject);
      continue;
    }
    const bool deleted = IsDeletion(msg.get());
    const std::string_view value =
        deleted ? std::string_view()
                : std::string_view(natsMsg_GetData(msg.get()),
                                   static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    if (handlers_.on_entry) handlers_.on_entry(subject.substr(prefix_.size()), value, deleted);
    if (!caught_up && PendingAfter(msg.get()) == 0) {
      caught_up = true;
      if (handlers_.on_caught_up) handlers_.on_caught_up();
    }
  }
}

}  // namespace yiwang::log
