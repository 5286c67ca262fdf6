#include "web/live_feed.h"

#include <condition_variable>
#include <deque>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "web/case_api.h"
#include "web/http_util.h"

namespace yiwang::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace v1 = yiwang::v1;

namespace {

constexpr size_t kMaxClientMessageBytes = 4096;

std::string UserJson(const Principal& p) {
  std::string districts = "[";
  for (size_t i = 0; i < p.districts.size(); ++i) {
    if (i) districts += ',';
    districts += JsonEscape(p.districts[i]);
  }
  districts += ']';
  return fmt::format(R"({{"id":{},"name":{},"role":{},"department":{},"districts":{}}})",
                     JsonEscape(p.user_id), JsonEscape(p.display_name),
                     JsonEscape(dispatcher::RoleName(p.role)), JsonEscape(p.department),
                     districts);
}

// "host:port" of an authority (host[:port], an IPv6 host in brackets), lower case, with the
// scheme's default port when none is written; nullopt if it is not a bare authority (a path,
// user info, an empty host or port).
std::optional<std::string> NormalAuthority(std::string_view a, std::string_view default_port) {
  if (a.empty() || a.find_first_of("/?#@\\ ") != std::string_view::npos) return std::nullopt;
  const size_t bracket = a.rfind(']');
  const size_t colon = a.rfind(':');
  const bool has_port = colon != std::string_view::npos &&
                        (bracket == std::string_view::npos || colon > bracket);
  const std::string_view host = has_port ? a.substr(0, colon) : a;
  const std::string_view port = has_port ? a.substr(colon + 1) : default_port;
  if (host.empty() || port.empty() ||
      port.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  return AsciiLower(host) + ":" + std::string(port);
}

}  // namespace

bool SameOrigin(const HttpRequest& req, bool https) {
  auto origin = req.find(http::field::origin);
  if (origin == req.end()) return true;
  // The page's scheme must be the one browsers reach this server by: an http:// page (any
  // script on the network path can write one) may not ride an https:// deployment's cookie.
  const std::string_view scheme = https ? "https://" : "http://";
  const std::string_view default_port = https ? "443" : "80";
  const std::string o = AsciiLower(origin->value());
  if (o.size() <= scheme.size() || o.compare(0, scheme.size(), scheme) != 0) return false;
  const auto page = NormalAuthority(std::string_view(o).substr(scheme.size()), default_port);
  const auto self = NormalAuthority(req[http::field::host], default_port);
  return page && self && *page == *self;
}

// Thread safety: every member except id_, principal_, credentials_ and feed_ (immutable) and
// credentials_ended_ (atomic) is touched only on the session's strand (the executor of ws_).
class LiveSession : public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(beast::tcp_stream&& stream, Principal p, HttpRequest credentials, uint64_t id,
              LiveFeed* feed)
      : ws_(std::move(stream)),
        principal_(std::move(p)),
        credentials_(std::move(credentials)),
        id_(id),
        feed_(feed) {}
  ~LiveSession() {
    feed_->Unregister(id_);
    feed_->reserved_.fetch_sub(1);
  }

  const Principal& principal() const { return principal_; }
  // The upgrade's credentials alone (Authorization, Cookie), to authenticate again.
  const HttpRequest& credentials() const { return credentials_; }

  void Run(HttpRequest req) {
    net::dispatch(ws_.get_executor(), beast::bind_front_handler(&LiveSession::DoAccept,
                                                                 shared_from_this(), std::move(req)));
  }

