#include <limits>
#include <string>
#include <string_view>

#include <google/protobuf/util/json_util.h>

#include "store/key_codec.h"
#include "tests/fuzz/fuzz_harness.h"

namespace yiwang::fuzz {

namespace {

// Observed one minute before the harness's fixed clock.
constexpr int64_t kObserved = 1714521600 - 60;

yiwang::v1::SensorEvent Event(const std::string& device, uint64_t seq, int kind) {
  yiwang::v1::SensorEvent e;
  e.set_device_id(device);
  e.set_seq(seq);
  e.mutable_observed_at()->set_seconds(kObserved);
  e.mutable_location()->set_lat(29.5749);
  e.mutable_location()->set_lon(106.5397);
  switch (kind % 4) {
    case 0: e.mutable_septic_tank_gas()->set_ch4_percent_lel(12.5); break;
    case 1: e.mutable_manhole_cover()->set_tilt_deg(3); break;
    case 2: e.mutable_ancient_tree()->set_tilt_deg(1.5); break;
    default: e.mutable_device_health()->set_battery_pct(80); break;
  }
  return e;
}

void AddBoth(std::vector<std::string>* out, const yiwang::v1::IngestBatch& b) {
  out->push_back("\x01" + b.SerializeAsString());
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(b, &json);
  out->push_back(std::string(1, '\0') + json);
}

}  // namespace

std::vector<std::string> FrameSeeds() {
  std::vector<std::string> out;
  yiwang::v1::IngestBatch good;
  good.set_batch_id("seed-good");
  for (int i = 0; i < 4; ++i) *good.add_events() = Event("cq-seed-" + std::to_string(i), 1, i);
  AddBoth(&out, good);
  yiwang::v1::IngestBatch mixed;
  mixed.set_batch_id("seed-mixed");
  *mixed.add_events() = Event("cq-mixed", 1, 0);
  auto bad = Event("cq-mixed", 2, 0);
  bad.mutable_location()->set_lat(123);  // lat_out_of_range
  *mixed.add_events() = bad;
  auto nan = Event("cq-mixed", 3, 0);
  nan.mutable_septic_tank_gas()->set_ch4_percent_lel(std::numeric_limits<double>::quiet_NaN());
  *mixed.add_events() = nan;
  auto future = Event("cq-mixed", 4, 1);
  future.mutable_observed_at()->set_seconds(kObserved + 60 + 600);  // flagged, not refused
  *mixed.add_events() = future;
  *mixed.add_events() = Event("bad id!", 1, 1);
  *mixed.add_events() = Event("cq-mixed", 0, 3);  // missing seq
  *mixed.add_events() = yiwang::v1::SensorEvent();
  AddBoth(&out, mixed);
  // A text frame seed: a 0 byte (the harness's "text" marker) then the JSON. (Appended rather
  // than concatenated: GCC 12 warns falsely on `std::string(...) + literal` at -O2.)
  auto text = [](std::string_view json) {
    std::string s(1, '\0');
    s.append(json);
    return s;
  };
  out.push_back(text(R"({"batchId":"x","events":[{"deviceId":"cq-a","seq":"1","observedAt":)"
                     R"("2024-04-30T23:59:00Z","location":{"lat":29.5,"lon":106.5},)"
                     R"("septicTankGas":{"ch4PercentLel":31.5}},{"deviceId":5},{"nope":1}]})"));
  out.push_back(text(R"({"events":[],"extra":true})"));
  out.push_back(text("[1,2,3]"));
  out.push_back("\x01\x0a\x05hello");
  return out;
}

std::vector<std::string> HttpSeeds() {
  return {
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/v1/devices/cq-seed-0 HTTP/1.1\r\nAuthorization: Bearer $ADMIN\r\n\r\n",
      "GET /api/v1/devices/cq-seed-0/events?limit=2&before=5 HTTP/1.1\r\n"
      "Authorization: Bearer $ADMIN\r\n\r\n",
      "GET /api/v1/devices/cq%2Dseed%2D1/events?limit=1000 HTTP/1.1\r\n"
      "Authorization: bearer $ADMIN\r\n\r\n",
      "POST /api/v1/admin/device-tokens HTTP/1.1\r\nAuthorization: Bearer $ADMIN\r\n"
      "Content-Length: 38\r\n\r\n{\"name\":\"gw\",\"devicePrefix\":\"cq-jb-\"}",
      "POST /api/v1/admin/device-tokens HTTP/1.1\r\nAuthorization: Bearer ywd_nope\r\n"
      "Content-Length: 2\r\n\r\n{}",
      "DELETE /healthz HTTP/1.1\r\n\r\n",
      "GET /api/v1/devices//events HTTP/1.1\r\n\r\n",
  };
}

std::vector<std::string> KeyCodecSeeds() {
  std::vector<std::string> out;
  out.push_back(store::EventKey(42));
  out.push_back(store::DeviceSeqKey("cq-jb-septic-0001", 7));
  std::string pair;
  store::PutFixed64BE(&pair, 1);
  store::PutFixed64BE(&pair, 300);
  pair.push_back(4);
  pair += "cq-acq-a";
  out.push_back(pair);
  return out;
}

}  // namespace yiwang::fuzz
