#include "tools/soak_subscribers.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "tools/client/http.h"
#include "tools/client/load_connection.h"

namespace yiwang::tools::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr std::chrono::seconds kSubscriberRetry{1};
constexpr char kLivePath[] = "/ws/live";
constexpr char kOperatorRole[] = "dispatcher";
constexpr size_t kMaxLiveMessageBytes = 8u << 20;
using client::kConnectTimeout;
}  // namespace

// One operator's live map: /ws/live with a session cookie; reads and counts every message; when
// the connection ends before Stop(), counts a drop and reconnects after kSubscriberRetry.
//
// Thread safety: everything on the subscriber's strand; Start and Stop from any thread.
class LiveSubscriber : public std::enable_shared_from_this<LiveSubscriber> {
 public:
  LiveSubscriber(net::io_context& ioc, tcp::endpoint endpoint, std::string host_header,
                 std::string cookie, LiveCounters* counters)
      : strand_(net::make_strand(ioc)),
        timer_(strand_),
        endpoint_(endpoint),
        host_header_(std::move(host_header)),
        cookie_(std::move(cookie)),
        counters_(counters) {}

  void Start() {
    net::dispatch(strand_, beast::bind_front_handler(&LiveSubscriber::Connect, shared_from_this()));
  }

  void Stop() {
    net::dispatch(strand_, [self = shared_from_this()] {
      self->stopping_ = true;
      self->timer_.cancel();
      if (self->ws_ && self->open_) {
        self->ws_->async_close(websocket::close_code::normal,
                               [self](beast::error_code) { self->Closed(); });
      } else if (self->ws_) {
        beast::get_lowest_layer(*self->ws_).close();
      }
    });
  }

  bool stopped() const { return done_.load(); }

 private:
  void Connect() {
    if (stopping_) return Closed();
    ws_.emplace(strand_);
    beast::get_lowest_layer(*ws_).expires_after(kConnectTimeout);
    beast::get_lowest_layer(*ws_).async_connect(
        endpoint_, beast::bind_front_handler(&LiveSubscriber::OnConnect, shared_from_this()));
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Retry(/*was_open=*/false);
    beast::get_lowest_layer(*ws_).expires_never();
    ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    const std::string cookie = cookie_;
    ws_->set_option(websocket::stream_base::decorator([cookie](websocket::request_type& req) {
      req.set(http::field::user_agent, "yiwang-bench-soak");
      req.set(http::field::cookie, cookie);
    }));
    ws_->read_message_max(kMaxLiveMessageBytes);
    ws_->async_handshake(
        host_header_, kLivePath,
        beast::bind_front_handler(&LiveSubscriber::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return Retry(/*was_open=*/false);
    open_ = true;
    counters_->connected.fetch_add(1);
    DoRead();
  }

  void DoRead() {
    ws_->async_read(buffer_,
                    beast::bind_front_handler(&LiveSubscriber::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      if (stopping_) return;  // the close handshake ends the read
      return Retry(/*was_open=*/true);
    }
    const std::string_view msg(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    counters_->messages.fetch_add(1, std::memory_order_relaxed);
    // Every message is {"type":"...",...}: the type is enough to count it.
    constexpr std::string_view kType = "\"type\":\"";
    const size_t at = msg.find(kType);
    const std::string_view type =
        at == std::string_view::npos
            ? std::string_view()
            : msg.substr(at + kType.size(), msg.find('"', at + kType.size()) - at - kType.size());
    if (type == "case" || type == "escalation") {
      counters_->cases.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "alarm") {
      counters_->alarms.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "tick") {
      counters_->ticks.fetch_add(1, std::memory_order_relaxed);
    } else if (type == "resync") {
      counters_->resyncs.fetch_add(1, std::memory_order_relaxed);
    }
    buffer_.consume(buffer_.size());
    DoRead();
  }

  // The connection ended or never opened: count it and try again in a second.
  void Retry(bool was_open) {
    if (open_) counters_->connected.fetch_sub(1);
    open_ = false;
    (was_open ? counters_->dropped : counters_->connect_failures).fetch_add(1);
    if (ws_) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
    if (stopping_) return Closed();
    timer_.expires_after(kSubscriberRetry);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->stopping_) return self->Closed();
      self->Connect();
    });
  }

  void Closed() {
    if (open_) counters_->connected.fetch_sub(1);
    open_ = false;
    done_ = true;
  }

  net::strand<net::io_context::executor_type> strand_;
  net::steady_timer timer_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buffer_;
  const tcp::endpoint endpoint_;
  const std::string host_header_;
  const std::string cookie_;
  LiveCounters* const counters_;
  bool open_ = false;
  bool stopping_ = false;
  std::atomic<bool> done_{false};
};

Status SignInOperators(const client::Endpoint& server, const std::string& admin,
                       const std::string& run_tag, int subscribers,
                       std::vector<std::string>* cookies) {
  const int users = (subscribers + kSubscribersPerUser - 1) / kSubscribersPerUser;
  std::random_device rd;
  const std::string password =
      fmt::format("soak-{:016x}{:08x}", std::uniform_int_distribution<uint64_t>()(rd), rd());
  for (int u = 0; u < users; ++u) {
    const std::string name = fmt::format("soak-{}-{}", run_tag, u);
    client::HttpResponse res;
    if (Status s = client::HttpCall(
            server,
            client::JsonRequest("POST", "/api/v1/admin/users", admin,
                                fmt::format(R"({{"username":"{}","password":"{}","role":"{}"}})",
                                            name, password, kOperatorRole)),
            &res);
        !s.ok())
      return s;
    if (res.status != 201)
      return Status::Unavailable(fmt::format("create user: HTTP {} {}", res.status, res.body));
    for (int k = u * kSubscribersPerUser; k < std::min(subscribers, (u + 1) * kSubscribersPerUser);
         ++k) {
      // The server checks at most 4 passwords at once (503 busy): sign in one by one.
      if (Status s = client::HttpCall(
              server,
              client::JsonRequest("POST", "/api/v1/session", "",
                                  fmt::format(R"({{"username":"{}","password":"{}"}})", name,
                                              password)),
              &res);
          !s.ok())
        return s;
      const std::string set_cookie = res.Header("set-cookie");
      std::string cookie = set_cookie.substr(0, set_cookie.find(';'));  // without attributes
      if (res.status != 200 || cookie.empty())
        return Status::Unavailable(fmt::format("sign in: HTTP {} {}", res.status, res.body));
      cookies->push_back(std::move(cookie));
    }
  }
  return Status::Ok();
}

LiveFeedAudience::LiveFeedAudience(net::io_context& ioc, tcp::endpoint endpoint,
                                   const std::string& host_header,
                                   const std::vector<std::string>& cookies,
                                   LiveCounters* counters) {
  for (const auto& cookie : cookies) {
    subscribers_.push_back(
        std::make_shared<LiveSubscriber>(ioc, endpoint, host_header, cookie, counters));
    subscribers_.back()->Start();
  }
}

LiveFeedAudience::~LiveFeedAudience() = default;

void LiveFeedAudience::Stop() {
  for (auto& s : subscribers_) s->Stop();
}

bool LiveFeedAudience::stopped() const {
  return std::all_of(subscribers_.begin(), subscribers_.end(),
                     [](const auto& s) { return s->stopped(); });
}

}  // namespace yiwang::tools::bench
