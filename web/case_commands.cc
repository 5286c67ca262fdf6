// The case API's writes: POST /api/v1/cases (file a case) and POST /api/v1/cases/{id}/transitions
// (an action on a case). The body is read and checked here; the dispatcher decides whether the
// principal may act (web/case_api.h lists the routes, docs/api.md the codes).

#include <algorithm>
#include <set>

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "dispatcher/dispatch_config.h"
#include "web/case_api.h"
#include "web/http_util.h"
#include "web/internal/case_json.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace json = boost::json;
namespace v1 = yiwang::v1;

namespace {

std::optional<v1::Urgency> ParseUrgency(std::string_view name) {
  static constexpr std::pair<std::string_view, v1::Urgency> kNames[] = {
      {"general", v1::URGENCY_GENERAL},
      {"urgent", v1::URGENCY_URGENT},
      {"emergency", v1::URGENCY_EMERGENCY}};
  return internal::FindByName(kNames, name);
}

// Reads an optional string member; false (and *error set) if present with another type, longer
// than `max`, or not text (base/text.h IsText: what the Open311 XML and every other format
// can carry).
bool StringField(const json::object& o, std::string_view key, size_t max, std::string* out,
                 std::string* error) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_string()) {
    *error = std::string(key) + " must be a string";
    return false;
  }
  if (v->get_string().size() > max) {
    *error = std::string(key) + " is longer than " + std::to_string(max) + " bytes";
    return false;
  }
  if (!IsText(v->get_string())) {
    *error = std::string(key) + " must be text: no control characters but tab and line breaks, "
                                "no noncharacters (U+FFFE, U+FFFF, ...)";
    return false;
  }
  *out = std::string(v->get_string());
  return true;
}

// The first member of `o` not in `known`, as the error message.
std::optional<std::string> UnknownField(const json::object& o,
                                        const std::set<std::string_view>& known) {
  for (const auto& kv : o)
    if (!known.count(kv.key())) return "unknown field " + std::string(kv.key());
  return std::nullopt;
}

// The optional "evidence" member (an array of strings) into cmd's evidence; the error message.
std::optional<std::string> ReadEvidence(const json::object& o, v1::CaseCommand* cmd) {
  const json::value* ev = o.if_contains("evidence");
  if (!ev) return std::nullopt;
  if (!ev->is_array()) return "evidence must be an array";
  for (const json::value& e : ev->get_array()) {
    if (!e.is_string() || !IsText(e.get_string())) return "evidence must hold strings of text";
    cmd->add_evidence(std::string(e.get_string()));
  }
  return std::nullopt;
}

// A transition's body into *cmd (all but the actor); the message of a 400 invalid_argument.
std::optional<std::string> ReadTransition(const json::object& o, const v1::DispatchConfig& config,
                                          v1::CaseCommand* cmd) {
  static const std::set<std::string_view> kKnown = {
      "action", "note", "evidence", "department", "extensionSeconds", "supervisorOverride"};
  if (auto unknown = UnknownField(o, kKnown)) return unknown;
  std::string action_name, error;
  if (!StringField(o, "action", 64, &action_name, &error)) return error;
  auto action = dispatcher::ParseActionName(action_name);
  // The system's own actions are not the API's.
  if (!action || *action == v1::CASE_ACTION_CREATE || *action == v1::CASE_ACTION_ESCALATE ||
      *action == v1::CASE_ACTION_ALARM_UPDATE || *action == v1::CASE_ACTION_SUPPORT)
    return action_name.empty() ? "action is required" : "unknown action " + action_name;
  cmd->set_action(*action);
  std::string s;
  if (!StringField(o, "note", dispatcher::kMaxNoteBytes, &s, &error)) return error;
  cmd->set_note(s);
  s.clear();
  if (!StringField(o, "department", dispatcher::kMaxIdBytes, &s, &error)) return error;
  cmd->set_department(s);
  if (auto bad = ReadEvidence(o, cmd)) return bad;
  if (const json::value* ov = o.if_contains("supervisorOverride")) {
    if (!ov->is_bool()) return "supervisorOverride must be true or false";
    cmd->set_supervisor_override(ov->get_bool());
  }
  if (cmd->action() == v1::CASE_ACTION_TRANSFER && !cmd->department().empty()) {
    const auto& deps = config.departments();
    if (std::none_of(deps.begin(), deps.end(),
                     [&](const v1::Department& d) { return d.id() == cmd->department(); }))
      return "unknown department " + cmd->department();
  }
  return std::nullopt;
}

