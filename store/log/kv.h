#pragma once
// Key-value buckets on the JetStream of a JetStreamLog (docs/cluster.md): a bucket is a stream
// ("KV_<bucket>") keeping the last value of each key, replicated like the log; cluster mode keeps
// small shared records in them (device tokens: ingest/token_directory.h). This file writes and
// reads single keys; kv_watch.h follows a whole bucket.
//
// Keys are NATS subject tokens: letters, digits, '-', '_', '/', '=' and inner dots (hex is
// fine). Values are bytes.
//
// Thread safety: every method may be called from any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/log/jetstream.h"

namespace yiwang::log {

class KeyValue {
 public:
  // REQUIRES: `log` outlives this object.
  explicit KeyValue(JetStreamLog* log);
  ~KeyValue();
  KeyValue(const KeyValue&) = delete;
  KeyValue& operator=(const KeyValue&) = delete;

  // Creates `bucket` if missing: file storage, `replicas` replicas, only the last value of a
  // key kept. OK if it exists with the same replicas and history; InvalidArgument naming the
  // difference otherwise (never changed behind an operator's back). Unavailable as for
  // JetStreamLog::EnsureStream (e.g. a new cluster that cannot place the replicas yet).
  Status EnsureBucket(std::string_view bucket, int replicas);

  // Stores `value` under `key`; `revision` (may be null) gets the bucket stream's sequence of
  // the write. Acknowledged means stored on a quorum, as a log PubAck. NotFound: no such bucket.
  // Unavailable: no server or leader answered; the write may or may not have been stored
  // (writing the same value again is harmless).
  Status Put(std::string_view bucket, std::string_view key, std::string_view value,
             uint64_t* revision);

  // The value of `key`. NotFound if it was never written or is deleted. The bucket answers
  // from any of its replicas (JetStream's direct get), so a Get just after a Put made through
  // another connection may, for a moment, not see it yet; a watch sees every write in order.
  Status Get(std::string_view bucket, std::string_view key, std::string* value);

  // Deletes `key` (a delete marker a watch reports as deleted). OK if it did not exist.
  Status Delete(std::string_view bucket, std::string_view key);

 private:
  struct Handles;  // nats.c's handle of each bucket used, bound on first use (kv.cc)

  JetStreamLog* const log_;
  std::unique_ptr<Handles> handles_;
};

}  // namespace yiwang::log
