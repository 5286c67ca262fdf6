#include "tools/client/metrics_scrape.h"

#include <cstdlib>

#include "tools/client/http.h"

namespace yiwang::client {

namespace {

// Parses `name` or `name{k="v",...}` from the front of *s and advances *s past it.
bool ParseSeries(std::string_view* s, std::string* name, MetricsScrape::Labels* labels) {
  const size_t end = s->find_first_of("{ ");
  *name = std::string(s->substr(0, end));
  if (name->empty()) return false;
  s->remove_prefix(end == std::string_view::npos ? s->size() : end);
  labels->clear();
  if (s->empty() || s->front() != '{') return true;
  s->remove_prefix(1);
  while (!s->empty() && s->front() != '}') {
    const size_t eq = s->find("=\"");
    if (eq == std::string_view::npos) return false;
    std::string key(s->substr(0, eq));
    s->remove_prefix(eq + 2);
    std::string value;
    while (!s->empty() && s->front() != '"') {
      if (s->front() == '\\' && s->size() > 1) {
        s->remove_prefix(1);
        value += s->front() == 'n' ? '\n' : s->front();
      } else {
        value += s->front();
      }
      s->remove_prefix(1);
    }
    if (s->empty()) return false;
    s->remove_prefix(1);  // the closing quote
    (*labels)[std::move(key)] = std::move(value);
    if (!s->empty() && s->front() == ',') s->remove_prefix(1);
  }
  if (s->empty()) return false;
  s->remove_prefix(1);  // '}'
  return true;
}

}  // namespace

MetricsScrape MetricsScrape::Parse(std::string_view text) {
  MetricsScrape out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    std::string name;
    Labels labels;
    if (!ParseSeries(&line, &name, &labels) || line.empty() || line.front() != ' ') continue;
    const std::string value(line.substr(1));
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) continue;
    out.samples_[{std::move(name), std::move(labels)}] = v;
  }
  return out;
}

std::optional<double> MetricsScrape::Get(std::string_view name, const Labels& labels) const {
  const auto it = samples_.find({std::string(name), labels});
  if (it == samples_.end()) return std::nullopt;
  return it->second;
}

std::optional<double> MetricsScrape::Get(std::string_view series) const {
  std::string name;
  Labels labels;
  if (!ParseSeries(&series, &name, &labels) || !series.empty()) return std::nullopt;
  return Get(name, labels);
}

Status ScrapeMetrics(const Endpoint& server, MetricsScrape* scrape) {
  HttpResponse res;
  HttpRequest request;
  request.target = "/metrics";
  if (Status s = HttpCall(server, request, &res); !s.ok()) return s;
  if (res.status != 200)
    return Status::Unavailable("/metrics: HTTP " + std::to_string(res.status));
  *scrape = MetricsScrape::Parse(res.body);
  return Status::Ok();
}

}  // namespace yiwang::client
