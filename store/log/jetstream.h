#pragma once
// The replicated log of cluster mode (docs/cluster.md): a NATS JetStream stream on a cluster of
// nats-servers. What the rest of the product needs of it, and nothing of nats.c's API:
//   - EnsureStream: create a stream (idempotently: an equal one is left alone, a differing one
//     is reported, never changed behind an operator's back);
//   - Publish: one message with a Msg-Id, answered once JetStream acknowledged it, i.e. stored
//     and (with our server config, `sync_interval: always`) fsynced on a quorum of the stream's
//     replicas; a resend of the same Msg-Id within the stream's duplicate window is reported as
//     a duplicate with the sequence of the first copy, not stored twice;
//   - Read: messages by stream sequence, in order (a core applies them from its position + 1).
// The connection reconnects by itself across the given servers; a call made while no server is
// reachable fails with Unavailable after its timeout, it never blocks longer.
//
// Thread safety: every method may be called from any thread (nats.c's connection and JetStream
// context are thread-safe).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "base/status.h"

namespace yiwang::log {

namespace internal {
struct LogAccess;  // the other files of this library reach the connection through it
}  // namespace internal

struct StreamSpec {
  std::string name;                   // e.g. "YW_EVENTS"
  std::vector<std::string> subjects;  // e.g. {"yw.ev.>"}
  int replicas = 3;                   // R3: a quorum of 2 of 3 servers acknowledges
  // Resends of a Msg-Id within this window are duplicates (JetStream's deduplication; past it,
  // (deviceId, seq) at the core is the final check).
  std::chrono::seconds duplicate_window{120};
  std::chrono::seconds max_age{0};  // 0: kept until removed by size or by hand
};

struct PubAck {
  uint64_t sequence = 0;   // the stream sequence of the message (of the first copy if duplicate)
  bool duplicate = false;  // a resend of a Msg-Id already stored within the window
};

struct LogMessage {
  uint64_t sequence = 0;
  std::string subject;
  std::string msg_id;  // the Nats-Msg-Id header, empty if none
  std::string data;
};

struct ConnectOptions {
  std::vector<std::string> urls;  // nats://host:port of several servers of one cluster
  std::string name = "yiwang";    // shown in the servers' connection lists
  // How long one request (publish, stream info, read) may wait for its answer.
  std::chrono::milliseconds timeout{5000};
};

class JetStreamLog {
 public:
  // Connects to any of the servers. Unavailable if none answers.
  static std::unique_ptr<JetStreamLog> Connect(const ConnectOptions& options,
                                               std::shared_ptr<spdlog::logger> logger,
                                               Status* status);
  ~JetStreamLog();
  JetStreamLog(const JetStreamLog&) = delete;
  JetStreamLog& operator=(const JetStreamLog&) = delete;

  // Creates the stream if missing (file storage). OK if it exists with the same subjects,
  // replicas and duplicate window; InvalidArgument naming the difference otherwise.
  Status EnsureStream(const StreamSpec& spec);

  // Publishes `data` on `subject` with Msg-Id `msg_id` and waits for JetStream's
  // acknowledgement. Unavailable: no server, no stream (leader) answering for the subject, a
  // timeout; the message may or may not be stored: resend it with the same Msg-Id.
  // `max_wait` bounds the wait for the acknowledgement (0: the connection's timeout).
  Status Publish(std::string_view subject, std::string_view msg_id, std::string_view data,
                 PubAck* ack, std::chrono::milliseconds max_wait = {});

  // The message at `sequence` of `stream`. NotFound if there is none (deleted or not yet
  // written), Unavailable as for Publish.
  Status Read(std::string_view stream, uint64_t sequence, LogMessage* out);

  // The stream's last sequence and the name of the server leading it (empty while electing).
  Status StreamState(std::string_view stream, uint64_t* last_sequence, std::string* leader);

 private:
  friend struct internal::LogAccess;
  struct Impl;
  explicit JetStreamLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace yiwang::log
