#include "tests/support/lossy_fs.h"

#include <filesystem>
#include <system_error>
#include <utility>

namespace yiwang::test {
namespace {

using rocksdb::IOStatus;

std::string Normal(const std::string& p) {
  std::string n = std::filesystem::path(p).lexically_normal().string();
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  return n;
}

std::string Parent(const std::string& normal_path) {
  return std::filesystem::path(normal_path).parent_path().string();
}

// Writes go through to the real file; Sync and Fsync only move the ledger's synced mark (the
// durability is simulated, see the header), unless the power is already cut.
class LossyWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  LossyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, LossyFileSystem* fs,
                    std::shared_ptr<LossyFileSystem::FileState> state)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), state_(std::move(state)) {}

  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                  rocksdb::IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, options, dbg);
    if (s.ok()) fs_->OnAppend(state_, data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                  const rocksdb::DataVerificationInfo& info,
                  rocksdb::IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, options, info, dbg);
    if (s.ok()) fs_->OnAppend(state_, data.size());
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                            const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) fs_->OnPositionedAppend(state_, offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                            const rocksdb::IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            rocksdb::IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, options, info, dbg);
    if (s.ok()) fs_->OnPositionedAppend(state_, offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                    rocksdb::IODebugContext* dbg) override {
    IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_->OnTruncate(state_, size);
    return s;
  }
  IOStatus Sync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    fs_->OnSync(state_);
    return IOStatus::OK();
  }
  IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    fs_->OnSync(state_);
    return IOStatus::OK();
  }
  // RangeSync stays the target's (sync_file_range): a write-back hint, no durability point.

 private:
  LossyFileSystem* const fs_;
  const std::shared_ptr<LossyFileSystem::FileState> state_;
};

class LossyDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  LossyDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, LossyFileSystem* fs, std::string name)
      : FSDirectoryWrapper(std::move(dir)), fs_(fs), name_(std::move(name)) {}

  IOStatus Fsync(const rocksdb::IOOptions&, rocksdb::IODebugContext*) override {
    fs_->OnDirFsync(name_);
    return IOStatus::OK();
  }
  IOStatus FsyncWithDirOptions(const rocksdb::IOOptions&, rocksdb::IODebugContext*,
                               const rocksdb::DirFsyncOptions&) override {
    fs_->OnDirFsync(name_);
    return IOStatus::OK();
  }

 private:
  LossyFileSystem* const fs_;
  const std::string name_;
};

}  // namespace

LossyFileSystem::LossyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

std::shared_ptr<LossyFileSystem::FileState> LossyFileSystem::TrackLocked(const std::string& path,
                                                                         uint64_t size,
                                                                         bool durable) {
  auto st = std::make_shared<FileState>();
  st->size = size;
  st->synced = durable ? size : 0;
  st->dir_synced = durable;
  if (cut_) {
    post_cut_created_.insert(path);  // never durable, never in the ledger
  } else {
    files_[path] = st;
  }
  return st;
}

IOStatus LossyFileSystem::NewWritableFile(const std::string& fname,
                                          const rocksdb::FileOptions& opts,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          rocksdb::IODebugContext* dbg) {
  const std::string path = Normal(fname);
  // Creation and registration under one lock: a file is created either before the cut (in the
  // ledger) or after it (removed on restore), never in between.
  std::lock_guard lock(mu_);
  const bool existed = target()->FileExists(fname, rocksdb::IOOptions(), dbg).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
  if (!s.ok()) return s;
  if (cut_ && existed) ++post_cut_overwrites_;
  // An existing name keeps its directory entry; the new (empty) contents are not yet durable.
  auto st = TrackLocked(path, 0, false);
  st->dir_synced = existed;
  result->reset(new LossyWritableFile(std::move(file), this, std::move(st)));
  return s;
}

IOStatus LossyFileSystem::ReopenWritableFile(const std::string& fname,
                                             const rocksdb::FileOptions& opts,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             rocksdb::IODebugContext* dbg) {
  const std::string path = Normal(fname);
  std::lock_guard lock(mu_);
  const bool existed = target()->FileExists(fname, rocksdb::IOOptions(), dbg).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
  if (!s.ok()) return s;
  std::shared_ptr<FileState> st;
  if (auto it = files_.find(path); it != files_.end() && !cut_) {
    st = it->second;
  } else {
    // Untracked and existing: written before this ledger began, durable as it is.
    uint64_t size = 0;
    if (existed) size = file->GetFileSize(rocksdb::IOOptions(), dbg);
    st = TrackLocked(path, size, existed);
  }
  result->reset(new LossyWritableFile(std::move(file), this, std::move(st)));
  return s;
}

