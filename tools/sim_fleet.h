#pragma once
// The fleet of `yiwang sim`: which devices there are and where. Districts come from the
// dispatcher's default configuration (dispatcher::DefaultDispatchConfig()); each gets five
// manhole covers, three septic tanks and two ancient trees in every ten devices, each at a
// fixed spot scattered around the district's centre. Device ids are
// "sim-<kind>-<district code>-<serial>", e.g. "sim-septic-500105-0001"; manhole covers carry a
// 16-digit object code instead, e.g. "sim-cover-5001050102000003" (owner 0102 污水井盖), so
// that an alarm routes to the cover's owner. Everything about a device (place, baselines, the noise
// and anomalies it will produce) derives from the seed and its id, so the same seed gives the
// same fleet. Report() turns one due report of a device into its events.
//
// Thread safety: a Device belongs to one gateway thread; the functions are pure but for the
// device they are given.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <variant>
#include <vector>

#include <spdlog/logger.h>

#include "tools/sim_readings.h"
#include "yiwang/v1/sensor.pb.h"

namespace yiwang::tools::sim {

using SteadyClock = std::chrono::steady_clock;
using SysClock = std::chrono::system_clock;

inline constexpr int kHealthEveryReports = 6;  // one deviceHealth event per six reports

struct District {
  std::string code;  // GB/T 2260
  std::string name;
  double lat = 0, lon = 0;  // approximate WGS-84 centre of the built-up area around the seat
  double radius_km = 0;     // devices are scattered within this radius
  bool urban_core = false;  // one of the central districts
};

// Every district of the dispatcher's default configuration that the simulator can place
// devices in, in the configuration's order; the codes of those it cannot (no centre known)
// go to *unplaced.
std::vector<District> AllDistricts(std::vector<std::string>* unplaced);

// `spec` is "core" (the central districts), "all", or a comma list of codes; picks from `all`.
// On error returns false and says why in *error.
bool ParseDistricts(const std::string& spec, const std::vector<District>& all,
                    std::vector<District>* out, std::string* error);

enum class Kind { kSeptic, kCover, kTree };

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

// Devices round-robin over the districts; within a district kinds follow a fixed pattern and
// each kind counts its own serials from 1. Device i is the same whatever the fleet size. The
// first reports are spread over one `interval` after `start`.
std::vector<Device> MakeFleet(int devices, const std::vector<District>& districts, uint64_t seed,
                              SteadyClock::time_point start, SteadyClock::duration interval);

// The fleet's time: when the simulator started on both clocks, and how often a device reports.
struct FleetClock {
  SteadyClock::time_point steady_start;
  SysClock::time_point sys_start;
  SteadyClock::duration interval{};
  double anomaly_scale = 1;  // multiplies every anomaly rate
};

// Takes the report of `d` that was due at `due` and appends its events to *out: one reading of
// its kind, and every kHealthEveryReports-th report a deviceHealth event too. Seqs come from the
// wall clock in microseconds, so a restarted simulator never reuses one. Returns the number of
// events appended.
int Report(Device& d, SteadyClock::time_point due, const FleetClock& clock, spdlog::logger& log,
           std::deque<yiwang::v1::SensorEvent>* out);

}  // namespace yiwang::tools::sim
