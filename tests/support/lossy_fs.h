#pragma once
// LossyFileSystem: a RocksDB FileSystem for the power-loss test that remembers, per file, how
// much of it a Sync/Fsync made durable, and can bring the disk to what a machine would find
// after a power cut: every byte not yet synced is thrown away (the technique of RocksDB's
// FaultInjectionTestFS and of Jepsen's LazyFS). Tests only; the store takes it through
// StoreOptions::test_hooks (store/test_hooks.h).
//
// What it models:
//   - Append/PositionedAppend go to the real file at once (the "page cache": readers see them)
//     but are durable only up to the file's size at its last Sync or Fsync. The real fsync is
//     not called: durability is simulated, so a cycle costs no disk flushes.
//   - A file created since the last power cut exists after the next one only if its directory
//     was fsynced after it was created (a directory entry is metadata, like the bytes). A file
//     renamed onto a name that did not exist needs a directory fsync again; a rename over an
//     existing name is taken as durable (the name then holds the old or the new file; the
//     model picks the new one).
//   - The cut is one instant (CutPower): the ledger is copied under the lock that every Sync
//     and directory Fsync takes, so a Sync either finished before the cut (its bytes survive)
//     or counts as never done. After the cut the process is "dead but not yet gone": its
//     writes still reach the real files (so RocksDB's own reads stay consistent while the test
//     stops the store) but can never become durable; its deletes and renames are swallowed
//     (a dead machine changes nothing); files it creates are removed by RestoreAfterPowerLoss.
//
// What it does not model (documented limits):
//   - RangeSync (sync_file_range) is no durability point: it flushes no metadata.
//   - Torn or reordered writes inside the unsynced tail: the tail is dropped whole, never
//     kept in part or with holes (LazyFS and FaultInjectionTestFS can also keep a prefix).
//   - Deletes and renames before the cut are durable at once (a deleted file never comes back;
//     an unsynced rename is never undone).
//   - Files RocksDB opens with ReuseWritableFile or NewRandomRWFile (WAL recycling, external
//     file ingestion; the store uses neither) are passed through untracked; files that existed
//     before the first use of this object are taken as fully durable.
//   - The disk's own write cache and bit rot: a synced byte is taken as safe.
//
// Thread safety: every method may be called from any thread; one mutex guards the ledger.
// CutPower and RestoreAfterPowerLoss are called by the test thread; RestoreAfterPowerLoss only
// while no database is open on this file system.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <rocksdb/file_system.h>

namespace yiwang::test {

class LossyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // Per file: bytes appended, bytes made durable by a sync, directory entry durable.
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool dir_synced = false;
  };
  // What RestoreAfterPowerLoss threw away.
  struct LossStats {
    uint64_t files_truncated = 0;  // durable files cut back to their synced size
    uint64_t bytes_dropped = 0;    // unsynced bytes removed (tails and removed files)
    uint64_t files_removed = 0;    // created before the cut without a directory fsync
    uint64_t post_cut_files = 0;   // created after the cut
  };

  LossyFileSystem();
  static const char* kClassName() { return "YiwangLossyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

  // The power cut: from now on nothing becomes durable, and deletes and renames are swallowed.
  // REQUIRES: not cut already.
  void CutPower();
  // Brings the disk to what survived the cut: every file tracked at the cut is truncated to its
  // synced size, or removed if its directory entry was never fsynced; files created after the
  // cut are removed. Then the ledger starts afresh (power is back) and every remaining file
  // counts as durable. Returns false with *error on a failed truncate or remove.
  // REQUIRES: CutPower was called; the database on this file system is closed (or destroyed).
  bool RestoreAfterPowerLoss(LossStats* stats, std::string* error);

  // Tests only, for the harness's own checks: times a file name that existed was created again
  // after the cut (that would overwrite bytes that were durable; RocksDB never reuses names).
  uint64_t post_cut_overwrites() const;

  // Called by the file and directory wrappers.
  void OnAppend(const std::shared_ptr<FileState>& f, uint64_t bytes);
  void OnPositionedAppend(const std::shared_ptr<FileState>& f, uint64_t end_offset);
  void OnTruncate(const std::shared_ptr<FileState>& f, uint64_t size);
  void OnSync(const std::shared_ptr<FileState>& f);
  void OnDirFsync(const std::string& dir);
  bool cut() const;

 private:
  // REQUIRES: mu_ held.
  std::shared_ptr<FileState> TrackLocked(const std::string& path, uint64_t size, bool durable);

  mutable std::mutex mu_;
  bool cut_ = false;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // normalised path -> state
  std::map<std::string, FileState> at_cut_;                  // the ledger at the cut
  std::set<std::string> post_cut_created_;
  uint64_t post_cut_overwrites_ = 0;
};

}  // namespace yiwang::test
