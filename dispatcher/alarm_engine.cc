#include "dispatcher/alarm_engine.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "dispatcher/dispatch_config.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;
using std::chrono::duration_cast;
using std::chrono::seconds;

namespace {

constexpr uint32_t kDefaultBaselineSamples = 3;
constexpr uint32_t kDefaultSilentIntervals = 3;
constexpr std::chrono::hours kDefaultMinReporting{1};
constexpr seconds kDefaultMaxFutureSkew{300};
constexpr size_t kObjectCodeDigits = 16;  // 6 county + 2 大类 + 2 小类 + 6 serial
constexpr size_t kDistrictDigits = 6;

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The parts of a device id between the separators - _ . : (the id charset's punctuation).
std::vector<std::string_view> Segments(std::string_view id) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= id.size(); ++i) {
    if (i == id.size() || id[i] == '-' || id[i] == '_' || id[i] == '.' || id[i] == ':') {
      if (i > start) out.push_back(id.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

v1::ReadingSide SideOf(const v1::AlarmCondition& c, double v) {
  const double th = c.threshold();
  const double h = c.hysteresis();
  switch (c.comparator()) {
    case v1::COMPARATOR_GE:
      return v >= th ? v1::READING_SIDE_OVER
                     : (v < th - h ? v1::READING_SIDE_NORMAL : v1::READING_SIDE_BAND);
    case v1::COMPARATOR_GT:
      return v > th ? v1::READING_SIDE_OVER
                    : (v <= th - h ? v1::READING_SIDE_NORMAL : v1::READING_SIDE_BAND);
    case v1::COMPARATOR_LE:
      return v <= th ? v1::READING_SIDE_OVER
                     : (v > th + h ? v1::READING_SIDE_NORMAL : v1::READING_SIDE_BAND);
    case v1::COMPARATOR_LT:
      return v < th ? v1::READING_SIDE_OVER
                    : (v >= th + h ? v1::READING_SIDE_NORMAL : v1::READING_SIDE_BAND);
    case v1::COMPARATOR_IS_TRUE:
      return v != 0 ? v1::READING_SIDE_OVER : v1::READING_SIDE_NORMAL;
    default:
      break;
  }
  assert(false && "validated configs have a comparator");
  return v1::READING_SIDE_NORMAL;
}

const char* OpText(v1::Comparator c) {
  switch (c) {
    case v1::COMPARATOR_GE:
      return ">=";
    case v1::COMPARATOR_GT:
      return ">";
    case v1::COMPARATOR_LE:
      return "<=";
    case v1::COMPARATOR_LT:
      return "<";
    default:
      return "";
  }
}

std::string Seconds(Duration d) { return std::to_string(duration_cast<seconds>(d).count()) + " s"; }

std::string WithUnit(double v, std::string_view unit) {
  std::string out = FormatNumber(v);
  if (!unit.empty()) out += " " + std::string(unit);
  return out;
}

// A reading as a condition sees it.
struct Reading {
  double value = 0;  // what is compared: the reading, or its distance from the baseline
  double raw = 0;    // the reading
  std::optional<double> baseline;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// AlarmRules

Status AlarmRules::Create(const v1::DispatchConfig& cfg, AlarmRules* out) {
  if (Status s = ValidateDispatchConfig(cfg); !s.ok()) return s;
  AlarmRules r;
  for (const v1::District& d : cfg.districts()) r.districts_.push_back(d.code());
  std::sort(r.districts_.begin(), r.districts_.end());
  for (const v1::Category& c : cfg.categories())
    if (c.sensor() != v1::SENSOR_KIND_UNSPECIFIED) r.category_sensor_[c.code()] = c.sensor();
  for (const v1::SensorKindConfig& k : cfg.sensor_kinds()) {
    Kind& kind = r.kinds_[k.kind()];
    kind.default_category = k.default_category();
    kind.reporting_interval = seconds(k.reporting_interval_seconds());
    kind.baseline_samples = k.baseline_samples() ? k.baseline_samples() : kDefaultBaselineSamples;
  }
  for (const v1::AlarmRule& spec : cfg.alarm_rules()) {
    if (spec.disabled()) continue;
    Rule rule;
    rule.alarm_type = spec.alarm_type();
    rule.category = spec.category();
    rule.sensor = spec.sensor();
    rule.clear = seconds(spec.clear_seconds());
    rule.repeat = seconds(spec.repeat_seconds());
    Kind& kind = r.kinds_[spec.sensor()];
    for (const v1::AlarmCondition& c : spec.conditions()) {
      const store::SensorMetric* metric = store::FindSensorMetric(c.metric(), spec.sensor());
      rule.conditions.push_back({c, metric, ConditionKey(c)});
      if (c.from_baseline() && std::find(kind.baseline_metrics.begin(), kind.baseline_metrics.end(),
                                         metric) == kind.baseline_metrics.end())
        kind.baseline_metrics.push_back(metric);
    }
    kind.rules.push_back(r.rules_.size());
    r.rules_.push_back(std::move(rule));
  }
  for (const v1::DeviceBinding& b : cfg.devices()) {
    if (!b.device_id().empty())
      r.exact_[b.device_id()] = b;
    else
      r.prefixes_.push_back(b);
  }
  std::stable_sort(r.prefixes_.begin(), r.prefixes_.end(),
                   [](const v1::DeviceBinding& a, const v1::DeviceBinding& b) {
                     return a.device_prefix().size() > b.device_prefix().size();
                   });
  const v1::OfflineConfig& off = cfg.offline();
  r.offline_enabled_ = !off.disabled();
  r.offline_type_ = off.alarm_type();
  r.offline_category_ = off.category();
  r.offline_urgency_ = off.urgency();
  r.silent_intervals_ = off.silent_intervals() ? off.silent_intervals() : kDefaultSilentIntervals;
  r.min_reporting_ = off.has_min_reporting_seconds()
                         ? Duration(seconds(off.min_reporting_seconds()))
                         : Duration(kDefaultMinReporting);
  const uint32_t skew = cfg.alarm_options().max_future_skew_seconds();
  r.max_future_skew_ = skew ? Duration(seconds(skew)) : Duration(kDefaultMaxFutureSkew);
  *out = std::move(r);
  return Status::Ok();
}

const v1::DeviceBinding* AlarmRules::BindingFor(std::string_view device_id) const {
  if (!exact_.empty()) {
    auto it = exact_.find(std::string(device_id));
    if (it != exact_.end()) return &it->second;
  }
  for (const v1::DeviceBinding& b : prefixes_)
    if (device_id.substr(0, b.device_prefix().size()) == b.device_prefix()) return &b;
  return nullptr;
}

AssetFacts AlarmRules::FactsFor(std::string_view device_id, v1::SensorKind kind) const {
  return FactsFor(device_id, kind, BindingFor(device_id));
}

AssetFacts AlarmRules::FactsFor(std::string_view device_id, v1::SensorKind kind,
                                const v1::DeviceBinding* binding) const {
  const std::vector<std::string_view> segments = Segments(device_id);
  // The asset's 16-digit 部件 object code: the binding's, else one in the device id.
  std::string_view object_code;
  if (binding && !binding->asset_id().empty()) {
    object_code = binding->asset_id();
  } else {
    for (std::string_view s : segments) {
      if (s.size() == kObjectCodeDigits && AllDigits(s)) {
        object_code = s;
        break;
      }
    }
  }
  auto known_district = [&](std::string_view code) {
    return code.size() == kDistrictDigits && AllDigits(code) &&
           std::binary_search(districts_.begin(), districts_.end(), code);
  };

  AssetFacts facts;
  if (binding && !binding->category().empty()) {
    facts.category = binding->category();
  } else if (!object_code.empty()) {
    // The object code's 小类 (大类 + 小类 digits), if this kind of sensor raises that category.
    const std::string code(object_code.substr(kDistrictDigits, 4));
    auto it = category_sensor_.find(code);
    if (it != category_sensor_.end() && it->second == kind) facts.category = code;
  }
  if (facts.category.empty() && kind > v1::SENSOR_KIND_UNSPECIFIED &&
      static_cast<size_t>(kind) < kinds_.size())
    facts.category = kinds_[kind].default_category;

  facts.asset_id = std::string(object_code.empty() ? device_id : object_code);

  if (binding && !binding->district().empty()) {
    facts.district = binding->district();
  } else if (!object_code.empty() && known_district(object_code.substr(0, kDistrictDigits))) {
    facts.district = std::string(object_code.substr(0, kDistrictDigits));
  } else {
    for (std::string_view s : segments) {
      if (known_district(s)) {
        facts.district = std::string(s);
        break;
      }
    }
  }
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

class AlarmEvaluator {
 public:
  static AlarmDecision Evaluate(const v1::AlarmState& prev, const v1::SensorEvent& ev,
                                Timestamp received_at, const AlarmRules& rules);
  static std::optional<Timestamp> OfflineAt(const v1::AlarmState& state, const AlarmRules& rules);
  static AlarmDecision CheckOffline(const v1::AlarmState& state, Timestamp now,
                                    const AlarmRules& rules);

 private:
  // One event being judged.
  struct Judging {
    const AlarmRules& rules;
    const v1::SensorEvent& ev;
    Timestamp t;  // event time
    const v1::DeviceBinding* binding;
    v1::AlarmState* st;
    std::vector<v1::AlarmSignal>* signals;
    std::optional<AssetFacts> facts;  // computed on the first signal (see FactsOf)
  };

  static const AssetFacts& FactsOf(Judging* j);

  static void UpdateBaselines(const AlarmRules::Kind& kind, const v1::SensorEvent& ev,
                              const v1::DeviceBinding* binding, v1::AlarmState* st);
  static std::optional<Reading> Read(const AlarmRules::Condition& c, const v1::SensorEvent& ev,
                                     const v1::AlarmState& st, const v1::DeviceBinding* binding);
  static void JudgeRule(const AlarmRules::Rule& rule, Judging* j);
  static v1::RuleState* RuleStateFor(const AlarmRules::Rule& rule, v1::AlarmState* st);
  static std::string FiringSummary(const AlarmRules::Condition& c, const Reading& r, Duration held);
  static v1::AlarmSignal Signal(v1::AlarmSignalKind kind, const v1::RuleState& rs,
                                const AssetFacts& facts, const v1::AlarmState& st, Timestamp at,
                                std::string summary);
  static std::string NewAlarmId(const std::string& alarm_type, v1::AlarmState* st);
};

const AssetFacts& AlarmEvaluator::FactsOf(Judging* j) {
  if (!j->facts) j->facts = j->rules.FactsFor(j->st->device_id(), j->st->sensor(), j->binding);
  return *j->facts;
}

void AlarmEvaluator::UpdateBaselines(const AlarmRules::Kind& kind, const v1::SensorEvent& ev,
                                     const v1::DeviceBinding* binding, v1::AlarmState* st) {
  for (const store::SensorMetric* m : kind.baseline_metrics) {
    const std::string name(m->name);
    if (binding && binding->baselines().count(name)) continue;  // configured: nothing to learn
    v1::BaselineState* b = nullptr;
    for (v1::BaselineState& s : *st->mutable_baselines())
      if (s.metric() == name) b = &s;
    if (!b) {
      b = st->add_baselines();
      b->set_metric(name);
    }
    if (b->has_value()) continue;
    const std::optional<double> v = m->read(ev);
    if (!v || !std::isfinite(*v)) continue;
    b->set_samples(b->samples() + 1);
    b->set_sum(b->sum() + *v);
    if (b->samples() >= kind.baseline_samples) b->set_value(b->sum() / b->samples());
  }
}

std::optional<Reading> AlarmEvaluator::Read(const AlarmRules::Condition& c,
                                            const v1::SensorEvent& ev, const v1::AlarmState& st,
                                            const v1::DeviceBinding* binding) {
  const std::optional<double> raw = c.metric->read(ev);
  if (!raw || !std::isfinite(*raw)) return std::nullopt;
  if (!c.spec.from_baseline()) return Reading{*raw, *raw, std::nullopt};
  std::optional<double> baseline;
  const std::string name(c.metric->name);
  if (binding) {
    auto it = binding->baselines().find(name);
    if (it != binding->baselines().end()) baseline = it->second;
  }
  if (!baseline) {
    for (const v1::BaselineState& b : st.baselines())
      if (b.metric() == name && b.has_value()) baseline = b.value();
  }
  if (!baseline) return std::nullopt;  // still learning
  return Reading{std::abs(*raw - *baseline), *raw, baseline};
}

v1::RuleState* AlarmEvaluator::RuleStateFor(const AlarmRules::Rule& rule, v1::AlarmState* st) {
  v1::RuleState* rs = nullptr;
  for (v1::RuleState& s : *st->mutable_rules())
    if (s.alarm_type() == rule.alarm_type) rs = &s;
  if (!rs) {
    rs = st->add_rules();
    rs->set_alarm_type(rule.alarm_type);
  }
  // Condition states follow the rule's conditions by key: a configuration that reorders,
  // adds or drops conditions keeps the state of those that remain.
  bool same = rs->conditions_size() == static_cast<int>(rule.conditions.size());
  for (size_t i = 0; same && i < rule.conditions.size(); ++i)
    same = rs->conditions(static_cast<int>(i)).key() == rule.conditions[i].key;
  if (!same) {
    google::protobuf::RepeatedPtrField<v1::ConditionState> synced;
    for (const AlarmRules::Condition& c : rule.conditions) {
      v1::ConditionState* cs = synced.Add();
      cs->set_key(c.key);
      for (const v1::ConditionState& old : rs->conditions())
        if (old.key() == c.key) *cs = old;
    }
    rs->mutable_conditions()->Swap(&synced);
  }
  return rs;
}

std::string AlarmEvaluator::NewAlarmId(const std::string& alarm_type, v1::AlarmState* st) {
  st->set_alarm_seq(st->alarm_seq() + 1);
  return st->device_id() + "/" + alarm_type + "/" + std::to_string(st->alarm_seq());
}

std::string AlarmEvaluator::FiringSummary(const AlarmRules::Condition& c, const Reading& r,
                                          Duration held) {
  const store::SensorMetric& m = *c.metric;
  std::string out(m.label);
  if (!m.boolean) {
    out += " " + WithUnit(r.raw, m.unit);
    if (r.baseline) {
      out += ", " + WithUnit(r.value, m.unit) + " from baseline " + FormatNumber(*r.baseline);
    }
    out += std::string(" ") + OpText(c.spec.comparator()) + " " + FormatNumber(c.spec.threshold());
  }
  if (c.spec.duration_seconds() > 0) out += " for " + Seconds(held);
  return out;
}

v1::AlarmSignal AlarmEvaluator::Signal(v1::AlarmSignalKind kind, const v1::RuleState& rs,
                                       const AssetFacts& facts, const v1::AlarmState& st,
                                       Timestamp at, std::string summary) {
  v1::AlarmSignal s;
  s.set_kind(kind);
  s.set_alarm_id(rs.alarm_id());
  s.set_device_id(st.device_id());
  s.set_alarm_type(rs.alarm_type());
  s.set_category(rs.category());
  s.set_asset_id(facts.asset_id);
  s.set_district(facts.district);
  s.set_urgency(rs.level());
  s.set_count(rs.count());
  *s.mutable_at() = ToProto(at);
  *s.mutable_raised_at() = rs.raised_at();
  if (st.has_location()) *s.mutable_location() = st.location();
  s.set_summary(std::move(summary));
  return s;
}

void AlarmEvaluator::JudgeRule(const AlarmRules::Rule& rule, Judging* j) {
  v1::RuleState* rs = RuleStateFor(rule, j->st);
  const Timestamp t = j->t;

  // Update every condition from the reading, and find the highest-urgency one that fires.
  int fire = -1;
  Reading fire_reading;
  Duration fire_held{0};
  bool all_normal = true;
  for (size_t i = 0; i < rule.conditions.size(); ++i) {
    const AlarmRules::Condition& c = rule.conditions[i];
    v1::ConditionState* cs = rs->mutable_conditions(static_cast<int>(i));
    const std::optional<Reading> r = Read(c, j->ev, *j->st, j->binding);
    if (r) {
      cs->set_side(SideOf(c.spec, r->value));
      if (cs->side() == v1::READING_SIDE_OVER && !cs->has_pending_since())
        *cs->mutable_pending_since() = ToProto(t);
      if (cs->side() == v1::READING_SIDE_NORMAL) cs->clear_pending_since();
    }
    if (cs->side() == v1::READING_SIDE_OVER || cs->side() == v1::READING_SIDE_BAND)
      all_normal = false;
    if (!r || cs->side() != v1::READING_SIDE_OVER) continue;
    const Duration held = t - FromProto(cs->pending_since());
    if (held < seconds(c.spec.duration_seconds())) continue;
    if (fire < 0 || c.spec.urgency() > rule.conditions[static_cast<size_t>(fire)].spec.urgency()) {
      fire = static_cast<int>(i);
      fire_reading = *r;
      fire_held = held;
    }
  }
  const AlarmRules::Condition* firing =
      fire >= 0 ? &rule.conditions[static_cast<size_t>(fire)] : nullptr;

  auto emit = [&](v1::AlarmSignalKind kind, std::string summary) {
    v1::AlarmSignal s = Signal(kind, *rs, FactsOf(j), *j->st, t, std::move(summary));
    if (firing) {
      s.set_metric(firing->spec.metric());
      s.set_value(fire_reading.value);
      s.set_threshold(firing->spec.threshold());
    }
    j->signals->push_back(std::move(s));
  };

  if (rs->alarm_id().empty()) {
    if (!firing) return;
    rs->set_alarm_id(NewAlarmId(rule.alarm_type, j->st));
    rs->set_level(firing->spec.urgency());
    rs->set_count(1);
    *rs->mutable_raised_at() = ToProto(t);
    *rs->mutable_last_signal_at() = ToProto(t);
    rs->clear_normal_since();
    rs->set_category(rule.category.empty() ? FactsOf(j).category : rule.category);
    emit(v1::ALARM_SIGNAL_KIND_RAISE, FiringSummary(*firing, fire_reading, fire_held));
    return;
  }

  if (all_normal) {
    if (!rs->has_normal_since()) *rs->mutable_normal_since() = ToProto(t);
    const Duration normal = t - FromProto(rs->normal_since());
    if (normal < rule.clear) return;
    emit(v1::ALARM_SIGNAL_KIND_CLEAR, "back to normal for " + Seconds(normal));
    const std::string type = rs->alarm_type();
    google::protobuf::RepeatedPtrField<v1::ConditionState> conditions;
    conditions.Swap(rs->mutable_conditions());
    rs->Clear();  // the alarm is over; the conditions' readings stay
    rs->set_alarm_type(type);
    rs->mutable_conditions()->Swap(&conditions);
    return;
  }

  rs->clear_normal_since();
  if (!firing) return;
  const bool level_up = firing->spec.urgency() > rs->level();
  const bool repeat =
      rule.repeat > Duration::zero() && t - FromProto(rs->last_signal_at()) >= rule.repeat;
  if (!level_up && !repeat) return;
  if (level_up) rs->set_level(firing->spec.urgency());
  rs->set_count(rs->count() + 1);
  *rs->mutable_last_signal_at() = ToProto(t);
  emit(v1::ALARM_SIGNAL_KIND_UPDATE, FiringSummary(*firing, fire_reading, fire_held));
}

AlarmDecision AlarmEvaluator::Evaluate(const v1::AlarmState& prev, const v1::SensorEvent& ev,
                                       Timestamp received_at, const AlarmRules& rules) {
  assert((prev.device_id().empty() || prev.device_id() == ev.device_id()) &&
         "Evaluate: state of another device");
  AlarmDecision d;
  d.next = prev;
  v1::AlarmState& st = d.next;
  if (st.device_id().empty()) st.set_device_id(ev.device_id());

  // Any event proves the device alive (server time), judged or not.
  if (!st.has_last_received_at() || received_at > FromProto(st.last_received_at()))
    *st.mutable_last_received_at() = ToProto(received_at);
  // A new device; or a state stored before first_received_at existed, which counts from now.
  if (!st.has_first_received_at())
    *st.mutable_first_received_at() = st.last_received_at();
  else if (received_at < FromProto(st.first_received_at()))
    *st.mutable_first_received_at() = ToProto(received_at);
  const v1::DeviceBinding* binding = rules.BindingFor(st.device_id());
  if (!st.offline().alarm_id().empty()) {
    const AssetFacts facts = rules.FactsFor(st.device_id(), st.sensor(), binding);
    d.signals.push_back(Signal(v1::ALARM_SIGNAL_KIND_CLEAR, st.offline(), facts, st, received_at,
                               "reporting again"));
    st.clear_offline();
  }

  const v1::SensorKind kind = store::SensorKindOf(ev);
  if (kind == v1::SENSOR_KIND_UNSPECIFIED) {
    d.use = EventUse::kNoPayload;
    return d;
  }
  const Timestamp t = FromProto(ev.observed_at());
  if (t > received_at + rules.max_future_skew_) {
    d.use = EventUse::kFutureSkew;
    return d;
  }
  const bool health = kind == v1::SENSOR_KIND_DEVICE_HEALTH;
  google::protobuf::Timestamp* last =
      health ? st.mutable_last_health_at() : st.mutable_last_reading_at();
  const bool seen = health ? prev.has_last_health_at() : prev.has_last_reading_at();
  if (seen && t < FromProto(*last)) {
    d.use = EventUse::kOutOfOrder;
    return d;
  }
  *last = ToProto(t);
  if (!health) st.set_sensor(kind);
  if (ev.has_location()) *st.mutable_location() = ev.location();

  const AlarmRules::Kind& k = rules.kinds_[kind];
  if (!health) UpdateBaselines(k, ev, binding, &st);
  Judging j{rules, ev, t, binding, &st, &d.signals, std::nullopt};
  for (size_t r : k.rules) JudgeRule(rules.rules_[r], &j);
  // States of rules no longer configured stay as they are: an alarm open under a retired rule
  // is closed by a supervisor, and resumes if the rule comes back.
  d.use = EventUse::kJudged;
  return d;
}

std::optional<Timestamp> AlarmEvaluator::OfflineAt(const v1::AlarmState& state,
                                                   const AlarmRules& rules) {
  if (!rules.offline_enabled_ || !state.has_last_received_at() ||
      !state.offline().alarm_id().empty())
    return std::nullopt;
  Duration interval{0};
  const v1::DeviceBinding* binding = rules.BindingFor(state.device_id());
  if (!binding && (!state.has_first_received_at() ||
                   FromProto(state.last_received_at()) - FromProto(state.first_received_at()) <
                       rules.min_reporting_))
    return std::nullopt;  // not installed by the configuration, nor heard from long enough
  if (binding && binding->reporting_interval_seconds() > 0) {
    interval = seconds(binding->reporting_interval_seconds());
  } else {
    const v1::SensorKind kind = state.sensor() != v1::SENSOR_KIND_UNSPECIFIED
                                    ? state.sensor()
                                    : v1::SENSOR_KIND_DEVICE_HEALTH;
    interval = rules.kinds_[kind].reporting_interval;
  }
  if (interval <= Duration::zero()) return std::nullopt;
  return FromProto(state.last_received_at()) + interval * rules.silent_intervals_;
}

AlarmDecision AlarmEvaluator::CheckOffline(const v1::AlarmState& state, Timestamp now,
                                           const AlarmRules& rules) {
  AlarmDecision d;
  d.next = state;
  const std::optional<Timestamp> at = OfflineAt(state, rules);
  if (!at || now < *at) return d;
  v1::AlarmState& st = d.next;
  v1::RuleState* rs = st.mutable_offline();
  rs->Clear();
  rs->set_alarm_type(rules.offline_type_);
  rs->set_alarm_id(NewAlarmId(rules.offline_type_, &st));
  rs->set_level(rules.offline_urgency_);
  rs->set_count(1);
  *rs->mutable_raised_at() = ToProto(now);
  *rs->mutable_last_signal_at() = ToProto(now);
  rs->set_category(rules.offline_category_);
  const Timestamp last = FromProto(st.last_received_at());
  const Duration allowed = *at - last;
  const AssetFacts facts = rules.FactsFor(st.device_id(), st.sensor());
  d.signals.push_back(Signal(v1::ALARM_SIGNAL_KIND_RAISE, *rs, facts, st, now,
                             "no event for " + Seconds(now - last) + " (offline after " +
                                 std::to_string(rules.silent_intervals_) + " x " +
                                 Seconds(allowed / rules.silent_intervals_) + ")"));
  return d;
}

// ---------------------------------------------------------------------------------------------
// Public entry points

AlarmDecision Evaluate(const v1::AlarmState& prev, const v1::SensorEvent& ev, Timestamp received_at,
                       const AlarmRules& rules) {
  return AlarmEvaluator::Evaluate(prev, ev, received_at, rules);
}

std::optional<Timestamp> OfflineAt(const v1::AlarmState& state, const AlarmRules& rules) {
  return AlarmEvaluator::OfflineAt(state, rules);
}

AlarmDecision CheckOffline(const v1::AlarmState& state, Timestamp now, const AlarmRules& rules) {
  return AlarmEvaluator::CheckOffline(state, now, rules);
}

std::string_view SignalKindName(v1::AlarmSignalKind kind) {
  switch (kind) {
    case v1::ALARM_SIGNAL_KIND_RAISE:
      return "RAISE";
    case v1::ALARM_SIGNAL_KIND_UPDATE:
      return "UPDATE";
    case v1::ALARM_SIGNAL_KIND_CLEAR:
      return "CLEAR";
    default:
      break;
  }
  return "UNSPECIFIED";
}

}  // namespace yiwang::dispatcher
