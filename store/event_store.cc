#include "store/event_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "base/digest.h"
#include "base/fail_stop.h"
#include "base/text.h"
#include "store/internal/event_store_impl.h"
#include "store/key_codec.h"

namespace yiwang::store {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kDuplicate: return "duplicate";
    case Outcome::kReplay: return "replay";
    case Outcome::kStorageFull: return "storage_full";
    case Outcome::kOverloaded: return "overloaded";
    case Outcome::kStopped: return "stopped";
    case Outcome::kUnavailable: return "unavailable";
  }
  return "unknown";
}

std::string TokenHash(std::string_view token) { return Sha256(token); }

std::string TokenId(std::string_view hash, const TokenRecord& record) {
  constexpr size_t kIdBytes = 8;
  return record.id().empty() ? Hex(hash.substr(0, kIdBytes)) : record.id();
}

namespace {

// The bytes of field 1 (`event`) at the start of a serialised StoredEvent, or nullopt if it
// does not start with it. Protobuf writes known fields in field-number order, and a message
// nested in another is written exactly as it would be alone (deterministic serialisation
// differs only in map order, and SensorEvent has no maps): these are the bytes
// EventFingerprint hashes.
std::optional<std::string_view> LeadingEventBytes(std::string_view stored) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(stored.data()),
                                            static_cast<int>(stored.size()));
  uint32_t len = 0;
  if (in.ReadTag() != WireFormatLite::MakeTag(StoredEvent::kEventFieldNumber,
                                              WireFormatLite::WIRETYPE_LENGTH_DELIMITED) ||
      !in.ReadVarint32(&len))
    return std::nullopt;
  const auto start = static_cast<size_t>(in.CurrentPosition());
  if (len > stored.size() - start) return std::nullopt;
  return stored.substr(start, len);
}

}  // namespace

uint64_t EventFingerprint(const yiwang::v1::SensorEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream sos(&bytes);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&cos);
  }
  return Fnv1a64(bytes);
}

void PrepareIngest(IngestRequest* req) {
  if (req->serialized.size() == req->events.size()) return;
  req->serialized.clear();
  req->fingerprints.clear();
  req->serialized.reserve(req->events.size());
  req->fingerprints.reserve(req->events.size());
  for (const auto& se : req->events) {
    std::string& bytes = req->serialized.emplace_back(se.SerializeAsString());
    // The event is serialised once: its fingerprint hashes its bytes inside the StoredEvent's.
    const auto event_bytes = LeadingEventBytes(bytes);
    req->fingerprints.push_back(event_bytes ? Fnv1a64(*event_bytes) : EventFingerprint(se.event()));
  }
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsNoSpace()) return Status::NoSpace(s.ToString());
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(s.ToString());
  if (s.IsBusy() || s.IsTryAgain()) return Status::Busy(s.ToString());
  return Status::IOError(s.ToString());
}

// ---------------------------------------------------------------------------------------------

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventStore::~EventStore() {
  if (impl_->scrape_hook_ != 0) impl_->metrics_->RemoveScrapeHook(impl_->scrape_hook_);
  impl_->Stop();
  for (auto* h : impl_->handles_) impl_->db_->DestroyColumnFamilyHandle(h);
  impl_->handles_.clear();
  if (impl_->db_) {
    rocksdb::Status s = impl_->db_->Close();
    if (!s.ok()) impl_->log_->warn("close: {}", s.ToString());
  }
}

