// Tracking a report: GET /api/v1/track/{code} (the public view of a report and its case) and
// POST /api/v1/track/{code}/rating. The public view never shows the reporter's contact,
// operators' names or internal notes (web/citizen_api.h; shapes and codes in docs/api.md).

#include <boost/json.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include "base/text.h"
#include "base/time.h"
#include "dispatcher/dispatch_config.h"
#include "web/citizen_api.h"
#include "web/http_util.h"
#include "web/internal/citizen_text.h"

namespace yiwang::web {

namespace json = boost::json;
namespace v1 = yiwang::v1;
using google::protobuf::util::TimeUtil;
using internal::Trim;

namespace {

std::string DepartmentName(const v1::DispatchConfig& cfg, std::string_view id, bool english) {
  for (const auto& d : cfg.departments())
    if (d.id() == id) return english && !d.name_en().empty() ? d.name_en() : d.name_zh();
  return std::string(id);
}

// The public words for a journal entry (zh, en), or nullopt for an internal entry (escalations,
// alarm updates, extension requests) that citizens do not see.
std::optional<std::pair<std::string, std::string>> PublicEntryText(const v1::DispatchConfig& cfg,
                                                                   const v1::JournalEntry& e) {
  using P = std::pair<std::string, std::string>;
  switch (e.action()) {
    case v1::CASE_ACTION_CREATE: return P{"问题已上报", "Report received"};
    case v1::CASE_ACTION_ACCEPT: return P{"已受理立案", "Accepted"};
    case v1::CASE_ACTION_REJECT:
      return P{"不予受理：" + e.note(), "Not accepted: " + e.note()};
    case v1::CASE_ACTION_TRANSFER:
      return P{"已派遣至" + DepartmentName(cfg, e.department(), false),
               "Sent to " + DepartmentName(cfg, e.department(), true)};
    case v1::CASE_ACTION_RETURN: return P{"正在重新派遣", "Being re-assigned"};
    case v1::CASE_ACTION_REPORT_HANDLED:
      return P{e.note().empty() ? "已处理" : "已处理：" + e.note(),
               e.note().empty() ? "Handled" : "Handled: " + e.note()};
    case v1::CASE_ACTION_VERIFY_PASS: return P{"核查通过", "Checked on site"};
    case v1::CASE_ACTION_VERIFY_FAIL: return P{"核查未通过，重新处理", "Check failed: being redone"};
    case v1::CASE_ACTION_CLOSE: return P{"已办结", "Closed"};
    case v1::CASE_ACTION_APPROVE_EXTENSION: return P{"处理期限已延长", "Deadline extended"};
    case v1::CASE_ACTION_PARK: return P{"暂缓处理", "On hold"};
    case v1::CASE_ACTION_UNPARK: return P{"恢复处理", "Resumed"};
    case v1::CASE_ACTION_REOPEN:
      return e.actor_role() == v1::ROLE_CITIZEN
                 ? P{"市民反馈问题未解决，重新处理", "Reopened: the reporter says it is not fixed"}
                 : P{"重新处理", "Reopened"};
    case v1::CASE_ACTION_SUPPORT: return P{"其他市民附议", "Another citizen reported it too"};
    default: return std::nullopt;
  }
}

// The public timeline of report `rep` (tracking code `code`) from its case's journal, in plain
// words, and in *after the photos of the latest handling that was not sent back since.
json::array PublicTimeline(const v1::DispatchConfig& cfg, const v1::CitizenReport& rep,
                           const std::string& code, const std::vector<v1::JournalEntry>& journal,
                           json::array* after_photos) {
  // A supporter (附议) sees the case from their own report on: its own filing first.
  const auto since = rep.created_at();
  json::array timeline;
  if (rep.linked()) {
    json::object e;
    e["time"] = Rfc3339(rep.created_at());
    e["action"] = "support";
    e["text"] = "您的上报已并入同一问题（附议）";
    e["textEn"] = "Your report joined an existing case";
    timeline.push_back(std::move(e));
  }
  json::array& after = *after_photos;
  for (const auto& entry : journal) {
    if (rep.linked() && TimeUtil::TimestampToMilliseconds(entry.time()) <
                            TimeUtil::TimestampToMilliseconds(since) &&
        entry.action() != v1::CASE_ACTION_CREATE)
      continue;
    if (entry.action() == v1::CASE_ACTION_SUPPORT && entry.actor_id() == "report:" + code)
      continue;  // the reporter's own 附议 is the first line above
    if (entry.action() == v1::CASE_ACTION_VERIFY_FAIL || entry.action() == v1::CASE_ACTION_REOPEN)
      after.clear();  // sent back: those photos no longer show the result
    if (entry.action() == v1::CASE_ACTION_REPORT_HANDLED) {
      after.clear();  // the latest handling's photos (earlier ones were redone)
      for (const auto& ev : entry.evidence()) {
        std::string_view id = ev;
        if (id.starts_with("photo:")) id.remove_prefix(6);
        if (IsPhotoId(id)) after.emplace_back(id);
      }
    }
    auto text = PublicEntryText(cfg, entry);
    if (!text) continue;
    json::object e;
    e["time"] = Rfc3339(entry.time());
    e["action"] = dispatcher::ActionName(entry.action());
    e["text"] = text->first;
    e["textEn"] = text->second;
    timeline.push_back(std::move(e));
  }
  return timeline;
}

}  // namespace

std::string_view PublicStateText(v1::CaseState state, bool english) {
  switch (state) {
    case v1::CASE_STATE_PENDING_ACCEPT: return english ? "Received, awaiting acceptance" : "已收到，等待受理";
    case v1::CASE_STATE_REJECTED: return english ? "Not accepted" : "不予受理";
    case v1::CASE_STATE_PENDING_DISPATCH: return english ? "Accepted, being assigned" : "已受理，正在派遣";
    case v1::CASE_STATE_HANDLING: return english ? "Being handled" : "处理中";
    case v1::CASE_STATE_PENDING_VERIFY: return english ? "Handled, awaiting a check" : "已处理，等待核查";
    case v1::CASE_STATE_VERIFIED: return english ? "Checked, about to close" : "核查通过，即将办结";
    case v1::CASE_STATE_CLOSED: return english ? "Closed" : "已办结";
    case v1::CASE_STATE_PARKED: return english ? "On hold" : "暂缓处理";
    default: return english ? "Unknown" : "未知";
  }
}

std::variant<std::string, HttpResponse> CitizenApi::TrackJson(const HttpRequest& req,
                                                              const std::string& code) {
  v1::CitizenReport rep;
  Status s = dispatcher_->GetReport(code, &rep);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  v1::Case c;
  std::vector<v1::JournalEntry> journal;
  if (Status cs = dispatcher_->GetCase(rep.case_id(), &c); !cs.ok())
    return Error(req, 503, "unavailable", cs.ToString());
  if (Status js = dispatcher_->GetJournal(rep.case_id(), &journal); !js.ok())
    return Error(req, 503, "unavailable", js.ToString());
  const auto& cfg = dispatcher_->config();
  const v1::Category* cat = dispatcher::FindCategory(cfg, c.category());
  json::array after;
  json::array timeline = PublicTimeline(cfg, rep, code, journal, &after);
  json::object o;
  o["trackingCode"] = rep.tracking_code();
  o["caseId"] = rep.case_id();
  o["linked"] = rep.linked();
  o["state"] = v1::CaseState_Name(c.state());
  o["stateText"] = PublicStateText(c.state());
  o["stateTextEn"] = PublicStateText(c.state(), true);
  o["category"] = cat ? cat->name_zh() : c.category();
  o["categoryEn"] = cat && !cat->name_en().empty() ? cat->name_en() : c.category();
  o["categoryCode"] = c.category();
  o["description"] = rep.description();
  o["createdAt"] = Rfc3339(rep.created_at());
  o["timeline"] = std::move(timeline);
  o["photoIds"] = json::value_from(std::vector<std::string>(rep.photo_ids().begin(),
                                                            rep.photo_ids().end()));
  o["afterPhotoIds"] = std::move(after);
  const bool closed = c.state() == v1::CASE_STATE_CLOSED;
  const bool rated = rep.rating_stars() != 0;
  if (rated) {
    json::object r;
    r["stars"] = rep.rating_stars();
    r["comment"] = rep.rating_comment();
    r["fixed"] = rep.rating_fixed();
    r["ratedAt"] = Rfc3339(rep.rated_at());
    o["rating"] = std::move(r);
  } else {
    o["rating"] = nullptr;
  }
  // Mirrors Dispatcher::RateReport: once per report, again after "not fixed" and a new close.
  o["canRate"] = closed && (!rated || (!rep.rating_fixed() &&
                                       TimeUtil::TimestampToMilliseconds(c.updated_at()) >
                                           TimeUtil::TimestampToMilliseconds(rep.rated_at())));
  // Only the report that filed the case reopens it with "not fixed"; a supporter's (附议) is
  // recorded as their opinion (Dispatcher::RateReport).
  o["ratingReopens"] = !rep.linked();
  return json::serialize(o);
}

HttpResponse CitizenApi::Track(const HttpRequest& req, const std::string& code) {
  auto j = TrackJson(req, code);
  if (auto* res = std::get_if<HttpResponse>(&j)) return std::move(*res);
  return MakeResponse(req, 200, std::move(std::get<std::string>(j)));
}

HttpResponse CitizenApi::Rate(const HttpRequest& req, const std::string& code) {
  HttpResponse bad;
  const auto o =
      JsonObjectBody(metrics_, req, &bad, JsonBodyRules::JsonTypeOnly("the rating"));
  if (!o) return bad;
  const json::value* stars = o->if_contains("stars");
  if (!stars || !stars->is_int64() || stars->get_int64() < 1 || stars->get_int64() > 5)
    return Error(req, 400, "stars_invalid", "stars must be a whole number from 1 to 5", "stars");
  const json::value* fixed = o->if_contains("fixed");
  if (!fixed || !fixed->is_bool())
    return Error(req, 400, "fixed_missing", "fixed must be true or false", "fixed");
  std::string comment;
  if (const json::value* cm = o->if_contains("comment"); cm && !cm->is_null()) {
    if (!cm->is_string()) return Error(req, 400, "comment_invalid", "comment must be a string", "comment");
    comment = Trim(cm->get_string());
  }
  if (!IsText(comment)) return Error(req, 400, "comment_invalid", internal::kNotText, "comment");
  const auto len = Utf8Length(comment);
  if (*len > kMaxRatingCommentChars)
    return Error(req, 400, "comment_too_long",
                 fmt::format("at most {} characters", kMaxRatingCommentChars), "comment");
  v1::CitizenReport rep;
  Status s = dispatcher_->GetReport(code, &rep);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_tracking_code", "no report has this tracking code");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  if (auto limited = Throttle(req, rating_limiter_, "ratings")) return std::move(*limited);
  v1::Case c;
  if (Status cs = dispatcher_->GetCase(rep.case_id(), &c); !cs.ok())
    return Error(req, 503, "unavailable", cs.ToString());
  if (c.state() != v1::CASE_STATE_CLOSED)
    return Error(req, 409, "not_closed", "a report is rated once its case is closed");
  dispatcher::CommandOutcome out = dispatcher_->RateReport(
      code, static_cast<uint32_t>(stars->get_int64()), comment, fixed->get_bool());
  if (out.error) {
    // The dispatcher decides (one rating per report; the case may have changed meanwhile).
    const bool already = rep.rating_stars() != 0;
    return Error(req, 409, already ? "already_rated" : "not_closed", out.error->message);
  }
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the rating was not stored");
  if (!out.status.ok()) return Error(req, 503, "unavailable", out.status.ToString());
  return Track(req, code);
}

}  // namespace yiwang::web
