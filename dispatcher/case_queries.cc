// Reads of the case workflow, from any thread: cases, journals, reports, filtered and paged
// case lists over the case_index, KPI roll-ups, and the live gauges of open cases.

#include <algorithm>
#include <cmath>

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"
#include "store/record_scan.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

Status Dispatcher::GetCase(std::string_view id, v1::Case* out) const {
  return store::GetRecord(*impl_->store_, tables::kCases, id, out);
}

Status ReadJournal(const store::EventStore& store, std::string_view id,
                   std::vector<v1::JournalEntry>* out) {
  out->clear();
  const std::string prefix = keys::JournalPrefix(id);
  std::string end = prefix;
  end.push_back('\xff');
  return store::ScanRecords<v1::JournalEntry>(store, tables::kJournal, prefix, end,
                                              [&](std::string_view k, v1::JournalEntry&& e) {
                                                if (k.size() == prefix.size() + 8)
                                                  out->push_back(std::move(e));
                                                return true;
                                              });
}

Status Dispatcher::GetJournal(std::string_view id, std::vector<v1::JournalEntry>* out) const {
  return ReadJournal(*impl_->store_, id, out);
}

Status Dispatcher::GetReport(std::string_view tracking_code, v1::CitizenReport* out) const {
  return store::GetRecord(*impl_->store_, tables::kReports, tracking_code, out);
}

namespace {

template <typename T>
bool In(const std::vector<T>& set, const T& v) {
  return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
}

// True if summary `s` passes every filter of `q` (cursor and limit aside) at server time now_ms.
bool Matches(const CaseQuery& q, int64_t now_ms, const v1::CaseSummary& s) {
  if (!In(q.states, s.state()) || !In(q.districts, s.district()) ||
      !In(q.departments, s.department()) || !In(q.categories, s.category()) ||
      !In(q.sources, s.source()))
    return false;
  if (q.open_only && !keys::IsOpen(s.state())) return false;
  if (q.overdue_only &&
      !(keys::IsOpen(s.state()) && !s.paused() && s.deadline_ms() > 0 && s.deadline_ms() < now_ms))
    return false;
  if (q.created_from && s.created_ms() < Ms(*q.created_from)) return false;
  if (q.created_to && s.created_ms() >= Ms(*q.created_to)) return false;
  if (q.bbox) {
    const auto& b = *q.bbox;
    if (s.lon() < b[0] || s.lat() < b[1] || s.lon() > b[2] || s.lat() > b[3]) return false;
  }
  return true;
}

// The case_index prefixes to scan for `q`: the narrowest single-valued index the query allows,
// else every case. A case is under exactly one of the returned prefixes.
std::vector<std::string> IndexPrefixes(const CaseQuery& q) {
  std::vector<std::string> prefixes;
  if (q.states.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('s', StateName(q.states[0])));
  } else if (q.departments.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('p', q.departments[0]));
  } else if (q.districts.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('d', q.districts[0]));
  } else if (q.categories.size() == 1) {
    prefixes.push_back(keys::IndexPrefix('c', q.categories[0]));
  } else if (q.bbox && ((*q.bbox)[2] - (*q.bbox)[0]) * ((*q.bbox)[3] - (*q.bbox)[1]) <= 0.04) {
    const auto& b = *q.bbox;
    for (double lat = std::floor(b[1] * 100) / 100; lat <= b[3]; lat += 0.01)
      for (double lon = std::floor(b[0] * 100) / 100; lon <= b[2]; lon += 0.01)
        prefixes.push_back(keys::IndexPrefix('g', SpatialCell(lat + 0.005, lon + 0.005)));
  } else {
    prefixes.push_back(keys::IndexPrefix('a', ""));
  }
  return prefixes;
}

}  // namespace

Status Dispatcher::ListCases(const CaseQuery& q, CasePage* out) const {
  out->cases.clear();
  out->total = 0;
  out->next_cursor.clear();
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  auto matches = [&](const v1::CaseSummary& s) { return Matches(q, now_ms, s); };
  const std::vector<std::string> prefixes = IndexPrefixes(q);

  // Sort key: the index key's suffix (inverted time | id), newest first.
  struct Hit {
    std::string sort;
    v1::CaseSummary summary;
  };
  std::vector<Hit> page;  // the first `limit` hits after the cursor
  const std::string& cursor = q.cursor;
  const size_t limit = std::max<size_t>(1, q.limit);
  for (const std::string& prefix : prefixes) {
    std::string end = prefix;
    end.back() = '\x01';
    Status s = store::ScanRecords<v1::CaseSummary>(
        *impl_->store_, tables::kCaseIndex, prefix, end,
        [&](std::string_view k, v1::CaseSummary&& sum) {
          if (!matches(sum)) return true;
          ++out->total;
          std::string sort(k.substr(prefix.size()));
          if (!cursor.empty() && sort <= cursor) return true;
          if (page.size() < limit + 1 || sort < page.back().sort) {
            page.push_back({std::move(sort), std::move(sum)});
            std::sort(page.begin(), page.end(),
                      [](const Hit& a, const Hit& b) { return a.sort < b.sort; });
            if (page.size() > limit + 1) page.pop_back();
          }
          return true;
        });
    if (!s.ok()) return s;
  }
  if (page.size() > limit) {
    page.pop_back();
    out->next_cursor = page.back().sort;
  }
  for (auto& h : page) out->cases.push_back(std::move(h.summary));
  return Status::Ok();
}

