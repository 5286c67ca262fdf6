// `yiwang sim`: a simulated sensor fleet across Chongqing, talking to /ws/sensors like real
// gateways do.
//
// The fleet: septic tanks (化粪池 gas), manhole covers (井盖) and ancient trees (古树名木) spread
// over the chosen districts (five covers, three septic tanks and two trees in every ten devices
// of a district), each at a fixed spot scattered around its district's centre. Device ids are
// "sim-<kind>-<district code>-<serial>", e.g. "sim-septic-500105-0001"; manhole covers carry a
// 16-digit object code instead, e.g. "sim-cover-5001050102000003" (owner 0102 污水井盖).
// Everything about a device (place, baselines, the noise and anomalies it will produce) derives from --seed and its id, so
// the same seed gives the same fleet.
//
// Readings are realistic baselines with noise and occasional anomalies: gas episodes above the
// alarm thresholds (CH4 >= 25 % LEL, H2S >= 10 ppm) that last well over a minute and then clear;
// a cover displaced or its lid open until "repaired"; storm water rising in a well; a tree that
// slowly leans more than 3 degrees beyond its baseline, holds, and is propped up again; a short
// vibration spike. Every device also reports deviceHealth every sixth report (battery slowly
// draining, signal strength).
//
// Delivery: the devices are spread over --gateways WebSocket connections, one thread each. Every
// tick a gateway sends one frame with every event that came due, keeps each event until its
// frame's ack, and after a disconnect reconnects with capped exponential backoff and resends what
// was unacked before anything new (the server stores a resent (deviceId, seq) once). Seqs come
// from the wall clock in microseconds, so a restarted simulator never reuses one.

#include "tools/sim.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <numbers>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <google/protobuf/util/json_util.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/digest.h"
#include "base/file.h"
#include "tools/commands.h"
#include "tools/client/endpoint.h"
#include "tools/client/ws_client.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools {

