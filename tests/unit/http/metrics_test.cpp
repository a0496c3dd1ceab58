#include "http/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace progimage::http {
namespace {

TEST(Metrics, ExpositionFormatOfASmallRegistry) {
  Registry registry;
  auto& requests = registry.counter("progimage_http_requests_total", "HTTP requests answered.",
                                    {"method", "route", "status"});
  requests.with({"GET", "/v1/images/{id}", "200"}).inc();
  requests.with({"GET", "/v1/images/{id}", "200"}).inc(2);
  requests.with({"POST", "/v1/images", "201"}).inc();

  registry.gauge("progimage_queue_depth", "Jobs waiting in the processing queue.").with({}).set(7);
  auto& latency = registry.histogram("progimage_http_request_duration_seconds",
                                     "Request latency.", {"route"}, {0.01, 0.1, 1});
  auto& images = latency.with({"/v1/images"});
  images.observe(0.005);
  images.observe(0.1);  // le is inclusive
  images.observe(2.5);
  registry.counter("progimage_unused_total", "Never used.", {"x"});  // no child: not rendered

  EXPECT_EQ(registry.render(),
            "# HELP progimage_http_request_duration_seconds Request latency.\n"
            "# TYPE progimage_http_request_duration_seconds histogram\n"
            "progimage_http_request_duration_seconds_bucket{route=\"/v1/images\",le=\"0.01\"} 1\n"
            "progimage_http_request_duration_seconds_bucket{route=\"/v1/images\",le=\"0.1\"} 2\n"
            "progimage_http_request_duration_seconds_bucket{route=\"/v1/images\",le=\"1\"} 2\n"
            "progimage_http_request_duration_seconds_bucket{route=\"/v1/images\",le=\"+Inf\"} 3\n"
            "progimage_http_request_duration_seconds_sum{route=\"/v1/images\"} 2.605\n"
            "progimage_http_request_duration_seconds_count{route=\"/v1/images\"} 3\n"
            "# HELP progimage_http_requests_total HTTP requests answered.\n"
            "# TYPE progimage_http_requests_total counter\n"
            "progimage_http_requests_total{method=\"GET\",route=\"/v1/images/{id}\",status=\"200\"} 3\n"
            "progimage_http_requests_total{method=\"POST\",route=\"/v1/images\",status=\"201\"} 1\n"
            "# HELP progimage_queue_depth Jobs waiting in the processing queue.\n"
            "# TYPE progimage_queue_depth gauge\n"
            "progimage_queue_depth 7\n");
  EXPECT_EQ(Registry::kContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Metrics, UnlabelledFamiliesRenderZeroBeforeUse) {
  Registry registry;
  registry.counter("a_total", "A.");
  registry.histogram("h_seconds", "H.", {}, {1});
  EXPECT_EQ(registry.render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 0\nh_seconds_bucket{le=\"+Inf\"} 0\n"
            "h_seconds_sum 0\nh_seconds_count 0\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry.counter("e_total", "Help with \\ and\nnewline and \"quotes\".", {"v"})
      .with({"a\\b\"c\"\nd"})
      .inc();
  EXPECT_EQ(registry.render(),
            "# HELP e_total Help with \\\\ and\\nnewline and \"quotes\".\n"
            "# TYPE e_total counter\n"
            "e_total{v=\"a\\\\b\\\"c\\\"\\nd\"} 1\n");
}

TEST(Metrics, ConcurrentIncrementsAreExact) {
  Registry registry;
  auto& family = registry.counter("c_total", "C.", {"route"});
  auto& histogram = registry.histogram("d_seconds", "D.", {"route"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Half look the child up every time, half use a kept reference.
        family.with({i % 2 == 0 ? "/a" : "/b"}).inc();
        histogram.with({"/x"}).observe(t % 2 == 0 ? 0.002 : 3.0);
      }
      (void)registry.render();  // scrapes race with updates
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(family.with({"/a"}).value() + family.with({"/b"}).value(),
            static_cast<std::uint64_t>(kThreads) * kPerThread);
  const auto snap = histogram.with({"/x"}).snapshot();
  EXPECT_EQ(snap.count, static_cast<std::uint64_t>(kThreads) * kPerThread);
  const double expected_sum = kThreads / 2 * kPerThread * (0.002 + 3.0);
  EXPECT_NEAR(snap.sum, expected_sum, expected_sum * 1e-9);
}

TEST(Metrics, ChildReferencesAreStable) {
  Registry registry;
  auto& family = registry.counter("s_total", "S.", {"k"});
  Counter& first = family.with({"k0"});
  for (int i = 1; i < 1000; ++i) family.with({"k" + std::to_string(i)}).inc();
  EXPECT_EQ(&first, &family.with({"k0"}));
  std::string key = "k0";
  EXPECT_EQ(&first, &family.with({key}));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry registry;
  auto& h = registry.histogram("lat_seconds", "L.").with({});
  EXPECT_EQ(h.bounds(), latency_buckets());
  EXPECT_EQ(h.bounds().front(), 0.001);
  EXPECT_EQ(h.bounds().back(), 10);
  const std::vector<double> values = {0.0005, 0.001, 0.003, 0.003, 0.07, 0.7, 4, 10, 11, 1e9, -1};
  for (double v : values) h.observe(v);
  h.observe(std::nan(""));  // ignored
  const auto snap = h.snapshot();
  ASSERT_EQ(snap.cumulative.size(), h.bounds().size() + 1);
  for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
    std::uint64_t expected = 0;
    for (double v : values) expected += (i == h.bounds().size() || v <= h.bounds()[i]) ? 1 : 0;
    EXPECT_EQ(snap.cumulative[i], expected) << "bucket " << i;
    if (i > 0) {
      EXPECT_GE(snap.cumulative[i], snap.cumulative[i - 1]);
    }
  }
  EXPECT_EQ(snap.count, values.size());
  EXPECT_EQ(snap.cumulative.back(), snap.count);

  const std::string text = registry.render();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.001\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.0025\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"10\"} 9\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 11\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 11\n"), std::string::npos) << text;
}

TEST(Metrics, GaugeSetIncDecAndCallback) {
  Registry registry;
  auto& family = registry.gauge("g", "G.", {"pool"});
  Gauge& g = family.with({"a"});
  g.set(5);
  g.inc();
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 3.5);
  int calls = 0;
  family.with({"b"}).set_function([&calls] { return static_cast<double>(++calls); });
  EXPECT_EQ(registry.render(),
            "# HELP g G.\n# TYPE g gauge\ng{pool=\"a\"} 3.5\ng{pool=\"b\"} 1\n");
  EXPECT_NE(registry.render().find("g{pool=\"b\"} 2\n"), std::string::npos);
  family.with({"b"}).set_function({});
  EXPECT_EQ(family.with({"b"}).value(), 0);
}

