// HandlerMemory: the block is reused, a request that does not fit or comes while the block is
// taken goes to the heap, and a real Beast WebSocket connection's read and write chains (as the
// server's sessions and the bench client bind them) fit the sizes in ingest/handler_memory.h.
#include "ingest/handler_memory.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <functional>
#include <string>

namespace yiwang::ingest {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST(HandlerMemoryTest, ReusesItsBlockAndFallsBackToTheHeap) {
  HandlerMemory<64> memory;
  void* first = memory.Allocate(48, alignof(std::max_align_t));
  EXPECT_TRUE(memory.in_use());
  void* second = memory.Allocate(16, 8);  // the block is taken
  EXPECT_NE(second, first);
  EXPECT_EQ(memory.heap_allocations(), 1u);
  memory.Deallocate(second, 8);
  EXPECT_TRUE(memory.in_use());
  memory.Deallocate(first, alignof(std::max_align_t));
  EXPECT_FALSE(memory.in_use());

  void* again = memory.Allocate(64, 8);
  EXPECT_EQ(again, first);  // the same block, not the heap
  memory.Deallocate(again, 8);
  void* big = memory.Allocate(65, 8);  // does not fit
  EXPECT_NE(big, first);
  EXPECT_FALSE(memory.in_use());
  memory.Deallocate(big, 8);
  EXPECT_EQ(memory.heap_allocations(), 2u);
}

// Both ends of one connection bind their reads and writes as SensorSession and the bench's
// LoadConnection do; a pending operation must sit in its block, and none may go to the heap.
TEST(HandlerMemoryTest, BeastWebSocketChainsFitTheirBlocks) {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  websocket::stream<beast::tcp_stream> server(ioc), client(ioc);
  HandlerMemory<kWsReadChainBytes> server_read, client_read;
  HandlerMemory<kWsWriteChainBytes> server_write, client_write;

  bool accepted = false, connected = false;
  acceptor.async_accept(beast::get_lowest_layer(server).socket(), [&](beast::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    server.async_accept([&](beast::error_code e) {
      ASSERT_FALSE(e) << e.message();
      accepted = true;
    });
  });
  beast::get_lowest_layer(client).socket().connect(acceptor.local_endpoint());
  client.async_handshake("127.0.0.1", "/ws/sensors", [&](beast::error_code ec) {
    ASSERT_FALSE(ec) << ec.message();
    connected = true;
  });
  ioc.run();
  ioc.restart();
  ASSERT_TRUE(accepted && connected);
  server.binary(true);
  client.binary(true);

  constexpr int kFrames = 50;
  beast::flat_buffer server_in, client_in;
  std::string frame, echo;
  int echoed = 0;
  // Client sends frame k; the server reads it and writes it back; the client reads the echo.
  std::function<void()> send_next = [&] {
    frame = "frame " + std::to_string(echoed);
    client.async_write(net::buffer(frame), WithMemory(client_write, [&](beast::error_code ec,
                                                                        std::size_t) {
                         ASSERT_FALSE(ec) << ec.message();
                       }));
    EXPECT_TRUE(client_write.in_use());  // the write in flight holds its block
    client.async_read(client_in, WithMemory(client_read, [&](beast::error_code ec, std::size_t) {
                        ASSERT_FALSE(ec) << ec.message();
                        EXPECT_EQ(beast::buffers_to_string(client_in.data()), frame);
                        client_in.consume(client_in.size());
                        if (++echoed < kFrames) send_next();
                      }));
    EXPECT_TRUE(client_read.in_use());
  };
  std::function<void()> serve_next = [&] {
    server.async_read(server_in, WithMemory(server_read, [&](beast::error_code ec, std::size_t) {
                        if (ec) return;  // the client closed
                        echo = beast::buffers_to_string(server_in.data());
                        server_in.consume(server_in.size());
                        server.async_write(net::buffer(echo),
                                           WithMemory(server_write, [&](beast::error_code e,
                                                                        std::size_t) {
                                             ASSERT_FALSE(e) << e.message();
                                             serve_next();
                                           }));
                        EXPECT_TRUE(server_write.in_use());
                      }));
    EXPECT_TRUE(server_read.in_use());
  };
  serve_next();
  send_next();
  while (echoed < kFrames && ioc.run_one() > 0) {
  }
  ASSERT_EQ(echoed, kFrames);
  EXPECT_EQ(server_read.heap_allocations(), 0u);
  EXPECT_EQ(server_write.heap_allocations(), 0u);
  EXPECT_EQ(client_read.heap_allocations(), 0u);
  EXPECT_EQ(client_write.heap_allocations(), 0u);
  EXPECT_FALSE(client_read.in_use());
  EXPECT_FALSE(client_write.in_use());

  // Close: the server's pending read ends, and its operation memory is given back.
  beast::get_lowest_layer(client).close();
  ioc.run();
  EXPECT_FALSE(server_read.in_use());
  EXPECT_FALSE(server_write.in_use());
}

}  // namespace
}  // namespace yiwang::ingest
