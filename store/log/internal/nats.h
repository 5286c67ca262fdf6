#pragma once
// Private to yiwang::log: what its files (jetstream.cc, kv.cc, kv_watch.cc) share of nats.c:
// the connection behind a JetStreamLog, the mapping of nats.c's errors to Status, and owning
// pointers for nats.c's objects. Nothing outside store/log includes it.

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include <spdlog/logger.h>

#include "base/status.h"
#include "store/log/jetstream.h"

namespace yiwang::log {

// The connection and JetStream context of a JetStreamLog (both thread-safe in nats.c).
struct JetStreamLog::Impl {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ConnectOptions options;
  std::shared_ptr<spdlog::logger> log;

  ~Impl() {
    if (js) jsCtx_Destroy(js);
    if (nc) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
  }
};

namespace internal {

// The connection behind a JetStreamLog, for the other files of this library.
struct LogAccess {
  using Connection = JetStreamLog::Impl;
  static Connection& Of(JetStreamLog& log) { return *log.impl_; }
};
using Connection = LogAccess::Connection;
inline Connection& ConnectionOf(JetStreamLog& log) { return LogAccess::Of(log); }

// nats.c's status and its last error text, as our Status. Transport trouble (no server, a
// timeout, no responders while a stream leader is elected) is Unavailable: the caller retries.
Status FromNats(natsStatus s, int js_err, std::string_view what);

template <typename T, void (*Destroy)(T*)>
struct NatsDeleter {
  void operator()(T* p) const { Destroy(p); }
};
using OptionsPtr = std::unique_ptr<natsOptions, NatsDeleter<natsOptions, natsOptions_Destroy>>;
using StreamInfoPtr =
    std::unique_ptr<jsStreamInfo, NatsDeleter<jsStreamInfo, jsStreamInfo_Destroy>>;
using PubAckPtr = std::unique_ptr<jsPubAck, NatsDeleter<jsPubAck, jsPubAck_Destroy>>;
using MsgPtr = std::unique_ptr<natsMsg, NatsDeleter<natsMsg, natsMsg_Destroy>>;

constexpr int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace internal
}  // namespace yiwang::log