Status Dispatcher::MatchingCases(const CaseQuery& q, size_t max,
                                 std::vector<v1::CaseSummary>* out, uint64_t* total) const {
  out->clear();
  *total = 0;
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  for (const std::string& prefix : IndexPrefixes(q)) {
    std::string end = prefix;
    end.back() = '\x01';
    Status s = store::ScanRecords<v1::CaseSummary>(
        *impl_->store_, tables::kCaseIndex, prefix, end,
        [&](std::string_view, v1::CaseSummary&& sum) {
          if (!Matches(q, now_ms, sum)) return true;
          ++*total;
          if (out->size() < max) out->push_back(std::move(sum));
          return true;
        });
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Dispatcher::NearbyOpenCases(std::string_view category, double lat, double lon,
                                   double radius_m,
                                   std::vector<std::pair<v1::CaseSummary, double>>* out) const {
  Duration window{0};
  if (radius_m <= 0) {
    const v1::Category* cat = FindCategory(impl_->config_, category);
    if (!cat) return Status::InvalidArgument("category: unknown category");
    radius_m = cat->dedup().radius_m();
    window = DedupWindow(cat->dedup());
  }
  if (radius_m <= 0) {
    out->clear();
    return Status::Ok();
  }
  return impl_->FindNearby(category, lat, lon, radius_m, window, impl_->opts_.clock.NowMillis(), out);
}

Status Dispatcher::Stats(const KpiFilter& filter, KpiDimension by, std::vector<KpiRow>* out,
                         v1::KpiCounters* total) const {
  std::vector<KpiRow> rows;
  std::string begin = filter.day_from;
  std::string end;
  if (!filter.day_to.empty()) {
    end = filter.day_to;
    end.push_back('\x01');  // every key of day_to sorts below "day_to\x01"
  }
  Status bad_key = Status::Ok();
  Status s = store::ScanRecords<v1::KpiCounters>(
      *impl_->store_, tables::kKpi, begin, end, [&](std::string_view k, v1::KpiCounters&& c) {
        auto key = keys::ParseKpi(k);
        if (!key) {
          bad_key = Status::Corruption("kpi: unreadable key " + Hex(k));
          return false;
        }
        rows.push_back(KpiRow{std::move(*key), std::move(c)});
        return true;
      });
  if (!s.ok()) return s;
  if (!bad_key.ok()) return bad_key;
  *out = RollUp(rows, filter, by);
  if (total) *total = RollUp(rows, filter, KpiDimension::kNone).at(0).counters;
  return Status::Ok();
}

OpenCaseStats Dispatcher::OpenStats(const KpiFilter& f) const {
  OpenCaseStats out;
  const int64_t now_ms = Ms(impl_->opts_.clock.NowMillis());
  std::lock_guard lock(impl_->open_mu_);
  for (const auto& [id, s] : impl_->open_) {
    if (!In(f.districts, s.district()) || !In(f.departments, s.department()) ||
        !In(f.categories, s.category()) || !In(f.sources, s.source()))
      continue;
    ++out.open;
    ++out.by_state[std::string(StateName(s.state()))];
    if (!s.paused() && s.deadline_ms() > 0 && s.deadline_ms() < now_ms) ++out.overdue;
  }
  return out;
}

std::vector<v1::CaseAction> Dispatcher::AllowedFor(const v1::Case& c, v1::Role role,
                                                   std::string_view department,
                                                   std::string_view actor_id) const {
  std::vector<v1::CaseAction> out;
  for (v1::CaseAction a : AllowedActions(c, role, department, actor_id)) {
    // Actions people take: the system's own are not offered.
    if (a == v1::CASE_ACTION_ESCALATE || a == v1::CASE_ACTION_ALARM_UPDATE) continue;
    out.push_back(a);
  }
  return out;
}

}  // namespace yiwang::dispatcher
