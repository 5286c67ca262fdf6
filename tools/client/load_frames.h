#pragma once
// What the load client sends: septic-tank gas readings from devices around central Chongqing,
// one frame after another, and the check of each ack. Used by LoadConnection
// (tools/client/load_connection.h) and by the benchmark's store_alone baseline, which builds
// the same batches without a network.
//
// Thread safety: a FrameBuilder belongs to one connection (one strand); CheckAck is pure.

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "yiwang/v1/sensor.pb.h"

namespace yiwang::client {

// Every device id of the load client starts with this (the device token's devicePrefix).
inline constexpr char kLoadDevicePrefix[] = "bench-";
// Gas episodes (FrameBuilder's gas_episodes): kGasEpisodeS seconds of 40-48 % LEL out of every
// kGasCycleS, the phase spread by connection.
inline constexpr int64_t kGasCycleS = 240;
inline constexpr int64_t kGasEpisodeS = 90;

// The frames of one connection: `batch` devices "bench-<run>-<connection>-<k>", each reporting
// one septic-tank gas reading per frame, seq one higher each frame (strictly increasing per
// device), observedAt now.
class FrameBuilder {
 public:
  // `gas_episodes`: the first device has CH4 episodes above the dispatcher's alarm rule
  // (>= 25 % LEL for 60 s), so that the traffic raises alarms and cases.
  FrameBuilder(const std::string& run_tag, int connection, int batch, bool json,
               bool gas_episodes = false);

  // Advances every event to the next reading and returns the batch.
  const yiwang::v1::IngestBatch& Next();
  // Next(), encoded as a frame's payload (protobuf, or canonical JSON if `json`).
  void NextFrame(std::string* out);
  // The seq of the last frame built (0 before the first).
  uint64_t seq() const { return seq_; }

 private:
  yiwang::v1::IngestBatch batch_;
  uint64_t seq_ = 0;
  bool json_;
  bool gas_episodes_;
  int64_t episode_phase_s_;
  std::minstd_rand rng_;
};

// nullopt if `ack` reports all `batch` events accepted; else what it says instead.
std::optional<std::string> CheckAck(const yiwang::v1::IngestAck& ack, int batch);

}  // namespace yiwang::client
