// Intake: operator commands and filings, citizen reports (附议 to a nearby open case, or a new
// case) and their ratings, each staged and committed in one WriteSet on the dispatcher thread.

#include <openssl/rand.h>

#include <algorithm>

#include "dispatcher/case_keys.h"
#include "dispatcher/dispatch_config.h"
#include "dispatcher/internal/dispatcher_impl.h"
#include "store/record_scan.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

// Tracking codes: 10 characters of an alphabet without look-alikes (no 0/O, 1/I/L).
std::string NewTrackingCode() {
  static constexpr char kAlphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
  unsigned char raw[10];
  RAND_bytes(raw, sizeof raw);
  std::string code;
  for (unsigned char b : raw) code.push_back(kAlphabet[b % (sizeof kAlphabet - 1)]);
  return code;
}

}  // namespace

Duration DedupWindow(const v1::DedupRule& rule) {
  auto limit = ParseTimeLimit(rule.window());
  if (!limit || limit->working_time()) return Duration(0);
  const double minutes =
      limit->unit == TimeLimit::Unit::kHours ? limit->value * 60 : limit->value;
  return Duration(static_cast<int64_t>(minutes * 60'000));
}

// ---------------------------------------------------------------------------------------------
// Commands

CommandOutcome Dispatcher::Impl::ExecuteOnThread(const std::string& id, v1::CaseCommand cmd) {
  CommandOutcome out;
  PendingBatch b;
  const Timestamp now = opts_.clock.NowMillis();
  v1::Case current;
  Status s = WorkingCase(b, id, &current);
  if (!s.ok()) {
    out.status = s.code() == Status::Code::kNotFound ? Status::NotFound("no case " + id) : s;
    return out;
  }
  if (cmd.action() == v1::CASE_ACTION_CREATE) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "the case exists already",
                           AllowedActions(current, cmd.actor_role(), cmd.actor_department(),
                                          cmd.actor_id())};
    out.c = std::move(current);
    return out;
  }
  ApplyResult r = Stage(b, id, std::move(cmd), now);
  if (!r.ok()) {
    out.error = r.error();
    out.c = std::move(current);
    return out;
  }
  out.status = Commit(b, true);
  out.c = r.transition().next;
  out.entry = r.transition().entry;
  return out;
}

CommandOutcome Dispatcher::Impl::FileOnThread(v1::Case filing, const v1::CaseCommand& actor) {
  CommandOutcome out;
  PendingBatch b;
  ApplyResult r = FileStaged(b, std::move(filing), actor, opts_.clock.NowMillis());
  if (!r.ok()) {
    out.error = r.error();
    return out;
  }
  out.status = Commit(b, true);
  out.c = r.transition().next;
  out.entry = r.transition().entry;
  return out;
}

Status Dispatcher::Impl::FindNearby(std::string_view category, double lat, double lon,
                                    double radius_m, Duration window, Timestamp now,
                                    std::vector<std::pair<v1::CaseSummary, double>>* out) const {
  out->clear();
  std::lock_guard lock(open_mu_);
  for (const auto& [id, s] : open_) {
    if (s.category() != category || !IsPublicSource(s.source())) continue;
    if (window.count() > 0 && s.created_ms() < Ms(now) - window.count()) continue;
    const double d = DistanceMeters(lat, lon, s.lat(), s.lon());
    if (d <= radius_m) out->emplace_back(s, d);
  }
  std::sort(out->begin(), out->end(), [](const auto& a, const auto& b) {
    return a.second < b.second || (a.second == b.second && a.first.id() < b.first.id());
  });
  return Status::Ok();
}

