#pragma once
// The dispatcher's tables (store/tables.h): whoever opens a store for a Dispatcher lists
// tables::kAll in StoreOptions::tables. Key layouts: dispatcher/case_keys.h.

#include "store/tables.h"

namespace yiwang::dispatcher::tables {

using store::Table;
using store::TableAccess;

inline constexpr Table kCases{"cases", TableAccess::kPointLookups};       // id -> Case
inline constexpr Table kJournal{"journal", TableAccess::kScans};          // the hash chains
inline constexpr Table kCaseIndex{"case_index", TableAccess::kScans};     // -> CaseSummary
inline constexpr Table kTimers{"timers", TableAccess::kScans};            // SLA checks by due time
inline constexpr Table kAlarms{"alarms", TableAccess::kPointLookups};     // device -> AlarmState
inline constexpr Table kKpi{"kpi", TableAccess::kScans};                  // -> KpiCounters
inline constexpr Table kReports{"reports", TableAccess::kPointLookups};   // code -> CitizenReport
inline constexpr Table kDispatch{"dispatch", TableAccess::kPointLookups};  // cursor, counters

inline constexpr const Table* kAll[] = {&kCases,  &kJournal, &kCaseIndex, &kTimers,
                                        &kAlarms, &kKpi,     &kReports,   &kDispatch};

}  // namespace yiwang::dispatcher::tables
