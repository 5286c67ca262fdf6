#include "store/sensor_catalogue.h"

namespace yiwang::store {

namespace v1 = yiwang::v1;

namespace {

// One reader per field, spelled out: a macro would save lines but hide what is read. The table
// is long because it is the catalogue; each entry is one reading.
template <typename T>
std::optional<double> Opt(bool has, T value) {
  return has ? std::optional<double>(static_cast<double>(value)) : std::nullopt;
}

constexpr SensorMetric kSepticTankGas[] = {
    {"ch4PercentLel", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "CH4", "%LEL", "%LEL", 0, 100,
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_ch4_percent_lel(), p.ch4_percent_lel())
                                      : std::nullopt;
     }},
    {"h2sPpm", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "H2S", "ppm", "ppm", 0, 1000,
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_h2s_ppm(), p.h2s_ppm()) : std::nullopt;
     }},
    {"nh3Ppm", v1::SENSOR_KIND_SEPTIC_TANK_GAS, false, "NH3", "ppm", "ppm", 0, 1000,
     [](const v1::SensorEvent& e) {
       const auto& p = e.septic_tank_gas();
       return e.has_septic_tank_gas() ? Opt(p.has_nh3_ppm(), p.nh3_ppm()) : std::nullopt;
     }},
};

constexpr SensorMetric kManholeCover[] = {
    {"tiltDeg", v1::SENSOR_KIND_MANHOLE_COVER, false, "tilt", "deg", "°", 0, 180,
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_tilt_deg(), p.tilt_deg()) : std::nullopt;
     }},
    {"displaced", v1::SENSOR_KIND_MANHOLE_COVER, true, "displaced", "", "", 0, 1,
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_displaced(), p.displaced()) : std::nullopt;
     }},
    {"lidOpen", v1::SENSOR_KIND_MANHOLE_COVER, true, "lid open", "", "", 0, 1,
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_lid_open(), p.lid_open()) : std::nullopt;
     }},
    {"waterLevelCm", v1::SENSOR_KIND_MANHOLE_COVER, false, "water", "cm below the lid", "cm",
     -100, 10000,
     [](const v1::SensorEvent& e) {
       const auto& p = e.manhole_cover();
       return e.has_manhole_cover() ? Opt(p.has_water_level_cm(), p.water_level_cm())
                                    : std::nullopt;
     }},
};

constexpr SensorMetric kAncientTree[] = {
    {"tiltDeg", v1::SENSOR_KIND_ANCIENT_TREE, false, "tilt", "deg", "°", 0, 90,
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_tilt_deg(), p.tilt_deg()) : std::nullopt;
     }},
    {"vibrationMg", v1::SENSOR_KIND_ANCIENT_TREE, false, "vibration", "mg", "mg", 0, 100000,
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_vibration_mg(), p.vibration_mg()) : std::nullopt;
     }},
    {"soilMoisturePct", v1::SENSOR_KIND_ANCIENT_TREE, false, "soil moisture", "%", "%", 0, 100,
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_soil_moisture_pct(), p.soil_moisture_pct())
                                   : std::nullopt;
     }},
    {"soilTempC", v1::SENSOR_KIND_ANCIENT_TREE, false, "soil temperature", "C", "°C", -50, 80,
     [](const v1::SensorEvent& e) {
       const auto& p = e.ancient_tree();
       return e.has_ancient_tree() ? Opt(p.has_soil_temp_c(), p.soil_temp_c()) : std::nullopt;
     }},
};

constexpr SensorMetric kDeviceHealth[] = {
    {"batteryPct", v1::SENSOR_KIND_DEVICE_HEALTH, false, "battery", "%", "%", 0, 100,
     [](const v1::SensorEvent& e) {
       const auto& p = e.device_health();
       return e.has_device_health() ? Opt(p.has_battery_pct(), p.battery_pct()) : std::nullopt;
     }},
    {"rssiDbm", v1::SENSOR_KIND_DEVICE_HEALTH, false, "signal", "dBm", "dBm", -150, 0,
     [](const v1::SensorEvent& e) {
       const auto& p = e.device_health();
       return e.has_device_health() ? Opt(p.has_rssi_dbm(), p.rssi_dbm()) : std::nullopt;
     }},
};

constexpr SensorKindInfo kKinds[] = {
    {v1::SENSOR_KIND_SEPTIC_TANK_GAS, "septicTankGas", v1::SensorEvent::kSepticTankGas,
     kSepticTankGas,
     [](const v1::SensorEvent& e, v1::DeviceState* st) {
       *st->mutable_septic_tank_gas() = e.septic_tank_gas();
     }},
    {v1::SENSOR_KIND_MANHOLE_COVER, "manholeCover", v1::SensorEvent::kManholeCover,
     kManholeCover,
     [](const v1::SensorEvent& e, v1::DeviceState* st) {
       *st->mutable_manhole_cover() = e.manhole_cover();
     }},
    {v1::SENSOR_KIND_ANCIENT_TREE, "ancientTree", v1::SensorEvent::kAncientTree, kAncientTree,
     [](const v1::SensorEvent& e, v1::DeviceState* st) {
       *st->mutable_ancient_tree() = e.ancient_tree();
     }},
    {v1::SENSOR_KIND_DEVICE_HEALTH, "deviceHealth", v1::SensorEvent::kDeviceHealth,
     kDeviceHealth,
     [](const v1::SensorEvent& e, v1::DeviceState* st) {
       *st->mutable_device_health() = e.device_health();
     }},
};

}  // namespace

std::span<const SensorKindInfo> SensorKinds() { return kKinds; }

const SensorKindInfo* KindOf(const v1::SensorEvent& ev) {
  for (const SensorKindInfo& k : kKinds)
    if (k.payload == ev.payload_case()) return &k;
  return nullptr;
}

const SensorKindInfo* FindKind(v1::SensorKind kind) {
  for (const SensorKindInfo& k : kKinds)
    if (k.kind == kind) return &k;
  return nullptr;
}

const SensorMetric* FindSensorMetric(std::string_view name, v1::SensorKind kind) {
  const SensorKindInfo* k = FindKind(kind);
  if (!k) return nullptr;
  for (const SensorMetric& m : k->metrics)
    if (m.name == name) return &m;
  return nullptr;
}

v1::SensorKind SensorKindOf(const v1::SensorEvent& ev) {
  const SensorKindInfo* k = KindOf(ev);
  return k ? k->kind : v1::SENSOR_KIND_UNSPECIFIED;
}

std::string_view SensorKindJsonName(v1::SensorKind kind) {
  const SensorKindInfo* k = FindKind(kind);
  return k ? k->json_name : "none";
}

}  // namespace yiwang::store
