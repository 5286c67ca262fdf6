#include "tools/client/load_frames.h"

#include <chrono>

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include "base/time.h"

namespace yiwang::client {

namespace {
constexpr double kChongqingLat = 29.56;  // 渝中区, WGS-84
constexpr double kChongqingLon = 106.55;
constexpr double kDeviceSpreadDeg = 0.1;  // devices spread over ~10 km around that point
}  // namespace

FrameBuilder::FrameBuilder(const std::string& run_tag, int connection, int batch, bool json,
                           bool gas_episodes)
    : json_(json),
      gas_episodes_(gas_episodes),
      episode_phase_s_(static_cast<int64_t>(connection) * 37 % kGasCycleS),
      rng_(static_cast<uint32_t>(connection) * 7919u + 1u) {
  std::uniform_real_distribution<double> offset(-kDeviceSpreadDeg / 2, kDeviceSpreadDeg / 2);
  for (int k = 0; k < batch; ++k) {
    auto* ev = batch_.add_events();
    ev->set_device_id(fmt::format("{}{}-{}-{}", kLoadDevicePrefix, run_tag, connection, k));
    ev->mutable_location()->set_lat(kChongqingLat + offset(rng_));
    ev->mutable_location()->set_lon(kChongqingLon + offset(rng_));
  }
}

const yiwang::v1::IngestBatch& FrameBuilder::Next() {
  ++seq_;
  const google::protobuf::Timestamp now = ToProtoTime(std::chrono::system_clock::now());
  // Quiet-tank readings: well under any alarm threshold, varying like a real sensor.
  std::uniform_real_distribution<double> ch4(0.5, 8.0);   // % LEL
  std::uniform_real_distribution<double> h2s(0.1, 3.0);   // ppm
  std::uniform_real_distribution<double> nh3(2.0, 15.0);  // ppm
  for (auto& ev : *batch_.mutable_events()) {
    ev.set_seq(seq_);
    *ev.mutable_observed_at() = now;
    auto* gas = ev.mutable_septic_tank_gas();
    gas->set_ch4_percent_lel(ch4(rng_));
    gas->set_h2s_ppm(h2s(rng_));
    gas->set_nh3_ppm(nh3(rng_));
  }
  if (gas_episodes_ && (now.seconds() + episode_phase_s_) % kGasCycleS < kGasEpisodeS) {
    std::uniform_real_distribution<double> high(40.0, 48.0);  // over 25 % LEL, under 50
    batch_.mutable_events(0)->mutable_septic_tank_gas()->set_ch4_percent_lel(high(rng_));
  }
  return batch_;
}

void FrameBuilder::NextFrame(std::string* out) {
  const auto& batch = Next();
  out->clear();
  if (json_) {
    (void)google::protobuf::util::MessageToJsonString(batch, out);
  } else {
    batch.SerializeToString(out);
  }
}

std::optional<std::string> CheckAck(const yiwang::v1::IngestAck& ack, int batch) {
  if (!ack.error().empty())
    return fmt::format("frame refused: {} ({})", ack.error(), ack.message());
  if (ack.rejected_size() > 0)
    return fmt::format("event {} rejected: {} {}", ack.rejected(0).index(),
                       ack.rejected(0).reason(), ack.rejected(0).detail());
  if (ack.accepted() != static_cast<uint32_t>(batch))
    return fmt::format("accepted {} of {} ({} duplicates)", ack.accepted(), batch,
                       ack.duplicates());
  return std::nullopt;
}

}  // namespace yiwang::client
