#include "tests/support/dispatch_stack.h"

#include <future>

#include "dispatcher/dispatch_config.h"
#include "dispatcher/tables.h"
#include "web/tables.h"

namespace yiwang::test {

Status DispatchStack::Open() {
  store::StoreOptions so;
  so.data_dir = dir;
  so.tables = store::TablesOf(dispatcher::tables::kAll, web::tables::kAll);
  Status s;
  store = store::EventStore::Open(so, NullLogger(), &metrics, &s);
  if (!store) return s;
  dispatcher::DispatcherOptions o;
  if (now_ms.load() != 0)
    o.clock = Clock([this] {
      return Clock::TimePoint(std::chrono::milliseconds(now_ms.load()));
    });
  o.poll_interval = std::chrono::milliseconds(20);
  dispatcher = dispatcher::Dispatcher::Open(store.get(), config, o, NullLogger(), &metrics, &s);
  if (!dispatcher) return s;
  return Status::Ok();
}

void DispatchStack::Close() {
  dispatcher.reset();
  store.reset();
}

void DispatchStack::Ingest(std::vector<yiwang::v1::SensorEvent> events) {
  std::promise<void> done;
  store::IngestRequest req;
  for (auto& e : events) req.events.push_back(Stored(e, now_ms.load() / 1000));
  req.done = [&](std::vector<store::Outcome>) { done.set_value(); };
  store->SubmitIngest(std::move(req));
  done.get_future().wait();
  dispatcher->Sync();
}

}  // namespace yiwang::test
