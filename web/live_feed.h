#pragma once
// LiveFeed: the operators' live WebSocket feed, ws://HOST:PORT/ws/live (docs/api.md, "Live feed").
//
// Admit() authenticates the upgrade request (session cookie or bearer token, like the API) and
// checks its Origin: a browser's Origin must name this server's scheme and Host (a page of
// another site, or a plain-HTTP page of an HTTPS deployment, must not ride an operator's
// cookie). The session then receives, as JSON text frames:
//   {"type":"hello","user":{...}}                      once, first
//   {"type":"case","case":<CaseSummary>,"entry":<JournalEntry>}   a case filed or changed
//   {"type":"escalation","case":...,"entry":...}       督办 raised
//   {"type":"alarm","alarm":<AlarmSignal>,"caseId":"..."}         raise / update / clear
//   {"type":"tick","eventsPerSecond":n,"alarmsPerSecond":n,"events":total}   every second
//   {"type":"resync","reason":"..."}                   last message before the server drops
//                                                      a client that fell behind
// filtered by what the principal may see (department staff: their department's cases).
// Each session has a bounded send queue: a client whose queue holds more than
// LiveLimits.max_queued_bytes, or whose oldest queued message has waited longer than
// LiveLimits.max_lag, is told to resync and dropped, so memory never grows with a slow reader,
// while a burst (an alarm storm publishes thousands of messages at once) that a reading client
// drains in time costs nothing. What the client sends is read and discarded (at most 4 KiB per
// message).
// The credentials of the upgrade are checked again every tick: a session signed out or expired,
// a token revoked, a user disabled, deleted or given another password, role, department or
// districts ends the connection within a tick (close 1008 "credentials no longer valid"; the page
// reconnects and is told why). The check counts as activity of a sign-in session, as any request
// does: an open map keeps its session from the idle timeout, never from the absolute one.
//
// Thread safety: Admit, Shutdown and connections may be called from any thread. Updates
// arrive on the dispatcher thread and are posted to each session's strand.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include <spdlog/logger.h>

#include "base/metrics.h"
#include "dispatcher/dispatcher.h"
#include "store/event_store.h"
#include "web/auth.h"
#include "web/http_server.h"

namespace yiwang::web {

struct LiveLimits {
  size_t max_queued_bytes = 8u << 20;    // per client; beyond: resync and drop. Default 8 MiB
  std::chrono::seconds max_lag{10};      // oldest queued message older: resync and drop
  size_t max_connections = 1000;
  std::chrono::seconds idle_timeout{120};  // WebSocket pings keep a live client
  std::chrono::milliseconds tick_interval{1000};
  // Browsers reach the server over HTTPS (HttpLimits::https): only https:// pages may connect.
  bool https = false;
};

class LiveSession;

class LiveFeed {
 public:
  // `dispatcher`, `store` and `metrics` must outlive the LiveFeed. Subscribes at once.
  LiveFeed(dispatcher::Dispatcher* dispatcher, store::EventStore* store, Authenticator authenticate,
           Metrics* metrics, std::shared_ptr<spdlog::logger> logger, LiveLimits limits = {});
  ~LiveFeed();  // unsubscribes, stops the ticker; call Shutdown first to close the sessions

  std::variant<HttpResponse, UpgradeFn> Admit(const HttpRequest& req);
  // Closes every session (1001 going away) and stops the ticker.
  void Shutdown();
  size_t connections() const;

  // Whether `p` receives update `u`: a case or escalation message when `p` may see the case
  // (district scope; department staff: their department's cases), an alarm when `p` is not
  // department staff and the alarm's district is in scope. Ticks go to every session.
  static bool Visible(const Principal& p, const yiwang::v1::LiveUpdate& u);

 private:
  friend class LiveSession;
  void Broadcast(const yiwang::v1::LiveUpdate& u);
  void Send(std::string message, const std::function<bool(const Principal&)>& visible);
  void Unregister(uint64_t id);
  void Tick();
  // Closes the sessions whose credentials no longer give the principal they connected as.
  void Recheck();

  dispatcher::Dispatcher* dispatcher_;
  store::EventStore* store_;
  Authenticator authenticate_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  LiveLimits limits_;
  uint64_t subscription_ = 0;

  mutable std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<LiveSession>> sessions_;
  uint64_t next_id_ = 1;
  std::atomic<size_t> reserved_{0};
  std::atomic<uint64_t> alarms_{0};

  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool stopping_ = false;
  std::thread ticker_;
};

// The Origin check of Admit: true if the request has no Origin (not a browser), or its scheme
// is the server's (https if `https`, else http) and its host and port equal the Host header's
// (case-insensitive, a missing port being the scheme's default: 443 or 80).
bool SameOrigin(const HttpRequest& req, bool https);

}  // namespace yiwang::web