  // Any thread.
  void Enqueue(std::shared_ptr<const std::string> msg) {
    net::post(ws_.get_executor(), [self = shared_from_this(), msg = std::move(msg)] {
      self->OnEnqueue(msg);
    });
  }
  void Shutdown() {
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->Close(websocket::close_code::going_away);
    });
  }
  // Closes the connection for its credentials; false if that was done already.
  bool EndForCredentials() {
    if (credentials_ended_.exchange(true)) return false;
    net::post(ws_.get_executor(), [self = shared_from_this()] {
      self->Close({websocket::close_code::policy_error, "credentials no longer valid"});
    });
    return true;
  }

 private:
  void DoAccept(HttpRequest req) {
    beast::get_lowest_layer(ws_).expires_never();
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = feed_->limits_.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(kMaxClientMessageBytes);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "yiwang"); }));
    ws_.async_accept(req, beast::bind_front_handler(&LiveSession::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec) {
    if (ec) return;
    accepted_ = true;
    ws_.text(true);
    OnEnqueue(std::make_shared<const std::string>(R"({"type":"hello","user":)" +
                                                  UserJson(principal_) + "}"));
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_, beast::bind_front_handler(&LiveSession::OnRead, shared_from_this()));
  }
  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      closed_ = true;
      ClearQueue();
      return;
    }
    buffer_.consume(buffer_.size());  // nothing a client says changes the feed
    DoRead();
  }

  void OnEnqueue(std::shared_ptr<const std::string> msg) {
    if (closed_ || closing_ || !accepted_ || closing_after_write_) return;
    const auto now = std::chrono::steady_clock::now();
    const bool too_much = queued_bytes_ + msg->size() > feed_->limits_.max_queued_bytes;
    const bool too_late = !queue_.empty() && now - queue_.front().second > feed_->limits_.max_lag;
    if (too_much || too_late) {
      // Too slow: tell it to resync (a full reload of the list), then drop it.
      feed_->metrics_
          ->GetCounter("yiwang_live_dropped_clients_total",
                       "Live feed clients dropped for falling behind")
          .Inc();
      feed_->log_->info("[L{}] live client of {} fell behind ({} bytes queued): resync and drop",
                        id_, principal_.user_id, queued_bytes_);
      // Keep the frame being written, drop the rest.
      while (queue_.size() > (writing_ ? 1u : 0u)) {
        queued_bytes_ -= queue_.back().first->size();
        queue_.pop_back();
      }
      Push(std::make_shared<const std::string>(
               R"({"type":"resync","reason":"the client fell behind"})"),
           now);
      closing_after_write_ = true;
      if (!writing_) DoWrite();
      return;
    }
    Push(std::move(msg), now);
    if (!writing_) DoWrite();
  }

  void Push(std::shared_ptr<const std::string> msg, std::chrono::steady_clock::time_point at) {
    queued_bytes_ += msg->size();
    queue_.emplace_back(std::move(msg), at);
  }

  void DoWrite() {
    if (closing_) {
      ClearQueue();
      return;
    }
    if (queue_.empty()) {
      if (closing_after_write_) Close(websocket::close_code::policy_error);
      return;
    }
    writing_ = true;
    ws_.async_write(net::buffer(*queue_.front().first),
                    beast::bind_front_handler(&LiveSession::OnWrite, shared_from_this()));
  }
  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      closed_ = true;
      ClearQueue();
      return;
    }
    queued_bytes_ -= queue_.front().first->size();
    queue_.pop_front();
    DoWrite();
  }

  void Close(const websocket::close_reason& reason) {
    if (closing_ || closed_) return;
    closing_ = true;
    if (!writing_) ClearQueue();
    if (!accepted_) return;
    ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  const Principal principal_;
  const HttpRequest credentials_;
  std::atomic<bool> credentials_ended_{false};
  const uint64_t id_;
  LiveFeed* const feed_;
  void ClearQueue() {
    queue_.clear();
    queued_bytes_ = 0;
  }

  // Messages to send and when they were queued; the front is being written while writing_.
  std::deque<std::pair<std::shared_ptr<const std::string>, std::chrono::steady_clock::time_point>>
      queue_;
  size_t queued_bytes_ = 0;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closing_after_write_ = false;
  bool closed_ = false;
};

LiveFeed::LiveFeed(dispatcher::Dispatcher* dispatcher, store::EventStore* store,
                   Authenticator authenticate, Metrics* metrics,
                   std::shared_ptr<spdlog::logger> logger, LiveLimits limits)
    : dispatcher_(dispatcher),
      store_(store),
      authenticate_(std::move(authenticate)),
      metrics_(metrics),
      log_(std::move(logger)),
      limits_(limits) {
  subscription_ = dispatcher_->Subscribe([this](const v1::LiveUpdate& u) { Broadcast(u); });
  ticker_ = std::thread([this] { Tick(); });
}

LiveFeed::~LiveFeed() {
  dispatcher_->Unsubscribe(subscription_);
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;
  }
  tick_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

std::variant<HttpResponse, UpgradeFn> LiveFeed::Admit(const HttpRequest& req) {
  if (!SameOrigin(req, limits_.https)) {
    return ErrorResponse(metrics_, req, 403, "bad_origin",
                         "the live feed accepts pages of this server only");
  }
  AuthResult auth = authenticate_(req);
  if (auto* denied = std::get_if<HttpResponse>(&auth)) return std::move(*denied);
  Principal p = std::get<Principal>(std::move(auth));
  if (p.role == v1::ROLE_UNSPECIFIED || p.role == v1::ROLE_CITIZEN)
    return ErrorResponse(metrics_, req, 403, "forbidden", "operators only");
  if (reserved_.fetch_add(1) >= limits_.max_connections) {
    reserved_.fetch_sub(1);
    return ErrorResponse(metrics_, req, 503, "too_many_connections", "live feed is full");
  }
  HttpRequest credentials{http::verb::get, req.target(), 11};
  for (const auto field : {http::field::authorization, http::field::cookie})
    if (auto it = req.find(field); it != req.end()) credentials.set(field, it->value());
  return [this, p = std::move(p), credentials = std::move(credentials)](
             beast::tcp_stream&& stream, HttpRequest&& r) mutable {
    std::shared_ptr<LiveSession> s;
    {
      std::lock_guard lock(mu_);
      const uint64_t id = next_id_++;
      s = std::make_shared<LiveSession>(std::move(stream), std::move(p), std::move(credentials),
                                        id, this);
      sessions_[id] = s;
    }
    s->Run(std::move(r));
  };
}