// The "extensionSeconds" of a transition into *cmd: an integer in 1..kMaxExtensionSeconds (30
// days, what the case machine grants at most), and only with request_extension (another
// action would ignore it); the message of a 400 extension_out_of_range.
std::optional<std::string> ReadExtension(const json::object& o, v1::CaseCommand* cmd) {
  const json::value* ext = o.if_contains("extensionSeconds");
  if (!ext) return std::nullopt;
  if (cmd->action() != v1::CASE_ACTION_REQUEST_EXTENSION)
    return "extensionSeconds is only for request_extension";
  const auto max = dispatcher::kMaxExtensionSeconds;
  // An int64 or a uint64 (above INT64_MAX: too large), never a double (1e30, 3600.5).
  if (!ext->is_int64() || ext->get_int64() < 1 || ext->get_int64() > max)
    return fmt::format("extensionSeconds must be an integer from 1 to {} ({} days)", max,
                       max / 86400);
  cmd->set_extension_seconds(ext->get_int64());
  return std::nullopt;
}

// A filing's body into *filing (all but the location); the message of a 400 invalid_argument.
std::optional<std::string> ReadFiling(const json::object& o, const v1::DispatchConfig& config,
                                      v1::Case* filing) {
  static const std::set<std::string_view> kKnown = {"category", "description", "district",
                                                    "location", "urgency",     "source",
                                                    "evidence", "assetId"};
  if (auto unknown = UnknownField(o, kKnown)) return unknown;
  std::string category, description, district, urgency = "", source = "patrol", asset, error;
  if (!StringField(o, "category", 64, &category, &error) ||
      !StringField(o, "description", dispatcher::kMaxNoteBytes, &description, &error) ||
      !StringField(o, "district", 16, &district, &error) ||
      !StringField(o, "urgency", 16, &urgency, &error) ||
      !StringField(o, "source", 16, &source, &error) ||
      !StringField(o, "assetId", 64, &asset, &error))
    return error;
  if (!dispatcher::FindCategory(config, category)) return "category: unknown category " + category;
  const auto& districts = config.districts();
  if (std::none_of(districts.begin(), districts.end(),
                   [&](const v1::District& d) { return d.code() == district; }))
    return "district: unknown district";
  auto src = internal::ParseSource(source);
  if (!src || *src == v1::SOURCE_SENSOR || *src == v1::SOURCE_CITIZEN)
    return "source must be patrol or hotline";
  filing->set_source(*src);
  filing->set_category(category);
  filing->set_description(description);
  filing->set_district(district);
  filing->set_asset_id(asset);
  if (!urgency.empty()) {
    auto u = ParseUrgency(urgency);
    if (!u) return "urgency must be general, urgent or emergency";
    filing->set_urgency(*u);
  }
  if (const json::value* loc = o.if_contains("location")) {
    const json::object* lo = loc->if_object();
    const json::value* lat = lo ? lo->if_contains("lat") : nullptr;
    const json::value* lon = lo ? lo->if_contains("lon") : nullptr;
    if (!lat || !lon || !lat->is_number() || !lon->is_number())
      return "location must be {\"lat\": n, \"lon\": n}";
    const double la = lat->to_number<double>(), ln = lon->to_number<double>();
    if (!(la >= -90 && la <= 90 && ln >= -180 && ln <= 180))
      return "location: lat must be in [-90, 90], lon in [-180, 180]";
    filing->mutable_location()->set_lat(la);
    filing->mutable_location()->set_lon(ln);
  }
  return std::nullopt;
}

}  // namespace

