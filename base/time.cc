#include "base/time.h"

#include <google/protobuf/util/time_util.h>

namespace yiwang {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProtoTime(std::chrono::system_clock::time_point t) {
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

std::chrono::system_clock::time_point FromProtoTime(const google::protobuf::Timestamp& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(ts))));
}

std::string Rfc3339(const google::protobuf::Timestamp& ts) { return TimeUtil::ToString(ts); }

std::string Rfc3339(std::chrono::system_clock::time_point t) { return Rfc3339(ToProtoTime(t)); }

int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace yiwang