namespace {

using client::WsClient;
using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;
using std::chrono::milliseconds;
using yiwang::v1::IngestAck;
using yiwang::v1::IngestBatch;
using yiwang::v1::SensorEvent;

// Exit codes of RunSim.
constexpr int kExitOk = 0;
constexpr int kExitNeverConnected = 1;  // no gateway ever got through (server down, wrong URL)
constexpr int kExitUsage = 2;           // bad options or unreadable token file
constexpr int kExitTokenRefused = 3;    // the device (or admin) token was refused

// Option bounds.
constexpr int kMaxDevices = 1000000;
constexpr int kMaxGateways = 1000;  // one thread each
constexpr double kMaxIntervalS = 86400;

// Delivery.
constexpr milliseconds kTick{100};             // a gateway sends what came due this often
constexpr size_t kMaxEventsPerFrame = 1000;    // server default: 10,000
constexpr size_t kMaxFrameBytes = 512 * 1024;  // server default: 1 MiB
constexpr size_t kMinFrameBytes = 1024;        // floor when adapting to a smaller limit
constexpr size_t kJsonSizeFactor = 4;          // JSON size / protobuf size, on the safe side
constexpr size_t kMaxInflightFrames = 64;      // sent, not yet acked, per connection
constexpr size_t kMaxInflightEvents = 10000;   // server stops reading at 20,000
constexpr size_t kMaxBufferedEvents = 200000;  // per gateway; beyond it the oldest go
constexpr milliseconds kBackoffMin{500};
constexpr milliseconds kBackoffMax{10000};
constexpr milliseconds kConnectTimeout{5000};  // TCP connect + upgrade
constexpr milliseconds kWriteTimeout{10000};   // one frame
constexpr milliseconds kAckTimeout{30000};     // oldest unacked frame: then reconnect
constexpr milliseconds kIdleSlice{50};         // sleeps while disconnected or draining
constexpr milliseconds kDrainTimeout{1000};    // at the end: wait this long for acks
constexpr milliseconds kHaltGrace{1500};       // then abandon whatever is still pending
constexpr std::chrono::seconds kSummaryEvery{10};
constexpr std::chrono::seconds kMaxCatchUp{60};  // a device further behind skips ahead

// Readings.
constexpr int kHealthEveryReports = 6;  // one deviceHealth event per six reports
constexpr double kHour = 3600;
// Anomaly rates per device and second at --anomaly-scale 1, chosen so that the default demo
// (300 devices) shows a new alarm every minute or two.
constexpr double kGasEpisodeRate = 1 / (3 * kHour);
constexpr double kCoverIncidentRate = 1 / (8 * kHour);
constexpr double kStormSurgeRate = 1 / (12 * kHour);
constexpr double kTreeLeanRate = 1 / (12 * kHour);
constexpr double kTreeShockRate = 1 / (4 * kHour);
constexpr double kMinAlarmPlateauS = 90;  // above threshold for longer than a 60 s rule

// ---------------------------------------------------------------------------------------------
// Districts

struct District {
  const char* code;  // GB/T 2260
  const char* name;
  double lat, lon;   // approximate WGS-84 centre of the built-up area around the seat
  double radius_km;  // devices are scattered within this radius
  bool urban_core;   // one of the nine central districts
};

// Chongqing's 38 county-level units (shared/domain/chongqing-districts.csv).
constexpr District kDistricts[] = {
    {"500101", "万州区", 30.8078, 108.4086, 5, false},
    {"500102", "涪陵区", 29.7030, 107.3895, 5, false},
    {"500103", "渝中区", 29.5570, 106.5690, 2, true},
    {"500104", "大渡口区", 29.4844, 106.4823, 4, true},
    {"500105", "江北区", 29.5900, 106.5600, 5, true},
    {"500106", "沙坪坝区", 29.5560, 106.4560, 6, true},
    {"500107", "九龙坡区", 29.5020, 106.5110, 6, true},
    {"500108", "南岸区", 29.5230, 106.5640, 5, true},
    {"500109", "北碚区", 29.8057, 106.3964, 6, true},
    {"500110", "綦江区", 29.0285, 106.6513, 4, false},
    {"500111", "大足区", 29.7003, 105.7217, 4, false},
    {"500112", "渝北区", 29.7180, 106.6310, 8, true},
    {"500113", "巴南区", 29.4020, 106.5400, 7, true},
    {"500114", "黔江区", 29.5333, 108.7709, 3, false},
    {"500115", "长寿区", 29.8578, 107.0816, 4, false},
    {"500116", "江津区", 29.2900, 106.2590, 5, false},
    {"500117", "合川区", 29.9720, 106.2760, 5, false},
    {"500118", "永川区", 29.3560, 105.9270, 5, false},
    {"500119", "南川区", 29.1570, 107.0990, 3, false},
    {"500120", "璧山区", 29.5920, 106.2270, 4, false},
    {"500151", "铜梁区", 29.8450, 106.0560, 4, false},
    {"500152", "潼南区", 30.1900, 105.8400, 3, false},
    {"500153", "荣昌区", 29.4050, 105.5940, 3, false},
    {"500154", "开州区", 31.1610, 108.3930, 4, false},
    {"500155", "梁平区", 30.6740, 107.8000, 3, false},
    {"500156", "武隆区", 29.3250, 107.7600, 3, false},
    {"500229", "城口县", 31.9480, 108.6650, 2, false},
    {"500230", "丰都县", 29.8640, 107.7310, 3, false},
    {"500231", "垫江县", 30.3270, 107.3330, 3, false},
    {"500233", "忠县", 30.3000, 108.0380, 3, false},
    {"500235", "云阳县", 30.9300, 108.6970, 3, false},
    {"500236", "奉节县", 31.0180, 109.4640, 3, false},
    {"500237", "巫山县", 31.0750, 109.8790, 2, false},
    {"500238", "巫溪县", 31.3990, 109.5700, 2, false},
    {"500240", "石柱土家族自治县", 29.9990, 108.1120, 2, false},
    {"500241", "秀山土家族苗族自治县", 28.4480, 108.9890, 2, false},
    {"500242", "酉阳土家族苗族自治县", 28.8400, 108.7670, 2, false},
    {"500243", "彭水苗族土家族自治县", 29.2940, 108.1660, 2, false},
};

// "core", "all", or a comma list of codes. On error returns false and says why.
bool ParseDistricts(const std::string& spec, std::vector<const District*>* out,
                    std::string* error) {
  out->clear();
  if (spec == "core" || spec == "all") {
    for (const District& d : kDistricts)
      if (spec == "all" || d.urban_core) out->push_back(&d);
    return true;
  }
  std::set<std::string> seen;
  std::stringstream ss(spec);
  std::string code;
  while (std::getline(ss, code, ',')) {
    code.erase(0, code.find_first_not_of(' '));
    code.erase(code.find_last_not_of(' ') + 1);
    if (code.empty() || !seen.insert(code).second) continue;
    const District* found = nullptr;
    for (const District& d : kDistricts)
      if (code == d.code) found = &d;
    if (!found) {
      *error = "unknown district code '" + code +
               "' (want \"core\", \"all\" or codes such as 500105,500106; see "
               "shared/domain/chongqing-districts.csv)";
      return false;
    }
    out->push_back(found);
  }
  if (out->empty()) {
    *error = "--districts names no district";
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Randomness: our own generator, so that a seed gives the same fleet on every platform.

uint64_t SplitMix64(uint64_t x) {
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

double Round(double v, int decimals) {
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

// ---------------------------------------------------------------------------------------------
// Device models. Each Read() advances the model to the moment of a report and fills a payload.

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

  void Read(Rng& rng, const Moment& m, yiwang::v1::SepticTankGas* out) {
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

 private:
  // A blocked vent or a leak: gas ramps up, stays above the alarm threshold, then clears.
  struct Episode {
    double start = 0, up = 1, hold = 0, down = 1;  // seconds
    double ch4 = 0, h2s = 0, nh3 = 0;              // peaks; 0 = that gas stays at baseline
  };

  void StartEpisode(Rng& rng, const Moment& m) {
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

  double ch4_base_, h2s_base_, nh3_base_;
  std::optional<Episode> episode_;
};

class ManholeCover {
 public:
  explicit ManholeCover(Rng& rng)
      : tilt_base_(rng.Uniform(0.2, 2.0)), water_base_(rng.Uniform(80, 250)) {}

  void Read(Rng& rng, const Moment& m, yiwang::v1::ManholeCover* out) {
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

  void Read(Rng& rng, const Moment& m, yiwang::v1::AncientTree* out) {
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

 private:
  enum class Phase { kStill, kLeaning, kHolding, kPropping };

  double tilt_base_, vibration_base_, moisture_base_, moisture_phase_, temp_offset_;
  Phase phase_ = Phase::kStill;
  double lean_ = 0;  // degrees beyond the baseline
  double lean_target_ = 0, lean_rate_ = 0, hold_end_ = 0;
};

enum class Kind { kSeptic, kCover, kTree };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kSeptic:
      return "septic";
    case Kind::kCover:
      return "cover";
    case Kind::kTree:
      return "tree";
  }
  return "?";
}

// Per ten devices of a district: five covers, three septic tanks, two trees.
constexpr std::array<Kind, 10> kKindPattern = {
    Kind::kCover,  Kind::kSeptic, Kind::kCover,  Kind::kTree,  Kind::kCover,
    Kind::kSeptic, Kind::kCover,  Kind::kSeptic, Kind::kCover, Kind::kTree};

struct Device {
  std::string id;
  Kind kind;
  double lat, lon;
  Rng rng;
  std::variant<SepticTank, ManholeCover, AncientTree> model;
  uint64_t last_seq = 0;
  SteadyClock::time_point next_due{};
  double last_report_t = -1;
  int reports_to_health = 1;
  double battery_pct = 100;
  double battery_drain = 0;  // % per health report
  double rssi_base = -80;
};

Device MakeDevice(const District& district, Kind kind, int serial, uint64_t seed,
                  SteadyClock::time_point start, SteadyClock::duration interval) {
  // Manhole covers carry their 16-digit 部件 object code (county + the owner's 大类+小类 +
  // serial), so that an alarm routes to the cover's owner (drainage, power, gas, ...); the
  // other kinds carry the district only.
  static constexpr const char* kCoverOwners[] = {"0101", "0102", "0103", "0105",
                                                 "0106", "0107", "0111", "0114"};
  std::string id =
      kind == Kind::kCover
          ? fmt::format("sim-cover-{}{}{:06d}", district.code,
                        kCoverOwners[static_cast<size_t>(serial) % std::size(kCoverOwners)], serial)
          : fmt::format("sim-{}-{}-{:04d}", KindName(kind), district.code, serial);
  Rng rng(SplitMix64(seed) ^ Fnv1a64(id));
  // Uniform over a disc around the centre.
  const double r_km = district.radius_km * std::sqrt(rng.Uniform());
  const double angle = rng.Uniform(0, 2 * std::numbers::pi);
  const double lat = district.lat + r_km * std::cos(angle) / 111.32;
  const double lon = district.lon + r_km * std::sin(angle) /
                                        (111.32 * std::cos(district.lat * std::numbers::pi / 180));
  auto model = [&]() -> decltype(Device::model) {
    switch (kind) {
      case Kind::kSeptic:
        return SepticTank(rng);
      case Kind::kCover:
        return ManholeCover(rng);
      case Kind::kTree:
        return AncientTree(rng);
    }
    return ManholeCover(rng);
  }();
  Device d{.id = std::move(id),
           .kind = kind,
           .lat = Round(lat, 6),
           .lon = Round(lon, 6),
           .rng = rng,
           .model = std::move(model)};
  // Spread the first reports over one interval so the load is even from the start.
  d.next_due =
      start + std::chrono::duration_cast<SteadyClock::duration>(interval * d.rng.Uniform());
  d.reports_to_health = 1 + static_cast<int>(d.rng.Uniform() * kHealthEveryReports);
  d.battery_pct = d.rng.Chance(0.05) ? d.rng.Uniform(8, 20) : d.rng.Uniform(40, 100);
  d.battery_drain = d.rng.Uniform(0.005, 0.03);
  d.rssi_base = d.rng.Uniform(-110, -60);
  return d;
}

// Devices round-robin over the districts; within a district kinds follow kKindPattern and each
// kind counts its own serials from 1. Device i is the same whatever the fleet size.
std::vector<Device> MakeFleet(int devices, const std::vector<const District*>& districts,
                              uint64_t seed, SteadyClock::time_point start,
                              SteadyClock::duration interval) {
  std::vector<Device> fleet;
  fleet.reserve(devices);
  std::vector<std::array<int, 3>> serials(districts.size(), {0, 0, 0});
  for (int i = 0; i < devices; ++i) {
    const size_t d = static_cast<size_t>(i) % districts.size();
    const Kind kind =
        kKindPattern[(static_cast<size_t>(i) / districts.size()) % kKindPattern.size()];
    const int serial = ++serials[d][static_cast<int>(kind)];
    fleet.push_back(MakeDevice(*districts[d], kind, serial, seed, start, interval));
  }
  return fleet;
}

// ---------------------------------------------------------------------------------------------
// Gateways

// Counters shared by the gateways and the reporter.
// Thread safety: atomics only; any thread.
struct Stats {
  std::atomic<uint64_t> generated{0};  // events produced by the devices
  std::atomic<uint64_t> sent{0};       // events written to a connection, resends included
  std::atomic<uint64_t> resent{0};     // events queued again (connection lost, retryable refusal)
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};  // refused for good (a bug in the simulator if ever)
  std::atomic<uint64_t> flagged{0};
  std::atomic<uint64_t> dropped{0};  // buffer overflow while disconnected
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> reconnects{0};  // successful connections after a gateway's first
  std::atomic<int> connected{0};        // gateways connected now
  std::atomic<bool> ever_connected{false};
  std::atomic<bool> token_refused{false};

  // Events not yet resolved by an ack (buffered or in flight).
  uint64_t unacked() const {
    return generated.load() - accepted.load() - duplicates.load() - rejected.load() -
           dropped.load();
  }
};

// What every gateway shares: settings and the two stop flags.
// Thread safety: the settings are written before the gateway threads start and only read after;
// the rest are atomics.
struct Shared {
  std::string host;
  uint16_t port = 0;
  std::string token;
  bool binary = true;
  double anomaly_scale = 1;
  SteadyClock::duration interval{};
  SteadyClock::time_point steady_start;
  SysClock::time_point sys_start;
  std::shared_ptr<spdlog::logger> log;
  Stats stats;
  std::atomic<bool> finish{false};  // stop producing; flush for kDrainTimeout; close
  std::atomic<bool> halt{false};    // give up at once
};

bool RetryableReason(std::string_view reason) {
  return reason == "overloaded" || reason == "storage_full" || reason == "shutting_down";
}

// One WebSocket connection and the devices behind it.
// Thread safety: Run() and everything it touches belong to the gateway's own thread; the rest of
// the simulator sees only Shared (atomics and immutable settings) and done().
class Gateway {
 public:
  Gateway(int index, std::vector<Device> devices, Shared* shared)
      : index_(index), devices_(std::move(devices)), shared_(shared), log_(*shared->log) {}

  // Runs until Shared::finish (then drains briefly) or Shared::halt.
  void Run();
  bool done() const { return done_.load(); }

 private:
  struct Frame {
    IngestBatch batch;
    SteadyClock::time_point sent_at;
  };

  // A failed send or read: notes what the server's close code says, then OnDisconnect.
  void OnLost(const WsClient& ws, const Status& s, SteadyClock::time_point now);

  void Produce(SteadyClock::time_point now);
  void Report(Device& d, SteadyClock::time_point due);
  uint64_t NextSeq(Device& d);
  bool Connect(WsClient& ws);
  void Pump(WsClient& ws, SteadyClock::time_point now);
  void OnAck(WsClient& ws, const IngestAck& ack, SteadyClock::time_point now);
  void OnDisconnect(const std::string& why, SteadyClock::time_point now);
  // Puts events back at the front of the backlog, in their order, ahead of everything new.
  // `resend`: they went out before (counted in Stats::resent).
  void Requeue(google::protobuf::RepeatedPtrField<SensorEvent>* events, bool resend);
  milliseconds NextBackoff();

  const int index_;
  std::vector<Device> devices_;
  Shared* const shared_;
  spdlog::logger& log_;
  Rng jitter_{0};

  std::deque<SensorEvent> backlog_;  // not yet sent on the current connection, oldest first
  std::deque<Frame> inflight_;       // sent on the current connection, awaiting acks in order
  size_t inflight_events_ = 0;
  uint64_t frame_no_ = 0;
  // Lowered when the server's limits are lower than ours (too_many_events, close 1009).
  size_t max_frame_events_ = kMaxEventsPerFrame;
  size_t max_frame_bytes_ = kMaxFrameBytes;
  size_t largest_frame_bytes_ = 0;  // sent on the current connection

  // Connected as far as this gateway knows. WsClient::connected() may turn false earlier (the
  // server's close arrived during a write); the next send or poll then reports the loss, and
  // OnDisconnect requeues what was in flight.
  bool online_ = false;
  bool was_connected_ = false;  // a connection ever succeeded
  bool acked_since_connect_ = false;
  int failures_ = 0;  // connection attempts failed in a row
  milliseconds backoff_ = kBackoffMin;
  SteadyClock::time_point next_connect_{};
  SteadyClock::time_point pause_until_{};  // after a retryable refusal of a whole frame
  std::atomic<bool> done_{false};
};

uint64_t Gateway::NextSeq(Device& d) {
  // Wall-clock microseconds: strictly increasing per device and never reused by a later run.
  const auto now_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SysClock::now().time_since_epoch())
          .count());
  d.last_seq = std::max(d.last_seq + 1, now_us);
  return d.last_seq;
}

void Gateway::Report(Device& d, SteadyClock::time_point due) {
  const auto at = shared_->sys_start +
                  std::chrono::duration_cast<SysClock::duration>(due - shared_->steady_start);
  const int64_t at_ms = std::chrono::duration_cast<milliseconds>(at.time_since_epoch()).count();
  const double t = std::chrono::duration<double>(due - shared_->steady_start).count();
  const double interval_s = std::chrono::duration<double>(shared_->interval).count();
  const Moment m{.t = t,
                 .dt = d.last_report_t < 0 ? interval_s : t - d.last_report_t,
                 .local_hour = std::fmod(static_cast<double>(at_ms) / 3.6e6 + 8, 24),
                 .min_episode_s = 3 * interval_s,
                 .anomaly_scale = shared_->anomaly_scale,
                 .device_id = &d.id,
                 .log = &log_};
  d.last_report_t = t;

  auto new_event = [&] {
    SensorEvent& e = backlog_.emplace_back();
    e.set_device_id(d.id);
    e.set_seq(NextSeq(d));
    e.mutable_observed_at()->set_seconds(at_ms / 1000);
    e.mutable_observed_at()->set_nanos(static_cast<int32_t>(at_ms % 1000) * 1000000);
    e.mutable_location()->set_lat(d.lat);
    e.mutable_location()->set_lon(d.lon);
    shared_->stats.generated.fetch_add(1);
    return &e;
  };
  SensorEvent* e = new_event();
  std::visit(
      [&](auto& model) {
        using T = std::decay_t<decltype(model)>;
        if constexpr (std::is_same_v<T, SepticTank>) {
          model.Read(d.rng, m, e->mutable_septic_tank_gas());
        } else if constexpr (std::is_same_v<T, ManholeCover>) {
          model.Read(d.rng, m, e->mutable_manhole_cover());
        } else {
          model.Read(d.rng, m, e->mutable_ancient_tree());
        }
      },
      d.model);

  if (--d.reports_to_health <= 0) {
    d.reports_to_health = kHealthEveryReports;
    d.battery_pct -= d.battery_drain;
    if (d.battery_pct < 3) {
      log_.debug("[{}] battery replaced", d.id);
      d.battery_pct = 100;
    }
    auto* h = new_event()->mutable_device_health();
    h->set_battery_pct(Round(d.battery_pct, 1));
    h->set_rssi_dbm(std::clamp(std::round(d.rssi_base + d.rng.Normal(2.5)), -150.0, 0.0));
  }
}

void Gateway::Produce(SteadyClock::time_point now) {
  for (Device& d : devices_) {
    if (d.next_due > now) continue;
    if (now - d.next_due > kMaxCatchUp) {
      log_.debug("[{}] {} s behind schedule: skipping ahead", d.id,
                 std::chrono::duration_cast<std::chrono::seconds>(now - d.next_due).count());
      d.next_due = now;
    }
    // A device that came due more than once since the last tick (a high --rate, or this thread
    // was busy connecting) reports each time, with the time each reading was due.
    while (d.next_due <= now) {
      Report(d, d.next_due);
      d.next_due += shared_->interval;
    }
  }
  if (backlog_.size() > kMaxBufferedEvents) {
    const size_t n = backlog_.size() - kMaxBufferedEvents;
    backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(n));
    if (shared_->stats.dropped.fetch_add(n) == 0)
      log_.warn("[gw{}] more than {} events buffered: dropping the oldest", index_,
                kMaxBufferedEvents);
  }
}

milliseconds Gateway::NextBackoff() {
  // +-20 % jitter so that gateways do not reconnect in lockstep.
  const auto wait = milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * jitter_.Uniform(0.8, 1.2)));
  backoff_ = std::min(backoff_ * 2, kBackoffMax);
  return wait;
}

