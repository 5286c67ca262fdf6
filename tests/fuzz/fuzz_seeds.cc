#include <limits>
#include <string>
#include <string_view>

#include <google/protobuf/util/json_util.h>

#include "store/key_codec.h"
#include "tests/fuzz/fuzz_harness.h"
// GCC 12 at -O2 warns falsely (-Warray-bounds) on the `std::string(...) + literal` of the test
// images when they are inlined here (the web test builds them without the warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include "tests/web/test_images.h"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include "yiwang/v1/case.pb.h"

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

std::vector<std::string> ImageSeeds() {
  using namespace test;  // the images of the photo tests (tests/web/test_images.h)
  std::vector<std::string> out = {JpegWithExifGps(true), JpegWithExifGps(false),
                                  PngWithText(true),     PngWithText(false),
                                  WebpWithExif(),        Png(10000, 5000)};
  // A simple lossy WebP: a VP8 key frame header of 16 x 8 pixels, and trailing bytes.
  std::string vp8("\x10\x02\x00\x9d\x01\x2a\x10\x00\x08\x00\x00\x00", 12);
  out.push_back("RIFF" + Le32(4 + 8 + 12) + "WEBP" + WebpChunk("VP8 ", vp8) + "trailer");
  // Broken ones: a truncated JPEG, a PNG with a bad CRC, not an image at all.
  out.push_back(JpegWithExifGps(false).substr(0, 40));
  std::string bad_crc = PngWithText(false);
  bad_crc[bad_crc.size() - 20] ^= 1;
  out.push_back(bad_crc);
  out.push_back("GIF89a\x01\x00\x01\x00");
  // An animated WebP with unknown chunks inside and beside its frame, and one without.
  out.push_back(AnimatedWebp(true));
  out.push_back(AnimatedWebp(false));
  return out;
}

std::vector<std::string> Open311Seeds() {
  // Byte 0: bits 0-1 method (GET, POST, HEAD, PUT), bit 2 .xml, bit 3 no extension.
  auto req = [](char how, std::string_view resource, std::string_view body = {}) {
    std::string s(1, how);
    s.append(resource);
    if (!body.empty()) {
      s.push_back('\n');
      s.append(body);
    }
    return s;
  };
  const std::string report =
      "api_key=$KEY&service_code=event%3A0111&lat=29.55&long=106.55&description=%E7%A7%AF%E6%B0%B4"
      "&email=a%40b.example";
  return {
      req(0, "discovery"),
      req(4, "discovery"),
      req(4, "services"),
      req(0, "services/event:0111"),
      req(0, "services/sys:device_offline"),
      req(1, "requests", report),
      req(5, "requests",
          "api_key=$KEY&service_code=0302&lat=29.58&long=106.52&description=smell+%3C%26%3E"),
      req(1, "requests", "service_code=0302&lat=1&long=2"),
      req(1, "requests", "api_key=nope&service_code=0302"),
      req(1, "requests", "api_key=$KEY&service_code=event:0111&address_string=Jiefangbei"),
      req(1, "requests", "api_key=$KEY&service_code=event:0111&lat=abc&long=1"),
      req(1, "requests", "api_key=$KEY&service_code=event:0111&lat=39.9&long=116.4&description=x"),
      req(1, "requests",
          "api_key=$KEY&service_code=event:0111&lat=29.55&long=106.55&description=x"
          "&media_url=http%3A%2F%2Fh%2Fapi%2Fv1%2Fphotos%2Fabc"),
      req(0, "requests?status=open,closed&service_code=event:0111,0302"
             "&start_date=2024-01-01T00:00:00Z&end_date=2024-12-31T00:00:00Z"),
      req(0, "requests?status=bogus"),
      req(4, "requests?start_date=yesterday"),
      req(4, "requests?service_request_id=YW20240501000001,nope"),
      req(0, "requests/YW20240501000001"),
      req(0, "tokens/abc"),
      req(8, "services.txt"),
      req(3, "services"),
      req(2, "discovery"),
  };
}

