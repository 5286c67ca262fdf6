#pragma once
// LogFollower: reads a stream of the log in order from a given sequence on, and keeps reading as
// it grows: how a cluster core applies the log from its recorded position + 1 (docs/cluster.md).
//
// It is an ephemeral JetStream ordered consumer, not a durable one: the position that matters
// is the core's own, committed in its RocksDB with the effects of what it applied, so the
// server keeps no state for a reader (nothing to clean up after a core is gone, nothing that can
// disagree with the core's store). nats.c recreates the consumer from the next sequence when
// its server dies or a message goes missing (heartbeats every kHeartbeat, as kv_watch.h).
//
// Thread safety: one thread calls Next; the destructor returns promptly whatever the cluster's
// state (the server drops an ephemeral consumer nobody listens to by itself).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/log/jetstream.h"

namespace yiwang::log {

class LogFollower {
 public:
  static constexpr std::chrono::milliseconds kHeartbeat{500};

  // Follows the messages of `stream` on `subjects` (a filter within the stream's subjects, e.g.
  // "yw.ev.>") from `from_sequence` (>= 1). NotFound: no such stream; Unavailable: no server or
  // leader answered (retry). REQUIRES: `log` outlives the follower.
  static std::unique_ptr<LogFollower> Start(JetStreamLog* log, std::string_view stream,
                                            std::string_view subjects, uint64_t from_sequence,
                                            Status* status);
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  // The next message, waiting at most `wait`; Busy if none came. *pending (if given) gets how
  // many more the stream held when this one was delivered (0: it was the last).
  Status Next(LogMessage* out, std::chrono::milliseconds wait, uint64_t* pending = nullptr);

 private:
  struct Sub;  // nats.c's subscription (follower.cc)
  explicit LogFollower(std::string stream);

  const std::string stream_;
  std::unique_ptr<Sub> sub_;
};

}  // namespace yiwang::log
