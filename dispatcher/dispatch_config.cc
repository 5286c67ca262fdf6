#include "dispatcher/dispatch_config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dispatcher/condition_text.h"
#include "store/sensor_catalogue.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

constexpr std::string_view kWildcard = "*";
constexpr std::string_view kDistrictPlaceholder = "{district}";

// Bounds on configured values: generous, but far from overflow and from nonsense.
constexpr size_t kMaxNameBytes = 256;
constexpr double kMaxDedupRadiusM = 10000;
constexpr uint32_t kMaxConditionSeconds = 86400;     // durationSeconds, clearSeconds
constexpr uint32_t kMaxRepeatSeconds = 7 * 86400;    // repeatSeconds
constexpr uint32_t kMaxIntervalSeconds = 7 * 86400;  // reportingIntervalSeconds
constexpr uint32_t kMaxBaselineSamples = 1000;
constexpr uint32_t kMaxSilentIntervals = 1000;
constexpr uint32_t kMaxFutureSkewSeconds = 86400;
constexpr int kMaxConditions = 16;
constexpr size_t kMaxAlarmTypeBytes = 32;
constexpr size_t kMaxIdBytes = 64;
constexpr int kMaxUtcOffsetMinutes = 14 * 60;

Status Bad(const std::string& path, const std::string& message) {
  return Status::InvalidArgument(path + ": " + message);
}

// "dispatch.categories[0302]" when the element has a key, "dispatch.routing[3]" otherwise.
std::string Elem(std::string_view list, std::string_view key, int index) {
  std::string out(list);
  out += '[';
  out += key.empty() ? std::to_string(index) : std::string(key);
  out += ']';
  return out;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsDistrictCode(std::string_view s) { return s.size() == 6 && AllDigits(s); }

bool IsLowerWord(std::string_view s, size_t max, bool allow_dash, bool allow_underscore) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (allow_dash && c == '-') ||
           (allow_underscore && c == '_');
  });
}

bool IsAlarmType(std::string_view s) { return IsLowerWord(s, kMaxAlarmTypeBytes, false, true); }
bool IsDepartmentId(std::string_view s) { return IsLowerWord(s, kMaxIdBytes, true, false); }

// The kind a category code's form implies: "dddd", "event:dddd", "sys:<name>".
v1::CategoryKind KindOfCode(std::string_view code) {
  if (code.size() == 4 && AllDigits(code)) return v1::CATEGORY_KIND_COMPONENT;
  if (code.substr(0, 6) == "event:" && code.size() == 10 && AllDigits(code.substr(6)))
    return v1::CATEGORY_KIND_EVENT;
  if (code.substr(0, 4) == "sys:" && IsAlarmType(code.substr(4))) return v1::CATEGORY_KIND_SYSTEM;
  return v1::CATEGORY_KIND_UNSPECIFIED;
}

std::string ReplaceDistrict(std::string_view department, std::string_view district) {
  std::string out(department);
  const size_t at = out.find(kDistrictPlaceholder);
  if (at != std::string::npos) out.replace(at, kDistrictPlaceholder.size(), district);
  return out;
}

bool ListHas(const google::protobuf::RepeatedPtrField<std::string>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& s) { return s == v || s == kWildcard; });
}

