#include "dispatcher/audit.h"

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"
#include "dispatcher/journal.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

Status AuditCases(const store::EventStore& store, const SlaPolicy& policy,
                  std::vector<std::string>* problems, uint64_t* cases_checked) {
  *cases_checked = 0;
  std::vector<std::pair<std::string, v1::Case>> cases;
  Status s = store.Scan(tables::kCases, "", "", false,
                                 [&](std::string_view k, std::string_view v) {
                                   v1::Case c;
                                   if (!c.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                                     problems->push_back("case " + std::string(k) +
                                                         ": unreadable record");
                                     return true;
                                   }
                                   cases.emplace_back(std::string(k), std::move(c));
                                   return true;
                                 });
  if (!s.ok()) return s;
  for (const auto& [id, stored] : cases) {
    ++*cases_checked;
    std::vector<v1::JournalEntry> journal;
    if (Status js = ReadJournal(store, id, &journal); !js.ok()) {
      problems->push_back("case " + id + ": journal unreadable: " + js.ToString());
      continue;
    }
    v1::Case replayed;
    if (Status rs = ReplayJournal(journal, policy, &replayed); !rs.ok()) {
      problems->push_back("case " + id + ": " + rs.message());
      continue;
    }
    if (replayed.SerializeAsString() != stored.SerializeAsString()) {
      problems->push_back("case " + id + ": the stored case differs from its journal's replay");
      continue;
    }
    if (stored.journal_head_hash() != journal.back().hash()) {
      problems->push_back("case " + id + ": head hash does not match the journal");
      continue;
    }
    for (const auto& [k, v] : keys::IndexEntries(stored)) {
      std::string got;
      if (!store.Get(tables::kCaseIndex, k, &got).ok() || got != v) {
        problems->push_back("case " + id + ": index entry missing or stale");
        break;
      }
    }
  }
  return Status::Ok();
}

Status Dispatcher::Audit(std::vector<std::string>* problems, uint64_t* cases_checked) const {
  return AuditCases(*impl_->store_, impl_->policy_, problems, cases_checked);
}

}  // namespace yiwang::dispatcher
