#pragma once
// Helpers shared by the dispatcher tests: local (UTC+8) times, command builders, and a small
// driver that applies commands to one case and keeps its journal.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "dispatcher/case_machine.h"
#include "dispatcher/sla.h"
#include "yiwang/v1/case.pb.h"

namespace yiwang::dispatcher::testing {

namespace v1 = yiwang::v1;
using namespace std::chrono_literals;

// A local time in China Standard Time (UTC+8), the default calendar's zone.
inline Timestamp Local(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  const std::chrono::sys_days day{std::chrono::year{y} / std::chrono::month{mo} /
                                  std::chrono::day{d}};
  return Timestamp(day) + std::chrono::hours(h) + std::chrono::minutes(mi) +
         std::chrono::seconds(s) - std::chrono::hours(8);
}

inline std::chrono::year_month_day Date(int y, unsigned mo, unsigned d) {
  return std::chrono::year{y} / std::chrono::month{mo} / std::chrono::day{d};
}

// Builds a CaseCommand fluently.
class Cmd {
 public:
  Cmd(v1::CaseAction action, v1::Role role, std::string actor_id) {
    c_.set_action(action);
    c_.set_actor_role(role);
    c_.set_actor_id(std::move(actor_id));
  }
  Cmd& ActorDept(std::string d) {
    c_.set_actor_department(std::move(d));
    return *this;
  }
  Cmd& Note(std::string n) {
    c_.set_note(std::move(n));
    return *this;
  }
  Cmd& Evidence(std::string e) {
    c_.add_evidence(std::move(e));
    return *this;
  }
  Cmd& Dept(std::string d) {
    c_.set_department(std::move(d));
    return *this;
  }
  Cmd& Extension(int64_t s) {
    c_.set_extension_seconds(s);
    return *this;
  }
  Cmd& TelemetryNormal() {
    c_.set_telemetry_normal(true);
    return *this;
  }
  Cmd& Override() {
    c_.set_supervisor_override(true);
    return *this;
  }
  Cmd& Escalate(v1::SlaStage st, v1::SlaLevel l) {
    c_.set_escalation_stage(st);
    c_.set_escalation_level(l);
    return *this;
  }
  Cmd& Filing(v1::Case f) {
    *c_.mutable_filing() = std::move(f);
    return *this;
  }
  operator v1::CaseCommand() const { return c_; }  // NOLINT: builder
  const v1::CaseCommand& get() const { return c_; }

 private:
  v1::CaseCommand c_;
};

// A filing for a case (the "as filed" fields).
inline v1::Case Filing(std::string id, v1::Source source, std::string category, v1::Urgency urgency,
                       std::vector<std::string> reporters = {}) {
  v1::Case f;
  f.set_id(std::move(id));
  f.set_source(source);
  f.set_category(std::move(category));
  f.set_urgency(urgency);
  f.set_district("500105");  // 江北区
  f.set_grid_cell("50010500100101");
  f.mutable_location()->set_lat(29.5749);
  f.mutable_location()->set_lon(106.5741);
  f.set_description("test case");
  if (source == v1::SOURCE_SENSOR) {
    f.set_device_id("mh-0001");
    f.set_asset_id("5001050102000001");
    f.set_alarm_type("lid_open");
  }
  for (auto& r : reporters) f.add_reporters(std::move(r));
  return f;
}

// Applies commands to one case, advancing its own clock, keeping the journal.
class CaseRun {
 public:
  explicit CaseRun(Timestamp start, SlaPolicy policy = SlaPolicy::Default())
      : policy_(std::move(policy)), now_(start) {}

  // Advances the clock by `dt`, applies `cmd`; on success adopts the transition.
  ApplyResult Do(const v1::CaseCommand& cmd, Duration dt = Duration::zero()) {
    now_ += dt;
    ApplyResult r = Apply(case_, cmd, now_, policy_);
    if (r.ok()) {
      last_ = r.transition();
      case_ = last_.next;
      journal_.push_back(last_.entry);
    }
    return r;
  }
  // As Do, failing the test if the command is refused.
  void Must(const v1::CaseCommand& cmd, Duration dt = Duration::zero()) {
    ApplyResult r = Do(cmd, dt);
    ASSERT_TRUE(r.ok()) << ActionName(cmd.action()) << ": " << ErrorCodeName(r.error().code) << ": "
                        << r.error().message;
  }

  const v1::Case& c() const { return case_; }
  const std::vector<v1::JournalEntry>& journal() const { return journal_; }
  const Transition& last() const { return last_; }
  const SlaPolicy& policy() const { return policy_; }
  Timestamp now() const { return now_; }
  void set_now(Timestamp t) { now_ = t; }

 private:
  SlaPolicy policy_;
  Timestamp now_;
  v1::Case case_;
  std::vector<v1::JournalEntry> journal_;
  Transition last_;
};

}  // namespace yiwang::dispatcher::testing
