#pragma once
// A server's GET /metrics (Prometheus text format 0.0.4), read back as samples to look up by
// name and labels.
//
// Thread safety: a MetricsScrape is a value; const members may be called from any thread.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tools/client/endpoint.h"

namespace yiwang::client {

class MetricsScrape {
 public:
  using Labels = std::map<std::string, std::string>;

  // Parses exposition text: one sample per line `name{label="value",...} value`; comments and
  // lines that do not parse are skipped.
  static MetricsScrape Parse(std::string_view text);

  // The value of the sample `name` with exactly `labels` (in any order), or nullopt.
  std::optional<double> Get(std::string_view name, const Labels& labels) const;
  // The same for a series written as in the exposition: `name` or `name{label="value",...}`.
  // nullopt also if `series` does not parse.
  std::optional<double> Get(std::string_view series) const;

  size_t size() const { return samples_.size(); }

 private:
  std::map<std::pair<std::string, Labels>, double> samples_;
};

// GET /metrics from `server` into *scrape.
// Errors: those of HttpCall (IOError: unreachable); Unavailable if the status is not 200.
[[nodiscard]] Status ScrapeMetrics(const Endpoint& server, MetricsScrape* scrape);

}  // namespace yiwang::client
