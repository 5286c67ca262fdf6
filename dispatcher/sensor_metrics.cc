#include "dispatcher/sensor_metrics.h"

#include <cmath>
#include <cstdio>

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

// One reader per field: a macro would save lines but hide what is read.
template <typename T>
std::optional<double> Opt(bool has, T value) {
  return has ? std::optional<double>(static_cast<double>(value)) : std::nullopt;
}

constexpr SensorMetric kMetrics[] = {
    {"ch4PercentLel", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "CH4", "%LEL",
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_ch4_percent_lel(), p.ch4_percent_lel())
                                      : std::nullopt;
     }},
    {"h2sPpm", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "H2S", "ppm",
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_h2s_ppm(), p.h2s_ppm()) : std::nullopt;
     }},
    {"nh3Ppm", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "NH3", "ppm",
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_nh3_ppm(), p.nh3_ppm()) : std::nullopt;
     }},
    {"tiltDeg", v1::SENSOR_KIND_MANHOLE_COVER, false, "tilt", "deg",
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_tilt_deg(), p.tilt_deg()) : std::nullopt;
     }},
    {"displaced", v1::SENSOR_KIND_MANHOLE_COVER, true, "displaced", "",
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_displaced(), p.displaced()) : std::nullopt;
     }},
    {"lidOpen", v1::SENSOR_KIND_MANHOLE_COVER, true, "lid open", "",
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_lid_open(), p.lid_open()) : std::nullopt;
     }},
    {"waterLevelCm", v1::SENSOR_KIND_MANHOLE_COVER, false, "water", "cm below the lid",
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_water_level_cm(), p.water_level_cm())
                                    : std::nullopt;
     }},
    {"tiltDeg", v1::SENSOR_KIND_ANCIENT_TREE, false, "tilt", "deg",
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_tilt_deg(), p.tilt_deg()) : std::nullopt;
     }},
    {"vibrationMg", v1::SENSOR_KIND_ANCIENT_TREE, false, "vibration", "mg",
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_vibration_mg(), p.vibration_mg()) : std::nullopt;
     }},
    {"soilMoisturePct", v1::SENSOR_KIND_ANCIENT_TREE, false, "soil moisture", "%",
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_soil_moisture_pct(), p.soil_moisture_pct())
                                   : std::nullopt;
     }},
    {"soilTempC", v1::SENSOR_KIND_ANCIENT_TREE, false, "soil temperature", "C",
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_soil_temp_c(), p.soil_temp_c()) : std::nullopt;
     }},
    {"batteryPct", v1::SENSOR_KIND_DEVICE_HEALTH, false, "battery", "%",
     [](const v1::SensorEvent& e) {
       const auto& p = e.device_health();
       return e.has_device_health() ? Opt(p.has_battery_pct(), p.battery_pct()) : std::nullopt;
     }},
    {"rssiDbm", v1::SENSOR_KIND_DEVICE_HEALTH, false, "signal", "dBm",
     [](const v1::SensorEvent& e) {
       const auto& p = e.device_health();
       return e.has_device_health() ? Opt(p.has_rssi_dbm(), p.rssi_dbm()) : std::nullopt;
     }},
};

}  // namespace

const SensorMetric* FindSensorMetric(std::string_view name, v1::SensorKind kind) {
  for (const SensorMetric& m : kMetrics)
    if (m.kind == kind && m.name == name) return &m;
  return nullptr;
}

v1::SensorKind SensorKindOf(const v1::SensorEvent& ev) {
  switch (ev.payload_case()) {
    case v1::SensorEvent::kSepticTankGas:
      return v1::SENSOR_KIND_SEPTIC_TANK_GAS;
    case v1::SensorEvent::kManholeCover:
      return v1::SENSOR_KIND_MANHOLE_COVER;
    case v1::SensorEvent::kAncientTree:
      return v1::SENSOR_KIND_ANCIENT_TREE;
    case v1::SensorEvent::kDeviceHealth:
      return v1::SENSOR_KIND_DEVICE_HEALTH;
    case v1::SensorEvent::PAYLOAD_NOT_SET:
      break;
  }
  return v1::SENSOR_KIND_UNSPECIFIED;
}

std::string_view SensorKindJsonName(v1::SensorKind kind) {
  switch (kind) {
    case v1::SENSOR_KIND_SEPTIC_TANK_GAS:
      return "septicTankGas";
    case v1::SENSOR_KIND_MANHOLE_COVER:
      return "manholeCover";
    case v1::SENSOR_KIND_ANCIENT_TREE:
      return "ancientTree";
    case v1::SENSOR_KIND_DEVICE_HEALTH:
      return "deviceHealth";
    default:
      break;
  }
  return "none";
}

std::string FormatNumber(double v, int decimals) {
  if (!std::isfinite(v)) return v != v ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string ConditionKey(const v1::AlarmCondition& c) {
  const char* op = "?";
  switch (c.comparator()) {
    case v1::COMPARATOR_GE:
      op = ">=";
      break;
    case v1::COMPARATOR_GT:
      op = ">";
      break;
    case v1::COMPARATOR_LE:
      op = "<=";
      break;
    case v1::COMPARATOR_LT:
      op = "<";
      break;
    case v1::COMPARATOR_IS_TRUE:
      return c.metric();
    default:
      break;
  }
  const std::string lhs = c.from_baseline() ? "|" + c.metric() + "-baseline|" : c.metric();
  // Six decimals: two thresholds that differ get different keys in any sane configuration.
  return lhs + op + FormatNumber(c.threshold(), 6);
}

}  // namespace yiwang::dispatcher