// The winning route's index for (category, district), or -1.
int BestRoute(const v1::DispatchConfig& cfg, std::string_view category, std::string_view district) {
  int best = -1;
  int best_rank = 4;
  for (int i = 0; i < cfg.routing_size(); ++i) {
    const v1::Route& r = cfg.routing(i);
    const bool cat = r.category() == category;
    const bool dist = r.district() == district;
    const bool any_cat = r.category() == kWildcard;
    const bool any_dist = r.district() == kWildcard;
    int rank = 4;
    if (cat && dist)
      rank = 0;
    else if (cat && any_dist)
      rank = 1;
    else if (any_cat && dist)
      rank = 2;
    else if (any_cat && any_dist)
      rank = 3;
    if (rank < best_rank) {
      best = i;
      best_rank = rank;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

constexpr const char* kDurationHint = " (want e.g. 5m, 2h, 1.5wh, 0.5wd)";

Status ParseLimit(const std::string& path, const std::string& text, TimeLimit* out) {
  if (text.empty()) return Bad(path, "required");
  std::optional<TimeLimit> limit = ParseTimeLimit(text);
  if (!limit) return Bad(path, "bad duration " + Quote(text) + kDurationHint);
  *out = *limit;
  return Status::Ok();
}

Status ParseStageLimits(const std::string& path, const v1::StageLimits& row, StageLimits* out) {
  if (!v1::Urgency_IsValid(row.urgency())) return Bad(path + ".urgency", "unknown urgency");
  if (Status s = ParseLimit(path + ".accept", row.accept(), &out->accept); !s.ok()) return s;
  if (Status s = ParseLimit(path + ".dispatch", row.dispatch(), &out->dispatch); !s.ok()) return s;
  if (Status s = ParseLimit(path + ".handle", row.handle(), &out->handle); !s.ok()) return s;
  return ParseLimit(path + ".close", row.close(), &out->close);
}

// A list of StageLimits rows: each parses, urgencies unique.
Status CheckLimitRows(const std::string& path,
                      const google::protobuf::RepeatedPtrField<v1::StageLimits>& rows) {
  std::set<int> urgencies;
  for (int i = 0; i < rows.size(); ++i) {
    const std::string at = Elem(path, "", i);
    StageLimits limits;
    if (Status s = ParseStageLimits(at, rows[i], &limits); !s.ok()) return s;
    if (!urgencies.insert(rows[i].urgency()).second)
      return Bad(at + ".urgency", "duplicate urgency " + v1::Urgency_Name(rows[i].urgency()));
  }
  return Status::Ok();
}

// "HH:MM" -> minutes after midnight (24:00 allowed), or -1.
int ParseClock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':' || !AllDigits(s.substr(0, 2)) || !AllDigits(s.substr(3, 2)))
    return -1;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

std::optional<std::chrono::year_month_day> ParseDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  auto num = [](std::string_view part, auto* v) {
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), *v);
    return ec == std::errc() && p == part.data() + part.size() && AllDigits(part);
  };
  if (!num(s.substr(0, 4), &y) || !num(s.substr(5, 2), &m) || !num(s.substr(8, 2), &d))
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{y}, std::chrono::month{m},
                                         std::chrono::day{d}};
  if (!date.ok()) return std::nullopt;
  return date;
}

constexpr v1::SensorKind kReadingKinds[] = {
    v1::SENSOR_KIND_SEPTIC_TANK_GAS, v1::SENSOR_KIND_MANHOLE_COVER, v1::SENSOR_KIND_ANCIENT_TREE,
    v1::SENSOR_KIND_DEVICE_HEALTH};

