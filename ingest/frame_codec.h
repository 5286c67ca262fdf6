#pragma once
// Decoding of ingest frames and encoding of acks. Pure functions, no I/O.
//
// Binary frames carry a protobuf IngestBatch; text frames its canonical JSON mapping. A text
// frame whose whole batch does not parse is parsed again event by event, so that one malformed
// event is rejected alone while the rest of the batch proceeds.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/limits.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::ingest {

struct DecodedFrame {
  yiwang::v1::IngestBatch batch;
  // Events that did not parse (text frames only): index and the parser's message. The batch
  // holds an empty placeholder event at each of these indexes.
  std::vector<std::pair<uint32_t, std::string>> malformed;
  // Frame-level failure: "malformed_frame" or "too_many_events". Empty when the frame decoded.
  std::string error;
  std::string message;
};

DecodedFrame DecodeFrame(std::string_view data, bool binary, const IngestLimits& limits);

// Encodes an ack in the frame's encoding (binary protobuf or canonical JSON).
std::string EncodeAck(const yiwang::v1::IngestAck& ack, bool binary);

}  // namespace yiwang::ingest