ReportOutcome Dispatcher::Impl::FileReportOnThread(const ReportFiling& f) {
  ReportOutcome out;
  const Timestamp now = opts_.clock.NowMillis();
  const v1::Category* cat = FindCategory(config_, f.category);
  if (!cat) {
    out.status = Status::InvalidArgument("category: unknown category " + f.category);
    return out;
  }
  PendingBatch b;
  std::string code;
  for (int i = 0; i < 5; ++i) {
    code = NewTrackingCode();
    std::string v;
    if (store_->Get(tables::kReports, code, &v).code() == Status::Code::kNotFound) break;
  }
  v1::CitizenReport report;
  report.set_tracking_code(code);
  report.set_category(f.category);
  report.set_description(f.description);
  report.mutable_location()->set_lat(f.lat);
  report.mutable_location()->set_lon(f.lon);
  for (const auto& p : f.photo_ids) report.add_photo_ids(p);
  report.set_contact(f.contact);
  report.set_client(f.client);
  *report.mutable_created_at() = ToProto(now);

  // 附议: the named case, else the nearest public open case of the category within the dedup
  // rule (FindNearby), unless that one takes no more supporters: then a case of its own.
  std::string target = f.support_case;
  const bool named = !target.empty();
  if (!named && !f.no_link && cat->dedup().radius_m() > 0) {
    std::vector<std::pair<v1::CaseSummary, double>> near;
    (void)FindNearby(f.category, f.lat, f.lon, cat->dedup().radius_m(), DedupWindow(cat->dedup()),
                     now, &near);
    if (!near.empty()) target = near.front().first.id();
  }
  const std::string reporter = "report:" + code;
  ApplyResult r = ApplyError{};
  if (!target.empty()) {
    v1::CaseCommand support;
    support.set_action(v1::CASE_ACTION_SUPPORT);
    support.set_actor_id(reporter);
    support.set_actor_role(v1::ROLE_CITIZEN);
    support.set_note(f.description.substr(0, kMaxNoteBytes));
    for (const auto& p : f.photo_ids) support.add_evidence("photo:" + p);
    v1::Case existing;
    if (!WorkingCase(b, target, &existing).ok()) {
      out.status = Status::NotFound("supportCaseId: no case " + target);
      return out;
    }
    r = Stage(b, target, support, now);
    if (r.ok()) {
      report.set_linked(true);
    } else if (named) {
      out.error = r.error();
      return out;
    }
  }
  if (!report.linked()) {
    v1::Case filing;
    filing.set_source(f.source);
    filing.set_category(f.category);
    filing.set_district(f.district);
    filing.mutable_location()->set_lat(f.lat);
    filing.mutable_location()->set_lon(f.lon);
    filing.set_description(f.description);
    filing.add_reporters(reporter);
    v1::CaseCommand actor;
    actor.set_actor_id(reporter);
    actor.set_actor_role(v1::ROLE_CITIZEN);
    for (const auto& p : f.photo_ids) actor.add_evidence("photo:" + p);
    r = FileStaged(b, std::move(filing), actor, now);
    if (!r.ok()) {
      out.error = r.error();
      return out;
    }
  }
  report.set_case_id(r.transition().next.id());
  b.ws.Put(tables::kReports, code, report.SerializeAsString());
  out.status = Commit(b, true);
  out.report = std::move(report);
  return out;
}

CommandOutcome Dispatcher::Impl::RateOnThread(const std::string& code, uint32_t stars,
                                              std::string comment, bool fixed) {
  CommandOutcome out;
  v1::CitizenReport report;
  if (!store::GetRecord(*store_, tables::kReports, code, &report).ok()) {
    out.status = Status::NotFound("no report " + code);
    return out;
  }
  PendingBatch b;
  const Timestamp now = opts_.clock.NowMillis();
  v1::Case c;
  if (Status cs = WorkingCase(b, report.case_id(), &c); !cs.ok()) {
    out.status = cs;
    return out;
  }
  if (c.state() != v1::CASE_STATE_CLOSED) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "a case is rated once it is closed",
                           {}};
    out.c = std::move(c);
    return out;
  }
  // One rating per report, except that a citizen who said "not fixed" (which reopened the
  // case) may rate again once the case is closed again after that rating.
  if (report.rating_stars() != 0 &&
      (report.rating_fixed() || !(FromProto(c.updated_at()) > FromProto(report.rated_at())))) {
    out.error = ApplyError{ErrorCode::kIllegalTransition, "this report has been rated already",
                           {}};
    out.c = std::move(c);
    return out;
  }
  // The report that filed the case reopens it; a supporter's (附议) "not fixed" is recorded with
  // their report only: it is not theirs to take the rating from the reporter (the case machine
  // refuses it too).
  if (!fixed && !report.linked()) {
    v1::CaseCommand reopen;
    reopen.set_action(v1::CASE_ACTION_REOPEN);
    reopen.set_actor_id("report:" + code);
    reopen.set_actor_role(v1::ROLE_CITIZEN);
    reopen.set_note(comment.empty() ? "市民反馈：问题未解决" : comment);
    ApplyResult r = Stage(b, report.case_id(), reopen, now);
    if (!r.ok()) {
      out.error = r.error();
      out.c = std::move(c);
      return out;
    }
    out.c = r.transition().next;
    out.entry = r.transition().entry;
  } else {
    out.c = c;
  }
  report.set_rating_stars(stars);
  report.set_rating_comment(std::move(comment));
  report.set_rating_fixed(fixed);
  *report.mutable_rated_at() = ToProto(now);
  b.ws.Put(tables::kReports, code, report.SerializeAsString());
  out.status = Commit(b, true);
  return out;
}

}  // namespace yiwang::dispatcher
