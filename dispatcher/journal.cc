#include "dispatcher/journal.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

#include "dispatcher/case_machine.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

// Deterministic binary serialisation (see the header for why it is canonical here).
std::string Serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }  // the CodedOutputStream flushes into `out` when destroyed
  return out;
}

std::string Sha256(const std::string& a, const std::string& b) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // SHA-256 over memory cannot fail short of allocation failure, which is fatal anyway.
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

Status Corrupt(uint64_t seq, const std::string& what) {
  return Status::Corruption("journal entry seq " + std::to_string(seq) + ": " + what);
}

}  // namespace

std::string JournalHash(const v1::JournalEntry& entry) {
  v1::JournalEntry copy = entry;
  copy.clear_hash();
  return Sha256(entry.prev_hash(), Serialize(copy));
}

Status VerifyChain(const std::vector<v1::JournalEntry>& entries) {
  if (entries.empty()) return Status::InvalidArgument("empty journal");
  const std::string& case_id = entries.front().case_id();
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::JournalEntry& e = entries[i];
    const uint64_t want_seq = i + 1;
    if (e.seq() != want_seq)
      return Corrupt(want_seq, "found seq " + std::to_string(e.seq()) + " at this position");
    if (e.case_id() != case_id) return Corrupt(want_seq, "belongs to case " + e.case_id());
    if ((i == 0) != (e.action() == v1::CASE_ACTION_CREATE))
      return Corrupt(want_seq, i == 0 ? "the first entry is not CREATE" : "CREATE after the first");
    const std::string& want_prev = i == 0 ? std::string() : entries[i - 1].hash();
    if (e.prev_hash() != want_prev) return Corrupt(want_seq, "prev_hash breaks the chain");
    if (e.hash() != JournalHash(e)) return Corrupt(want_seq, "hash does not match its content");
  }
  return Status::Ok();
}

v1::CaseCommand CommandFromEntry(const v1::JournalEntry& e) {
  v1::CaseCommand cmd;
  cmd.set_action(e.action());
  cmd.set_actor_id(e.actor_id());
  cmd.set_actor_role(e.actor_role());
  cmd.set_actor_department(e.actor_department());
  cmd.set_note(e.note());
  *cmd.mutable_evidence() = e.evidence();
  cmd.set_department(e.department());
  cmd.set_extension_seconds(e.extension_seconds());
  cmd.set_telemetry_normal(e.telemetry_normal());
  cmd.set_supervisor_override(e.supervisor_override());
  cmd.set_escalation_stage(e.escalation_stage());
  cmd.set_escalation_level(e.escalation_level());
  if (e.has_filing()) *cmd.mutable_filing() = e.filing();
  cmd.set_alarm_count(e.alarm_count());
  cmd.set_alarm_level(e.alarm_level());
  return cmd;
}

Status ReplayJournal(const std::vector<v1::JournalEntry>& entries, const SlaPolicy& policy,
                     v1::Case* out) {
  if (Status s = VerifyChain(entries); !s.ok()) return s;
  v1::Case c;
  for (const v1::JournalEntry& e : entries) {
    ApplyResult r = Apply(c, CommandFromEntry(e), FromProto(e.time()), policy);
    if (!r.ok()) {
      return Corrupt(e.seq(), std::string("replay refused: ") + ErrorCodeName(r.error().code) +
                                  ": " + r.error().message);
    }
    Transition t = std::move(r).transition();
    if (Serialize(t.entry) != Serialize(e)) {
      return Corrupt(e.seq(),
                     "replay produced a different entry (written under another SLA policy, or "
                     "by a different machine version?)");
    }
    c = std::move(t.next);
  }
  *out = std::move(c);
  return Status::Ok();
}

}  // namespace yiwang::dispatcher
