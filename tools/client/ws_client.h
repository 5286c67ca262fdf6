#pragma once
// WsClient: a blocking WebSocket client for /ws/sensors and /ws/live, used by `yiwang sim` and
// the tests. One instance = one connection.
//
// Thread safety: none; one thread uses it at a time (it may change between calls).
//
// Every operation runs on the client's private io_context in the calling thread, so a read may
// stay outstanding between calls (PollAck) while frames are sent: the client keeps answering the
// server's pings and a pipelining caller needs no second thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::client {

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects and upgrades. `token` goes into "Authorization: Bearer"; empty sends none.
  // On a refused upgrade returns Status::Unavailable and sets http_status() (e.g. 401).
  // Errors: Status::IOError (resolve/connect failed), Status::Busy (connect_timeout passed),
  // Status::Unavailable also when the stop flag was raised.
  Status Connect(const std::string& host, uint16_t port, const std::string& path,
                 const std::string& token);
  int http_status() const { return http_status_; }
  const std::string& http_body() const { return http_body_; }

  // Sends one frame. binary: protobuf; else text (canonical JSON).
  Status SendBatch(const yiwang::v1::IngestBatch& batch, bool binary);
  // Sends raw bytes as one frame. On a write error, timeout (write_timeout) or stop the
  // connection is dropped (connected() becomes false).
  Status SendRaw(const std::string& data, bool binary);
  // Reads one frame (an ack) and decodes it in the encoding it came in.
  Status ReadAck(yiwang::v1::IngestAck* ack);
  // Reads one raw frame. *binary tells its type. After read_timeout without a frame returns
  // Status::Busy and drops the connection.
  Status ReadRaw(std::string* data, bool* binary);
  // Like ReadAck / ReadRaw but waits at most `wait` (0: only what already arrived). If no frame
  // arrived in time returns Status::Busy and the connection stays open: the read stays
  // outstanding and the next Poll*/Read* call continues it. Any other error drops the connection.
  Status PollAck(yiwang::v1::IngestAck* ack, std::chrono::milliseconds wait);
  Status PollRaw(std::string* data, bool* binary, std::chrono::milliseconds wait);
  // The close code the server sent, after a read or write failed because it closed (0 if none).
  int close_code() const;
  // Read timeout for ReadAck/ReadRaw. Default 30 s.
  void set_read_timeout(std::chrono::milliseconds t) { read_timeout_ = t; }
  // Timeout of Connect (TCP connect plus upgrade handshake). Default 10 s.
  void set_connect_timeout(std::chrono::milliseconds t) { connect_timeout_ = t; }
  // Timeout of one SendRaw/SendBatch. Default 0: none.
  void set_write_timeout(std::chrono::milliseconds t) { write_timeout_ = t; }
  // A Cookie header for Connect (a browser's session: "yiwang_session=..."); empty sends none.
  void set_cookie(std::string cookie) { cookie_ = std::move(cookie); }
  // While *stop is true, blocking calls give up within ~50 ms with Status::Unavailable and drop
  // the connection. nullptr (the default): never. `stop` must outlive the client.
  void set_stop_flag(const std::atomic<bool>* stop) { stop_ = stop; }
  // Sends a close frame (1000) and waits for the server's (at most 5 s, or until stopped).
  void Close();
  // Drops the connection at once, without a close handshake (e.g. the server stopped answering).
  void Abort() { Drop(); }
  bool connected() const;

 private:
  struct Impl;
  enum class Wait { kDone, kTimeout, kStopped };
  // Runs the io_context until `*done` or `timeout` (0: no limit) passes or the stop flag rises.
  Wait RunUntil(const bool* done, std::chrono::milliseconds timeout);
  // Cancels every outstanding operation, lets their handlers run, and drops the connection.
  void Drop();
  void StartRead();

  std::unique_ptr<Impl> impl_;
  int http_status_ = 0;
  std::string http_body_;
  std::chrono::milliseconds read_timeout_{30000};
  std::chrono::milliseconds connect_timeout_{10000};
  std::chrono::milliseconds write_timeout_{0};
  std::string cookie_;
  const std::atomic<bool>* stop_ = nullptr;
};

}  // namespace yiwang::client