std::unique_ptr<EventStore> EventStore::Open(const StoreOptions& options,
                                             std::shared_ptr<spdlog::logger> logger,
                                             Metrics* metrics, Status* status) {
  auto impl = std::make_unique<Impl>(options, std::move(logger), metrics);
  bool created = false;
  *status = impl->Open(&created);
  if (!status->ok()) {
    for (auto* h : impl->handles_) impl->db_->DestroyColumnFamilyHandle(h);
    impl->handles_.clear();
    return nullptr;
  }
  impl->created_ = created;
  Impl* raw = impl.get();
  impl->scrape_hook_ = metrics->AddScrapeHook([raw] { raw->ExportRocksDbState(); });
  impl->StartWriter();
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

bool EventStore::created() const { return impl_->created_; }
void EventStore::SubmitIngest(IngestRequest req) { impl_->Submit(std::move(req)); }
uint64_t EventStore::AddCommitObserver(CommitObserver observer) {
  std::lock_guard lock(impl_->observers_mu_);
  const uint64_t id = impl_->next_observer_id_++;
  impl_->observers_.emplace(id, std::move(observer));
  return id;
}
void EventStore::RemoveCommitObserver(uint64_t id) {
  std::lock_guard lock(impl_->observers_mu_);
  impl_->observers_.erase(id);
}
void EventStore::StopWriter() { impl_->Stop(); }
bool EventStore::storage_full() const { return impl_->storage_full_.load(); }
uint64_t EventStore::EventCount() const { return impl_->next_arrival_id_.load() - 1; }

uint64_t EventStore::LogPosition() const { return impl_->log_position_.load(); }

Status EventStore::GetDevice(std::string_view device_id, DeviceState* out) const {
  if (device_id.empty() || device_id.size() > kMaxDeviceIdLength)
    return Status::NotFound("no such device");
  std::string value;
  rocksdb::Status s =
      impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kDevices), device_id, &value);
  if (!s.ok()) return FromRocks(s);
  if (!out->ParseFromString(value)) return Status::Corruption("device state");
  return Status::Ok();
}

Status EventStore::ListDeviceEvents(std::string_view device_id, uint64_t before_seq, size_t limit,
                                    std::vector<StoredEvent>* out, uint64_t* next_before) const {
  *next_before = 0;
  out->clear();
  if (device_id.empty() || device_id.size() > kMaxDeviceIdLength || limit == 0 ||
      before_seq == 1)
    return Status::Ok();
  const std::string prefix = DeviceSeqPrefix(device_id);
  std::string start = before_seq == 0 ? DeviceSeqKey(device_id, UINT64_MAX)
                                      : DeviceSeqKey(device_id, before_seq - 1);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kDeviceSeq)));
  std::vector<std::string> keys;
  uint64_t last_seq = 0;
  for (it->SeekForPrev(start); it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    if (keys.size() == limit) {
      *next_before = last_seq;
      break;
    }
    auto ds = ParseDeviceSeqKey(it->key().ToStringView());
    SeqMark mark;
    if (!ds || !mark.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::Corruption("device_seq entry");
    last_seq = ds->seq;
    keys.push_back(EventKey(mark.arrival_id()));
  }
  if (!it->status().ok()) return FromRocks(it->status());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(keys.size(), impl_->cf(kEvents));
  std::vector<rocksdb::Status> st = impl_->db_->MultiGet(rocksdb::ReadOptions(), cfs, slices, &values);
  out->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!st[i].ok()) return FromRocks(st[i]);
    if (!(*out)[i].ParseFromString(values[i])) return Status::Corruption("event record");
  }
  return Status::Ok();
}

Status EventStore::ScanEvents(uint64_t from, size_t limit, std::vector<StoredEvent>* out) const {
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kEvents)));
  for (it->Seek(EventKey(from)); it->Valid() && out->size() < limit; it->Next()) {
    StoredEvent e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::Corruption("event record");
    out->push_back(std::move(e));
  }
  return FromRocks(it->status());
}

Status EventStore::PutToken(std::string_view token, const TokenRecord& record) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      impl_->db_->Put(wo, impl_->cf(kTokens), TokenHash(token), record.SerializeAsString()));
}

Status EventStore::LookupToken(std::string_view token, TokenRecord* out) const {
  std::string value;
  rocksdb::Status s =
      impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kTokens), TokenHash(token), &value);
  if (!s.ok()) return FromRocks(s);
  if (!out->ParseFromString(value)) return Status::Corruption("token record");
  return Status::Ok();
}

