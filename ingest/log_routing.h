#pragma once
// Where a gateway of cluster mode publishes sensor events (docs/cluster.md, "Subjects and
// Msg-Ids"). A device's subject is a function of the device alone, never of a GPS point that
// can jitter across a border, so that one device's events travel in one stream in one order:
//   yw.ev.d.<district>   the district its binding or its id names (DistrictLookup::of_device)
//   yw.ev.h.<bucket>     else one of kEventHashBuckets, by the FNV-1a of its id
// The Msg-Id of a message is derived from the (deviceId, seq) of the events it carries, in any
// order: the same events sent again make the same Msg-Id, which JetStream drops as a duplicate
// within its window (past it, a core's (deviceId, seq) check is the final one).
//
// Thread safety: pure functions (`lookup` is called as given).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/validation.h"
#include "store/log/jetstream.h"

namespace yiwang::ingest {

inline constexpr std::string_view kEventSubjectPrefix = "yw.ev.";
inline constexpr uint32_t kEventHashBuckets = 64;

// The stream that holds every sensor event subject (yw.ev.>), with `replicas` copies (3: a
// quorum of 2 acknowledges). `yiwang cluster init` creates it; gateways publish into it.
inline constexpr char kEventsStream[] = "YW_EVENTS";
log::StreamSpec EventsStreamSpec(int replicas = 3);

std::string EventSubject(std::string_view device_id, const DistrictLookup& lookup);

struct EventKey {
  std::string device_id;
  uint64_t seq = 0;
};

// 32 hex digits (128 bits of SHA-256) over the keys, sorted.
std::string EventsMsgId(std::vector<EventKey> keys);

}  // namespace yiwang::ingest
