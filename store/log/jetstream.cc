#include "store/log/jetstream.h"

#include <algorithm>

#include <fmt/format.h>

#include "store/log/internal/nats.h"

namespace yiwang::log {

namespace internal {

Status FromNats(natsStatus s, int js_err, std::string_view what) {
  const char* text = nats_GetLastError(nullptr);
  std::string msg = fmt::format("{}: {}{}", what, natsStatus_GetText(s),
                                text && *text ? fmt::format(" ({})", text) : std::string());
  if (js_err != 0) msg += fmt::format(" [JetStream error {}]", js_err);
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
      return Status::Unavailable(std::move(msg));
    case NATS_NOT_FOUND:
      return Status::NotFound(std::move(msg));
    default:
      break;
  }
  if (js_err == JSNoMessageFoundErr || js_err == JSStreamNotFoundErr)
    return Status::NotFound(std::move(msg));
  // JetStream answers a publish during a leader election with a 503, and any request while its
  // meta leader is elected with 10008 ("JetStream system temporarily unavailable"; a read of
  // the census after a leader kill got it).
  if (js_err == JSClusterNoPeersErr || js_err == JSClusterNotAvailErr || js_err == 0)
    return Status::Unavailable(std::move(msg));
  return Status::InvalidArgument(std::move(msg));
}

}  // namespace internal

using internal::FromNats;
using internal::kNanosPerSecond;
using internal::MsgPtr;
using internal::OptionsPtr;
using internal::PubAckPtr;
using internal::StreamInfoPtr;

std::unique_ptr<JetStreamLog> JetStreamLog::Connect(const ConnectOptions& options,
                                                    std::shared_ptr<spdlog::logger> logger,
                                                    Status* status) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->log = std::move(logger);
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) {
    *status = FromNats(s, 0, "nats options");
    return nullptr;
  }
  OptionsPtr opts(raw);
  std::vector<const char*> urls;
  for (const auto& u : options.urls) urls.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(opts.get(), urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts.get(), options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts.get(), options.timeout.count());
  // Reconnect for ever, every 250 ms, across every server: a node loss must not end the log.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts.get(), 250);
  // A server that stops answering without closing the connection (paused, a half-open link) is
  // left after 3 unanswered pings a second apart, not after the library's default 2 x 2
  // minutes during which every request would time out.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts.get(), 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts.get(), 3);
  if (s == NATS_OK) s = natsConnection_Connect(&impl->nc, opts.get());
  if (s != NATS_OK) {
    *status = FromNats(s, 0, fmt::format("connect to {}", fmt::join(options.urls, ",")));
    return nullptr;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.timeout.count();
  if (s = natsConnection_JetStream(&impl->js, impl->nc, &jo); s != NATS_OK) {
    *status = FromNats(s, 0, "JetStream context");
    return nullptr;
  }
  *status = Status::Ok();
  return std::unique_ptr<JetStreamLog>(new JetStreamLog(std::move(impl)));
}

JetStreamLog::JetStreamLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamLog::~JetStreamLog() = default;

Status JetStreamLog::EnsureStream(const StreamSpec& spec) {
  jsErrCode err = static_cast<jsErrCode>(0);
  jsStreamInfo* raw = nullptr;
  natsStatus s = js_GetStreamInfo(&raw, impl_->js, spec.name.c_str(), nullptr, &err);
  StreamInfoPtr info(raw);
  if (s == NATS_OK) {
    const jsStreamConfig& c = *info->Config;
    std::vector<std::string> have(c.Subjects, c.Subjects + c.SubjectsLen);
    std::vector<std::string> want = spec.subjects;
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    if (have != want || c.Replicas != spec.replicas ||
        c.Duplicates != spec.duplicate_window.count() * kNanosPerSecond)
      return Status::InvalidArgument(fmt::format(
          "stream {} exists with other settings (subjects {}, replicas {}, duplicate window "
          "{} s)",
          spec.name, fmt::join(have, ","), c.Replicas, c.Duplicates / kNanosPerSecond));
    return Status::Ok();
  }
  if (s != NATS_NOT_FOUND && err != JSStreamNotFoundErr)
    return FromNats(s, err, "stream info " + spec.name);

  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& subject : spec.subjects) subjects.push_back(subject.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = js_FileStorage;
  cfg.Replicas = spec.replicas;
  cfg.Duplicates = spec.duplicate_window.count() * kNanosPerSecond;
  cfg.MaxAge = spec.max_age.count() * kNanosPerSecond;
  cfg.AllowDirect = false;  // reads go to the leader: a follower may lag behind an ack
  raw = nullptr;
  s = js_AddStream(&raw, impl_->js, &cfg, nullptr, &err);
  info.reset(raw);
  if (s != NATS_OK) return FromNats(s, err, "create stream " + spec.name);
  impl_->log->info("stream {} created ({} replicas)", spec.name, spec.replicas);
  return Status::Ok();
}

Status JetStreamLog::Publish(std::string_view subject, std::string_view msg_id,
                             std::string_view data, PubAck* ack,
                             std::chrono::milliseconds max_wait) {
  const std::string subj(subject), id(msg_id);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.empty() ? nullptr : id.c_str();
  po.MaxWait = (max_wait.count() > 0 ? max_wait : impl_->options.timeout).count();
  jsErrCode err = static_cast<jsErrCode>(0);
  jsPubAck* raw = nullptr;
  natsStatus s = js_Publish(&raw, impl_->js, subj.c_str(), data.data(),
                            static_cast<int>(data.size()), &po, &err);
  PubAckPtr pa(raw);
  if (s != NATS_OK) return FromNats(s, err, "publish on " + subj);
  ack->sequence = pa->Sequence;
  ack->duplicate = pa->Duplicate;
  return Status::Ok();
}

Status JetStreamLog::Read(std::string_view stream, uint64_t sequence, LogMessage* out) {
  const std::string name(stream);
  jsErrCode err = static_cast<jsErrCode>(0);
  natsMsg* raw = nullptr;
  natsStatus s = js_GetMsg(&raw, impl_->js, name.c_str(), sequence, nullptr, &err);
  MsgPtr msg(raw);
  if (s != NATS_OK) return FromNats(s, err, fmt::format("read {} #{}", name, sequence));
  out->sequence = sequence;
  out->subject = natsMsg_GetSubject(msg.get());
  out->data.assign(natsMsg_GetData(msg.get()), natsMsg_GetDataLength(msg.get()));
  const char* id = nullptr;
  out->msg_id = natsMsgHeader_Get(msg.get(), "Nats-Msg-Id", &id) == NATS_OK && id ? id : "";
  return Status::Ok();
}

Status JetStreamLog::StreamState(std::string_view stream, uint64_t* last_sequence,
                                 std::string* leader) {
  const std::string name(stream);
  jsErrCode err = static_cast<jsErrCode>(0);
  jsStreamInfo* raw = nullptr;
  natsStatus s = js_GetStreamInfo(&raw, impl_->js, name.c_str(), nullptr, &err);
  StreamInfoPtr info(raw);
  if (s != NATS_OK) return FromNats(s, err, "stream info " + name);
  *last_sequence = info->State.LastSeq;
  *leader = info->Cluster && info->Cluster->Leader ? info->Cluster->Leader : "";
  return Status::Ok();
}

}  // namespace yiwang::log
