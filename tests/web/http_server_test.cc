// HttpServer's message framing over a real socket (port 0, requests built by hand): a request
// whose body length the server cannot know for sure is answered once and its connection
// closed, so that no byte of its body is ever read as a request of its own.

#include "web/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/field.hpp>

#include "tests/support/events.h"
#include "tests/support/tcp_conn.h"

namespace yiwang::web {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

// A request hidden in another's body: answered only if the server took the body's bytes for a
// request of their own.
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: city.example\r\n\r\n";

class HttpFramingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Every request is answered 200 with its path (keep-alive as the request asks).
    Handler handler = [](const HttpRequest& req) {
      HttpResponse res{http::status::ok, req.version()};
      res.body() = "path=" + std::string(req.target());
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      return res;
    };
    // Stands for the sensor endpoint: refuses the upgrade but keeps the connection.
    UpgradeRoute sensors = [this](const HttpRequest& req) -> std::variant<HttpResponse, UpgradeFn> {
      ++upgrade_calls_;
      HttpResponse res{http::status::unauthorized, req.version()};
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      return res;
    };
    server_ = std::make_unique<HttpServer>(ioc_, HttpLimits{}, handler,
                                           std::map<std::string, UpgradeRoute>{{"/ws/sensors", sensors}},
                                           &metrics_, test::NullLogger());
    ASSERT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    io_thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    server_->StopAccepting();
    ioc_.stop();
    io_thread_.join();
  }

  // Sends `request` on a fresh connection; everything the server answers within 2 s, and
  // whether it closed the connection.
  std::pair<std::string, bool> Exchange(const std::string& request) {
    test::TcpConn c(server_->port());
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(c.Send(request));
    std::string answer = c.ReadAll(2s);
    return {std::move(answer), c.closed()};
  }

  // The number of status lines ("HTTP/1.x NNN ") in `answer`.
  static size_t Responses(const std::string& answer) {
    size_t n = 0;
    for (size_t at = answer.find("HTTP/1."); at != std::string::npos;
         at = answer.find("HTTP/1.", at + 1)) {
      const std::string_view line = std::string_view(answer).substr(at, 13);
      n += line.size() == 13 && line[8] == ' ' && std::isdigit(static_cast<unsigned char>(line[9])) &&
           line[12] == ' ';
    }
    return n;
  }

  Metrics metrics_;
  boost::asio::io_context ioc_;
  std::unique_ptr<HttpServer> server_;
  std::thread io_thread_;
  std::atomic<int> upgrade_calls_{0};
};

// Finding 5 of issue 19, probed from outside: a POST with Transfer-Encoding: identity (also
// gzip, "chunked, identity", xchunked) and a second request in its body was answered, and then
// the smuggled request was answered 200 on the same connection. RFC 9112 section 6.3: a
// Transfer-Encoding whose final coding is not chunked is 400 and the connection closed; its
// siblings (both length fields, conflicting or malformed Content-Length, HTTP/1.0 with a
// Transfer-Encoding, a coding before chunked) likewise end the connection after one answer.
TEST_F(HttpFramingTest, Finding5_UnframableBodiesAreAnsweredOnceAndTheConnectionClosed) {
  const std::string cl = "Content-Length: " + std::to_string(kSmuggled.size()) + "\r\n";
  const std::string last_chunk = "0\r\n\r\n";
  struct Attempt {
    std::string request_line, fields, body;
    std::string status;
  };
  const std::string post = "POST /first HTTP/1.1\r\n";
  const std::vector<Attempt> attempts = {
      {post, "Transfer-Encoding: identity\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: gzip\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: chunked, identity\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: xchunked\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n",
       last_chunk + kSmuggled, "501"},
      {post, "Transfer-Encoding:\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding: identity\r\n" + cl, kSmuggled, "400"},
      {post, "Transfer-Encoding: gzip, chunked\r\n", last_chunk + kSmuggled, "501"},
      {post, "Transfer-Encoding: chunked, chunked\r\n", last_chunk + kSmuggled, "400"},
      {"POST /first HTTP/1.0\r\n", "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n",
       last_chunk + kSmuggled, "400"},
      {post, cl + "Transfer-Encoding: chunked\r\n", last_chunk + kSmuggled, "400"},
      {post, "Transfer-Encoding: chunked\r\n" + cl, last_chunk + kSmuggled, "400"},
      {post, "Content-Length: 0\r\n" + cl, kSmuggled, "400"},
      {post, "Content-Length: 0, " + std::to_string(kSmuggled.size()) + "\r\n", kSmuggled, "400"},
      {post, "Content-Length: -1\r\n", kSmuggled, "400"},
      {post, "Content-Length: +0\r\n", kSmuggled, "400"},
      {post, "Content-Length: 0x0\r\n", kSmuggled, "400"},
      {post, "Content-Length: 0 0\r\n", kSmuggled, "400"},
      {post, "Content-Length:\r\n", kSmuggled, "400"},
      {post, "Content-Length: 99999999999999999999999\r\n", kSmuggled, "400"},
      {post, "Transfer-Encoding : chunked\r\n", last_chunk + kSmuggled, "400"},
      // The sensor WebSocket upgrade goes through the same framing check, before its route.
      {"GET /ws/sensors HTTP/1.1\r\n",
       "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nTransfer-Encoding: identity\r\n",
       kSmuggled, "400"},
  };
  for (const Attempt& a : attempts) {
    SCOPED_TRACE(a.request_line + a.fields);
    const auto [answer, closed] =
        Exchange(a.request_line + "Host: city.example\r\n" + a.fields + "\r\n" + a.body);
    EXPECT_TRUE(answer.starts_with("HTTP/1.")) << answer;
    EXPECT_EQ(answer.substr(9, 3), a.status) << answer;
    EXPECT_EQ(Responses(answer), 1u) << answer;
    EXPECT_EQ(answer.find("path=/smuggled"), std::string::npos) << answer;
    EXPECT_TRUE(closed) << answer;
  }
  EXPECT_EQ(upgrade_calls_, 0);
  // Counted, all but the field name with a space (a malformed header, not framing).
  EXPECT_EQ(metrics_.GetCounter("yiwang_http_bad_framing_total", "").Value(),
            attempts.size() - 1);
}

// What the framing check must not break: a chunked body or a Content-Length, with a request
// pipelined after it, gets both answered on the kept-alive connection.
TEST_F(HttpFramingTest, ChunkedAndContentLengthBodiesKeepTheConnection) {
  for (const std::string& fields : {std::string("Transfer-Encoding: chunked\r\n"),
                                   std::string("Transfer-Encoding: Chunked\r\n"),
                                   std::string("Content-Length: 5\r\n")}) {
    const std::string body = fields.starts_with("Transfer") ? "5\r\nhello\r\n0\r\n\r\n" : "hello";
    test::TcpConn c(server_->port());
    ASSERT_TRUE(c.Send("POST /first HTTP/1.1\r\nHost: city.example\r\n" + fields + "\r\n" + body +
                       kSmuggled));
    const std::string answer = c.ReadAll(1s);
    EXPECT_EQ(Responses(answer), 2u) << answer;
    EXPECT_NE(answer.find("path=/first"), std::string::npos) << answer;
    EXPECT_NE(answer.find("path=/smuggled"), std::string::npos) << answer;
    EXPECT_FALSE(c.closed()) << answer;
  }
}

}  // namespace
}  // namespace yiwang::web