IOStatus LossyFileSystem::NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                       std::unique_ptr<rocksdb::FSDirectory>* result,
                                       rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  IOStatus s = target()->NewDirectory(name, io_opts, &dir, dbg);
  if (!s.ok()) return s;
  result->reset(new LossyDirectory(std::move(dir), this, Normal(name)));
  return s;
}

IOStatus LossyFileSystem::DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  std::lock_guard lock(mu_);
  if (cut_) return IOStatus::OK();  // a dead machine deletes nothing
  IOStatus s = target()->DeleteFile(fname, options, dbg);
  if (s.ok()) files_.erase(Normal(fname));
  return s;
}

IOStatus LossyFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  std::lock_guard lock(mu_);
  if (cut_) return IOStatus::OK();  // a dead machine renames nothing
  const bool dst_existed = target()->FileExists(dst, options, dbg).ok();
  IOStatus s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  const std::string from = Normal(src), to = Normal(dst);
  std::shared_ptr<FileState> st;
  if (auto it = files_.find(from); it != files_.end()) {
    st = it->second;
    files_.erase(it);
  } else {
    // An untracked (durable) file under a new name: the bytes are safe, the name is not.
    st = std::make_shared<FileState>();
    std::error_code ec;
    st->size = st->synced = std::filesystem::file_size(to, ec);
  }
  st->dir_synced = dst_existed;
  files_[to] = std::move(st);
  return s;
}

void LossyFileSystem::OnAppend(const std::shared_ptr<FileState>& f, uint64_t bytes) {
  std::lock_guard lock(mu_);
  f->size += bytes;
}

void LossyFileSystem::OnPositionedAppend(const std::shared_ptr<FileState>& f,
                                         uint64_t end_offset) {
  std::lock_guard lock(mu_);
  if (end_offset > f->size) f->size = end_offset;
}

void LossyFileSystem::OnTruncate(const std::shared_ptr<FileState>& f, uint64_t size) {
  std::lock_guard lock(mu_);
  f->size = size;
  if (f->synced > size) f->synced = size;
}

void LossyFileSystem::OnSync(const std::shared_ptr<FileState>& f) {
  std::lock_guard lock(mu_);
  if (!cut_) f->synced = f->size;
}

void LossyFileSystem::OnDirFsync(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (cut_) return;
  for (auto& [path, st] : files_)
    if (Parent(path) == dir) st->dir_synced = true;
}

bool LossyFileSystem::cut() const {
  std::lock_guard lock(mu_);
  return cut_;
}

uint64_t LossyFileSystem::post_cut_overwrites() const {
  std::lock_guard lock(mu_);
  return post_cut_overwrites_;
}

void LossyFileSystem::CutPower() {
  std::lock_guard lock(mu_);
  cut_ = true;
  at_cut_.clear();
  for (const auto& [path, st] : files_) at_cut_[path] = *st;
}

bool LossyFileSystem::RestoreAfterPowerLoss(LossStats* stats, std::string* error) {
  std::lock_guard lock(mu_);
  *stats = {};
  if (!cut_) {
    *error = "RestoreAfterPowerLoss without CutPower";
    return false;
  }
  std::error_code ec;
  for (const auto& [path, st] : at_cut_) {
    const uint64_t actual = std::filesystem::file_size(path, ec);
    if (ec) {
      *error = "size of " + path + ": " + ec.message();
      return false;
    }
    if (!st.dir_synced) {
      std::filesystem::remove(path, ec);
      if (ec) {
        *error = "remove " + path + ": " + ec.message();
        return false;
      }
      ++stats->files_removed;
      stats->bytes_dropped += actual;
      continue;
    }
    if (actual < st.synced) {
      *error = path + " is shorter (" + std::to_string(actual) + ") than its synced size (" +
               std::to_string(st.synced) + ")";
      return false;
    }
    if (actual > st.synced) {
      std::filesystem::resize_file(path, st.synced, ec);
      if (ec) {
        *error = "truncate " + path + ": " + ec.message();
        return false;
      }
      ++stats->files_truncated;
      stats->bytes_dropped += actual - st.synced;
    }
  }
  for (const auto& path : post_cut_created_) {
    if (at_cut_.contains(path)) continue;  // counted in post_cut_overwrites()
    std::filesystem::remove(path, ec);
    if (ec) {
      *error = "remove " + path + ": " + ec.message();
      return false;
    }
    ++stats->post_cut_files;
  }
  files_.clear();
  at_cut_.clear();
  post_cut_created_.clear();
  cut_ = false;
  return true;
}

}  // namespace yiwang::test
