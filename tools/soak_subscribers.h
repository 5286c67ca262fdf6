#pragma once
// The operators of `yiwang bench soak` who watch the live feed while the sensors send: they
// sign in (one user per kSubscribersPerUser subscribers, one session each, like browser tabs),
// open /ws/live with the session cookie, read every message and count it by type. A
// subscriber the server drops (resync, or the connection ends) counts as dropped and
// reconnects after a second, as the console does. Internal to tools/.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::tools::bench {

inline constexpr int kSubscribersPerUser = 10;  // a user has at most 16 sessions
inline constexpr int kMaxSubscribers = 1000;    // the live feed's default connection limit

// Thread safety: atomics; the subscribers add, the main thread reads.
struct LiveCounters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> cases{0};    // type case or escalation
  std::atomic<uint64_t> alarms{0};   // type alarm
  std::atomic<uint64_t> ticks{0};    // type tick
  std::atomic<uint64_t> resyncs{0};  // type resync (the server drops the client after it)
  std::atomic<uint64_t> dropped{0};  // connections that ended while the run went on
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<int> connected{0};
};

// Creates the operators (role dispatcher) with the admin token and signs each of
// `subscribers` in, one by one. Returns the session cookies ("name=value") in *cookies.
// Errors: those of HttpCall; Unavailable on an unexpected answer (with status and body).
[[nodiscard]] Status SignInOperators(const client::Endpoint& server, const std::string& admin,
                                     const std::string& run_tag, int subscribers,
                                     std::vector<std::string>* cookies);

class LiveSubscriber;  // one operator's live map (soak_subscribers.cc)

// One LiveSubscriber per cookie, on the caller's io_context, one strand each.
//
// Thread safety: construct, Stop and stopped() from the driver thread; the subscribers run on
// the io_context's threads, which must outlive them.
class LiveFeedAudience {
 public:
  LiveFeedAudience(boost::asio::io_context& ioc, boost::asio::ip::tcp::endpoint endpoint,
                   const std::string& host_header, const std::vector<std::string>& cookies,
                   LiveCounters* counters);
  ~LiveFeedAudience();

  // Each subscriber closes its connection (1000) and does not reconnect.
  void Stop();
  // Every subscriber has closed.
  bool stopped() const;

 private:
  std::vector<std::shared_ptr<LiveSubscriber>> subscribers_;
};

}  // namespace yiwang::tools::bench