bool Gateway::Connect(WsClient& ws) {
  Status s = ws.Connect(shared_->host, shared_->port, "/ws/sensors", shared_->token);
  if (!s.ok()) {
    if (shared_->halt.load()) return false;
    if (ws.http_status() == 401 || ws.http_status() == 403) {
      if (!shared_->stats.token_refused.exchange(true))
        log_.error("the server refused the device token (HTTP {}): {}", ws.http_status(),
                   ws.http_body());
      return false;
    }
    if (++failures_ == 1) {
      log_.warn("[gw{}] cannot connect to {}:{}: {}; retrying with backoff", index_, shared_->host,
                shared_->port, s.ToString());
    } else {
      log_.debug("[gw{}] connect attempt {} failed: {}", index_, failures_, s.ToString());
    }
    return false;
  }
  if (was_connected_) {
    shared_->stats.reconnects.fetch_add(1);
    log_.info(
        "[gw{}] reconnected after {} failed attempt(s); {} events waiting, unacked ones "
        "first",
        index_, failures_, backlog_.size());
  } else {
    log_.debug("[gw{}] connected", index_);
  }
  online_ = true;
  was_connected_ = true;
  acked_since_connect_ = false;
  largest_frame_bytes_ = 0;
  failures_ = 0;
  shared_->stats.connected.fetch_add(1);
  shared_->stats.ever_connected.store(true);
  return true;
}

