#pragma once
// The dispatcher's configuration (proto/yiwang/v1/dispatch_config.proto): the built-in Chongqing
// default, loading, the merge of a user's `dispatch` section over it, validation that names the
// offending field, and what is built from it: the SLA policy and the routing (权责清单).
//
// Start-up and `yiwang config check` both go through ResolveDispatchConfig: default, merged
// with the --config file's section, validated. Everything else here REQUIRES a config that
// ValidateDispatchConfig accepted.
//
// Error messages name the field by its JSON path under "dispatch.", list elements by their key
// where they have one (categories[0302], departments[cgj-500105], alarmRules[harmful_gas],
// districts[500105], sensorKinds[SENSOR_KIND_MANHOLE_COVER]) and by index otherwise
// (routing[3], limits[1], conditions[0]), e.g.
//   dispatch.routing[3].department: unknown department 'xyz'
//   dispatch.categories[0302].limits[0].handle: bad duration '5x' (want e.g. 5m, 2h, 1.5wh, 0.5wd)
//
// Thread safety: pure functions; any thread. DefaultDispatchConfig() is initialised once,
// thread-safely, on first use.

#include <string>
#include <string_view>

#include "base/status.h"
#include "dispatcher/sla.h"
#include "yiwang/v1/config.pb.h"
#include "yiwang/v1/dispatch_config.pb.h"

namespace yiwang::dispatcher {

// The text of dispatcher/default_config.json, compiled into the binary at build time.
std::string_view DefaultDispatchConfigJson();

// The built-in default, parsed (a test checks it parses and validates).
const yiwang::v1::DispatchConfig& DefaultDispatchConfig();

// Parses `json`, a DispatchConfig in protobuf's JSON mapping, into *out (cleared first).
// Unknown fields are errors (a typo must not silently keep a default). InvalidArgument
// "dispatch: <parser message>" on a syntax or type error. Does not validate.
[[nodiscard]] Status LoadDispatchConfig(std::string_view json, yiwang::v1::DispatchConfig* out);

// Merges a user's section over *base: each top-level field of `user` that is set replaces
// base's field wholesale (a list if non-empty, a message if present). See dispatch_config.proto.
void MergeDispatchConfig(const yiwang::v1::DispatchConfig& user, yiwang::v1::DispatchConfig* base);

// Checks everything the dispatcher relies on; InvalidArgument naming the first bad field:
// unique, well-formed codes and ids; every reference (routing, departments, alarm rules, sensor
// kinds, devices) to a known district, category or department; time limits and windows that
// parse; a fallback any-urgency SLA row; the calendar (dispatcher/sla.h WorkCalendar::Create);
// alarm conditions with a metric of their sensor kind, a fitting comparator, finite
// thresholds and bounded durations; and routing coverage: every category resolves in every
// district to a department that serves the district and handles the category.
[[nodiscard]] Status ValidateDispatchConfig(const yiwang::v1::DispatchConfig& cfg);

// The dispatcher configuration of a server: DefaultDispatchConfig() with server.dispatch()
// merged over it, validated. On error *out is unspecified.
[[nodiscard]] Status ResolveDispatchConfig(const yiwang::v1::ServerConfig& server,
                                           yiwang::v1::DispatchConfig* out);

// The category `code`; nullptr if none.
const yiwang::v1::Category* FindCategory(const yiwang::v1::DispatchConfig& cfg,
                                         std::string_view code);

// ---------------------------------------------------------------------------------------------
// SLA

// The WorkCalendarSpec a CalendarConfig describes (absent fields take WorkCalendarSpec's
// defaults). InvalidArgument naming "dispatch.calendar.<field>[i]" for a bad offset, time,
// weekday or date, or a make-up working day that is also a holiday. WorkCalendar::Create checks
// the rest (e.g. overlapping hours).
[[nodiscard]] Status CalendarSpecFromConfig(const yiwang::v1::CalendarConfig& calendar,
                                            WorkCalendarSpec* out);

// The SLA policy of a config: one SlaRule per StageLimits row of each category, the
// fallbackLimits as category "*", and the calendar. InvalidArgument (naming the field) if a
// limit does not parse or SlaPolicy::Create / WorkCalendar::Create refuse.
[[nodiscard]] Status SlaPolicyFromConfig(const yiwang::v1::DispatchConfig& cfg, SlaPolicy* out);

// ---------------------------------------------------------------------------------------------
// Routing (权责清单)

// The department for a case of `category` in `district`: the most specific Route (category
// first; see Route in dispatch_config.proto) with "{district}" replaced. NotFound if no route
// matches (a validated config routes every known category in every known district).
[[nodiscard]] Status RouteFor(const yiwang::v1::DispatchConfig& cfg, std::string_view category,
                              std::string_view district, std::string* department);

}  // namespace yiwang::dispatcher
