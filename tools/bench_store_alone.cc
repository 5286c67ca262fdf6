#include "tools/bench_store_alone.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>

#include "base/metrics.h"
#include "base/time.h"
#include "store/event_store.h"
#include "tools/bench_server.h"
#include "tools/client/load_frames.h"
#include "tools/client/temp_dir.h"
#include "yiwang/v1/store.pb.h"

namespace yiwang::tools::bench {

namespace {

namespace net = boost::asio;

// The disk probe: appends and fdatasyncs like a WAL of small commits.
constexpr int kFsyncProbeWrites = 300;
constexpr size_t kFsyncProbeBytes = 256;

// One logical connection of the store_alone baseline: keeps `inflight` requests of `batch`
// events queued in the EventStore, building and submitting them on its own strand as a server
// session does (so each device's seqs reach the store in order).
//
// Thread safety: Submit and OnDone run on the strand; the store's writer thread only posts.
// stats() only after the pool is joined.
class StoreProducer {
 public:
  StoreProducer(net::thread_pool& pool, store::EventStore* store, const std::string& run_tag,
                int index, const LoadSettings& settings, RunControl* control,
                std::atomic<int64_t>* outstanding)
      : strand_(net::make_strand(pool)),
        store_(store),
        settings_(settings),
        control_(control),
        outstanding_(outstanding),
        frames_(run_tag, index, settings.batch, /*json=*/false) {}

  void Start() {
    net::post(strand_, [this] {
      for (int i = 0; i < settings_.inflight; ++i) Submit();
    });
  }

  ConnStats& stats() { return stats_; }

 private:
  void Submit() {
    const auto& batch = frames_.Next();
    store::IngestRequest req;
    req.events.reserve(batch.events_size());
    const google::protobuf::Timestamp received_at = ToProtoTime(std::chrono::system_clock::now());
    for (const auto& ev : batch.events()) {
      yiwang::v1::StoredEvent& se = req.events.emplace_back();
      *se.mutable_event() = ev;
      *se.mutable_received_at() = received_at;
      se.set_token_name(kTokenName);
    }
    const int64_t start = SteadyNowNs();
    req.done = [this, start](std::vector<store::Outcome> outcomes) {
      // On the writer thread: hand the result back to this producer's strand at once.
      net::post(strand_, [this, start, outcomes = std::move(outcomes)] {
        OnDone(start, outcomes);
      });
    };
    outstanding_->fetch_add(1);
    store_->SubmitIngest(std::move(req));
  }

  void OnDone(int64_t start, const std::vector<store::Outcome>& outcomes) {
    const int64_t now = SteadyNowNs();
    uint64_t accepted = 0;
    for (store::Outcome o : outcomes) {
      if (o == store::Outcome::kAccepted) {
        ++accepted;
      } else {
        stats_.Error(std::string("store outcome ") + store::OutcomeName(o));
      }
    }
    stats_.events_acked_total += accepted;
    if (control_->InWindow(now)) {
      stats_.latencies_ns.push_back(now - start);
      ++stats_.frames;
      stats_.events += accepted;
    }
    if (!control_->stop_sending.load(std::memory_order_relaxed)) Submit();
    outstanding_->fetch_sub(1);
  }

  net::strand<net::thread_pool::executor_type> strand_;
  store::EventStore* const store_;
  const LoadSettings settings_;
  RunControl* const control_;
  std::atomic<int64_t>* const outstanding_;
  client::FrameBuilder frames_;
  ConnStats stats_;
};

}  // namespace

LatencySummary ProbeFdatasync(Status* status) {
  client::TempDir dir("yiwang-bench-fsync-");
  if (*status = dir.status(); !status->ok()) return {};
  const std::string path = (dir.path() / "probe").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    *status = Status::IOError(fmt::format("open {}: {}", path, std::strerror(errno)));
    return {};
  }
  const std::string record(kFsyncProbeBytes, 'x');
  std::vector<int64_t> samples;
  for (int i = 0; i < kFsyncProbeWrites; ++i) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
      *status = Status::IOError(fmt::format("write {}: {}", path, std::strerror(errno)));
      break;
    }
    const int64_t t0 = SteadyNowNs();
    if (::fdatasync(fd) != 0) {
      *status = Status::IOError(fmt::format("fdatasync {}: {}", path, std::strerror(errno)));
      break;
    }
    samples.push_back(SteadyNowNs() - t0);
  }
  ::close(fd);
  return Summarize(&samples);
}

StoreAloneResult RunStoreAlone(const LoadSettings& settings, const std::string& run_tag,
                               Status* status) {
  StoreAloneResult result;
  client::TempDir dir("yiwang-bench-store-");
  if (*status = dir.status(); !status->ok()) return result;
  store::StoreOptions options;  // the server's defaults: sync = true, group commit
  options.data_dir = (dir.path() / "data").string();
  Metrics metrics;
  auto store = store::EventStore::Open(options, Logger("bench-store"), &metrics, status);
  if (!store) return result;
  Counter& events_written = metrics.GetCounter("yiwang_store_events_written_total", "");
  Counter& fsyncs = metrics.GetCounter("yiwang_store_fsyncs_total", "");

  // As many producer threads as the server has I/O threads.
  net::thread_pool pool(std::max(1u, std::thread::hardware_concurrency()));
  RunControl control;
  std::atomic<int64_t> outstanding{0};
  std::vector<std::unique_ptr<StoreProducer>> producers;
  for (int i = 0; i < settings.connections; ++i) {
    producers.push_back(std::make_unique<StoreProducer>(pool, store.get(), run_tag + "s", i,
                                                        settings, &control, &outstanding));
    producers.back()->Start();
  }
  std::this_thread::sleep_for(Millis(settings.warmup_s));
  uint64_t written0 = 0, fsyncs0 = 0, written1 = 0, fsyncs1 = 0;
  MeasureWindow(
      settings.duration_s, &control, &result.run,
      [&] { written0 = events_written.Value(), fsyncs0 = fsyncs.Value(); },
      [&] { written1 = events_written.Value(), fsyncs1 = fsyncs.Value(); });
  control.stop_sending = true;
  // The store completes everything it queued, so this ends unless the writer is stuck.
  if (!WaitFor([&] { return outstanding.load() == 0; }, kDrainTimeout))
    *status = Status::Busy("store_alone: requests still in flight after the drain timeout");
  pool.join();
  store.reset();

  std::vector<ConnStats*> stats;
  for (auto& p : producers) stats.push_back(&p->stats());
  Aggregate(stats, &result.run);
  if (fsyncs1 > fsyncs0)
    result.events_per_fsync =
        static_cast<double>(written1 - written0) / static_cast<double>(fsyncs1 - fsyncs0);
  return result;
}

}  // namespace yiwang::tools::bench
