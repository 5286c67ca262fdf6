#pragma once
// Dispatcher: the driver of the case workflow (docs/architecture.md, docs/workflow.md). It owns
// every write of cases, journals, indexes, SLA timers, alarm state and KPI rows, and runs them
// on its own thread:
//
//   stored events --(cursor)--> alarm engine --> sensor cases (filed, accepted and transferred
//                                                 automatically when the route is unambiguous)
//   API commands  ------------> case machine --> transitions
//   citizen reports ----------> 附议 or a new case
//   SLA timers, offline checks -> 督办 escalations, 设备离线 cases
//
// Every transition is persisted in one WriteSet (one RocksDB WriteBatch) with the new case,
// its journal entry, all index changes, its SLA timer and its KPI increments, then published
// to subscribers (the live feed). Events are read back from the store from the dispatcher's
// cursor (the arrival id of the last event it judged), which is written in the same WriteSet
// as the alarm states (a checkpoint, written with every case change and otherwise about once a
// second): after a crash the dispatcher resumes at its last checkpoint; events after it are
// judged again, which rebuilds the same states and, since no case changed after the
// checkpoint, changes no case twice.
//
// Key layout: dispatcher/case_keys.h and docs/architecture.md.
//
// Thread safety: all public methods may be called from any thread. Commands, reports and
// timers run on the dispatcher thread, one at a time; the calling thread waits for the result
// (about one fsync). Reads go straight to the store.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "base/clock.h"
#include "base/metrics.h"
#include "base/status.h"
#include "dispatcher/alarm_engine.h"
#include "dispatcher/case_machine.h"
#include "dispatcher/kpi.h"
#include "dispatcher/sla.h"
#include "store/event_store.h"
#include "yiwang/v1/case.pb.h"
#include "yiwang/v1/dispatch_config.pb.h"
#include "yiwang/v1/kpi.pb.h"
#include "yiwang/v1/live.pb.h"

namespace yiwang::dispatcher {

struct DispatcherOptions {
  // Server time. Default: the system clock. Tests inject their own.
  Clock clock;
  // Events judged per store write at most. Default 20,000 (one ingest group commit).
  size_t max_events_per_batch = 20000;
  // How often the thread wakes without work, to check timers whose due time passed while a
  // clock was stepped (tests) and to pick up events if a commit notification was missed.
  std::chrono::milliseconds poll_interval{500};
  // Alarm states and the event cursor are written at most this often when no case changed
  // (a batch that changes a case always writes them with it). Default 1 s: after a crash at
  // most this much of the event stream is judged again.
  std::chrono::milliseconds checkpoint_interval{1000};
  // Sensor cases are accepted and transferred by the system when their route is unambiguous.
  bool auto_dispatch_sensor_cases = true;
};

// A command of an actor on a case, as the API receives it.
struct CommandOutcome {
  Status status;                    // not ok: store error (NoSpace, ...) or unknown case
  std::optional<ApplyError> error;  // the machine refused (403 / 409 / 400)
  yiwang::v1::Case c;               // the case after the command (or as it is, on refusal)
  yiwang::v1::JournalEntry entry;   // the entry appended (on success)
};

// A citizen's report (随手拍 / Open311) as the web layer validated it.
struct ReportFiling {
  std::string category;      // 小类 code ("0302", "event:0401")
  std::string description;
  double lat = 0, lon = 0;   // WGS-84
  std::string district;      // GB/T 2260 code, located by the web layer
  std::vector<std::string> photo_ids;
  std::string contact;
  std::string client;        // for limits and audit (not shown)
  std::string support_case;  // non-empty: join this case (附议) instead of a nearby search
  bool no_link = false;      // file a new case even if a similar one is open nearby
  yiwang::v1::Source source = yiwang::v1::SOURCE_CITIZEN;
};

struct ReportOutcome {
  Status status;                    // InvalidArgument names the field; NotFound support_case
  std::optional<ApplyError> error;  // the machine refused (e.g. the case to support closed)
  yiwang::v1::CitizenReport report; // tracking code, case id, linked
};

// A page of a case list.
struct CaseQuery {
  std::optional<std::array<double, 4>> bbox;  // min lon, min lat, max lon, max lat
  std::vector<yiwang::v1::CaseState> states;
  std::vector<std::string> districts, departments, categories;
  std::vector<yiwang::v1::Source> sources;
  bool overdue_only = false;
  bool open_only = false;
  std::optional<Timestamp> created_from, created_to;  // inclusive, exclusive
  std::string cursor;   // from the previous page's next_cursor
  size_t limit = 50;
};

struct CasePage {
  std::vector<yiwang::v1::CaseSummary> cases;  // newest first
  uint64_t total = 0;                          // matching cases, all pages
  std::string next_cursor;                     // empty on the last page
};

// Live gauges of open cases (kept in memory, exact).
struct OpenCaseStats {
  uint64_t open = 0;
  uint64_t overdue = 0;                    // running stage past its deadline, not paused
  std::map<std::string, uint64_t> by_state;  // StateName -> count
};

class Dispatcher {
 public:
  // Opens the dispatcher over `store` with a validated `config`: loads alarm states, SLA
  // timers and open cases, and starts the thread, which first judges the events stored after
  // its cursor and fires the timers that fell due while the server was down (each once).
  // It registers the dispatcher as the store's commit observer, which wakes its thread on every
  // commit; Stop removes it, so the store may outlive the dispatcher.
  // InvalidArgument if the config does not compile (alarm rules, SLA policy), or if the store
  // was opened without the tables of dispatcher/tables.h (StoreOptions::tables).
  static std::unique_ptr<Dispatcher> Open(store::EventStore* store,
                                          const yiwang::v1::DispatchConfig& config,
                                          DispatcherOptions options,
                                          std::shared_ptr<spdlog::logger> logger,
                                          Metrics* metrics, Status* status);
  ~Dispatcher();  // Stop()
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Finishes the task at hand and joins the thread. Later calls fail with Unavailable.
  void Stop();

