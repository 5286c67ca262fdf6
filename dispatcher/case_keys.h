#pragma once
// Keys of the dispatcher's tables, built and parsed only here (private to dispatcher/; the same
// layout is in docs/architecture.md). All integers big-endian (store/key_codec.h).
//
// Key layout (tables of store/tables.h):
//   cases       id                                   -> Case
//   journal     u8 len | id | u64 seq                -> JournalEntry
//   case_index  dim | value | 0x00 | u64 ~created_ms | id -> CaseSummary
//               dims: 'a' all, 's' state, 'd' district, 'p' department, 'c' category,
//               'o' source, 'g' spatial cell (0.01 deg)
//               'w' | asset | 0x00 | alarm type      -> case id of the open sensor case
//   timers      u64 due_ms | 's' | id                -> empty (SLA check of case id)
//   alarms      device id                            -> AlarmState
//   kpi         day | 0 | district | 0 | department | 0 | category | 0 | u8 source -> KpiCounters
//   reports     tracking code                        -> CitizenReport
//   dispatch    "cursor" -> u64 arrival id; "case_seq/<day>" -> u64
// Thread safety: pure functions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "yiwang/v1/case.pb.h"
#include "yiwang/v1/kpi.pb.h"

namespace yiwang::dispatcher::keys {

// journal: u8 len | case id | u64 seq.  REQUIRES: id.size() <= 255.
std::string Journal(std::string_view case_id, uint64_t seq);
std::string JournalPrefix(std::string_view case_id);

// case_index entries of a case: key -> serialized CaseSummary (an empty map for a case that
// does not exist yet). The open-alarm entry ('w') maps to the case id.
std::map<std::string, std::string> IndexEntries(const yiwang::v1::Case& c);
// The prefix of every entry of dimension `dim` with `value` ('a' takes an empty value).
std::string IndexPrefix(char dim, std::string_view value);
// The case id at the end of an index key (after the 8-byte inverted time).
std::optional<std::string_view> IndexCaseId(std::string_view key, size_t prefix_size);
// The open-alarm key of (asset, alarm type).
std::string OpenAlarm(std::string_view asset_id, std::string_view alarm_type);

// timers: u64 due ms | 's' | case id.
std::string SlaTimer(int64_t due_ms, std::string_view case_id);
struct TimerKey {
  int64_t due_ms;
  std::string case_id;
};
std::optional<TimerKey> ParseSlaTimer(std::string_view key);

// kpi: day | 0 | district | 0 | department | 0 | category | 0 | u8 source.
std::string Kpi(const yiwang::v1::KpiKey& key);
std::optional<yiwang::v1::KpiKey> ParseKpi(std::string_view key);

// True for the states in which a case is open (filed, not closed or rejected).
bool IsOpen(yiwang::v1::CaseState state);

}  // namespace yiwang::dispatcher::keys
