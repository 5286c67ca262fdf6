#pragma once
// SensorEndpoint: the WebSocket side of ws://HOST:PORT/ws/sensors. web/'s HTTP server hands it
// each upgrade request for that path; Admit() checks the bearer device token and the connection
// limit before the upgrade (401 / 503 otherwise) and returns the function that takes over the
// connection.
//
// Each connection is a SensorSession (sensor_endpoint.cc) after Beast's chat-multi example: it
// owns its stream, runs on its own strand, has one read and one write outstanding at most, and
// answers frames with acks strictly in frame order. Backpressure: while the events of a
// connection that wait for the disk reach IngestLimits::max_inflight_events, or its acks
// waiting to be written reach kMaxWriteQueueFrames, it stops reading.
//
// Thread safety: Admit, Shutdown and connections may be called from any thread.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <spdlog/logger.h>

#include "ingest/ingest_service.h"

namespace yiwang::ingest {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
// Takes over an upgraded connection, with the request that asked for the upgrade.
using UpgradeFn = std::function<void(boost::beast::tcp_stream&&, HttpRequest&&)>;

class SensorSession;

class SensorEndpoint {
 public:
  // `service` and `metrics` must outlive the endpoint and every session.
  SensorEndpoint(IngestService* service, Metrics* metrics, std::shared_ptr<spdlog::logger> logger);

  // For an upgrade request to /ws/sensors: a response to send instead of upgrading (401 bad or
  // missing token, 503 too many connections), or the function that upgrades. An admitted
  // upgrade holds a connection slot: the caller must call the returned function.
  std::variant<HttpResponse, UpgradeFn> Admit(const HttpRequest& req);

  // Graceful stop: every session stops reading, writes the acks of frames already read (their
  // events are committed by the store's drain), then closes with 1001 (going away).
  void Shutdown();

  // The device token whose hash (store::TokenHash) is `token_hash` was revoked or rotated:
  // every connection opened with it stops reading, writes the acks of frames already read and
  // closes with 1008 (policy violation, "token revoked"); one that has not closed a second
  // later is cut. A connection admitted with it but not yet running is closed as it starts.
  // (New upgrades with the token are refused by Admit once the store no longer has it.)
  void CloseToken(const std::string& token_hash);

  size_t connections() const;

 private:
  friend class SensorSession;
  void Register(uint64_t id, const std::string& token_hash, std::weak_ptr<SensorSession> s);
  void Unregister(uint64_t id);

  IngestService* service_;
  Metrics* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Gauge& m_connections_;
  std::atomic<uint64_t> next_id_{1};
  mutable std::mutex mu_;
  struct Entry {
    std::string token_hash;
    std::weak_ptr<SensorSession> session;
  };
  std::unordered_map<uint64_t, Entry> sessions_;
  // Hashes of tokens revoked while this process runs (a handful: revocations are rare), so a
  // session admitted just before its token's revocation is closed when it registers.
  std::unordered_set<std::string> revoked_;
  size_t reserved_ = 0;  // admitted upgrades not yet registered
  bool shutting_down_ = false;
};

}  // namespace yiwang::ingest