std::vector<std::string> CaseMachineSeeds() {
  // One command = 6 bytes (case_machine_check.cc, Decode): action; role | actor << 3; flags
  // (1 note, 2 evidence, department << 4, 0x40 telemetry normal, 0x80 override); actor
  // department | extension << 2 | escalation stage << 4 | 0x40 location; time step | 0x80
  // filing reporter; filing source | urgency << 3 | category << 5 (CREATE), escalation level
  // << 1 (ESCALATE) or alarm count (ALARM_UPDATE).
  enum : uint8_t { D = 1, P = 2, S = 3, L = 4, A = 5, Y = 6, C = 7 };       // roles
  enum : uint8_t { kDisp = 1, kDept = 2, kSup = 3, kC1 = 4, kC2 = 5, kSys = 6 };  // actors
  enum : uint8_t { kHour = 6, k4h = 8, kDay = 9 };                              // time steps
  struct Step {
    yiwang::v1::CaseAction action;
    uint8_t role, actor, flags = 0, b3 = 0, b4 = kHour, b5 = 0;
  };
  auto encode = [](std::initializer_list<Step> steps) {
    std::string s;
    for (const Step& t : steps) {
      for (uint8_t b : {static_cast<uint8_t>(t.action), static_cast<uint8_t>(t.role | t.actor << 3),
                        t.flags, t.b3, t.b4, t.b5})
        s.push_back(static_cast<char>(b));
    }
    return s;
  };
  using namespace yiwang::v1;
  const uint8_t patrol = 3 | 1 << 3 | 2 << 5, sensor = 1 | 3 << 3, citizen = 2 | 1 << 3 | 2 << 5;
  const uint8_t note = 1, evidence = 2, dept_a = 1 << 4, dept_b = 2 << 4;
  return {
      // docs/workflow.md section 2: a patrol case through every detour.
      encode({{CASE_ACTION_CREATE, D, kDisp, 0, 0x40, kHour, patrol},
              {CASE_ACTION_ACCEPT, D, kDisp},
              {CASE_ACTION_TRANSFER, D, kDisp, dept_b},
              {CASE_ACTION_RETURN, P, kDept, note, 2},
              {CASE_ACTION_TRANSFER, D, kDisp, dept_a},
              {CASE_ACTION_REQUEST_EXTENSION, P, kDept, note, 1 | 1 << 2},
              {CASE_ACTION_APPROVE_EXTENSION, D, kDisp},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_FAIL, S, kSup, note},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_PASS, S, kSup},
              {CASE_ACTION_CLOSE, S, kSup},
              {CASE_ACTION_REOPEN, S, kSup, note},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_PASS, A, kSup},
              {CASE_ACTION_CLOSE, A, kSup}}),
      // Section 1: a sensor case the system routes, escalations, close refused then overridden.
      encode({{CASE_ACTION_CREATE, Y, kSys, 0, 0x40, 0, sensor},
              {CASE_ACTION_ACCEPT, Y, kSys, 0, 0, 1},
              {CASE_ACTION_TRANSFER, Y, kSys, dept_a, 0, 1},
              {CASE_ACTION_ALARM_UPDATE, Y, kSys, 0, 0, 1, 5},
              {CASE_ACTION_ESCALATE, Y, kSys, 0, 3 << 4, k4h, 2 << 1},
              {CASE_ACTION_ESCALATE, Y, kSys, 0, 3 << 4, kDay, 3 << 1},
              {CASE_ACTION_ALARM_UPDATE, Y, kSys, 0x40, 0, 1, 4},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_PASS, S, kSup},
              {CASE_ACTION_CLOSE, S, kSup},
              {CASE_ACTION_CLOSE, S, kSup, 0x80},
              {CASE_ACTION_CLOSE, S, kSup, 0x80 | note}}),
      // Section 2b and 3: a citizen report, 附议, 不予立案; then nothing more is allowed.
      encode({{CASE_ACTION_CREATE, C, kC1, 0, 0x40, kHour | 0x80, citizen},
              {CASE_ACTION_SUPPORT, C, kC2},
              {CASE_ACTION_SUPPORT, C, kC2},
              {CASE_ACTION_REOPEN, C, kC2, note},
              {CASE_ACTION_REJECT, D, kDisp},
              {CASE_ACTION_REJECT, D, kDisp, note},
              {CASE_ACTION_SUPPORT, C, kC2},
              {CASE_ACTION_ACCEPT, D, kDisp}}),
      // Section 3: parked and unparked twice, an extension denied, a citizen's reopen.
      encode({{CASE_ACTION_CREATE, C, kC1, 0, 0, 0, citizen},
              {CASE_ACTION_ACCEPT, A, kDisp},
              {CASE_ACTION_PARK, D, kDisp, note},
              {CASE_ACTION_UNPARK, D, kDisp, 0, 0, kDay},
              {CASE_ACTION_TRANSFER, D, kDisp, dept_a},
              {CASE_ACTION_PARK, A, kDisp, note},
              {CASE_ACTION_UNPARK, A, kDisp, 0, 0, 12},
              {CASE_ACTION_REQUEST_EXTENSION, P, kDept, note, 1 | 2 << 2},
              {CASE_ACTION_DENY_EXTENSION, D, kDisp, note},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_PASS, S, kSup},
              {CASE_ACTION_CLOSE, S, kSup},
              {CASE_ACTION_REOPEN, C, kC1, note}}),
      // What may not happen (section 4): the leader, a wrong department, arguments missing or
      // too long, an unknown action, a refused filing.
      encode({{CASE_ACTION_CREATE, C, kC1, 0, 0, 0, patrol},
              {CASE_ACTION_CREATE, D, 0, 0, 0, 0, patrol},
              {CASE_ACTION_CREATE, D, kDisp, 0, 0x60, 0, patrol},
              {CASE_ACTION_CREATE, D, kDisp, 0, 0, 0, 3},
              {CASE_ACTION_CREATE, D, kDisp, 0, 0, 0, patrol},
              {CASE_ACTION_ACCEPT, L, kSup},
              {CASE_ACTION_UNSPECIFIED, D, kDisp},
              {CASE_ACTION_ACCEPT, D, kDisp},
              {CASE_ACTION_TRANSFER, D, kDisp, 3 << 4},
              {CASE_ACTION_TRANSFER, D, kDisp},
              {CASE_ACTION_TRANSFER, D, kDisp, dept_a},
              {CASE_ACTION_RETURN, P, kDept, note, 2},
              {CASE_ACTION_REQUEST_EXTENSION, P, kDept, note, 1 | 3 << 2},
              {CASE_ACTION_PARK, D, kDisp, note, 0x80},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note, 1},
              {CASE_ACTION_VERIFY_PASS, S, kSup, 0, 0, 13},
              {CASE_ACTION_REPORT_HANDLED, P, kDept, note | evidence, 1},
              {CASE_ACTION_VERIFY_PASS, S, kSup},
              {CASE_ACTION_CLOSE, P, kDept, note, 1},
              {CASE_ACTION_TRANSFER, S, kSup, dept_a},
              {CASE_ACTION_CLOSE, S, kSup},
              {CASE_ACTION_REOPEN, C, kC2, note},
              {CASE_ACTION_ESCALATE, Y, kSys, 0, 3 << 4, kDay, 2 << 1}}),
  };
}

}  // namespace yiwang::fuzz