void Gateway::Requeue(google::protobuf::RepeatedPtrField<SensorEvent>* events, bool resend) {
  for (int i = events->size() - 1; i >= 0; --i) backlog_.push_front(std::move(*events->Mutable(i)));
  if (resend) shared_->stats.resent.fetch_add(static_cast<uint64_t>(events->size()));
  events->Clear();
}

void Gateway::Pump(WsClient& ws, SteadyClock::time_point now) {
  while (!backlog_.empty() && now >= pause_until_ && inflight_.size() < kMaxInflightFrames &&
         inflight_events_ < kMaxInflightEvents) {
    const size_t max_events = std::min(max_frame_events_, kMaxInflightEvents - inflight_events_);
    const size_t size_factor = shared_->binary ? 1 : kJsonSizeFactor;
    Frame f;
    f.batch.set_batch_id(fmt::format("sim-gw{}-{}", index_, ++frame_no_));
    size_t n = 0;
    size_t estimate = 64;  // the envelope
    while (!backlog_.empty() && n < max_events) {
      const size_t size = backlog_.front().ByteSizeLong() * size_factor + 8;
      if (n > 0 && estimate + size > max_frame_bytes_) break;
      estimate += size;
      *f.batch.add_events() = std::move(backlog_.front());
      backlog_.pop_front();
      ++n;
    }
    std::string data;
    if (shared_->binary) {
      f.batch.SerializeToString(&data);
    } else {
      (void)google::protobuf::util::MessageToJsonString(f.batch, &data);
    }
    largest_frame_bytes_ = std::max(largest_frame_bytes_, data.size());
    Status s = ws.SendRaw(data, shared_->binary);
    if (!s.ok()) {
      Requeue(f.batch.mutable_events(), /*resend=*/false);
      OnLost(ws, s, now);
      return;
    }
    log_.trace("[gw{}] frame {}: {} events, {} bytes", index_, f.batch.batch_id(), n, data.size());
    shared_->stats.sent.fetch_add(n);
    shared_->stats.frames.fetch_add(1);
    f.sent_at = now;
    inflight_events_ += n;
    inflight_.push_back(std::move(f));
  }
}