TEST(Metrics, RegistrationRules) {
  Registry registry;
  auto& a = registry.counter("x_total", "X.", {"a"});
  EXPECT_EQ(&a, &registry.counter("x_total", "X again.", {"a"}));  // idempotent
  EXPECT_THROW(registry.counter("x_total", "X.", {"b"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("x_total", "X."), std::invalid_argument);
  auto& h = registry.histogram("h", "H.", {}, {1, 2});
  EXPECT_EQ(&h, &registry.histogram("h", "H.", {}, {1, 2, HUGE_VAL}));
  EXPECT_THROW(registry.histogram("h", "H.", {}, {1, 3}), std::invalid_argument);

  EXPECT_THROW(registry.counter("bad-name", "B."), std::invalid_argument);
  EXPECT_THROW(registry.counter("1abc", "B."), std::invalid_argument);
  EXPECT_NO_THROW(registry.counter("ns:sub_total", "ok"));
  EXPECT_THROW(registry.counter("c", "C.", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("c", "C.", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("c", "C.", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("hh", "H.", {"le"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("hh", "H.", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("hh", "H.", {}, {1, std::nan("")}), std::invalid_argument);

  EXPECT_THROW(a.with({}), std::invalid_argument);
  EXPECT_THROW(a.with({"1", "2"}), std::invalid_argument);
}

}  // namespace
}  // namespace progimage::http
