#pragma once
// The ack ledger of `yiwang bench soak`: what became of every frame each sensor connection
// sent (SoakLedger, an AckObserver of the load client), the run's counters, and the final
// check of the stopped server's store against the ledger: every acked event stored exactly
// once, nothing refused stored. Internal to tools/.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tools/client/load_connection.h"
#include "tools/latency_histogram.h"

namespace yiwang::tools::bench {

// What became of each frame, per connection, indexed by seq. A frame carries one event per
// device of the connection, all with the frame's seq.
enum class FrameState : uint8_t {
  kUnsent = 0,
  kSent,      // no ack (yet): stored at most once
  kAccepted,  // every event accepted: stored exactly once
  kRefused,  // refused whole (frame error, or every event rejected as overloaded/...): never stored
  kMixed,    // some accepted, some not (only with --batch > 1): each stored at most once
};

// Thread safety: atomics; the connections add, the main thread reads.
struct SoakCounters {
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> events_sent{0};
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_refused{0};  // refused whole or rejected, by the reasons below
  std::atomic<uint64_t> refused_overloaded{0};
  std::atomic<uint64_t> refused_other{0};  // shutting_down, storage_full
  std::atomic<uint64_t> bad_acks{0};       // unparsable, duplicates, other rejections
  std::atomic<uint64_t> conn_failures{0};
  LatencyHistogram latency;
};

// Thread safety: see AckObserver; states_[i] only on connection i's strand, or after the
// client threads are joined.
class SoakLedger : public client::AckObserver {
 public:
  SoakLedger(int connections, int batch, SoakCounters* counters)
      : batch_(batch), counters_(counters), states_(static_cast<size_t>(connections)) {}

  void OnSent(int index, uint64_t seq) override;
  void OnAck(int index, uint64_t seq, int64_t latency_ns,
             const yiwang::v1::IngestAck* ack) override;
  void OnFailed(int index, const std::string& what) override;

  int batch() const { return batch_; }
  const std::vector<std::vector<FrameState>>& states() const { return states_; }

 private:
  void Refused(const std::string& reason, uint64_t events);

  const int batch_;
  SoakCounters* const counters_;
  std::vector<std::vector<FrameState>> states_;
};

struct LedgerCheck {
  uint64_t events_checked = 0;  // stored events of this run matched against the ledger
  uint64_t acked = 0;           // events the ledger says were accepted
  uint64_t lost = 0;            // acked, not stored
  uint64_t duplicated = 0;      // stored more than once
  uint64_t refused_but_stored = 0;
  uint64_t unacked_stored = 0;  // sent, never acked (in flight at a failure), stored once: fine
  uint64_t stored_unsent = 0;   // a seq the client never sent
  uint64_t foreign = 0;         // stored events of other devices (not this run's)
  std::string error;            // the scan failed

  // Nothing acked lost, nothing stored twice, nothing refused or unsent stored, scan complete.
  bool ok() const {
    return error.empty() && lost == 0 && duplicated == 0 && refused_but_stored == 0 &&
           stored_unsent == 0;
  }
};

// Scans the stopped server's data dir (tools/stored_events.h) and matches every stored event
// against the ledger. The devices of run `run_tag` are the load client's
// "bench-<run>-<connection>-<k>"; others count as foreign.
LedgerCheck CheckStore(const std::filesystem::path& data_dir, const std::string& run_tag,
                       const SoakLedger& ledger);

}  // namespace yiwang::tools::bench