HttpResponse CaseApi::Transition(const HttpRequest& req, const Principal& p,
                                 const std::string& id) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  v1::CaseCommand cmd;
  if (auto error = ReadTransition(*body, dispatcher_->config(), &cmd))
    return Error(req, 400, "invalid_argument", *error);
  if (auto error = ReadExtension(*body, &cmd))
    return Error(req, 400, "extension_out_of_range", *error);
  cmd.set_actor_id(p.user_id);
  cmd.set_actor_role(p.role);
  cmd.set_actor_department(p.department);

  // Visibility first: a case out of the principal's scope does not exist for them.
  v1::Case current;
  Status gs = dispatcher_->GetCase(id, &current);
  if (gs.code() == Status::Code::kNotFound || (gs.ok() && !MaySee(p, current)))
    return Error(req, 404, "case_not_found", "no case " + id);
  if (!gs.ok()) return Error(req, 500, "internal", "could not read the case");

  dispatcher::CommandOutcome out = dispatcher_->Execute(id, std::move(cmd));
  if (out.error) {
    switch (out.error->code) {
      case dispatcher::ErrorCode::kForbidden:
        return Error(req, 403, "forbidden", out.error->message);
      case dispatcher::ErrorCode::kIllegalTransition:
        return Error(req, 409, "illegal_transition", out.error->message,
                     R"("allowed":)" + internal::ActionList(out.error->allowed));
      case dispatcher::ErrorCode::kInvalidArgument:
        return Error(req, 400, "invalid_argument", out.error->message);
    }
  }
  if (out.status.code() == Status::Code::kNotFound)
    return Error(req, 404, "case_not_found", "no case " + id);
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the change was not stored");
  if (out.status.code() == Status::Code::kUnavailable)
    return Error(req, 503, "unavailable", "the server is stopping");
  if (!out.status.ok()) return Error(req, 500, "internal", "could not store the change");
  log_->info("[case {}] {} by {}", id, dispatcher::ActionName(out.entry.action()), p.user_id);
  v1::JournalEntry e = out.entry;
  e.clear_filing();
  return MakeResponse(req, 200, "{" + CaseMembers(p, out.c) + R"(,"entry":)" + ToJson(e) + "}");
}

std::optional<std::string> CaseApi::LocationOutsideDistrict(const v1::Case& filing) const {
  // A case is routed, scoped and counted by its district while the map shows its point: the
  // two must agree, or a district's staff see (and the statistics count) a case elsewhere.
  if (!filing.has_location() || !districts_ || districts_->empty()) return std::nullopt;
  const double lat = filing.location().lat(), lon = filing.location().lon();
  if (districts_->InOrNear(lat, lon, filing.district(), kDistrictToleranceM)) return std::nullopt;
  const auto hit = districts_->Locate(lat, lon);
  // A district the map does not draw: only a point the map places elsewhere contradicts it.
  if (!hit && !districts_->Has(filing.district())) return std::nullopt;
  return fmt::format("the location lies {}, not in district {}",
                     hit ? fmt::format("in {} ({})", hit->name, hit->code)
                         : std::string("in no district of the map"),
                     filing.district());
}

HttpResponse CaseApi::CreateCase(const HttpRequest& req, const Principal& p) {
  HttpResponse bad;
  const auto body = JsonObjectBody(metrics_, req, &bad);
  if (!body) return bad;
  v1::Case filing;
  if (auto error = ReadFiling(*body, dispatcher_->config(), &filing))
    return Error(req, 400, "invalid_argument", *error);
  if (!p.districts.empty() &&
      std::find(p.districts.begin(), p.districts.end(), filing.district()) == p.districts.end())
    return Error(req, 403, "forbidden", "the district is outside your scope");
  if (auto outside = LocationOutsideDistrict(filing))
    return Error(req, 400, "location_outside_district", *outside);
  v1::CaseCommand actor;
  actor.set_actor_id(p.user_id);
  actor.set_actor_role(p.role);
  actor.set_actor_department(p.department);
  if (auto error = ReadEvidence(*body, &actor)) return Error(req, 400, "invalid_argument", *error);
  dispatcher::CommandOutcome out = dispatcher_->File(std::move(filing), actor);
  if (out.error) {
    const unsigned status = out.error->code == dispatcher::ErrorCode::kForbidden ? 403 : 400;
    return Error(req, status, status == 403 ? "forbidden" : "invalid_argument",
                 out.error->message);
  }
  if (out.status.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the case was not stored");
  if (!out.status.ok()) return Error(req, 500, "internal", "could not store the case");
  HttpResponse res = MakeResponse(req, 201, "{" + CaseMembers(p, out.c) + "}");
  res.set(http::field::location, "/api/v1/cases/" + out.c.id());
  return res;
}

}  // namespace yiwang::web