void Gateway::OnAck(WsClient& ws, const IngestAck& ack, SteadyClock::time_point now) {
  if (inflight_.empty() ||
      (!ack.batch_id().empty() && ack.batch_id() != inflight_.front().batch.batch_id())) {
    log_.warn("[gw{}] ack for '{}' does not match the oldest unacked frame '{}': reconnecting",
              index_, ack.batch_id(),
              inflight_.empty() ? std::string("(none)") : inflight_.front().batch.batch_id());
    ws.Abort();
    OnDisconnect("ack out of order", now);
    return;
  }
  Frame f = std::move(inflight_.front());
  inflight_.pop_front();
  const size_t n = static_cast<size_t>(f.batch.events_size());
  inflight_events_ -= n;
  if (!acked_since_connect_) {
    acked_since_connect_ = true;
    backoff_ = kBackoffMin;  // this connection works
  }
  Stats& stats = shared_->stats;

  if (!ack.error().empty()) {
    if (ack.error() == "too_many_events" && n > 1) {
      // The server is configured for smaller batches than ours.
      max_frame_events_ = std::max<size_t>(1, n / 2);
      log_.warn("[gw{}] server refused {} events in one frame: sending at most {}", index_, n,
                max_frame_events_);
      Requeue(f.batch.mutable_events(), /*resend=*/true);
    } else if (RetryableReason(ack.error())) {
      log_.debug("[gw{}] frame {} refused ({}): resending later", index_, f.batch.batch_id(),
                 ack.error());
      Requeue(f.batch.mutable_events(), /*resend=*/true);
      pause_until_ = now + NextBackoff();
    } else {
      stats.rejected.fetch_add(n);
      log_.warn("[gw{}] frame {} refused for good: {} ({})", index_, f.batch.batch_id(),
                ack.error(), ack.message());
    }
    return;
  }

  stats.accepted.fetch_add(ack.accepted());
  stats.duplicates.fetch_add(ack.duplicates());
  stats.flagged.fetch_add(ack.flagged());
  google::protobuf::RepeatedPtrField<SensorEvent> retry;
  for (const auto& r : ack.rejected()) {
    if (r.index() >= n) continue;
    SensorEvent* e = f.batch.mutable_events(static_cast<int>(r.index()));
    if (RetryableReason(r.reason())) {
      *retry.Add() = std::move(*e);
    } else {
      stats.rejected.fetch_add(1);
      log_.warn("[gw{}] event {} seq {} rejected: {} {}", index_, e->device_id(), e->seq(),
                r.reason(), r.detail());
    }
  }
  if (!retry.empty()) {
    log_.debug("[gw{}] {} events of frame {} refused for now: resending later", index_,
               retry.size(), f.batch.batch_id());
    Requeue(&retry, /*resend=*/true);
    pause_until_ = now + NextBackoff();
  }
}

