// Metrics registry: series identity, the Prometheus text exposition format (0.0.4), histogram
// buckets (upper bounds inclusive, cumulative, +Inf) and the quantile estimate.

#include "base/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace yiwang {
namespace {

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  Metrics m;
  Counter& a = m.GetCounter("x_total", "help", {{"k", "v"}});
  Counter& b = m.GetCounter("x_total", "help", {{"k", "v"}});
  Counter& c = m.GetCounter("x_total", "help", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.Inc();
  b.Inc(2);
  EXPECT_EQ(a.Value(), 3u);
  EXPECT_EQ(c.Value(), 0u);
  Gauge& g = m.GetGauge("g", "help");
  g.Set(5);
  g.Add(-7);
  EXPECT_EQ(m.GetGauge("g", "help").Value(), -2);
}

TEST(MetricsTest, ReferencesStayValidAsTheRegistryGrows) {
  Metrics m;
  Counter& first = m.GetCounter("first_total", "h");
  first.Inc();
  for (int i = 0; i < 1000; ++i) m.GetCounter("c_total", "h", {{"i", std::to_string(i)}}).Inc();
  first.Inc();
  EXPECT_EQ(m.GetCounter("first_total", "h").Value(), 2u);
}

TEST(MetricsTest, RendersPrometheusTextExactly) {
  Metrics m;
  m.GetCounter("yiwang_b_total", "B things", {{"reason", "x"}}).Inc(3);
  m.GetCounter("yiwang_b_total", "B things", {{"reason", "a"}}).Inc(1);
  m.GetGauge("yiwang_a", "A level").Set(-4);
  Histogram& h = m.GetHistogram("yiwang_c_seconds", "C latency", {0.5, 1, 2.5});
  h.Observe(0.5);  // le="0.5" is inclusive
  h.Observe(0.75);
  h.Observe(3);  // +Inf only
  const std::string expected =
      "# HELP yiwang_a A level\n"
      "# TYPE yiwang_a gauge\n"
      "yiwang_a -4\n"
      "# HELP yiwang_b_total B things\n"
      "# TYPE yiwang_b_total counter\n"
      "yiwang_b_total{reason=\"a\"} 1\n"
      "yiwang_b_total{reason=\"x\"} 3\n"
      "# HELP yiwang_c_seconds C latency\n"
      "# TYPE yiwang_c_seconds histogram\n"
      "yiwang_c_seconds_bucket{le=\"0.5\"} 1\n"
      "yiwang_c_seconds_bucket{le=\"1\"} 2\n"
      "yiwang_c_seconds_bucket{le=\"2.5\"} 2\n"
      "yiwang_c_seconds_bucket{le=\"+Inf\"} 3\n"
      "yiwang_c_seconds_sum 4.25\n"
      "yiwang_c_seconds_count 3\n";
  EXPECT_EQ(m.RenderPrometheus(), expected);
}

TEST(MetricsTest, HistogramLabelsComeBeforeLe) {
  Metrics m;
  m.GetHistogram("h", "help", {1}, {{"encoding", "json"}}).Observe(1);
  const std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("h_bucket{encoding=\"json\",le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{encoding=\"json\",le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum{encoding=\"json\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count{encoding=\"json\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics m;
  m.GetCounter("e_total", "h", {{"error", "a\"b\\c\nd"}}).Inc();
  EXPECT_NE(m.RenderPrometheus().find("e_total{error=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << m.RenderPrometheus();
}

// Every line is a comment (# HELP / # TYPE) or `name{labels} value` with a value Prometheus
// parses (Go's ParseFloat: decimal, exponent, +Inf/-Inf/NaN).
TEST(MetricsTest, EveryLineIsValidExpositionFormat) {
  Metrics m;
  m.GetCounter("a_total", "h", {{"k", "v w"}, {"k2", "x"}}).Inc();
  m.GetGauge("b", "h").Set(0);
  Histogram& lat = m.GetHistogram("lat_seconds", "h", Metrics::LatencyBuckets());
  lat.Observe(0.00003);
  lat.Observe(0.2);
  lat.Observe(100);
  static const std::regex kSample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|[+-]Inf|NaN)$)re");
  static const std::regex kComment(R"re(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)re");
  std::istringstream in(m.RenderPrometheus());
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(std::regex_match(line, kComment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, kSample)) << line;
      ++samples;
    }
  }
  // 2 + 18 buckets + sum + count.
  EXPECT_EQ(samples, 2 + 18 + 2);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInclusiveUpperBounds) {
  Histogram h({1, 2, 5});
  for (double v : {0.0, 1.0, 1.0000001, 2.0, 4.9, 5.0, 5.1, -3.0}) h.Observe(v);
  Histogram::Snapshot s = h.Snap();
  ASSERT_EQ(s.bounds, (std::vector<double>{1, 2, 5}));
  // <=1: 0, 1, -3 | <=2: 1.0000001, 2 | <=5: 4.9, 5 | +Inf: 5.1
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 5, 7, 8}));
  EXPECT_EQ(s.count, 8u);
  EXPECT_DOUBLE_EQ(s.sum, 0 + 1 + 1.0000001 + 2 + 4.9 + 5 + 5.1 - 3);
}