constexpr std::string_view kWeekdayNames[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

// ---------------------------------------------------------------------------------------------
// Validation

// Indexes built while validating, for the cross-reference checks.
struct Index {
  std::set<std::string, std::less<>> districts;
  std::map<std::string, const v1::Category*, std::less<>> categories;
  std::map<std::string, const v1::Department*, std::less<>> departments;
};

Status CheckDistricts(const v1::DispatchConfig& cfg, Index* index) {
  if (cfg.districts().empty()) return Bad("dispatch.districts", "no district");
  for (int i = 0; i < cfg.districts_size(); ++i) {
    const v1::District& d = cfg.districts(i);
    const std::string at = Elem("dispatch.districts", d.code(), i);
    if (!IsDistrictCode(d.code()))
      return Bad(at + ".code", "bad code " + Quote(d.code()) + " (want 6 digits, GB/T 2260)");
    if (!index->districts.insert(d.code()).second) return Bad(at, "duplicate district code");
    if (d.name_zh().empty() || d.name_zh().size() > kMaxNameBytes)
      return Bad(at + ".nameZh", "required, at most 256 bytes");
  }
  return Status::Ok();
}

Status CheckCategories(const v1::DispatchConfig& cfg, Index* index) {
  if (cfg.categories().empty()) return Bad("dispatch.categories", "no category");
  for (int i = 0; i < cfg.categories_size(); ++i) {
    const v1::Category& c = cfg.categories(i);
    const std::string at = Elem("dispatch.categories", c.code(), i);
    const v1::CategoryKind kind = KindOfCode(c.code());
    if (kind == v1::CATEGORY_KIND_UNSPECIFIED)
      return Bad(at + ".code",
                 "bad code " + Quote(c.code()) + " (want dddd, event:dddd or sys:<name>)");
    if (c.kind() != kind)
      return Bad(at + ".kind", "must be " + v1::CategoryKind_Name(kind) + " for this code");
    if (!index->categories.emplace(c.code(), &c).second) return Bad(at, "duplicate category code");
    if (c.name_zh().empty() || c.name_zh().size() > kMaxNameBytes)
      return Bad(at + ".nameZh", "required, at most 256 bytes");
    if (c.name_en().size() > kMaxNameBytes) return Bad(at + ".nameEn", "at most 256 bytes");
    if (!v1::SensorKind_IsValid(c.sensor())) return Bad(at + ".sensor", "unknown sensor kind");
    if (!v1::Urgency_IsValid(c.default_urgency()))
      return Bad(at + ".defaultUrgency", "unknown urgency");
    if (Status s = CheckLimitRows(at + ".limits", c.limits()); !s.ok()) return s;
    const v1::DedupRule& dedup = c.dedup();
    if (!std::isfinite(dedup.radius_m()) || dedup.radius_m() < 0 ||
        dedup.radius_m() > kMaxDedupRadiusM)
      return Bad(at + ".dedup.radiusM", "want 0..10000 metres");
    if (dedup.radius_m() > 0 || !dedup.window().empty()) {
      std::optional<TimeLimit> window = ParseTimeLimit(dedup.window());
      if (!window || window->working_time())
        return Bad(at + ".dedup.window", "bad window " + Quote(dedup.window()) +
                                             " (want wall-clock time, e.g. 30m, 24h)");
    }
  }
  return Status::Ok();
}

Status CheckFallbackLimits(const v1::DispatchConfig& cfg) {
  if (Status s = CheckLimitRows("dispatch.fallbackLimits", cfg.fallback_limits()); !s.ok())
    return s;
  const bool any =
      std::any_of(cfg.fallback_limits().begin(), cfg.fallback_limits().end(),
                  [](const v1::StageLimits& r) { return r.urgency() == v1::URGENCY_UNSPECIFIED; });
  if (!any) return Bad("dispatch.fallbackLimits", "needs a row without urgency (any urgency)");
  return Status::Ok();
}

Status CheckDepartments(const v1::DispatchConfig& cfg, Index* index) {
  if (cfg.departments().empty()) return Bad("dispatch.departments", "no department");
  for (int i = 0; i < cfg.departments_size(); ++i) {
    const v1::Department& d = cfg.departments(i);
    const std::string at = Elem("dispatch.departments", d.id(), i);
    if (!IsDepartmentId(d.id()))
      return Bad(at + ".id", "bad id " + Quote(d.id()) + " (want 1..64 of [a-z0-9-])");
    if (!index->departments.emplace(d.id(), &d).second) return Bad(at, "duplicate department id");
    if (d.name_zh().empty() || d.name_zh().size() > kMaxNameBytes)
      return Bad(at + ".nameZh", "required, at most 256 bytes");
    if (d.name_en().size() > kMaxNameBytes) return Bad(at + ".nameEn", "at most 256 bytes");
    if (d.kind() == v1::DEPARTMENT_KIND_UNSPECIFIED || !v1::DepartmentKind_IsValid(d.kind()))
      return Bad(at + ".kind", "required");
    if (d.districts().empty()) return Bad(at + ".districts", "at least one district, or \"*\"");
    for (int j = 0; j < d.districts_size(); ++j) {
      const std::string& code = d.districts(j);
      if (code != kWildcard && !index->districts.count(code))
        return Bad(Elem(at + ".districts", "", j), "unknown district " + Quote(code));
    }
    if (d.categories().empty()) return Bad(at + ".categories", "at least one category, or \"*\"");
    for (int j = 0; j < d.categories_size(); ++j) {
      const std::string& code = d.categories(j);
      if (code != kWildcard && !index->categories.count(code))
        return Bad(Elem(at + ".categories", "", j), "unknown category " + Quote(code));
    }
  }
  return Status::Ok();
}

// The department route `i` gives a case of (category, district): known, serving the district,
// handling the category.
Status CheckRouteTarget(const v1::DispatchConfig& cfg, const Index& index, int i,
                        std::string_view category, std::string_view district) {
  const std::string at = Elem("dispatch.routing", "", i) + ".department";
  const std::string id = ReplaceDistrict(cfg.routing(i).department(), district);
  auto it = index.departments.find(id);
  if (it == index.departments.end()) {
    std::string msg = "unknown department " + Quote(id);
    if (id != cfg.routing(i).department()) msg += " (for district " + std::string(district) + ")";
    return Bad(at, msg);
  }
  if (!ListHas(it->second->districts(), district))
    return Bad(at, Quote(id) + " does not serve district " + std::string(district));
  if (!ListHas(it->second->categories(), category))
    return Bad(at, Quote(id) + " does not handle category " + std::string(category));
  return Status::Ok();
}

Status CheckRouting(const v1::DispatchConfig& cfg, const Index& index) {
  if (cfg.routing().empty()) return Bad("dispatch.routing", "no route");
  std::map<std::pair<std::string, std::string>, int> seen;
  for (int i = 0; i < cfg.routing_size(); ++i) {
    const v1::Route& r = cfg.routing(i);
    const std::string at = Elem("dispatch.routing", "", i);
    if (r.category() != kWildcard && !index.categories.count(r.category()))
      return Bad(at + ".category", "unknown category " + Quote(r.category()));
    if (r.district() != kWildcard && !index.districts.count(r.district()))
      return Bad(at + ".district", "unknown district " + Quote(r.district()));
    if (r.department().empty()) return Bad(at + ".department", "required");
    if (auto [it, fresh] = seen.emplace(std::make_pair(r.category(), r.district()), i); !fresh)
      return Bad(at, "duplicate of routing[" + std::to_string(it->second) +
                         "] (same category and district)");
    // A route for one district must name an existing department at once; wildcard routes are
    // checked for every district they win below.
    if (r.district() != kWildcard) {
      const std::string id = ReplaceDistrict(r.department(), r.district());
      if (!index.departments.count(id))
        return Bad(at + ".department", "unknown department " + Quote(id));
    } else if (r.department().find(kDistrictPlaceholder) == std::string::npos &&
               !index.departments.count(r.department())) {
      return Bad(at + ".department", "unknown department " + Quote(r.department()));
    }
  }
  // Coverage: every (category, district) resolves to a department that may take it.
  for (const v1::Category& c : cfg.categories()) {
    for (const v1::District& d : cfg.districts()) {
      const int best = BestRoute(cfg, c.code(), d.code());
      if (best < 0)
        return Bad("dispatch.routing", "no route for category " + c.code() + " in district " +
                                           d.code() + " (add a row for it or a \"*\" wildcard)");
      if (Status s = CheckRouteTarget(cfg, index, best, c.code(), d.code()); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

Status CheckSensorKinds(const v1::DispatchConfig& cfg, const Index& index) {
  std::set<int> kinds;
  for (int i = 0; i < cfg.sensor_kinds_size(); ++i) {
    const v1::SensorKindConfig& k = cfg.sensor_kinds(i);
    const bool known = k.kind() != v1::SENSOR_KIND_UNSPECIFIED && v1::SensorKind_IsValid(k.kind());
    const std::string at =
        Elem("dispatch.sensorKinds", known ? v1::SensorKind_Name(k.kind()) : "", i);
    if (!known) return Bad(at + ".kind", "required");
    if (!kinds.insert(k.kind()).second) return Bad(at, "duplicate sensor kind");
    if (k.kind() != v1::SENSOR_KIND_DEVICE_HEALTH && k.default_category().empty())
      return Bad(at + ".defaultCategory", "required");
    if (!k.default_category().empty() && !index.categories.count(k.default_category()))
      return Bad(at + ".defaultCategory", "unknown category " + Quote(k.default_category()));
    if (k.reporting_interval_seconds() == 0 || k.reporting_interval_seconds() > kMaxIntervalSeconds)
      return Bad(at + ".reportingIntervalSeconds", "want 1..604800");
    if (k.baseline_samples() > kMaxBaselineSamples)
      return Bad(at + ".baselineSamples", "want 0..1000 (0: 3)");
  }
  return Status::Ok();
}

Status CheckCondition(const std::string& at, const v1::AlarmCondition& c, v1::SensorKind kind) {
  const store::SensorMetric* metric = store::FindSensorMetric(c.metric(), kind);
  if (!metric)
    return Bad(at + ".metric", "unknown metric " + Quote(c.metric()) + " for " +
                                   std::string(store::SensorKindJsonName(kind)));
  if (c.comparator() == v1::COMPARATOR_UNSPECIFIED || !v1::Comparator_IsValid(c.comparator()))
    return Bad(at + ".comparator", "required");
  if (metric->boolean != (c.comparator() == v1::COMPARATOR_IS_TRUE))
    return Bad(at + ".comparator", metric->boolean ? "a boolean metric wants COMPARATOR_IS_TRUE"
                                                   : "COMPARATOR_IS_TRUE is for boolean metrics");
  if (!std::isfinite(c.threshold())) return Bad(at + ".threshold", "not a finite number");
  if (!std::isfinite(c.hysteresis()) || c.hysteresis() < 0)
    return Bad(at + ".hysteresis", "want a finite number >= 0");
  if (c.duration_seconds() > kMaxConditionSeconds)
    return Bad(at + ".durationSeconds", "want 0..86400");
  if (c.urgency() == v1::URGENCY_UNSPECIFIED || !v1::Urgency_IsValid(c.urgency()))
    return Bad(at + ".urgency", "required");
  if (c.from_baseline() && metric->boolean)
    return Bad(at + ".fromBaseline", "not for a boolean metric");
  return Status::Ok();
}

Status CheckAlarmRules(const v1::DispatchConfig& cfg, const Index& index) {
  std::set<std::string, std::less<>> types;
  std::set<int> kinds_with_default;
  for (const v1::SensorKindConfig& k : cfg.sensor_kinds())
    if (!k.default_category().empty()) kinds_with_default.insert(k.kind());
  for (int i = 0; i < cfg.alarm_rules_size(); ++i) {
    const v1::AlarmRule& r = cfg.alarm_rules(i);
    const std::string at = Elem("dispatch.alarmRules", r.alarm_type(), i);
    if (!IsAlarmType(r.alarm_type()))
      return Bad(at + ".alarmType",
                 "bad alarm type " + Quote(r.alarm_type()) + " (want 1..32 of [a-z0-9_])");
    if (!types.insert(r.alarm_type()).second) return Bad(at, "duplicate alarm type");
    if (!cfg.offline().disabled() && r.alarm_type() == cfg.offline().alarm_type())
      return Bad(at + ".alarmType", "taken by dispatch.offline.alarmType");
    if (r.name_zh().empty() || r.name_zh().size() > kMaxNameBytes)
      return Bad(at + ".nameZh", "required, at most 256 bytes");
    if (r.sensor() == v1::SENSOR_KIND_UNSPECIFIED || !v1::SensorKind_IsValid(r.sensor()))
      return Bad(at + ".sensor", "required");
    if (r.conditions().empty() || r.conditions_size() > kMaxConditions)
      return Bad(at + ".conditions", "want 1..16 conditions");
    std::set<std::string> keys;
    for (int j = 0; j < r.conditions_size(); ++j) {
      const std::string cat = Elem(at + ".conditions", "", j);
      if (Status s = CheckCondition(cat, r.conditions(j), r.sensor()); !s.ok()) return s;
      if (!keys.insert(ConditionKey(r.conditions(j))).second)
        return Bad(cat, "duplicate condition " + Quote(ConditionKey(r.conditions(j))));
    }
    if (r.clear_seconds() > kMaxConditionSeconds) return Bad(at + ".clearSeconds", "want 0..86400");
    if (r.repeat_seconds() > kMaxRepeatSeconds) return Bad(at + ".repeatSeconds", "want 0..604800");
    if (!r.category().empty()) {
      if (!index.categories.count(r.category()))
        return Bad(at + ".category", "unknown category " + Quote(r.category()));
    } else if (r.sensor() == v1::SENSOR_KIND_DEVICE_HEALTH) {
      return Bad(at + ".category", "required for deviceHealth rules");
    } else if (!kinds_with_default.count(r.sensor())) {
      return Bad(at + ".category",
                 "required: no dispatch.sensorKinds entry with a defaultCategory for " +
                     v1::SensorKind_Name(r.sensor()));
    }
  }
  return Status::Ok();
}

Status CheckOffline(const v1::DispatchConfig& cfg, const Index& index) {
  const v1::OfflineConfig& o = cfg.offline();
  if (o.disabled()) return Status::Ok();
  if (!IsAlarmType(o.alarm_type()))
    return Bad("dispatch.offline.alarmType",
               "bad alarm type " + Quote(o.alarm_type()) + " (want 1..32 of [a-z0-9_])");
  if (!index.categories.count(o.category()))
    return Bad("dispatch.offline.category", "unknown category " + Quote(o.category()));
  if (o.urgency() == v1::URGENCY_UNSPECIFIED || !v1::Urgency_IsValid(o.urgency()))
    return Bad("dispatch.offline.urgency", "required");
  if (o.silent_intervals() > kMaxSilentIntervals)
    return Bad("dispatch.offline.silentIntervals", "want 0..1000 (0: 3)");
  return Status::Ok();
}

Status CheckDevices(const v1::DispatchConfig& cfg, const Index& index) {
  std::set<std::string> ids, prefixes;
  for (int i = 0; i < cfg.devices_size(); ++i) {
    const v1::DeviceBinding& b = cfg.devices(i);
    const std::string at =
        Elem("dispatch.devices", b.device_id().empty() ? b.device_prefix() : b.device_id(), i);
    if (b.device_id().empty() == b.device_prefix().empty())
      return Bad(at, "set exactly one of deviceId and devicePrefix");
    if (!b.device_id().empty() && !ids.insert(b.device_id()).second)
      return Bad(at, "duplicate deviceId");
    if (!b.device_prefix().empty() && !prefixes.insert(b.device_prefix()).second)
      return Bad(at, "duplicate devicePrefix");
    if (!b.category().empty() && !index.categories.count(b.category()))
      return Bad(at + ".category", "unknown category " + Quote(b.category()));
    if (!b.district().empty() && !index.districts.count(b.district()))
      return Bad(at + ".district", "unknown district " + Quote(b.district()));
    if (!b.asset_id().empty()) {
      if (b.device_id().empty()) return Bad(at + ".assetId", "only for a deviceId binding");
      if (b.asset_id().size() != 16 || !AllDigits(b.asset_id()))
        return Bad(at + ".assetId", "want the 16-digit object code");
    }
    if (b.reporting_interval_seconds() > kMaxIntervalSeconds)
      return Bad(at + ".reportingIntervalSeconds", "want 0..604800 (0: the sensor kind's)");
    // std::map order: messages name the same key on every run.
    const std::map<std::string, double> baselines(b.baselines().begin(), b.baselines().end());
    for (const auto& [metric, value] : baselines) {
      // A named reference, not the binding: clang 14 (make fuzz) cannot capture a binding.
      const std::string& name = metric;
      const bool known = std::any_of(std::begin(kReadingKinds), std::end(kReadingKinds),
                                     [&](v1::SensorKind k) { return store::FindSensorMetric(name, k); });
      if (!known) return Bad(at + ".baselines", "unknown metric " + Quote(metric));
      if (!std::isfinite(value))
        return Bad(at + ".baselines[" + metric + "]", "not a finite number");
    }
  }
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loading and merging

const v1::DispatchConfig& DefaultDispatchConfig() {
  // Never destroyed: other statics may use it during shutdown.
  static const v1::DispatchConfig* const config = [] {
    auto* c = new v1::DispatchConfig;
    Status s = LoadDispatchConfig(DefaultDispatchConfigJson(), c);
    assert(s.ok() && "dispatcher/default_config.json does not parse");
    (void)s;
    return c;
  }();
  return *config;
}

Status LoadDispatchConfig(std::string_view json, v1::DispatchConfig* out) {
  out->Clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto st = google::protobuf::util::JsonStringToMessage(std::string(json), out, options);
  if (!st.ok()) return Status::InvalidArgument("dispatch: " + std::string(st.message()));
  return Status::Ok();
}

void MergeDispatchConfig(const v1::DispatchConfig& user, v1::DispatchConfig* base) {
  // Reflection keeps the rule true for fields added later: whatever `user` sets wins whole.
  const google::protobuf::Reflection* refl = user.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> set_fields;
  refl->ListFields(user, &set_fields);  // repeated: non-empty; singular: present or non-zero
  v1::DispatchConfig copy = user;
  refl->SwapFields(base, &copy, set_fields);
}

Status ValidateDispatchConfig(const v1::DispatchConfig& cfg) {
  Index index;
  if (Status s = CheckDistricts(cfg, &index); !s.ok()) return s;
  if (Status s = CheckCategories(cfg, &index); !s.ok()) return s;
  if (Status s = CheckFallbackLimits(cfg); !s.ok()) return s;
  if (Status s = CheckDepartments(cfg, &index); !s.ok()) return s;
  if (Status s = CheckRouting(cfg, index); !s.ok()) return s;
  if (Status s = CheckSensorKinds(cfg, index); !s.ok()) return s;
  if (Status s = CheckAlarmRules(cfg, index); !s.ok()) return s;
  if (Status s = CheckOffline(cfg, index); !s.ok()) return s;
  if (Status s = CheckDevices(cfg, index); !s.ok()) return s;
  if (cfg.alarm_options().max_future_skew_seconds() > kMaxFutureSkewSeconds)
    return Bad("dispatch.alarmOptions.maxFutureSkewSeconds", "want 0..86400 (0: 300)");
  // The calendar and the SLA policy, exactly as start-up builds them.
  SlaPolicy policy = SlaPolicy::Default();
  return SlaPolicyFromConfig(cfg, &policy);
}

Status ResolveDispatchConfig(const v1::ServerConfig& server, v1::DispatchConfig* out) {
  *out = DefaultDispatchConfig();
  MergeDispatchConfig(server.dispatch(), out);
  return ValidateDispatchConfig(*out);
}

const v1::Category* FindCategory(const v1::DispatchConfig& cfg, std::string_view code) {
  for (const v1::Category& c : cfg.categories())
    if (c.code() == code) return &c;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// SLA

Status CalendarSpecFromConfig(const v1::CalendarConfig& calendar, WorkCalendarSpec* out) {
  WorkCalendarSpec spec;
  if (calendar.has_utc_offset_minutes()) {
    if (std::abs(calendar.utc_offset_minutes()) > kMaxUtcOffsetMinutes)
      return Bad("dispatch.calendar.utcOffsetMinutes", "want -840..840 (UTC-14 h..UTC+14 h)");
    spec.utc_offset = std::chrono::minutes(calendar.utc_offset_minutes());
  }
  if (!calendar.hours().empty()) {
    spec.hours.clear();
    for (int i = 0; i < calendar.hours_size(); ++i) {
      const std::string& text = calendar.hours(i);
      const size_t dash = text.find('-');
      const int start = dash == std::string::npos ? -1 : ParseClock(text.substr(0, dash));
      const int end = dash == std::string::npos ? -1 : ParseClock(text.substr(dash + 1));
      if (start < 0 || end < 0)
        return Bad(Elem("dispatch.calendar.hours", "", i),
                   "bad interval " + Quote(text) + " (want HH:MM-HH:MM)");
      spec.hours.push_back({start, end});
    }
  }
  if (!calendar.working_weekdays().empty()) {
    spec.working_weekdays.fill(false);
    for (int i = 0; i < calendar.working_weekdays_size(); ++i) {
      const std::string& name = calendar.working_weekdays(i);
      auto it = std::find(std::begin(kWeekdayNames), std::end(kWeekdayNames), name);
      if (it == std::end(kWeekdayNames))
        return Bad(Elem("dispatch.calendar.workingWeekdays", "", i),
                   "bad weekday " + Quote(name) + " (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)");
      spec.working_weekdays[static_cast<size_t>(it - std::begin(kWeekdayNames))] = true;
    }
  }
  auto dates = [](const std::string& path,
                  const google::protobuf::RepeatedPtrField<std::string>& in,
                  std::vector<std::chrono::year_month_day>* dates_out) {
    for (int i = 0; i < in.size(); ++i) {
      std::optional<std::chrono::year_month_day> d = ParseDate(in[i]);
      if (!d) return Bad(Elem(path, "", i), "bad date " + Quote(in[i]) + " (want YYYY-MM-DD)");
      dates_out->push_back(*d);
    }
    return Status::Ok();
  };
  if (Status s = dates("dispatch.calendar.holidays", calendar.holidays(), &spec.holidays); !s.ok())
    return s;
  if (Status s = dates("dispatch.calendar.makeupWorkdays", calendar.makeup_workdays(),
                       &spec.makeup_workdays);
      !s.ok())
    return s;
  for (size_t i = 0; i < spec.makeup_workdays.size(); ++i) {
    if (std::find(spec.holidays.begin(), spec.holidays.end(), spec.makeup_workdays[i]) !=
        spec.holidays.end())
      return Bad(Elem("dispatch.calendar.makeupWorkdays", "", static_cast<int>(i)),
                 Quote(calendar.makeup_workdays(static_cast<int>(i))) + " is also a holiday");
  }
  *out = std::move(spec);
  return Status::Ok();
}

Status SlaPolicyFromConfig(const v1::DispatchConfig& cfg, SlaPolicy* out) {
  std::vector<SlaRule> rules;
  for (int i = 0; i < cfg.categories_size(); ++i) {
    const v1::Category& c = cfg.categories(i);
    const std::string at = Elem("dispatch.categories", c.code(), i) + ".limits";
    for (int j = 0; j < c.limits_size(); ++j) {
      SlaRule rule{c.code(), c.limits(j).urgency(), {}};
      if (Status s = ParseStageLimits(Elem(at, "", j), c.limits(j), &rule.limits); !s.ok())
        return s;
      rules.push_back(std::move(rule));
    }
  }
  for (int j = 0; j < cfg.fallback_limits_size(); ++j) {
    SlaRule rule{std::string(kWildcard), cfg.fallback_limits(j).urgency(), {}};
    if (Status s = ParseStageLimits(Elem("dispatch.fallbackLimits", "", j), cfg.fallback_limits(j),
                                    &rule.limits);
        !s.ok())
      return s;
    rules.push_back(std::move(rule));
  }
  WorkCalendarSpec spec;
  if (Status s = CalendarSpecFromConfig(cfg.calendar(), &spec); !s.ok()) return s;
  WorkCalendar calendar;
  if (Status s = WorkCalendar::Create(spec, &calendar); !s.ok())
    return Status::InvalidArgument("dispatch." + s.message());
  if (Status s = SlaPolicy::Create(std::move(rules), std::move(calendar), out); !s.ok())
    return Status::InvalidArgument("dispatch: " + s.message());
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Routing

Status RouteFor(const v1::DispatchConfig& cfg, std::string_view category, std::string_view district,
                std::string* department) {
  const int best = BestRoute(cfg, category, district);
  if (best < 0)
    return Status::NotFound("no route for category " + std::string(category) + " in district " +
                            std::string(district));
  *department = ReplaceDistrict(cfg.routing(best).department(), district);
  return Status::Ok();
}

}  // namespace yiwang::dispatcher
