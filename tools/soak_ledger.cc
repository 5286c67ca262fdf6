#include "tools/soak_ledger.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "base/metrics.h"
#include "store/event_store.h"
#include "tools/bench_run.h"
#include "tools/client/load_frames.h"
#include "tools/stored_events.h"

namespace yiwang::tools::bench {

namespace {

bool IsRefusal(const std::string& reason) {
  return reason == "overloaded" || reason == "shutting_down" || reason == "storage_full";
}

}  // namespace

void SoakLedger::OnSent(int index, uint64_t seq) {
  auto& v = states_[static_cast<size_t>(index)];
  if (v.size() <= seq) v.resize(std::max<size_t>(seq + 1, v.size() * 2), FrameState::kUnsent);
  v[seq] = FrameState::kSent;
  counters_->frames_sent.fetch_add(1, std::memory_order_relaxed);
  counters_->events_sent.fetch_add(static_cast<uint64_t>(batch_), std::memory_order_relaxed);
}

void SoakLedger::OnAck(int index, uint64_t seq, int64_t latency_ns,
                       const yiwang::v1::IngestAck* ack) {
  FrameState& st = states_[static_cast<size_t>(index)][seq];
  if (!ack) {
    counters_->bad_acks.fetch_add(1, std::memory_order_relaxed);
    return;  // stays kSent: stored at most once
  }
  counters_->latency.Record(latency_ns);
  const uint64_t batch = static_cast<uint64_t>(batch_);
  if (!ack->error().empty()) {
    Refused(ack->error(), batch);
    st = FrameState::kRefused;
    return;
  }
  uint64_t refusals = 0;
  for (const auto& r : ack->rejected()) {
    if (IsRefusal(r.reason())) {
      Refused(r.reason(), 1);
      ++refusals;
    }
  }
  counters_->events_accepted.fetch_add(ack->accepted(), std::memory_order_relaxed);
  if (ack->accepted() == batch) {
    st = FrameState::kAccepted;
  } else if (refusals == batch) {
    st = FrameState::kRefused;
  } else {
    st = FrameState::kMixed;
  }
  // Fresh devices and seqs: a duplicate or any other rejection is a bug somewhere.
  if (ack->duplicates() > 0 || ack->rejected_size() > static_cast<int>(refusals) ||
      ack->accepted() + refusals != batch)
    counters_->bad_acks.fetch_add(1, std::memory_order_relaxed);
}

void SoakLedger::OnFailed(int, const std::string&) {
  counters_->conn_failures.fetch_add(1, std::memory_order_relaxed);
}

void SoakLedger::Refused(const std::string& reason, uint64_t events) {
  counters_->events_refused.fetch_add(events, std::memory_order_relaxed);
  (reason == "overloaded" ? counters_->refused_overloaded : counters_->refused_other)
      .fetch_add(events, std::memory_order_relaxed);
}

LedgerCheck CheckStore(const std::filesystem::path& data_dir, const std::string& run_tag,
                       const SoakLedger& ledger) {
  LedgerCheck out;
  Metrics metrics;
  store::StoreOptions options;
  options.data_dir = data_dir.string();
  Status st;
  auto store = store::EventStore::Open(options, Logger("soak-check"), &metrics, &st);
  if (!store) {
    out.error = "open " + data_dir.string() + ": " + st.ToString();
    return out;
  }
  const auto& states = ledger.states();
  const size_t batch = static_cast<size_t>(ledger.batch());
  // Times each (connection, device, seq) was stored.
  std::vector<std::vector<uint8_t>> seen(states.size() * batch);
  for (size_t c = 0; c < states.size(); ++c)
    for (size_t k = 0; k < batch; ++k) seen[c * batch + k].resize(states[c].size(), 0);
  const std::string prefix = fmt::format("{}{}-", client::kLoadDevicePrefix, run_tag);
  uint64_t total = 0;
  const Status scan = ForEachStoredEvent(
      *store,
      [&](const std::string& device, uint64_t seq) {
        // "bench-<run>-<connection>-<k>"
        unsigned long c = 0, k = 0;
        int used = 0;
        if (!device.starts_with(prefix) ||
            std::sscanf(device.c_str() + prefix.size(), "%lu-%lu%n", &c, &k, &used) != 2 ||
            prefix.size() + static_cast<size_t>(used) != device.size() || c >= states.size() ||
            k >= batch) {
          ++out.foreign;
          return;
        }
        ++out.events_checked;
        auto& times = seen[c * batch + k];
        if (seq >= times.size() || states[c][seq] == FrameState::kUnsent) {
          ++out.stored_unsent;
          return;
        }
        if (times[seq] < 255) ++times[seq];
      },
      &total);
  if (!scan.ok()) out.error = scan.ToString();
  for (size_t c = 0; c < states.size(); ++c) {
    for (size_t seq = 1; seq < states[c].size(); ++seq) {
      const FrameState s = states[c][seq];
      for (size_t k = 0; k < batch; ++k) {
        const uint8_t n = seen[c * batch + k][seq];
        if (n > 1) ++out.duplicated;
        switch (s) {
          case FrameState::kAccepted:
            ++out.acked;
            if (n == 0) ++out.lost;
            break;
          case FrameState::kRefused:
            if (n > 0) ++out.refused_but_stored;
            break;
          case FrameState::kSent:
          case FrameState::kMixed:
            if (n == 1) ++out.unacked_stored;
            break;
          case FrameState::kUnsent:
            break;
        }
      }
    }
  }
  return out;
}

}  // namespace yiwang::tools::bench
