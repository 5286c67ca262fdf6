#include "store/log/follower.h"

#include <fmt/format.h>

#include "store/log/internal/nats.h"

namespace yiwang::log {

using internal::FromNats;
using internal::MsgPtr;

struct LogFollower::Sub {
  ~Sub() {
    // Destroy, not Unsubscribe: no request to the server, which may be down (kv_watch.cc).
    if (sub) natsSubscription_Destroy(sub);
  }
  natsSubscription* sub = nullptr;
};

LogFollower::LogFollower(std::string stream)
    : stream_(std::move(stream)), sub_(std::make_unique<Sub>()) {}

LogFollower::~LogFollower() = default;

std::unique_ptr<LogFollower> LogFollower::Start(JetStreamLog* log, std::string_view stream,
                                                std::string_view subjects,
                                                uint64_t from_sequence, Status* status) {
  internal::Connection& c = internal::ConnectionOf(*log);
  std::unique_ptr<LogFollower> f(new LogFollower(std::string(stream)));
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = f->stream_.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = from_sequence < 1 ? 1 : from_sequence;
  so.Config.Heartbeat = std::chrono::nanoseconds(kHeartbeat).count();
  jsErrCode err = static_cast<jsErrCode>(0);
  const std::string filter(subjects);
  natsStatus s = js_SubscribeSync(&f->sub_->sub, c.js, filter.c_str(), nullptr, &so, &err);
  if (s != NATS_OK) {
    *status = FromNats(s, err, fmt::format("follow {} from #{}", stream, from_sequence));
    return nullptr;
  }
  *status = Status::Ok();
  return f;
}

Status LogFollower::Next(LogMessage* out, std::chrono::milliseconds wait, uint64_t* pending) {
  natsMsg* raw = nullptr;
  natsStatus s = natsSubscription_NextMsg(&raw, sub_->sub, wait.count());
  MsgPtr msg(raw);
  if (s == NATS_TIMEOUT) return Status::Busy("no message yet");
  if (s != NATS_OK) return FromNats(s, 0, "next message of " + stream_);
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg.get()) != NATS_OK || meta == nullptr)
    return Status::Corruption("a message of " + stream_ + " without its metadata");
  out->sequence = meta->Sequence.Stream;
  if (pending) *pending = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  out->subject = natsMsg_GetSubject(msg.get());
  out->data.assign(natsMsg_GetData(msg.get()),
                   static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
  const char* id = nullptr;
  out->msg_id = natsMsgHeader_Get(msg.get(), "Nats-Msg-Id", &id) == NATS_OK && id ? id : "";
  return Status::Ok();
}

}  // namespace yiwang::log