  // --- commands (dispatcher thread; the caller waits) ---
  // Applies `cmd` to case `case_id`. For CLOSE of a sensor case, telemetry_normal is taken
  // from the case (the alarm engine's clear), whatever the command says.
  CommandOutcome Execute(std::string_view case_id, yiwang::v1::CaseCommand cmd);
  // Files a case (CREATE, then for sensor cases accept + transfer when auto-dispatching).
  CommandOutcome File(yiwang::v1::Case filing, const yiwang::v1::CaseCommand& actor);
  // Files a citizen report: joins an open public case of the same category within the
  // category's dedup radius and window (附议), or opens a new one. Returns the tracking code.
  ReportOutcome FileReport(const ReportFiling& filing);
  // Records a citizen's rating; fixed=false from the report that filed the case reopens the
  // (closed) case, from a supporter's (附议) report it is recorded only.
  CommandOutcome RateReport(std::string_view tracking_code, uint32_t stars, std::string comment,
                            bool fixed);
  // Waits until every event committed before the call has been judged (tests, scripts).
  void Sync();

  // --- reads (any thread) ---
  Status GetCase(std::string_view id, yiwang::v1::Case* out) const;
  Status GetJournal(std::string_view id, std::vector<yiwang::v1::JournalEntry>* out) const;
  Status ListCases(const CaseQuery& query, CasePage* out) const;
  // Every case matching `query` (its cursor and limit are ignored), newest first within each
  // index scanned, at most `max` of them in *out; *total counts all matches. For the map,
  // which loads every point at once (the caller bounds `max`).
  Status MatchingCases(const CaseQuery& query, size_t max,
                       std::vector<yiwang::v1::CaseSummary>* out, uint64_t* total) const;
  Status GetReport(std::string_view tracking_code, yiwang::v1::CitizenReport* out) const;
  // Open public cases (IsPublicCase) of `category` within `radius_m` of (lat, lon), nearest
  // first: what a citizen report may join (附议). radius 0: the category's dedup radius and
  // window.
  Status NearbyOpenCases(std::string_view category, double lat, double lon, double radius_m,
                         std::vector<std::pair<yiwang::v1::CaseSummary, double>>* out) const;
  // KPI rows for `filter` rolled up by `by` (reads only the KPI rows of the filter's days).
  // With `total`, also the sum of every matching row (the same rows, read once).
  Status Stats(const KpiFilter& filter, KpiDimension by, std::vector<KpiRow>* out,
               yiwang::v1::KpiCounters* total = nullptr) const;
  OpenCaseStats OpenStats(const KpiFilter& filter) const;
  // The actions `principal` may take on `c` now.
  std::vector<yiwang::v1::CaseAction> AllowedFor(const yiwang::v1::Case& c, yiwang::v1::Role role,
                                                 std::string_view department,
                                                 std::string_view actor_id) const;

  // Checks every case: hash chain, replay reproduces the stored case, indexes present
  // (AuditCases of dispatcher/audit.h under this dispatcher's policy).
  // Problems are appended to *problems (one line each); returns the number of cases checked.
  Status Audit(std::vector<std::string>* problems, uint64_t* cases_checked) const;

  // --- live updates ---
  using Listener = std::function<void(const yiwang::v1::LiveUpdate&)>;
  // Called on the dispatcher thread after each write; must not block. Returns an id.
  uint64_t Subscribe(Listener listener);
  void Unsubscribe(uint64_t id);

  const yiwang::v1::DispatchConfig& config() const;
  const SlaPolicy& policy() const;
  // The arrival id of the last event judged.
  uint64_t cursor() const;

  class Impl;

 private:
  explicit Dispatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The journal of case `id`, oldest first, read straight from the store.
Status ReadJournal(const store::EventStore& store, std::string_view id,
                   std::vector<yiwang::v1::JournalEntry>* out);

// The computed spatial cell of a point (0.01 degree grid): "g:<lat index>:<lon index>".
std::string SpatialCell(double lat, double lon);
// Great-circle distance in metres.
double DistanceMeters(double lat1, double lon1, double lat2, double lon2);
// The summary the indexes carry for `c`.
yiwang::v1::CaseSummary Summarize(const yiwang::v1::Case& c);

}  // namespace yiwang::dispatcher