void Gateway::OnLost(const WsClient& ws, const Status& s, SteadyClock::time_point now) {
  const int code = ws.close_code();
  if (code == 1009 && largest_frame_bytes_ > kMinFrameBytes) {
    // "Message too big": the server takes smaller frames than ours.
    max_frame_bytes_ = std::max(kMinFrameBytes, largest_frame_bytes_ / 2);
    log_.warn("[gw{}] a frame of {} bytes was too big for the server: sending at most {}", index_,
              largest_frame_bytes_, max_frame_bytes_);
  }
  OnDisconnect(code != 0 ? fmt::format("closed by the server with code {}", code) : s.ToString(),
               now);
}

void Gateway::OnDisconnect(const std::string& why, SteadyClock::time_point now) {
  // Everything unacked goes back ahead of what is new, oldest frame first.
  size_t unacked = 0;
  for (auto it = inflight_.rbegin(); it != inflight_.rend(); ++it) {
    unacked += static_cast<size_t>(it->batch.events_size());
    Requeue(it->batch.mutable_events(), /*resend=*/true);
  }
  inflight_.clear();
  inflight_events_ = 0;
  online_ = false;
  shared_->stats.connected.fetch_sub(1);
  if (shared_->halt.load() || shared_->finish.load()) return;
  const milliseconds wait = NextBackoff();
  next_connect_ = now + wait;
  log_.warn(
      "[gw{}] connection lost ({}); {} events were in flight, {} wait; reconnecting in "
      "{:.1f} s",
      index_, why, unacked, backlog_.size(), static_cast<double>(wait.count()) / 1000);
}

void Gateway::Run() {
  WsClient ws;
  ws.set_stop_flag(&shared_->halt);
  ws.set_connect_timeout(kConnectTimeout);
  ws.set_write_timeout(kWriteTimeout);
  auto next_tick = SteadyClock::now();
  std::optional<SteadyClock::time_point> drain_until;

  while (!shared_->halt.load()) {
    auto now = SteadyClock::now();
    if (!drain_until && shared_->finish.load()) drain_until = now + kDrainTimeout;
    if (!drain_until && now >= next_tick) {
      Produce(now);
      next_tick += kTick;
      if (next_tick <= now) next_tick = now + kTick;
    }

    if (!online_) {
      if (drain_until) break;  // nothing to drain into
      if (now >= next_connect_ && !Connect(ws)) next_connect_ = SteadyClock::now() + NextBackoff();
      if (!online_) {
        const auto until = std::min(next_tick, next_connect_);
        std::this_thread::sleep_for(
            std::clamp(std::chrono::duration_cast<milliseconds>(until - SteadyClock::now()),
                       milliseconds(1), kIdleSlice));
        continue;
      }
      now = SteadyClock::now();
    }

    Pump(ws, now);
    if (drain_until && ((backlog_.empty() && inflight_.empty()) || now >= *drain_until)) break;
    if (!online_) continue;

    // Wait for acks until the next tick. A read stays outstanding in between, which also
    // answers the server's pings and notices when it closes.
    const milliseconds wait =
        drain_until ? kIdleSlice
                    : std::clamp(std::chrono::duration_cast<milliseconds>(next_tick - now),
                                 milliseconds(0), kTick);
    IngestAck ack;
    Status s = ws.PollAck(&ack, wait);
    now = SteadyClock::now();
    if (s.ok()) {
      OnAck(ws, ack, now);
    } else if (s.code() != Status::Code::kBusy) {
      OnLost(ws, s, now);
    } else if (!inflight_.empty() && now - inflight_.front().sent_at > kAckTimeout) {
      ws.Abort();
      OnDisconnect("no ack for 30 s", now);
    }
  }
  if (online_) {
    ws.Close();  // bounded: halt aborts it
    shared_->stats.connected.fetch_sub(1);
  }
  done_.store(true);
}

// ---------------------------------------------------------------------------------------------
// Tokens

