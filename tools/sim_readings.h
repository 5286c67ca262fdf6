#pragma once
// The readings of `yiwang sim`'s devices: one model per kind (septic-tank gas, manhole cover,
// ancient tree) that produces realistic baselines with noise and occasional anomalies that
// trip the dispatcher's alarm rules and then clear: gas episodes above the thresholds (CH4 >=
// 25 % LEL, H2S >= 10 ppm) that last well over a minute; a cover displaced or its lid open
// until "repaired"; storm water rising in a well; a tree that slowly leans more than 3 degrees
// beyond its baseline, holds, and is propped up again; a short vibration spike. Each Read()
// advances the model to the moment of a report and fills a payload. Everything random comes
// from the device's own Rng, so a seed gives the same readings on every platform.
//
// Thread safety: a model and its Rng belong to one device, used by one gateway thread.

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools::sim {

inline constexpr double kHour = 3600;
// Anomaly rates per device and second at --anomaly-scale 1, chosen so that the default demo
// (300 devices) shows a new alarm every minute or two.
inline constexpr double kGasEpisodeRate = 1 / (3 * kHour);
inline constexpr double kCoverIncidentRate = 1 / (8 * kHour);
inline constexpr double kStormSurgeRate = 1 / (12 * kHour);
inline constexpr double kTreeLeanRate = 1 / (12 * kHour);
inline constexpr double kTreeShockRate = 1 / (4 * kHour);
inline constexpr double kMinAlarmPlateauS = 90;  // above threshold for longer than a 60 s rule

// Randomness: our own generator, so that a seed gives the same fleet on every platform.

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xoshiro256**, seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) s = seed = SplitMix64(seed);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  double Normal(double sd) {  // Box-Muller
    const double u = 1.0 - Uniform();
    return sd * std::sqrt(-2.0 * std::log(u)) * std::cos(2 * std::numbers::pi * Uniform());
  }
  bool Chance(double p) { return Uniform() < p; }
  // Whether an event of `rate` per second happens within `dt` seconds.
  bool Happens(double rate, double dt) { return rate > 0 && Chance(1 - std::exp(-rate * dt)); }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
};

// `v` rounded to `decimals` decimal places.
inline double Round(double v, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

// The moment a report is taken.
struct Moment {
  double t;              // seconds since the simulator started
  double dt;             // seconds since this device's previous report
  double local_hour;     // 0..24, Chongqing time (UTC+8)
  double min_episode_s;  // shortest anomaly that several reports will see
  double anomaly_scale;  // multiplies every anomaly rate
  const std::string* device_id;
  spdlog::logger* log;
};

class SepticTank {
 public:
  explicit SepticTank(Rng& rng)
      : ch4_base_(rng.Uniform(1, 8)),
        h2s_base_(rng.Uniform(0.2, 3)),
        nh3_base_(rng.Uniform(2, 15)) {}

  void Read(Rng& rng, const Moment& m, yiwang::v1::SepticTankGas* out);

 private:
  // A blocked vent or a leak: gas ramps up, stays above the alarm threshold, then clears.
  struct Episode {
    double start = 0, up = 1, hold = 0, down = 1;  // seconds
    double ch4 = 0, h2s = 0, nh3 = 0;              // peaks; 0 = that gas stays at baseline
  };

  void StartEpisode(Rng& rng, const Moment& m);

  double ch4_base_, h2s_base_, nh3_base_;
  std::optional<Episode> episode_;
};

class ManholeCover {
 public:
  explicit ManholeCover(Rng& rng)
      : tilt_base_(rng.Uniform(0.2, 2.0)), water_base_(rng.Uniform(80, 250)) {}

  void Read(Rng& rng, const Moment& m, yiwang::v1::ManholeCover* out);

 private:
  enum class Incident { kNone, kDisplaced, kLidOpen };

  double tilt_base_;
  double water_base_;  // cm from the lid down to the water
  Incident incident_ = Incident::kNone;
  double incident_tilt_ = 0, incident_end_ = 0;
  bool incident_lid_open_ = false;
  double surge_start_ = 0, surge_len_ = 0, surge_top_ = 0;
};

class AncientTree {
 public:
  explicit AncientTree(Rng& rng)
      : tilt_base_(rng.Uniform(0.5, 12)),
        vibration_base_(rng.Uniform(3, 20)),
        moisture_base_(rng.Uniform(22, 45)),
        moisture_phase_(rng.Uniform(0, 2 * std::numbers::pi)),
        temp_offset_(rng.Uniform(-2, 2)) {}

  void Read(Rng& rng, const Moment& m, yiwang::v1::AncientTree* out);

 private:
  enum class Phase { kStill, kLeaning, kHolding, kPropping };

  double tilt_base_, vibration_base_, moisture_base_, moisture_phase_, temp_offset_;
  Phase phase_ = Phase::kStill;
  double lean_ = 0;  // degrees beyond the baseline
  double lean_target_ = 0, lean_rate_ = 0, hold_end_ = 0;
};

}  // namespace yiwang::tools::sim
