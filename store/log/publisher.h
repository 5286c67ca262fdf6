#pragma once
// LogPublisher: publishes messages to the replicated log for callers that must never block (a
// gateway's I/O threads). Submit() queues a message and returns at once; a few publisher
// threads send queued messages concurrently, each waiting for its PubAck, and resend one with
// the same Msg-Id while the log is unreachable or electing a leader, up to the message's
// deadline. `done` runs exactly once per accepted message, on a publisher thread: OK with the
// PubAck (stored and fsynced on a quorum), or Unavailable when the deadline passed (the message
// may or may not be stored: the sender resends, the Msg-Id makes that safe). The queue is
// bounded: Submit refuses at once (Busy) when it is full, which a gateway answers "overloaded".
// Each attempt waits at most until the deadline, so an answer comes by then (give or take a
// retry_wait).
//
// Thread safety: Submit and pending() from any thread; the destructor stops the threads after
// the queued messages are done (each within its deadline).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "store/log/jetstream.h"

namespace yiwang::log {

struct PublisherOptions {
  size_t threads = 8;         // concurrent publishes (each waits for its PubAck)
  size_t max_pending = 4096;  // queued and in flight; beyond it Submit is refused
  std::chrono::milliseconds deadline{5000};  // per message, from Submit
  std::chrono::milliseconds retry_wait{50};  // between resends while the log is unreachable
};

class LogPublisher {
 public:
  using Done = std::function<void(const Status& status, const PubAck& ack)>;

  // `log` must outlive the publisher.
  LogPublisher(JetStreamLog* log, PublisherOptions options = {});
  ~LogPublisher();
  LogPublisher(const LogPublisher&) = delete;
  LogPublisher& operator=(const LogPublisher&) = delete;

  // Queues the message. Busy (nothing queued, `done` not called) if max_pending are pending.
  Status Submit(std::string subject, std::string msg_id, std::string data, Done done);
  // Messages queued or in flight.
  size_t pending() const;

 private:
  struct Item {
    std::string subject, msg_id, data;
    Done done;
    std::chrono::steady_clock::time_point deadline;
  };
  void Run();
  void Publish(Item& item);

  JetStreamLog* const log_;
  const PublisherOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace yiwang::log
