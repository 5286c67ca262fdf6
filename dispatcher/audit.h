#pragma once
// The audit of the case records (`yiwang audit verify`, Dispatcher::Audit): for every case, its
// journal's hash chain, the replay of the journal under the SLA policy against the stored case,
// and the case's index entries.
//
// Thread safety: reads the store only; any thread, with or without a running dispatcher.

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "dispatcher/sla.h"
#include "store/event_store.h"

namespace yiwang::dispatcher {

// Checks every case in `store`. One line per problem is appended to *problems; *cases_checked
// counts the cases read. Returns a store error only (a problem found is not an error).
Status AuditCases(const store::EventStore& store, const SlaPolicy& policy,
                  std::vector<std::string>* problems, uint64_t* cases_checked);

}  // namespace yiwang::dispatcher
