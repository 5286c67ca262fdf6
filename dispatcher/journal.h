#pragma once
// The case journal: a hash chain of JournalEntry records, one per applied command, that
// nobody can quietly rewrite, and the replay that rebuilds a case from it (`yiwang audit
// verify` later runs both over every case).
//
//   entry.hash = SHA-256(entry.prev_hash || S(entry with `hash` cleared))
//
// where S is protobuf's binary serialisation in deterministic mode (fields in number order;
// case.proto has no map fields, so the bytes are canonical for a given schema). The first
// entry (seq 1, action CREATE) has an empty prev_hash; entry n+1's prev_hash is entry n's hash.
//
// Thread safety: pure functions; any thread.

#include <string>
#include <vector>

#include "base/status.h"
#include "dispatcher/sla.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::dispatcher {

// The hash of `entry` (32 raw bytes) per the formula above; `entry.hash` itself is ignored.
std::string JournalHash(const yiwang::v1::JournalEntry& entry);

// Checks one case's journal, oldest first: seq 1, 2, 3, ...; one case id; CREATE first and
// only first; every prev_hash equal to the previous entry's hash (empty for the first); every
// hash equal to JournalHash. Corruption naming the first bad seq; InvalidArgument if empty.
[[nodiscard]] Status VerifyChain(const std::vector<yiwang::v1::JournalEntry>& entries);

// The command an entry records (for replay).
yiwang::v1::CaseCommand CommandFromEntry(const yiwang::v1::JournalEntry& entry);

// Rebuilds a case from its journal: VerifyChain, then Apply of each entry's command at the
// entry's time from an empty case, checking that each regenerated entry is byte-identical to
// the stored one. On success *out is the case as the machine produced it (compare it with the
// stored case to audit). Corruption naming the seq where replay diverges, e.g. when the journal
// was written under a different SLA policy (limits or calendar) than `policy`.
[[nodiscard]] Status ReplayJournal(const std::vector<yiwang::v1::JournalEntry>& entries,
                                   const SlaPolicy& policy, yiwang::v1::Case* out);

}  // namespace yiwang::dispatcher
