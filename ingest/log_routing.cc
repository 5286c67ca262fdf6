#include "ingest/log_routing.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/digest.h"
#include "base/text.h"

namespace yiwang::ingest {

namespace {

// A district code is one subject token: no '.', '*', '>' or space (codes of the dispatch
// config are digits; anything else goes to a hash bucket rather than into the subject).
bool SubjectToken(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           c == '_' || c == '-';
  });
}

}  // namespace

log::StreamSpec EventsStreamSpec(int replicas) {
  return log::StreamSpec{.name = kEventsStream,
                         .subjects = {std::string(kEventSubjectPrefix) + ">"},
                         .replicas = replicas};
}

std::string EventSubject(std::string_view device_id, const DistrictLookup& lookup) {
  if (lookup.of_device) {
    const std::string district = lookup.of_device(device_id);
    if (SubjectToken(district)) return fmt::format("{}d.{}", kEventSubjectPrefix, district);
  }
  return fmt::format("{}h.{}", kEventSubjectPrefix, Fnv1a64(device_id) % kEventHashBuckets);
}

std::string EventsMsgId(std::vector<EventKey> keys) {
  std::sort(keys.begin(), keys.end(), [](const EventKey& a, const EventKey& b) {
    return a.device_id != b.device_id ? a.device_id < b.device_id : a.seq < b.seq;
  });
  std::string bytes;
  for (const EventKey& k : keys) {
    bytes += k.device_id;
    bytes += '\x1f';  // device ids hold no control characters (ValidDeviceId)
    bytes += std::to_string(k.seq);
    bytes += '\x1e';
  }
  return Hex(Sha256(bytes).substr(0, 16));
}

}  // namespace yiwang::ingest
