#include "dispatcher/config_check.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "dispatcher/dispatch_config.h"
#include "yiwang/v1/config.pb.h"

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

namespace {

// A config file is small; anything bigger is a mistake (a data file given by accident).
constexpr std::streamsize kMaxConfigBytes = 16 << 20;

// ServerConfig's top-level JSON keys, both spellings protobuf's parser accepts.
constexpr std::string_view kServerKeys[] = {"ingest",    "http",       "store",
                                            "ioThreads", "io_threads", "dispatch"};

bool LooksLikeServerConfig(const std::string& json) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(json, &object).ok()) return true;
  return std::any_of(std::begin(kServerKeys), std::end(kServerKeys),
                     [&](std::string_view key) { return object.fields().count(std::string(key)); });
}

std::string Summary(const v1::DispatchConfig& cfg) {
  const auto disabled = std::count_if(cfg.alarm_rules().begin(), cfg.alarm_rules().end(),
                                      [](const v1::AlarmRule& r) { return r.disabled(); });
  std::ostringstream s;
  s << cfg.districts_size() << " districts, " << cfg.categories_size() << " categories, "
    << cfg.departments_size() << " departments, " << cfg.routing_size() << " routes, "
    << cfg.alarm_rules_size() << " alarm rules (" << disabled << " disabled), offline rule "
    << (cfg.offline().disabled() ? "off" : "on") << ", " << cfg.devices_size()
    << " device bindings, calendar with " << cfg.calendar().holidays_size() << " holidays";
  if (!cfg.calendar().holidays().empty()) {
    const auto [lo, hi] =
        std::minmax_element(cfg.calendar().holidays().begin(), cfg.calendar().holidays().end());
    s << " (" << *lo << ".." << *hi << ")";
  }
  s << " and " << cfg.calendar().makeup_workdays_size() << " make-up working days";
  return s.str();
}

}  // namespace

int RunConfigCheck(const std::string& path, std::ostream& out, std::ostream& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << path << ": cannot read the file\n";
    return kConfigCheckUnreadable;
  }
  std::string json;
  json.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad() || static_cast<std::streamsize>(json.size()) > kMaxConfigBytes) {
    err << path << (in.bad() ? ": read error\n" : ": larger than 16 MiB, not a config file\n");
    return in.bad() ? kConfigCheckUnreadable : kConfigCheckInvalid;
  }

  v1::ServerConfig server;
  const bool bare = !LooksLikeServerConfig(json);
  if (bare) {
    if (Status s = LoadDispatchConfig(json, server.mutable_dispatch()); !s.ok()) {
      err << path << ": " << s.message() << "\n";
      return kConfigCheckInvalid;
    }
  } else {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto st = google::protobuf::util::JsonStringToMessage(json, &server, options);
    if (!st.ok()) {
      err << path << ": " << std::string(st.message()) << "\n";
      return kConfigCheckInvalid;
    }
  }
  v1::DispatchConfig resolved;
  if (Status s = ResolveDispatchConfig(server, &resolved); !s.ok()) {
    err << path << ": " << s.message() << "\n";
    return kConfigCheckInvalid;
  }
  out << path << ": ok" << (bare ? " (dispatch section)" : "") << ": " << Summary(resolved) << "\n";
  return kConfigCheckOk;
}

}  // namespace yiwang::dispatcher
