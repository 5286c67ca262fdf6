#include "tests/support/events.h"

#include <spdlog/sinks/null_sink.h>

namespace yiwang::test {

std::chrono::system_clock::time_point FixedNow() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(kNowSeconds));
}

google::protobuf::Timestamp Ts(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

namespace {
void Common(yiwang::v1::SensorEvent* e, const std::string& device_id, uint64_t seq,
            int64_t observed_seconds) {
  e->set_device_id(device_id);
  e->set_seq(seq);
  *e->mutable_observed_at() = Ts(observed_seconds);
  e->mutable_location()->set_lat(29.5630);  // 重庆 江北区
  e->mutable_location()->set_lon(106.5516);
}
}  // namespace

yiwang::v1::SensorEvent GasEvent(const std::string& device_id, uint64_t seq, double ch4,
                                 int64_t observed_seconds) {
  yiwang::v1::SensorEvent e;
  Common(&e, device_id, seq, observed_seconds);
  e.mutable_septic_tank_gas()->set_ch4_percent_lel(ch4);
  e.mutable_septic_tank_gas()->set_h2s_ppm(1.5);
  return e;
}

yiwang::v1::SensorEvent HealthEvent(const std::string& device_id, uint64_t seq, double battery_pct,
                                    int64_t observed_seconds) {
  yiwang::v1::SensorEvent e;
  Common(&e, device_id, seq, observed_seconds);
  e.mutable_device_health()->set_battery_pct(battery_pct);
  e.mutable_device_health()->set_rssi_dbm(-70);
  return e;
}

yiwang::v1::SensorEvent ManholeEvent(const std::string& device_id, uint64_t seq, double tilt_deg,
                                     int64_t observed_seconds) {
  yiwang::v1::SensorEvent e;
  Common(&e, device_id, seq, observed_seconds);
  e.mutable_manhole_cover()->set_tilt_deg(tilt_deg);
  e.mutable_manhole_cover()->set_lid_open(false);
  return e;
}

yiwang::v1::StoredEvent Stored(const yiwang::v1::SensorEvent& event, int64_t received_seconds) {
  yiwang::v1::StoredEvent se;
  *se.mutable_event() = event;
  *se.mutable_received_at() = Ts(received_seconds);
  se.set_token_name("test-token");
  return se;
}

yiwang::v1::SensorEvent DeterministicEvent(const std::string& device_id, uint64_t seq,
                                           int64_t observed_seconds) {
  // FNV-1a of the pair picks the payload kind and the readings.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (char c : device_id) mix(static_cast<unsigned char>(c));
  mix(seq);
  yiwang::v1::SensorEvent e;
  Common(&e, device_id, seq, observed_seconds);
  e.mutable_location()->set_lat(29.0 + static_cast<double>(h % 1000) / 1000.0);
  const double r = static_cast<double>((h >> 16) % 10000) / 100.0;  // 0..99.99
  switch ((h >> 40) % 3) {
    case 0:
      e.mutable_septic_tank_gas()->set_ch4_percent_lel(r);
      break;
    case 1:
      e.mutable_manhole_cover()->set_tilt_deg(r);
      break;
    default:
      e.mutable_device_health()->set_battery_pct(r);
      break;
  }
  return e;
}

std::shared_ptr<spdlog::logger> NullLogger(const std::string& name) {
  return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
}

int64_t WallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace yiwang::test