// POSTs {"name":"sim","devicePrefix":"sim-"} to /api/v1/admin/device-tokens with the admin
// token. Errors: Status::NotFound when the admin token is refused (401/403), Status::IOError
// when the server cannot be reached, Status::Corruption on any other answer.
Status ProvisionDeviceToken(const std::string& host, uint16_t port, const std::string& admin_token,
                            std::string* token) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace net = boost::asio;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  net::ip::tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return Status::IOError("resolve " + host + ": " + ec.message());
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(results, ec);
  if (ec) return Status::IOError("connect: " + ec.message());

  http::request<http::string_body> req{http::verb::post, "/api/v1/admin/device-tokens", 11};
  req.set(http::field::host,
          (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
              std::to_string(port));
  req.set(http::field::authorization, "Bearer " + admin_token);
  req.set(http::field::content_type, "application/json");
  req.body() = R"({"name":"sim","devicePrefix":"sim-"})";
  req.prepare_payload();
  stream.expires_after(std::chrono::seconds(10));
  http::write(stream, req, ec);
  if (ec) return Status::IOError("write: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  http::read(stream, buffer, parser, ec);
  if (ec) return Status::IOError("read: " + ec.message());
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  const auto& res = parser.get();
  const unsigned status = res.result_int();
  if (status == 401 || status == 403)
    return Status::NotFound(fmt::format("admin token refused: HTTP {} {}", status, res.body()));
  boost::json::value body = boost::json::parse(res.body(), ec);
  if (status != 201 || ec || !body.is_object() || !body.as_object().contains("token") ||
      !body.as_object().at("token").is_string())
    return Status::Corruption(fmt::format("unexpected answer: HTTP {} {}", status, res.body()));
  *token = std::string(body.as_object().at("token").as_string());
  return Status::Ok();
}

// Resolves the device token from the options. Returns kExitOk or the exit code to give up with.
int ObtainToken(const SimOptions& o, const std::string& host, uint16_t port,
                const std::atomic<bool>& stop, spdlog::logger& log, std::string* token) {
  const int sources = !o.token.empty() + !o.token_file.empty() + !o.admin_token_file.empty();
  if (sources != 1) {
    log.error(sources == 0 ? "no device token: give --token, --token-file or --admin-token-file"
                           : "give only one of --token, --token-file, --admin-token-file");
    return kExitUsage;
  }
  if (!o.token.empty()) {
    *token = o.token;
    return kExitOk;
  }
  if (!o.token_file.empty()) {
    if (ReadFirstLine(o.token_file, token).ok()) return kExitOk;
    log.error("cannot read a token from {}", o.token_file);
    return kExitUsage;
  }
  std::string admin;
  if (!ReadFirstLine(o.admin_token_file, &admin).ok()) {
    log.error("cannot read a token from {}", o.admin_token_file);
    return kExitUsage;
  }
  // The server may still be starting: retry unreachable for up to connect_timeout_s.
  const auto give_up = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                std::chrono::duration<double>(o.connect_timeout_s));
  milliseconds backoff = kBackoffMin;
  for (int attempt = 1;; ++attempt) {
    Status s = ProvisionDeviceToken(host, port, admin, token);
    if (s.ok()) {
      log.info("provisioned a device token (name \"sim\", prefix \"sim-\")");
      return kExitOk;
    }
    if (s.code() != Status::Code::kIOError) {
      log.error("provisioning a device token: {}", s.message());
      return kExitTokenRefused;
    }
    if (attempt == 1) log.warn("provisioning a device token: {}; retrying", s.message());
    const auto wake = SteadyClock::now() + backoff;
    if (o.connect_timeout_s > 0 && wake >= give_up) {
      log.error("cannot reach {}:{} to provision a device token: {}", host, port, s.message());
      return kExitNeverConnected;
    }
    while (SteadyClock::now() < wake) {
      if (stop.load()) return kExitNeverConnected;
      std::this_thread::sleep_for(kIdleSlice);
    }
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

// ---------------------------------------------------------------------------------------------

std::shared_ptr<spdlog::logger> SimLogger() {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto l = spdlog::get("sim")) return l;
  return spdlog::stderr_color_mt("sim");
}

std::string Summary(const Stats& s) {
  return fmt::format(
      "sent {} (resent {}), accepted {}, duplicates {}, rejected {}, unacked {}, reconnects {}",
      s.sent.load(), s.resent.load(), s.accepted.load(), s.duplicates.load(), s.rejected.load(),
      s.unacked(), s.reconnects.load());
}

}  // namespace

