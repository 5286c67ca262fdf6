#include "ingest/frame_codec.h"

#include <boost/json.hpp>
#include <google/protobuf/util/json_util.h>

namespace yiwang::ingest {

namespace {

namespace pbu = google::protobuf::util;

DecodedFrame TooMany(size_t n, const IngestLimits& limits, std::string batch_id) {
  DecodedFrame f;
  f.batch.set_batch_id(std::move(batch_id));
  f.error = "too_many_events";
  f.message = std::to_string(n) + " events in one frame, at most " +
              std::to_string(limits.max_events_per_batch);
  return f;
}

// Slow path for a text frame that did not parse whole: find the events array with Boost.JSON
// (which keeps 64-bit integers exact) and parse each element on its own.
DecodedFrame DecodeJsonPerEvent(std::string_view data, const IngestLimits& limits,
                                const std::string& whole_error) {
  DecodedFrame f;
  boost::system::error_code ec;
  boost::json::parse_options popts;
  popts.max_depth = 16;
  boost::json::value root = boost::json::parse(data, ec, {}, popts);
  const boost::json::array* events = nullptr;
  if (!ec && root.is_object()) {
    const auto& obj = root.get_object();
    if (auto* ev = obj.if_contains("events"); ev && ev->is_array()) events = &ev->get_array();
    // Any other member that is wrong makes the whole frame malformed.
    for (const auto& [k, v] : obj) {
      if (k == "events") continue;
      if (k == "batchId" || k == "batch_id") {
        if (!v.is_string()) events = nullptr;
        else f.batch.set_batch_id(std::string(v.get_string()));
        continue;
      }
      events = nullptr;
    }
  }
  if (!events) {
    f.error = "malformed_frame";
    f.message = ec ? ec.message() : whole_error;
    return f;
  }
  if (events->size() > limits.max_events_per_batch)
    return TooMany(events->size(), limits, f.batch.batch_id());
  pbu::JsonParseOptions opts;
  for (size_t i = 0; i < events->size(); ++i) {
    yiwang::v1::SensorEvent* e = f.batch.add_events();
    std::string text = boost::json::serialize((*events)[i]);
    auto st = pbu::JsonStringToMessage(text, e, opts);
    if (!st.ok()) {
      e->Clear();
      f.malformed.emplace_back(static_cast<uint32_t>(i), std::string(st.message()));
    }
  }
  return f;
}

}  // namespace

DecodedFrame DecodeFrame(std::string_view data, bool binary, const IngestLimits& limits) {
  DecodedFrame f;
  if (binary) {
    if (!f.batch.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      f.batch.Clear();
      f.error = "malformed_frame";
      f.message = "not a protobuf IngestBatch";
      return f;
    }
  } else {
    pbu::JsonParseOptions opts;  // unknown fields are errors: a typo must not pass silently
    auto st = pbu::JsonStringToMessage(std::string(data), &f.batch, opts);
    if (!st.ok()) return DecodeJsonPerEvent(data, limits, std::string(st.message()));
  }
  if (static_cast<size_t>(f.batch.events_size()) > limits.max_events_per_batch)
    return TooMany(f.batch.events_size(), limits, f.batch.batch_id());
  return f;
}

std::string EncodeAck(const yiwang::v1::IngestAck& ack, bool binary) {
  std::string out;
  if (binary) {
    ack.SerializeToString(&out);
  } else {
    pbu::JsonPrintOptions opts;
    opts.always_print_primitive_fields = true;  // "accepted": 0 is information
    (void)pbu::MessageToJsonString(ack, &out, opts);
  }
  return out;
}

}  // namespace yiwang::ingest
