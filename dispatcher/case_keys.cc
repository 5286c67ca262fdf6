#include "dispatcher/case_keys.h"

#include <cmath>

#include "dispatcher/dispatcher.h"
#include "dispatcher/sla.h"
#include "store/key_codec.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

std::string SpatialCell(double lat, double lon) {
  const auto lat_i = static_cast<int64_t>(std::floor(lat * 100.0));
  const auto lon_i = static_cast<int64_t>(std::floor(lon * 100.0));
  return "g:" + std::to_string(lat_i) + ":" + std::to_string(lon_i);
}

double DistanceMeters(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusM = 6371008.8;
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) *
                       std::sin(dlon / 2);
  return 2 * kEarthRadiusM * std::asin(std::min(1.0, std::sqrt(a)));
}

v1::CaseSummary Summarize(const v1::Case& c) {
  v1::CaseSummary s;
  s.set_id(c.id());
  s.set_state(c.state());
  s.set_source(c.source());
  s.set_category(c.category());
  s.set_urgency(c.urgency());
  s.set_district(c.district());
  s.set_department(c.department());
  if (c.has_location()) {
    s.set_lat(c.location().lat());
    s.set_lon(c.location().lon());
  }
  s.set_created_ms(FromProto(c.created_at()).time_since_epoch().count());
  const v1::SlaStage stage = StageOf(c.state(), c.parked_from());
  if (stage != v1::SLA_STAGE_UNSPECIFIED) {
    const v1::StageClock& clock = ClockOf(c, stage);
    if (clock.run() > 0 && !clock.has_finished_at()) {
      s.set_deadline_ms(FromProto(clock.deadline()).time_since_epoch().count());
      s.set_escalated(clock.escalated());
    }
  }
  s.set_paused(c.state() == v1::CASE_STATE_PARKED || c.extension_pending());
  s.set_alarm_level(c.alarm_level());
  s.set_telemetry_normal(c.telemetry_normal());
  std::string d = c.description();
  if (d.size() > 140) {
    // Cut at 140 bytes, but not in the middle of a UTF-8 sequence: drop the last character if
    // the cut left it incomplete (a complete last character stays).
    d.resize(140);
    size_t lead = d.size();
    while (lead > 0 && (static_cast<unsigned char>(d[lead - 1]) & 0xC0) == 0x80) --lead;
    if (lead > 0) {
      const auto b = static_cast<unsigned char>(d[lead - 1]);
      const size_t need = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
      if (d.size() - (lead - 1) < need) d.resize(lead - 1);
    }
  }
  s.set_description(std::move(d));
  return s;
}

namespace keys {

using store::PutFixed64BE;

std::string Journal(std::string_view case_id, uint64_t seq) {
  std::string k = JournalPrefix(case_id);
  PutFixed64BE(&k, seq);
  return k;
}

std::string JournalPrefix(std::string_view case_id) {
  std::string k;
  k.push_back(static_cast<char>(case_id.size()));
  k.append(case_id);
  return k;
}

bool IsOpen(v1::CaseState state) {
  return state != v1::CASE_STATE_UNSPECIFIED && state != v1::CASE_STATE_CLOSED &&
         state != v1::CASE_STATE_REJECTED;
}

std::string IndexPrefix(char dim, std::string_view value) {
  std::string k(1, dim);
  k.append(value);
  k.push_back('\0');
  return k;
}

std::optional<std::string_view> IndexCaseId(std::string_view key, size_t prefix_size) {
  if (key.size() < prefix_size + 8) return std::nullopt;
  return key.substr(prefix_size + 8);
}

std::string OpenAlarm(std::string_view asset_id, std::string_view alarm_type) {
  std::string k(1, 'w');
  k.append(asset_id);
  k.push_back('\0');
  k.append(alarm_type);
  return k;
}

std::map<std::string, std::string> IndexEntries(const v1::Case& c) {
  std::map<std::string, std::string> out;
  if (c.state() == v1::CASE_STATE_UNSPECIFIED) return out;
  const v1::CaseSummary s = Summarize(c);
  const std::string value = s.SerializeAsString();
  const uint64_t inv = ~static_cast<uint64_t>(s.created_ms());
  auto add = [&](char dim, std::string_view v) {
    std::string k = IndexPrefix(dim, v);
    PutFixed64BE(&k, inv);
    k.append(c.id());
    out.emplace(std::move(k), value);
  };
  add('a', "");
  add('s', StateName(c.state()));
  add('d', c.district());
  add('p', c.department());
  add('c', c.category());
  add('o', v1::Source_Name(c.source()));
  if (c.has_location()) add('g', SpatialCell(c.location().lat(), c.location().lon()));
  if (c.source() == v1::SOURCE_SENSOR && IsOpen(c.state()) && !c.alarm_type().empty())
    out.emplace(OpenAlarm(c.asset_id(), c.alarm_type()), c.id());
  return out;
}

std::string SlaTimer(int64_t due_ms, std::string_view case_id) {
  std::string k;
  PutFixed64BE(&k, static_cast<uint64_t>(due_ms));
  k.push_back('s');
  k.append(case_id);
  return k;
}

std::optional<TimerKey> ParseSlaTimer(std::string_view key) {
  if (key.size() < 10 || key[8] != 's') return std::nullopt;
  return TimerKey{static_cast<int64_t>(store::DecodeFixed64BE(key.data())),
                  std::string(key.substr(9))};
}

std::string Kpi(const v1::KpiKey& key) {
  std::string k = key.day();
  for (const std::string* f : {&key.district(), &key.department(), &key.category()}) {
    k.push_back('\0');
    k.append(*f);
  }
  k.push_back('\0');
  k.push_back(static_cast<char>(key.source()));
  return k;
}

std::optional<v1::KpiKey> ParseKpi(std::string_view key) {
  v1::KpiKey out;
  std::string* fields[] = {out.mutable_day(), out.mutable_district(), out.mutable_department(),
                           out.mutable_category()};
  size_t pos = 0;
  for (std::string* f : fields) {
    const size_t z = key.find('\0', pos);
    if (z == std::string_view::npos) return std::nullopt;
    f->assign(key.substr(pos, z - pos));
    pos = z + 1;
  }
  if (pos + 1 != key.size()) return std::nullopt;
  out.set_source(static_cast<v1::Source>(static_cast<unsigned char>(key[pos])));
  return out;
}

}  // namespace keys
}  // namespace yiwang::dispatcher
