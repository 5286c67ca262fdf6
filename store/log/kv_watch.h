#pragma once
// KvWatch: follows a key-value bucket (kv.h): calls on_entry for the current value of every key,
// then on_caught_up once, then on_entry for every later write and delete, in the bucket's order,
// on a thread of its own. Readers of cluster mode (a gateway's token directory) keep a local copy
// of a bucket with it.
//
// It is a JetStream ordered consumer (kept in memory on one server) with an idle heartbeat of
// kHeartbeat: when that server dies or restarts, the heartbeats stop and nats.c recreates the
// consumer from the next sequence, checking every 2 heartbeats, so nothing is missed and nothing
// is delivered twice (tests/log/token_directory_test.cc: the watch resumes within about 3 s of
// the bucket's new leader, most often at once).
//
// Thread safety: the callbacks run on the watch's thread, one at a time, never after the
// destructor returned. The destructor may be called from any thread but a callback's; it
// returns within about kPoll.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "store/log/jetstream.h"

namespace yiwang::log {

class KvWatch {
 public:
  static constexpr std::chrono::milliseconds kHeartbeat{500};
  static constexpr std::chrono::milliseconds kPoll{100};

  struct Handlers {
    // A key's value (`deleted` false), or its deletion (`deleted` true, `value` empty).
    std::function<void(std::string_view key, std::string_view value, bool deleted)> on_entry;
    // Once, after the values the bucket held when the watch started.
    std::function<void()> on_caught_up;
  };

  // Starts watching `bucket`. NotFound: no such bucket; Unavailable: no server or leader
  // answered. REQUIRES: `log` outlives the watch.
  static std::unique_ptr<KvWatch> Start(JetStreamLog* log, std::string_view bucket,
                                        Handlers handlers, Status* status);
  ~KvWatch();
  KvWatch(const KvWatch&) = delete;
  KvWatch& operator=(const KvWatch&) = delete;

 private:
  struct Sub;  // nats.c's subscription (kv_watch.cc)
  KvWatch(JetStreamLog* log, std::string bucket, Handlers handlers);
  void Run(bool empty_at_start);

  JetStreamLog* const log_;
  const std::string bucket_;
  const std::string prefix_;  // "$KV.<bucket>.": a message's subject is prefix_ + key
  const Handlers handlers_;
  std::unique_ptr<Sub> sub_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace yiwang::log
