#include "ingest/new_device_budget.h"

namespace yiwang::ingest {

namespace {
constexpr std::chrono::hours kWindow{1};
}  // namespace

NewDeviceBudget::NewDeviceBudget(const EventSink* sink, uint32_t per_hour,
                                 size_t max_known, Clock clock)
    : sink_(sink), per_hour_(per_hour), max_known_(max_known), clock_(std::move(clock)) {}

bool NewDeviceBudget::KnownLocked(std::string_view device_id) const {
  return known_.find(device_id) != known_.end();
}

void NewDeviceBudget::RememberLocked(std::string_view device_id) {
  if (known_.size() >= max_known_) known_.clear();  // the store still knows them
  known_.emplace(device_id);
}

bool NewDeviceBudget::Admit(std::string_view token_id, std::string_view device_id) {
  if (per_hour_ == 0) return true;
  {
    std::lock_guard lock(mu_);
    if (KnownLocked(device_id)) return true;
  }
  const bool stored = sink_->KnownDevice(device_id);
  std::lock_guard lock(mu_);
  if (stored || KnownLocked(device_id)) {
    RememberLocked(device_id);
    return true;
  }
  const auto now = clock_.Steady();
  Window& w = windows_[std::string(token_id)];  // one entry per token: bounded by the tokens
  if (w.count == 0 || now - w.start >= kWindow) w = Window{now, 0};
  if (w.count >= per_hour_) return false;
  ++w.count;
  RememberLocked(device_id);
  return true;
}

}  // namespace yiwang::ingest
