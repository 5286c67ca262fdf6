#include "store/log/kv.h"

#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "store/log/internal/nats.h"

namespace yiwang::log {

namespace {

using internal::FromNats;
using internal::NatsDeleter;
using internal::StreamInfoPtr;
using KvPtr = std::unique_ptr<kvStore, NatsDeleter<kvStore, kvStore_Destroy>>;
using EntryPtr = std::unique_ptr<kvEntry, NatsDeleter<kvEntry, kvEntry_Destroy>>;

std::string StreamOf(std::string_view bucket) { return fmt::format("KV_{}", bucket); }

}  // namespace

// Binding a bucket costs a stream-info request, so each is bound once per KeyValue; a handle is
// only names and the JetStream context, valid across reconnects and leader changes.
struct KeyValue::Handles {
  // The handle of `bucket`, bound on first use. The lock is not held during the request: two
  // threads may both bind, the second handle is dropped.
  Status Bind(jsCtx* js, std::string_view bucket, kvStore** out) {
    {
      std::lock_guard lock(mu);
      if (auto it = bound.find(bucket); it != bound.end()) {
        *out = it->second.get();
        return Status::Ok();
      }
    }
    const std::string name(bucket);
    kvStore* raw = nullptr;
    if (natsStatus s = js_KeyValue(&raw, js, name.c_str()); s != NATS_OK)
      return FromNats(s, 0, "bucket " + name);
    KvPtr kv(raw);
    std::lock_guard lock(mu);
    auto it = bound.try_emplace(name, std::move(kv)).first;
    *out = it->second.get();
    return Status::Ok();
  }

  std::mutex mu;
  std::map<std::string, KvPtr, std::less<>> bound;  // guarded by mu
};

KeyValue::KeyValue(JetStreamLog* log) : log_(log), handles_(std::make_unique<Handles>()) {}
KeyValue::~KeyValue() = default;

Status KeyValue::EnsureBucket(std::string_view bucket, int replicas) {
  internal::Connection& c = internal::ConnectionOf(*log_);
  const std::string name(bucket), stream = StreamOf(bucket);
  // js_CreateKeyValue reports a bucket with other settings only as a generic error: read the
  // existing stream first and compare what we set.
  jsErrCode err = static_cast<jsErrCode>(0);
  jsStreamInfo* raw_info = nullptr;
  natsStatus s = js_GetStreamInfo(&raw_info, c.js, stream.c_str(), nullptr, &err);
  StreamInfoPtr info(raw_info);
  if (s == NATS_OK) {
    const jsStreamConfig& cfg = *info->Config;
    if (cfg.Replicas != replicas || cfg.MaxMsgsPerSubject != 1 || cfg.Storage != js_FileStorage)
      return Status::InvalidArgument(fmt::format(
          "bucket {} exists with other settings (replicas {}, history {}, {} storage); wanted "
          "replicas {}, history 1, file storage",
          name, cfg.Replicas, cfg.MaxMsgsPerSubject,
          cfg.Storage == js_FileStorage ? "file" : "memory", replicas));
    return Status::Ok();
  }
  if (s != NATS_NOT_FOUND && err != JSStreamNotFoundErr)
    return FromNats(s, err, "bucket info " + name);

  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = name.c_str();
  kc.History = 1;
  kc.StorageType = js_FileStorage;
  kc.Replicas = replicas;
  kvStore* raw = nullptr;
  s = js_CreateKeyValue(&raw, c.js, &kc);
  KvPtr kv(raw);
  if (s != NATS_OK) return FromNats(s, 0, "create bucket " + name);
  c.log->info("bucket {} created ({} replicas)", name, replicas);
  return Status::Ok();
}

Status KeyValue::Put(std::string_view bucket, std::string_view key, std::string_view value,
                     uint64_t* revision) {
  kvStore* kv = nullptr;
  Status st = handles_->Bind(internal::ConnectionOf(*log_).js, bucket, &kv);
  if (!st.ok()) return st;
  const std::string k(key);
  uint64_t rev = 0;
  if (natsStatus s = kvStore_Put(&rev, kv, k.c_str(), value.data(), static_cast<int>(value.size()));
      s != NATS_OK)
    return FromNats(s, 0, fmt::format("put {} in {}", k, bucket));
  if (revision) *revision = rev;
  return Status::Ok();
}

Status KeyValue::Get(std::string_view bucket, std::string_view key, std::string* value) {
  kvStore* kv = nullptr;
  Status st = handles_->Bind(internal::ConnectionOf(*log_).js, bucket, &kv);
  if (!st.ok()) return st;
  const std::string k(key);
  kvEntry* raw = nullptr;
  natsStatus s = kvStore_Get(&raw, kv, k.c_str());
  EntryPtr entry(raw);
  // nats.c answers NATS_NOT_FOUND for a key never written and for a deleted one.
  if (s != NATS_OK) return FromNats(s, 0, fmt::format("get {} in {}", k, bucket));
  value->assign(static_cast<const char*>(kvEntry_Value(entry.get())),
                static_cast<size_t>(kvEntry_ValueLen(entry.get())));
  return Status::Ok();
}

Status KeyValue::Delete(std::string_view bucket, std::string_view key) {
  kvStore* kv = nullptr;
  Status st = handles_->Bind(internal::ConnectionOf(*log_).js, bucket, &kv);
  if (!st.ok()) return st;
  const std::string k(key);
  if (natsStatus s = kvStore_Delete(kv, k.c_str()); s != NATS_OK)
    return FromNats(s, 0, fmt::format("delete {} in {}", k, bucket));
  return Status::Ok();
}

}  // namespace yiwang::log
