#pragma once
// DispatchStack: what the dispatcher and web tests run on — an EventStore in a directory with
// a Dispatcher over it (`config`: the built-in Chongqing configuration unless a test changes
// it before Open), a clock the test sets (or the system clock when now_ms is 0), and the
// dispatcher registered as the store's commit observer, as `yiwang serve` wires them.
//
// Thread safety: one test thread drives it; the clock may be read from any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/dispatcher.h"
#include "store/event_store.h"
#include "tests/support/events.h"

namespace yiwang::test {

struct DispatchStack {
  explicit DispatchStack(std::string data_dir, int64_t now_ms = kNowSeconds * 1000)
      : dir(std::move(data_dir)), now_ms(now_ms), config(dispatcher::DefaultDispatchConfig()) {}
  ~DispatchStack() { Close(); }

  // Opens the store and the dispatcher (clock: now_ms). Not ok if either fails.
  Status Open();
  // Stops the dispatcher, then closes the store (as a graceful stop does).
  void Close();

  // Stores `events`, received at now, and waits until the dispatcher has judged them.
  void Ingest(std::vector<yiwang::v1::SensorEvent> events);

  const std::string dir;
  std::atomic<int64_t> now_ms;
  // The dispatcher's configuration at the next Open (default: the built-in one).
  yiwang::v1::DispatchConfig config;
  Metrics metrics;
  std::unique_ptr<store::EventStore> store;
  std::unique_ptr<dispatcher::Dispatcher> dispatcher;
};

}  // namespace yiwang::test
