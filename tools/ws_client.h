#pragma once
// WsClient: a blocking WebSocket client for /ws/sensors, used by `yiwang sim`, tests and tools.
// One instance = one connection. Not thread-safe: one thread uses it at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "store/status.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools {

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects and upgrades. `token` goes into "Authorization: Bearer"; empty sends none.
  // On a refused upgrade returns Status::Unavailable and sets http_status() (e.g. 401).
  Status Connect(const std::string& host, uint16_t port, const std::string& path,
                 const std::string& token);
  int http_status() const { return http_status_; }
  const std::string& http_body() const { return http_body_; }

  // Sends one frame. binary: protobuf; else text (canonical JSON).
  Status SendBatch(const yiwang::v1::IngestBatch& batch, bool binary);
  // Sends raw bytes as one frame.
  Status SendRaw(const std::string& data, bool binary);
  // Reads one frame (an ack) and decodes it in the encoding it came in.
  Status ReadAck(yiwang::v1::IngestAck* ack);
  // Reads one raw frame. *binary tells its type.
  Status ReadRaw(std::string* data, bool* binary);
  // The close code the server sent, after a read failed because it closed (0 if none).
  int close_code() const;
  // Read timeout for ReadAck/ReadRaw. Default 30 s.
  void set_read_timeout(std::chrono::milliseconds t) { read_timeout_ = t; }
  // Sends a close frame (1000) and waits for the server's.
  void Close();
  bool connected() const;

  // Splits "http://host:port" (a ready file's content) into host and port.
  static bool ParseUrl(const std::string& url, std::string* host, uint16_t* port);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int http_status_ = 0;
  std::string http_body_;
  std::chrono::milliseconds read_timeout_{30000};
};

}  // namespace yiwang::tools