TEST(MetricsTest, QuantileInterpolatesInsideTheBucket) {
  Histogram h({10, 20, 40});
  EXPECT_EQ(h.Quantile(0.5), 0);               // empty
  for (int i = 0; i < 10; ++i) h.Observe(5);   // (0,10]
  for (int i = 0; i < 10; ++i) h.Observe(15);  // (10,20]
  // rank 10 of 20 is the top of the first bucket; rank 15 halfway through the second.
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 10);
  EXPECT_DOUBLE_EQ(h.Quantile(0.75), 15);
  EXPECT_DOUBLE_EQ(h.Quantile(0.25), 5);
  EXPECT_DOUBLE_EQ(h.Quantile(1.0), 20);
  EXPECT_DOUBLE_EQ(h.Quantile(0.0), 0);
}

TEST(MetricsTest, QuantileInTheInfBucketIsTheLastBound) {
  Histogram h({1, 2});
  h.Observe(100);
  h.Observe(200);
  EXPECT_DOUBLE_EQ(h.Quantile(0.99), 2);
  Histogram no_bounds({});
  no_bounds.Observe(3);
  EXPECT_DOUBLE_EQ(no_bounds.Quantile(0.5), 0);
}

TEST(MetricsTest, LatencyBucketsAscendFrom50usTo10s) {
  auto b = Metrics::LatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.00005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  Metrics m;
  Counter& c = m.GetCounter("c_total", "h");
  Histogram& h = m.GetHistogram("h", "h", {1, 10});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50000; ++i) {
        c.Inc();
        h.Observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 200000u);
  auto s = h.Snap();
  EXPECT_EQ(s.count, 200000u);
  EXPECT_EQ(s.cumulative[0], 100000u);
  EXPECT_DOUBLE_EQ(s.sum, 100000 * 0.5 + 100000 * 2.0);
}

// The store copies RocksDB's stall state into gauges this way on every scrape.
TEST(MetricsTest, ScrapeHooksRunBeforeEachRenderUntilRemoved) {
  Metrics m;
  Gauge& g = m.GetGauge("copied", "set by the hook");
  int64_t source = 7;
  int runs = 0;
  const uint64_t id = m.AddScrapeHook([&] {
    ++runs;
    g.Set(source);
  });
  EXPECT_NE(m.RenderPrometheus().find("\ncopied 7\n"), std::string::npos);
  source = 9;
  EXPECT_NE(m.RenderPrometheus().find("\ncopied 9\n"), std::string::npos);
  EXPECT_EQ(runs, 2);
  m.RemoveScrapeHook(id);
  source = 11;
  EXPECT_NE(m.RenderPrometheus().find("\ncopied 9\n"), std::string::npos);
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace yiwang
