#include "store/log/publisher.h"

namespace yiwang::log {

LogPublisher::LogPublisher(JetStreamLog* log, PublisherOptions options)
    : log_(log), options_(options) {
  for (size_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

LogPublisher::~LogPublisher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

Status LogPublisher::Submit(std::string subject, std::string msg_id, std::string data,
                            Done done) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() + in_flight_ >= options_.max_pending)
      return Status::Busy("the log publisher's queue is full");
    queue_.push_back(Item{std::move(subject), std::move(msg_id), std::move(data), std::move(done),
                          std::chrono::steady_clock::now() + options_.deadline});
  }
  cv_.notify_one();
  return Status::Ok();
}

size_t LogPublisher::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + in_flight_;
}

void LogPublisher::Run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mu_);
      // Stopping drains the queue first: every accepted message gets its answer.
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      ++in_flight_;
    }
    Publish(item);
    std::lock_guard lock(mu_);
    --in_flight_;
  }
}

void LogPublisher::Publish(Item& item) {
  PubAck ack;
  Status s = Status::Unavailable("the deadline passed before the log acknowledged the message");
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        item.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    s = log_->Publish(item.subject, item.msg_id, item.data, &ack, left);
    if (s.code() != Status::Code::kUnavailable) break;
    if (std::chrono::steady_clock::now() + options_.retry_wait >= item.deadline) break;
    std::this_thread::sleep_for(options_.retry_wait);
  }
  item.done(s, ack);
}

}  // namespace yiwang::log