void LiveFeed::Unregister(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

size_t LiveFeed::connections() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void LiveFeed::Shutdown() {
  std::vector<std::shared_ptr<LiveSession>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, w] : sessions_)
      if (auto s = w.lock()) all.push_back(std::move(s));
  }
  for (auto& s : all) s->Shutdown();
  {
    std::lock_guard lock(tick_mu_);
    stopping_ = true;
  }
  tick_cv_.notify_all();
}

void LiveFeed::Send(std::string message, const std::function<bool(const Principal&)>& visible) {
  auto msg = std::make_shared<const std::string>(std::move(message));
  std::vector<std::shared_ptr<LiveSession>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, w] : sessions_)
      if (auto s = w.lock(); s && visible(s->principal())) targets.push_back(std::move(s));
  }
  for (auto& s : targets) s->Enqueue(msg);
}

void LiveFeed::Broadcast(const v1::LiveUpdate& u) {
  std::string msg;
  const v1::CaseSummary& cs = u.case_summary();
  switch (u.kind()) {
    case v1::LiveUpdate::KIND_CASE:
    case v1::LiveUpdate::KIND_ESCALATION: {
      v1::JournalEntry e = u.entry();
      e.clear_filing();
      msg = fmt::format(R"({{"type":"{}","case":{},"entry":{}}})",
                        u.kind() == v1::LiveUpdate::KIND_CASE ? "case" : "escalation",
                        ToJson(cs), ToJson(e));
      break;
    }
    case v1::LiveUpdate::KIND_ALARM:
      alarms_.fetch_add(1);
      msg = fmt::format(R"({{"type":"alarm","alarm":{},"caseId":{}}})", ToJson(u.alarm()),
                        JsonEscape(u.case_id()));
      break;
    default:
      return;
  }
  Send(std::move(msg), [&u](const Principal& p) { return Visible(p, u); });
}

bool LiveFeed::Visible(const Principal& p, const v1::LiveUpdate& u) {
  const bool is_alarm = u.kind() == v1::LiveUpdate::KIND_ALARM;
  const std::string& district = is_alarm ? u.alarm().district() : u.case_summary().district();
  if (!p.districts.empty() &&
      std::find(p.districts.begin(), p.districts.end(), district) == p.districts.end())
    return false;
  if (p.role == v1::ROLE_DEPARTMENT)
    return !is_alarm && u.case_summary().department() == p.department;
  return p.role != v1::ROLE_UNSPECIFIED && p.role != v1::ROLE_CITIZEN;
}

namespace {
// Whether `now` may see what `then` was admitted to see: the same user with the same role,
// department and districts (a display name may change).
bool SameScope(const Principal& then, const Principal& now) {
  return then.user_id == now.user_id && then.role == now.role &&
         then.department == now.department && then.districts == now.districts;
}
}  // namespace

void LiveFeed::Recheck() {
  std::vector<std::shared_ptr<LiveSession>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, w] : sessions_)
      if (auto s = w.lock()) all.push_back(std::move(s));
  }
  for (auto& s : all) {
    AuthResult now = authenticate_(s->credentials());
    const auto* p = std::get_if<Principal>(&now);
    if ((p && SameScope(s->principal(), *p)) || !s->EndForCredentials()) continue;
    // A 500 (the store could not be read) ends the session too: the page reconnects, and the
    // upgrade's check decides again.
    metrics_
        ->GetCounter("yiwang_live_credentials_ended_total",
                     "Live feed clients closed because their credentials stopped giving what "
                     "they connected with")
        .Inc();
    log_->info("live client of {}: credentials no longer valid ({}), closing",
               s->principal().user_id, p ? "scope changed" : "refused");
  }
}

void LiveFeed::Tick() {
  uint64_t last_events = store_->EventCount();
  uint64_t last_alarms = alarms_.load();
  auto last = std::chrono::steady_clock::now();
  std::unique_lock lock(tick_mu_);
  while (!tick_cv_.wait_for(lock, limits_.tick_interval, [this] { return stopping_; })) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - last).count();
    Recheck();
    const uint64_t events = store_->EventCount(), alarms = alarms_.load();
    if (connections() > 0 && secs > 0) {
      Send(fmt::format(R"({{"type":"tick","eventsPerSecond":{:.1f},"alarmsPerSecond":{:.2f},"events":{}}})",
                       static_cast<double>(events - last_events) / secs,
                       static_cast<double>(alarms - last_alarms) / secs, events),
           [](const Principal&) { return true; });
    }
    last_events = events;
    last_alarms = alarms;
    last = now;
  }
}

}  // namespace yiwang::web
