#include "tools/sim_fleet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/digest.h"
#include "dispatcher/dispatch_config.h"

namespace yiwang::tools::sim {

namespace {

using std::chrono::milliseconds;
using yiwang::v1::SensorEvent;

struct Place {
  const char* code;  // GB/T 2260
  double lat, lon;   // approximate WGS-84 centre of the built-up area around the seat
  double radius_km;  // devices are scattered within this radius
};

// Where devices go in each of Chongqing's 38 county-level units, by district code. A table
// as long as the list of districts: one row each, looked up by the code of the dispatcher's
// district list (names and the central-district flag come from there).
constexpr Place kPlaces[] = {
    {"500101", 30.8078, 108.4086, 5},  // 万州区
    {"500102", 29.7030, 107.3895, 5},  // 涪陵区
    {"500103", 29.5570, 106.5690, 2},  // 渝中区
    {"500104", 29.4844, 106.4823, 4},  // 大渡口区
    {"500105", 29.5900, 106.5600, 5},  // 江北区
    {"500106", 29.5560, 106.4560, 6},  // 沙坪坝区
    {"500107", 29.5020, 106.5110, 6},  // 九龙坡区
    {"500108", 29.5230, 106.5640, 5},  // 南岸区
    {"500109", 29.8057, 106.3964, 6},  // 北碚区
    {"500110", 29.0285, 106.6513, 4},  // 綦江区
    {"500111", 29.7003, 105.7217, 4},  // 大足区
    {"500112", 29.7180, 106.6310, 8},  // 渝北区
    {"500113", 29.4020, 106.5400, 7},  // 巴南区
    {"500114", 29.5333, 108.7709, 3},  // 黔江区
    {"500115", 29.8578, 107.0816, 4},  // 长寿区
    {"500116", 29.2900, 106.2590, 5},  // 江津区
    {"500117", 29.9720, 106.2760, 5},  // 合川区
    {"500118", 29.3560, 105.9270, 5},  // 永川区
    {"500119", 29.1570, 107.0990, 3},  // 南川区
    {"500120", 29.5920, 106.2270, 4},  // 璧山区
    {"500151", 29.8450, 106.0560, 4},  // 铜梁区
    {"500152", 30.1900, 105.8400, 3},  // 潼南区
    {"500153", 29.4050, 105.5940, 3},  // 荣昌区
    {"500154", 31.1610, 108.3930, 4},  // 开州区
    {"500155", 30.6740, 107.8000, 3},  // 梁平区
    {"500156", 29.3250, 107.7600, 3},  // 武隆区
    {"500229", 31.9480, 108.6650, 2},  // 城口县
    {"500230", 29.8640, 107.7310, 3},  // 丰都县
    {"500231", 30.3270, 107.3330, 3},  // 垫江县
    {"500233", 30.3000, 108.0380, 3},  // 忠县
    {"500235", 30.9300, 108.6970, 3},  // 云阳县
    {"500236", 31.0180, 109.4640, 3},  // 奉节县
    {"500237", 31.0750, 109.8790, 2},  // 巫山县
    {"500238", 31.3990, 109.5700, 2},  // 巫溪县
    {"500240", 29.9990, 108.1120, 2},  // 石柱土家族自治县
    {"500241", 28.4480, 108.9890, 2},  // 秀山土家族苗族自治县
    {"500242", 28.8400, 108.7670, 2},  // 酉阳土家族苗族自治县
    {"500243", 29.2940, 108.1660, 2},  // 彭水苗族土家族自治县
};

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

uint64_t NextSeq(Device& d) {
  // Wall-clock microseconds: strictly increasing per device and never reused by a later run.
  const auto now_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(SysClock::now().time_since_epoch())
          .count());
  d.last_seq = std::max(d.last_seq + 1, now_us);
  return d.last_seq;
}

}  // namespace

std::vector<Device> MakeFleet(int devices, const std::vector<District>& districts,
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
    fleet.push_back(MakeDevice(districts[d], kind, serial, seed, start, interval));
  }
  return fleet;
}

std::vector<District> AllDistricts(std::vector<std::string>* unplaced) {
  std::vector<District> out;
  for (const auto& d : dispatcher::DefaultDispatchConfig().districts()) {
    const auto place = std::find_if(std::begin(kPlaces), std::end(kPlaces),
                                    [&](const Place& p) { return d.code() == p.code; });
    if (place == std::end(kPlaces)) {
      unplaced->push_back(d.code());
      continue;
    }
    out.push_back({.code = d.code(),
                   .name = d.name_zh(),
                   .lat = place->lat,
                   .lon = place->lon,
                   .radius_km = place->radius_km,
                   .urban_core = d.urban_core()});
  }
  return out;
}

bool ParseDistricts(const std::string& spec, const std::vector<District>& all,
                    std::vector<District>* out, std::string* error) {
  out->clear();
  if (spec == "core" || spec == "all") {
    for (const District& d : all)
      if (spec == "all" || d.urban_core) out->push_back(d);
    return true;
  }
  std::set<std::string> seen;
  std::stringstream ss(spec);
  std::string code;
  while (std::getline(ss, code, ',')) {
    code.erase(0, code.find_first_not_of(' '));
    code.erase(code.find_last_not_of(' ') + 1);
    if (code.empty() || !seen.insert(code).second) continue;
    const auto found =
        std::find_if(all.begin(), all.end(), [&](const District& d) { return d.code == code; });
    if (found == all.end()) {
      *error = "unknown district code '" + code +
               "' (want \"core\", \"all\" or codes such as 500105,500106: the districts of "
               "dispatcher/default_config.json)";
      return false;
    }
    out->push_back(*found);
  }
  if (out->empty()) {
    *error = "--districts names no district";
    return false;
  }
  return true;
}

int Report(Device& d, SteadyClock::time_point due, const FleetClock& clock, spdlog::logger& log,
           std::deque<SensorEvent>* out) {
  const auto at = clock.sys_start +
                  std::chrono::duration_cast<SysClock::duration>(due - clock.steady_start);
  const int64_t at_ms = std::chrono::duration_cast<milliseconds>(at.time_since_epoch()).count();
  const double t = std::chrono::duration<double>(due - clock.steady_start).count();
  const double interval_s = std::chrono::duration<double>(clock.interval).count();
  const Moment m{.t = t,
                 .dt = d.last_report_t < 0 ? interval_s : t - d.last_report_t,
                 .local_hour = std::fmod(static_cast<double>(at_ms) / 3.6e6 + 8, 24),
                 .min_episode_s = 3 * interval_s,
                 .anomaly_scale = clock.anomaly_scale,
                 .device_id = &d.id,
                 .log = &log};
  d.last_report_t = t;

  int events = 0;
  auto new_event = [&] {
    SensorEvent& e = out->emplace_back();
    e.set_device_id(d.id);
    e.set_seq(NextSeq(d));
    e.mutable_observed_at()->set_seconds(at_ms / 1000);
    e.mutable_observed_at()->set_nanos(static_cast<int32_t>(at_ms % 1000) * 1000000);
    e.mutable_location()->set_lat(d.lat);
    e.mutable_location()->set_lon(d.lon);
    ++events;
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
      log.debug("[{}] battery replaced", d.id);
      d.battery_pct = 100;
    }
    auto* h = new_event()->mutable_device_health();
    h->set_battery_pct(Round(d.battery_pct, 1));
    h->set_rssi_dbm(std::clamp(std::round(d.rssi_base + d.rng.Normal(2.5)), -150.0, 0.0));
  }
  return events;
}

}  // namespace yiwang::tools::sim
