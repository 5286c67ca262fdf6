#include "ingest/log_applier.h"

#include <future>

#include "ingest/log_routing.h"
#include "yiwang/v1/log.pb.h"

namespace yiwang::ingest {

using store::Outcome;

namespace {

constexpr std::chrono::milliseconds kFirstMessageWait{200};

// The store's answer settles the request: every event stored, a duplicate, or a replay. Anything
// else (disk full, the store stopping or overloaded) means "try again".
bool Settled(const std::vector<Outcome>& outcomes) {
  for (Outcome o : outcomes)
    if (o != Outcome::kAccepted && o != Outcome::kDuplicate && o != Outcome::kReplay)
      return false;
  return true;
}

}  // namespace

LogApplier::LogApplier(log::JetStreamLog* log, store::EventStore* store, Metrics* metrics,
                       std::shared_ptr<spdlog::logger> logger, LogApplierOptions options)
    : log_(log),
      store_(store),
      options_(options),
      log_out_(std::move(logger)),
      m_messages_(metrics->GetCounter("yiwang_core_log_messages_total",
                                      "Messages of the log applied by this core")),
      m_unreadable_(metrics->GetCounter("yiwang_core_log_unreadable_total",
                                        "Messages of the log that did not parse (skipped)")),
      m_accepted_(metrics->GetCounter("yiwang_core_applied_events_total",
                                      "Sensor events of the log applied, by result",
                                      {{"result", "accepted"}})),
      m_duplicates_(metrics->GetCounter("yiwang_core_applied_events_total",
                                        "Sensor events of the log applied, by result",
                                        {{"result", "duplicate"}})),
      m_replays_(metrics->GetCounter("yiwang_core_applied_events_total",
                                     "Sensor events of the log applied, by result",
                                     {{"result", "replay"}})),
      m_retries_(metrics->GetCounter("yiwang_core_apply_retries_total",
                                     "Requests the store refused and the applier sent again")),
      m_position_(metrics->GetGauge("yiwang_core_log_position",
                                    "The last log sequence this core committed")) {
  m_position_.Set(static_cast<int64_t>(store_->LogPosition()));
  thread_ = std::thread([this] { Run(); });
}

LogApplier::~LogApplier() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool LogApplier::WaitCaughtUp(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return caught_up_.load(); });
}

void LogApplier::MarkCaughtUp() {
  if (caught_up_.load()) return;
  {
    std::lock_guard lock(mu_);
    caught_up_ = true;
  }
  cv_.notify_all();
  log_out_->info("caught up with {} at #{} ({} events stored)", kEventsStream,
                 store_->LogPosition(), store_->EventCount());
}

void LogApplier::Run() {
  std::unique_ptr<log::LogFollower> follower;
  const std::string subjects = std::string(kEventSubjectPrefix) + ">";
  while (!stop_) {
    if (!follower) {
      Status s;
      std::string leader;
      if (target_ == 0 && !(s = log_->StreamState(kEventsStream, &target_, &leader)).ok()) {
        log_out_->warn("{}: {}; retrying", kEventsStream, s.ToString());
        std::this_thread::sleep_for(options_.retry_wait);
        continue;
      }
      if (store_->LogPosition() >= target_) MarkCaughtUp();
      follower = log::LogFollower::Start(log_, kEventsStream, subjects,
                                         store_->LogPosition() + 1, &s);
      if (!follower) {
        log_out_->warn("following {}: {}; retrying", kEventsStream, s.ToString());
        std::this_thread::sleep_for(options_.retry_wait);
        continue;
      }
    }
    std::vector<log::LogMessage> batch;
    const bool healthy = Gather(*follower, &batch);
    if (!batch.empty()) Apply(batch);
    if (!healthy) follower.reset();  // again from the position committed
    if (!batch.empty() && (pending_ == 0 || store_->LogPosition() >= target_)) MarkCaughtUp();
  }
}

bool LogApplier::Gather(log::LogFollower& follower, std::vector<log::LogMessage>* batch) {
  size_t events_estimate = 0;
  std::chrono::milliseconds wait = kFirstMessageWait;
  while (!stop_ && events_estimate < options_.max_events_per_request) {
    log::LogMessage m;
    const Status s = follower.Next(&m, wait, &pending_);
    if (s.code() == Status::Code::kBusy) return true;
    if (!s.ok()) {
      log_out_->warn("reading {}: {}; following again from #{}", kEventsStream, s.ToString(),
                     store_->LogPosition() + 1);
      return false;
    }
    wait = std::chrono::milliseconds(0);
    if (m.sequence <= store_->LogPosition()) continue;  // applied before a restart of the follower
    // ~150 bytes per event: a bound on the request's size without parsing twice.
    events_estimate += m.data.size() / 150 + 1;
    batch->push_back(std::move(m));
  }
  return true;
}

store::IngestRequest LogApplier::Request(const std::vector<log::LogMessage>& batch) {
  store::IngestRequest req;
  req.log_position = batch.back().sequence;
  for (const log::LogMessage& m : batch) {
    yiwang::v1::LogEvents events;
    if (!events.ParseFromString(m.data)) {
      m_unreadable_.Inc();
      log_out_->error("{} #{} ({}) does not parse: skipped", kEventsStream, m.sequence,
                      m.subject);
      continue;
    }
    for (auto& e : *events.mutable_events()) req.events.push_back(std::move(e));
  }
  return req;
}

void LogApplier::Apply(const std::vector<log::LogMessage>& batch) {
  while (!stop_) {
    store::IngestRequest req = Request(batch);
    auto answer = std::make_shared<std::promise<std::vector<Outcome>>>();
    auto future = answer->get_future();
    req.done = [answer](std::vector<Outcome> o) { answer->set_value(std::move(o)); };
    store::PrepareIngest(&req);
    store_->SubmitIngest(std::move(req));
    const std::vector<Outcome> outcomes = future.get();
    if (Settled(outcomes)) {
      for (Outcome o : outcomes) {
        if (o == Outcome::kAccepted) m_accepted_.Inc();
        else if (o == Outcome::kDuplicate) m_duplicates_.Inc();
        else m_replays_.Inc();
      }
      m_messages_.Inc(batch.size());
      m_position_.Set(static_cast<int64_t>(store_->LogPosition()));
      return;
    }
    m_retries_.Inc();
    log_out_->warn("the store refused {} #{}..#{} ({}); retrying", kEventsStream,
                   batch.front().sequence, batch.back().sequence, store::OutcomeName(outcomes[0]));
    std::this_thread::sleep_for(options_.retry_wait);
  }
}

}  // namespace yiwang::ingest