Status EventStore::ScanTokens(const TokenVisitor& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db_->NewIterator(rocksdb::ReadOptions(), impl_->cf(kTokens)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    TokenRecord rec;
    if (!rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())))
      return Status::Corruption("token record");
    if (!visit(std::string_view(it->key().data(), it->key().size()), rec)) break;
  }
  return FromRocks(it->status());
}

Status EventStore::DeleteToken(std::string_view hash) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db_->Delete(wo, impl_->cf(kTokens), hash));
}

Status EventStore::ReplaceToken(std::string_view old_hash, std::string_view new_token,
                                const TokenRecord& record) {
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Delete(impl_->cf(kTokens), old_hash);
  if (s.ok()) s = batch.Put(impl_->cf(kTokens), TokenHash(new_token), record.SerializeAsString());
  if (!s.ok()) return FromRocks(s);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db_->Write(wo, &batch));
}

Status EventStore::GetMeta(std::string_view name, std::string* value) const {
  return FromRocks(impl_->db_->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), name, value));
}

Status EventStore::PutMeta(std::string_view name, std::string_view value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db_->Put(wo, impl_->cf(kMeta), name, value));
}

Status EventStore::Write(const WriteSet& changes, bool sync) {
  if (changes.empty()) return Status::Ok();
  // After a disk-full error, refuse at once until the recovery thread's Resume() succeeded
  // (Resume() never runs here: it can hang, see the recovery thread).
  if (impl_->storage_full_.load() && !impl_->resumed_.load()) {
    impl_->RequestResume();
    return Status::NoSpace("disk full: waiting for space");
  }
  rocksdb::WriteBatch wb;
  for (const auto& op : changes.ops()) {
    auto* h = impl_->cf(*op.table);
    if (!h) return Status::InvalidArgument("table " + std::string(op.table->name) + " is not open");
    rocksdb::Status s = op.erase ? wb.Delete(h, op.key) : wb.Put(h, op.key, op.value);
    if (!s.ok()) return FromRocks(s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync && impl_->options_.sync;
  rocksdb::Status s = impl_->db_->Write(wo, &wb);
  if (s.ok()) {
    if (wo.sync) impl_->m_fsyncs_.Inc();
    if (impl_->storage_full_.exchange(false)) impl_->log_->warn("disk space is back: writes resumed");
    return Status::Ok();
  }
  if (s.IsNoSpace() || impl_->storage_full_.load()) {
    if (!impl_->storage_full_.exchange(true))
      impl_->log_->error("disk full: refusing writes ({})", s.ToString());
    impl_->m_storage_full_.Inc();
    impl_->resumed_ = false;
    impl_->RequestResume();
    return Status::NoSpace(s.ToString());
  }
  FailStop(*impl_->log_, "table write failed: " + s.ToString());
}

bool EventStore::HasTable(const Table& table) const { return impl_->cf(table) != nullptr; }

Status EventStore::Get(const Table& table, std::string_view key, std::string* value) const {
  auto* h = impl_->cf(table);
  if (!h) return Status::InvalidArgument("table " + std::string(table.name) + " is not open");
  return FromRocks(impl_->db_->Get(rocksdb::ReadOptions(), h, key, value));
}

Status EventStore::Scan(const Table& table, std::string_view begin, std::string_view end,
                        bool reverse, const Visitor& visit) const {
  auto* h = impl_->cf(table);
  if (!h) return Status::InvalidArgument("table " + std::string(table.name) + " is not open");
  std::unique_ptr<rocksdb::Iterator> it(impl_->db_->NewIterator(rocksdb::ReadOptions(), h));
  const rocksdb::Slice lo(begin.data(), begin.size());
  const rocksdb::Slice hi(end.data(), end.size());
  if (!reverse) {
    for (it->Seek(lo); it->Valid(); it->Next()) {
      if (!end.empty() && it->key().compare(hi) >= 0) break;
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  } else {
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(hi);
      if (it->Valid() && it->key().compare(hi) >= 0) it->Prev();
    }
    for (; it->Valid(); it->Prev()) {
      if (it->key().compare(lo) < 0) break;
      if (!visit(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  }
  return FromRocks(it->status());
}

}  // namespace yiwang::store