int RunSim(const SimOptions& o, const std::atomic<bool>& stop) {
  auto log = SimLogger();
  if (!o.log_level.empty()) log->set_level(spdlog::level::from_str(o.log_level));

  if (o.devices < 1 || o.devices > kMaxDevices || o.gateways < 1 || o.gateways > kMaxGateways ||
      !(o.interval_s > 0) || !(o.rate >= 0) || !(o.duration_s >= 0) || !(o.anomaly_scale >= 0) ||
      !(o.connect_timeout_s >= 0)) {
    log->error(
        "want 1 <= --devices <= {}, 1 <= --gateways <= {}, --interval-s > 0 and --rate, "
        "--duration-s, --anomaly-scale, --connect-timeout-s >= 0",
        kMaxDevices, kMaxGateways);
    return kExitUsage;
  }
  std::vector<const District*> districts;
  std::string error;
  if (!ParseDistricts(o.districts, &districts, &error)) {
    log->error("{}", error);
    return kExitUsage;
  }
  auto shared = std::make_unique<Shared>();
  if (client::Endpoint server; client::ParseUrl(o.url, &server).ok()) {
    shared->host = server.host;
    shared->port = server.port;
  } else {
    log->error("--url wants http://HOST:PORT, got '{}'", o.url);
    return kExitUsage;
  }
  if (int rc = ObtainToken(o, shared->host, shared->port, stop, *log, &shared->token);
      rc != kExitOk)
    return rc;

  // With --rate the interval follows from it: `rate` counts every event, health reports too.
  const double per_device_events = 1.0 + 1.0 / kHealthEveryReports;
  const double interval_s = o.rate > 0 ? o.devices * per_device_events / o.rate : o.interval_s;
  if (interval_s > kMaxIntervalS) {
    log->error("each device would report every {:.0f} s; at most {:.0f} s is supported", interval_s,
               kMaxIntervalS);
    return kExitUsage;
  }
  shared->binary = !o.json;
  shared->anomaly_scale = o.anomaly_scale;
  shared->interval =
      std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(interval_s));
  shared->steady_start = SteadyClock::now();
  shared->sys_start = SysClock::now();
  shared->log = log;

  std::vector<Device> fleet =
      MakeFleet(o.devices, districts, o.seed, shared->steady_start, shared->interval);
  std::array<int, 3> kinds{0, 0, 0};
  for (const Device& d : fleet) ++kinds[static_cast<int>(d.kind)];
  std::string names;
  if (districts.size() == std::size(kDistricts)) {
    names = "all of Chongqing";
  } else {
    for (const District* d : districts) names += (names.empty() ? "" : " ") + std::string(d->name);
  }
  const int gateways = std::min(o.gateways, o.devices);
  log->info(
      "{} devices ({} manhole covers, {} septic tanks, {} ancient trees) in {} districts ({}), "
      "{} gateways to {}, every {:.2f} s each, ~{:.1f} events/s, {} frames, seed {}",
      o.devices, kinds[static_cast<int>(Kind::kCover)], kinds[static_cast<int>(Kind::kSeptic)],
      kinds[static_cast<int>(Kind::kTree)], districts.size(), names, gateways, o.url, interval_s,
      o.devices * per_device_events / interval_s, o.json ? "JSON" : "protobuf", o.seed);

  std::vector<std::vector<Device>> parts(gateways);
  for (size_t i = 0; i < fleet.size(); ++i) parts[i % gateways].push_back(std::move(fleet[i]));
  std::vector<std::unique_ptr<Gateway>> gws;
  std::vector<std::thread> threads;
  for (int g = 0; g < gateways; ++g) {
    gws.push_back(std::make_unique<Gateway>(g, std::move(parts[g]), shared.get()));
    threads.emplace_back([gw = gws.back().get()] { gw->Run(); });
  }

  // Supervise: duration, stop, refused token, never connecting; a summary every 10 s.
  Stats& stats = shared->stats;
  const auto start = shared->steady_start;
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  };
  auto next_summary = start + kSummaryEvery;
  uint64_t last_accepted = 0;
  int rc = kExitOk;
  for (;;) {
    std::this_thread::sleep_for(kIdleSlice);
    const auto now = SteadyClock::now();
    if (stop.load()) break;
    if (o.duration_s > 0 && now - start >= seconds(o.duration_s)) break;
    if (stats.token_refused.load()) {
      rc = kExitTokenRefused;
      break;
    }
    if (o.connect_timeout_s > 0 && !stats.ever_connected.load() &&
        now - start >= seconds(o.connect_timeout_s)) {
      log->error("no gateway could connect to {} within {} s: giving up", o.url,
                 o.connect_timeout_s);
      break;
    }
    if (now >= next_summary) {
      const uint64_t accepted = stats.accepted.load();
      log->info("{}; {}/{} gateways up; {:.1f} accepted/s", Summary(stats), stats.connected.load(),
                gateways,
                static_cast<double>(accepted - last_accepted) /
                    std::chrono::duration<double>(kSummaryEvery).count());
      last_accepted = accepted;
      next_summary += kSummaryEvery;
    }
  }

  // Stop: gateways flush what they hold for up to kDrainTimeout, then everything is abandoned.
  shared->finish.store(true);
  const auto halt_at = SteadyClock::now() + kHaltGrace;
  while (SteadyClock::now() < halt_at &&
         !std::all_of(gws.begin(), gws.end(), [](const auto& g) { return g->done(); }))
    std::this_thread::sleep_for(milliseconds(10));
  shared->halt.store(true);
  for (auto& t : threads) t.join();

  if (rc == kExitOk && !stats.ever_connected.load()) rc = kExitNeverConnected;
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  log->info("finished after {:.1f} s: generated {}, {}, flagged {}, dropped {}, frames {}{}",
            elapsed, stats.generated.load(), Summary(stats), stats.flagged.load(),
            stats.dropped.load(), stats.frames.load(),
            rc == kExitOk ? "" : fmt::format(" (exit {})", rc));
  return rc;
}

namespace {
// SIGINT/SIGTERM of `yiwang sim` (lock-free, so safe to set from a signal handler).
std::atomic<bool> g_sim_stop{false};
void OnSimSignal(int) { g_sim_stop.store(true); }
}  // namespace

CLI::App* AddSimCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<SimOptions>();
  auto* s = app.add_subcommand("sim", "Run a simulated sensor fleet against a server");
  s->add_option("--url", opts->url, "Server URL (a ready file's content works)")
      ->capture_default_str();
  s->add_option("--token", opts->token, "Device token (its prefix must cover \"sim-\")");
  s->add_option("--token-file", opts->token_file, "Read the device token from this file");
  s->add_option("--admin-token-file", opts->admin_token_file,
                "Provision a device token (prefix \"sim-\") with the admin token in this file");
  s->add_option("--devices", opts->devices, "Simulated devices")->capture_default_str();
  s->add_option("--rate", opts->rate, "Total events/s (0: every device reports each interval)")
      ->capture_default_str();
  s->add_option("--interval-s", opts->interval_s, "Reporting interval per device when rate is 0")
      ->capture_default_str();
  s->add_option("--duration-s", opts->duration_s,
                "Stop after this many seconds (0: run until "
                "SIGINT/SIGTERM)")
      ->capture_default_str();
  s->add_option("--seed", opts->seed, "Seed of places, baselines and anomalies")
      ->capture_default_str();
  s->add_option("--districts", opts->districts,
                "\"core\" (nine central districts), \"all\" (38), or codes \"500105,500106\"")
      ->capture_default_str();
  s->add_option("--gateways", opts->gateways, "WebSocket connections the devices share")
      ->capture_default_str();
  s->add_flag("--json", opts->json, "Send JSON text frames instead of binary protobuf");
  s->add_option("--anomaly-scale", opts->anomaly_scale,
                "Multiplies anomaly rates (gas episodes, covers, leaning trees); 0: none")
      ->capture_default_str();
  s->add_option("--connect-timeout-s", opts->connect_timeout_s,
                "Give up (exit 1) if no gateway connects within this time; 0: keep trying")
      ->capture_default_str();
  s->add_option("--log-level", opts->log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  s->callback([opts, exit_code] {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    struct sigaction sa {};
    sa.sa_handler = OnSimSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    *exit_code = RunSim(*opts, g_sim_stop);
  });
  return s;
}

}  // namespace yiwang::tools
