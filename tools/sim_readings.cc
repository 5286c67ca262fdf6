#include "tools/sim_readings.h"

#include <algorithm>

namespace yiwang::tools::sim {

void SepticTank::Read(Rng& rng, const Moment& m, yiwang::v1::SepticTankGas* out) {
  if (!episode_ && rng.Happens(kGasEpisodeRate * m.anomaly_scale, m.dt)) StartEpisode(rng, m);
  double f = 0;  // 0 = baseline, 1 = the episode's peak
  if (episode_) {
    const Episode& e = *episode_;
    const double x = m.t - e.start;
    if (x < e.up) {
      f = x / e.up;
    } else if (x < e.up + e.hold) {
      f = 1;
    } else if (x < e.up + e.hold + e.down) {
      f = 1 - (x - e.up - e.hold) / e.down;
    } else {
      m.log->debug("[{}] gas episode over", *m.device_id);
      episode_.reset();
    }
  }
  // Warm afternoons make the tank a little gassier.
  const double warmth = 1 + 0.25 * std::sin(2 * std::numbers::pi * (m.local_hour - 8) / 24);
  auto level = [&](double base, double sd, double peak, double max) {
    double v = base * warmth + rng.Normal(sd);
    if (f > 0 && peak > 0) v += f * (peak - v) + f * rng.Normal(0.03 * peak);
    return std::clamp(v, 0.0, max);
  };
  const Episode e = episode_.value_or(Episode{});
  out->set_ch4_percent_lel(Round(level(ch4_base_, 0.4, e.ch4, 100), 1));
  out->set_h2s_ppm(Round(level(h2s_base_, 0.15, e.h2s, 1000), 2));
  out->set_nh3_ppm(Round(level(nh3_base_, 0.8, e.nh3, 1000), 1));
}

void SepticTank::StartEpisode(Rng& rng, const Moment& m) {
  Episode e;
  e.start = m.t;
  e.up = rng.Uniform(10, 40);
  e.hold = std::max(kMinAlarmPlateauS, m.min_episode_s) + rng.Uniform(0, 180);
  e.down = rng.Uniform(20, 60);
  const double kind = rng.Uniform();
  if (kind < 0.5) {  // both over the threshold
    e.ch4 = rng.Uniform(30, 75);
    e.h2s = rng.Uniform(13, 45);
  } else if (kind < 0.8) {  // methane
    e.ch4 = rng.Uniform(30, 75);
    e.h2s = rng.Uniform(3, 8);
  } else {  // hydrogen sulphide
    e.ch4 = rng.Uniform(8, 20);
    e.h2s = rng.Uniform(13, 45);
  }
  e.nh3 = rng.Uniform(20, 80);
  m.log->debug("[{}] gas episode: CH4 peak {:.1f} %LEL, H2S peak {:.1f} ppm, {:.0f} s above",
               *m.device_id, e.ch4, e.h2s, e.hold);
  episode_ = e;
}

void ManholeCover::Read(Rng& rng, const Moment& m, yiwang::v1::ManholeCover* out) {
  if (incident_ == Incident::kNone && rng.Happens(kCoverIncidentRate * m.anomaly_scale, m.dt)) {
    const bool displaced = rng.Chance(0.6);
    incident_ = displaced ? Incident::kDisplaced : Incident::kLidOpen;
    incident_tilt_ = displaced ? rng.Uniform(15, 75) : tilt_base_ + rng.Uniform(1, 5);
    incident_lid_open_ = !displaced || rng.Chance(0.5);
    incident_end_ = m.t + std::max(rng.Uniform(180, 1200), m.min_episode_s);
    m.log->debug("[{}] cover {} (tilt {:.0f} deg) until repaired in {:.0f} s", *m.device_id,
                 displaced ? "displaced" : "lid open", incident_tilt_, incident_end_ - m.t);
  } else if (incident_ != Incident::kNone && m.t >= incident_end_) {
    m.log->debug("[{}] cover repaired", *m.device_id);
    incident_ = Incident::kNone;
  }
  if (surge_len_ == 0 && rng.Happens(kStormSurgeRate * m.anomaly_scale, m.dt)) {
    surge_start_ = m.t;
    surge_len_ = std::max(rng.Uniform(600, 1800), 2 * m.min_episode_s);
    surge_top_ = rng.Uniform(3, 30);
    m.log->debug("[{}] storm water rising to {:.0f} cm below the lid", *m.device_id, surge_top_);
  }
  double water = water_base_ + rng.Normal(1.5);
  if (surge_len_ > 0) {
    const double x = (m.t - surge_start_) / surge_len_;
    if (x >= 1) {
      surge_len_ = 0;
    } else {
      water += std::sin(std::numbers::pi * x) * (surge_top_ - water);
    }
  }
  const bool open = incident_ != Incident::kNone;
  const double tilt =
      open ? incident_tilt_ + rng.Normal(0.5) : tilt_base_ + std::abs(rng.Normal(0.15));
  out->set_tilt_deg(Round(std::clamp(tilt, 0.0, 180.0), 1));
  out->set_displaced(incident_ == Incident::kDisplaced);
  out->set_lid_open(open && incident_lid_open_);
  out->set_water_level_cm(Round(std::clamp(water, -100.0, 10000.0), 1));
}

void AncientTree::Read(Rng& rng, const Moment& m, yiwang::v1::AncientTree* out) {
  switch (phase_) {
    case Phase::kStill:
      if (rng.Happens(kTreeLeanRate * m.anomaly_scale, m.dt)) {
        // Roots giving way after rain: the lean grows by several degrees over 10-40 min.
        phase_ = Phase::kLeaning;
        lean_target_ = rng.Uniform(3.5, 9);
        lean_rate_ = lean_target_ / rng.Uniform(600, 2400);
        m.log->debug("[{}] starts leaning: +{:.1f} deg at {:.2f} deg/min", *m.device_id,
                     lean_target_, lean_rate_ * 60);
      }
      break;
    case Phase::kLeaning:
      lean_ = std::min(lean_target_, lean_ + lean_rate_ * m.dt);
      if (lean_ >= lean_target_) {
        phase_ = Phase::kHolding;
        hold_end_ = m.t + std::max(rng.Uniform(1200, 3600), m.min_episode_s);
      }
      break;
    case Phase::kHolding:
      if (m.t >= hold_end_) {
        phase_ = Phase::kPropping;  // the gardeners prop it up again over five minutes
        m.log->debug("[{}] being propped up", *m.device_id);
      }
      break;
    case Phase::kPropping:
      lean_ = std::max(0.0, lean_ - lean_target_ / 300 * m.dt);
      if (lean_ == 0) phase_ = Phase::kStill;
      break;
  }
  double vibration = vibration_base_ * std::exp(rng.Normal(0.35));  // wind
  if (rng.Happens(kTreeShockRate * m.anomaly_scale, m.dt)) {
    vibration = rng.Uniform(800, 5000);  // a vehicle strike or a falling branch
    m.log->debug("[{}] vibration spike {:.0f} mg", *m.device_id, vibration);
  }
  const double moisture =
      moisture_base_ +
      4 * std::sin(2 * std::numbers::pi * m.t / (3 * 24 * kHour) + moisture_phase_) +
      rng.Normal(0.3);
  const double soil_temp = 15 + temp_offset_ +
                           5 * std::sin(2 * std::numbers::pi * (m.local_hour - 9) / 24) +
                           rng.Normal(0.15);
  out->set_tilt_deg(Round(std::clamp(tilt_base_ + lean_ + rng.Normal(0.05), 0.0, 90.0), 2));
  out->set_vibration_mg(Round(std::clamp(vibration, 0.0, 100000.0), 1));
  out->set_soil_moisture_pct(Round(std::clamp(moisture, 0.0, 100.0), 1));
  out->set_soil_temp_c(Round(std::clamp(soil_temp, -50.0, 80.0), 1));
}

}  // namespace yiwang::tools::sim
