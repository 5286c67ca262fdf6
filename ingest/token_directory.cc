#include "ingest/token_directory.h"

#include <mutex>
#include <thread>
#include <optional>
#include <utility>

#include "base/text.h"
#include "store/event_store.h"

namespace yiwang::ingest {

namespace {

constexpr size_t kHashSize = 32;  // SHA-256

}  // namespace

TokenDirectory::TokenDirectory(log::JetStreamLog* log, Options options,
                               std::shared_ptr<spdlog::logger> logger)
    : options_(std::move(options)), log_(std::move(logger)), kv_(log) {}

TokenDirectory::~TokenDirectory() = default;

std::unique_ptr<TokenDirectory> TokenDirectory::Open(log::JetStreamLog* log, Options options,
                                                     std::shared_ptr<spdlog::logger> logger,
                                                     Status* status) {
  std::unique_ptr<TokenDirectory> d(
      new TokenDirectory(log, std::move(options), std::move(logger)));
  *status = d->kv_.EnsureBucket(d->options_.bucket, d->options_.replicas);
  if (!status->ok()) return nullptr;
  TokenDirectory* raw = d.get();
  log::KvWatch::Handlers handlers{
      .on_entry = [raw](std::string_view key, std::string_view value,
                        bool deleted) { raw->OnEntry(key, value, deleted); },
      .on_caught_up = [raw] { raw->OnCaughtUp(); }};
  d->watch_ = log::KvWatch::Start(log, d->options_.bucket, std::move(handlers), status);
  if (!status->ok()) return nullptr;
  return d;
}

Status TokenDirectory::Put(std::string_view hash, const yiwang::v1::TokenRecord& record) {
  if (hash.size() != kHashSize)
    return Status::InvalidArgument("a token hash is the 32 bytes of store::TokenHash");
  return kv_.Put(options_.bucket, Hex(hash), record.SerializeAsString(), nullptr);
}

Status TokenDirectory::Delete(std::string_view hash) {
  if (hash.size() != kHashSize)
    return Status::InvalidArgument("a token hash is the 32 bytes of store::TokenHash");
  return kv_.Delete(options_.bucket, Hex(hash));
}

Status TokenDirectory::Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const {
  const std::string hash = store::TokenHash(token);
  std::shared_lock lock(mu_);
  auto it = records_.find(hash);
  if (it == records_.end()) return Status::NotFound("unknown token");
  *out = it->second;
  return Status::Ok();
}

bool TokenDirectory::WaitReady(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(ready_mu_);
  return ready_cv_.wait_for(lock, timeout, [this] { return ready_; });
}

size_t TokenDirectory::size() const {
  std::shared_lock lock(mu_);
  return records_.size();
}

bool TokenDirectory::Contains(const std::string& hash) const {
  std::shared_lock lock(mu_);
  return records_.contains(hash);
}

void TokenDirectory::ForEach(
    const std::function<void(const std::string& hash, const yiwang::v1::TokenRecord& record)>&
        visit) const {
  std::shared_lock lock(mu_);
  for (const auto& [hash, record] : records_) visit(hash, record);
}

// A key that is not a token hash is someone else's write: ignored. A value that does not parse
// drops the key's record: the token is unknown here until a valid record is written, rather
// than trusted on a record that may have been a revocation.
void TokenDirectory::OnEntry(std::string_view key, std::string_view value, bool deleted) {
  const std::optional<std::string> hash = Unhex(key);
  if (!hash || hash->size() != kHashSize) {
    log_->warn("token bucket {}: key {} is not a token hash, ignored", options_.bucket, key);
    return;
  }
  yiwang::v1::TokenRecord record;
  const bool valid =
      !deleted && record.ParseFromArray(value.data(), static_cast<int>(value.size()));
  if (!deleted && !valid)
    log_->warn("token bucket {}: the record under {} does not parse ({} bytes), dropped",
               options_.bucket, key, value.size());
  {
    std::unique_lock lock(mu_);
    if (valid)
      records_.insert_or_assign(*hash, record);
    else
      records_.erase(*hash);
  }
  if (options_.on_change) options_.on_change(*hash, valid ? &record : nullptr);
}

void TokenDirectory::OnCaughtUp() {
  log_->info("token bucket {}: {} records loaded", options_.bucket, size());
  {
    std::lock_guard lock(ready_mu_);
    ready_ = true;
  }
  ready_cv_.notify_all();
}

Status ClusterTokenBook::AwaitSeen(const std::function<bool()>& seen) const {
  const auto deadline = std::chrono::steady_clock::now() + seen_timeout_;
  while (!seen()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Unavailable("written to the cluster's token bucket, not yet seen here");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

Status ClusterTokenBook::Put(std::string_view token, const yiwang::v1::TokenRecord& record) {
  if (Status s = directory_->Put(store::TokenHash(token), record); !s.ok()) return s;
  const std::string want = record.SerializeAsString();
  return AwaitSeen([&] {
    yiwang::v1::TokenRecord now;
    return directory_->Lookup(token, &now).ok() && now.SerializeAsString() == want;
  });
}

Status ClusterTokenBook::Lookup(std::string_view token, yiwang::v1::TokenRecord* out) const {
  return directory_->Lookup(token, out);
}

Status ClusterTokenBook::Scan(const store::EventStore::TokenVisitor& visit) const {
  bool more = true;
  directory_->ForEach([&](const std::string& hash, const yiwang::v1::TokenRecord& record) {
    if (more) more = visit(hash, record);
  });
  return Status::Ok();
}

Status ClusterTokenBook::Delete(std::string_view hash) {
  if (Status s = directory_->Delete(hash); !s.ok()) return s;
  const std::string key(hash);
  return AwaitSeen([&] { return !directory_->Contains(key); });
}

Status ClusterTokenBook::Replace(std::string_view old_hash, std::string_view new_token,
                                 const yiwang::v1::TokenRecord& record) {
  if (Status s = Put(new_token, record); !s.ok()) return s;
  return Delete(old_hash);
}

}  // namespace yiwang::ingest
