#pragma once
// Calls of the log retried while the cluster cannot answer yet: a new cluster elects its
// leaders and places replicas for a few seconds, a restarted server rejoins. Every call of the
// log answers Unavailable then (jetstream.h); any other answer is final.
//
// Thread safety: a pure function of `attempt` (called on the caller's thread).

#include <chrono>
#include <thread>

#include "base/status.h"

namespace yiwang::log {

// Runs `attempt` until it answers anything but Unavailable, or `timeout` passed (then its last
// answer), `interval` apart.
template <typename Attempt>
Status RetryWhileUnavailable(Attempt attempt, std::chrono::milliseconds timeout,
                             std::chrono::milliseconds interval = std::chrono::milliseconds(200)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status s;
  while ((s = attempt()).code() == Status::Code::kUnavailable &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(interval);
  return s;
}

}  // namespace yiwang::log
