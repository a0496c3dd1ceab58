// Contract point 12: one JSON log line per request with its request id,
// /healthz, /readyz, and /metrics in Prometheus text with request counts and
// latency histograms by route and status.
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace progimage::contract {
namespace {

class ObservabilityTest : public SharedServerTest<ObservabilityTest> {};

/// True when some string or number anywhere in `v` equals `text`.
bool json_has_value(const boost::json::value& v, const std::string& text) {
  switch (v.kind()) {
    case boost::json::kind::string: return v.as_string() == text;
    case boost::json::kind::int64: return std::to_string(v.as_int64()) == text;
    case boost::json::kind::uint64: return std::to_string(v.as_uint64()) == text;
    case boost::json::kind::object:
      for (const auto& kv : v.as_object())
        if (json_has_value(kv.value(), text)) return true;
      return false;
    case boost::json::kind::array:
      for (const auto& e : v.as_array())
        if (json_has_value(e, text)) return true;
      return false;
    default: return false;
  }
}

bool json_has_substring(const boost::json::value& v, const std::string& text) {
  if (v.is_string()) return v.as_string().find(text) != boost::json::string::npos;
  if (v.is_object())
    for (const auto& kv : v.as_object())
      if (json_has_substring(kv.value(), text)) return true;
  return false;
}

TEST_F(ObservabilityTest, EveryRequestLogsOneJsonLineWithItsRequestId) {
  auto up = upload_raw(http(), make_image(16, 16, 901, ".png"));
  ASSERT_EQ(up.response.status, 201);
  struct Sent {
    std::string path;
    Response r;
  };
  std::vector<Sent> sent;
  sent.push_back({"/v1/images", up.response});
  for (const std::string& path : std::vector<std::string>{"/healthz", "/v1/images/" + up.id, "/v1/images/" + up.id + "/info",
                           "/no-such-route-for-log-test", "/v1/images/AAAAAAAAAAAAAAAAAAAAAA"})
    sent.push_back({path, http().get(path)});
  std::set<std::string> ids;
  for (const auto& s : sent) {
    std::string id = s.r.header("X-Request-Id");
    EXPECT_FALSE(id.empty()) << s.path << " answered without X-Request-Id";
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), sent.size()) << "request ids are not distinct";

  // Logs may be flushed a moment after the answer.
  std::string log;
  for (int i = 0; i < 30; ++i) {
    log = server().stdout_text();
    bool all = std::all_of(sent.begin(), sent.end(), [&](const Sent& s) {
      return s.r.header("X-Request-Id").empty() || log.find(s.r.header("X-Request-Id")) != std::string::npos;
    });
    if (all) break;
    std::this_thread::sleep_for(100ms);
  }
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);

  for (const auto& s : sent) {
    std::string id = s.r.header("X-Request-Id");
    if (id.empty()) continue;
    SCOPED_TRACE(s.path + " request id " + id);
    int access_lines = 0;
    for (const auto& line : lines) {
      if (line.find(id) == std::string::npos) continue;
      boost::system::error_code ec;
      auto j = boost::json::parse(line, ec);
      ASSERT_FALSE(ec) << "log line with the request id is not JSON: " << line;
      ASSERT_TRUE(j.is_object()) << line;
      EXPECT_TRUE(json_has_value(j, id)) << "request id is not a value of its own: " << line;
      if (json_has_value(j, std::to_string(s.r.status)) && json_has_substring(j, s.path)) ++access_lines;
    }
    EXPECT_EQ(access_lines, 1) << "expected one access log line with the id, status " << s.r.status
                               << " and path; log tail:\n"
                               << tail(log, 2000);
  }
}

TEST_F(ObservabilityTest, HealthAndReadiness) {
  EXPECT_EQ(http().get("/healthz").status, 200);
  auto ready = http().get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.describe();
}

using SampleKey = std::pair<std::string, std::map<std::string, std::string>>;

std::map<SampleKey, double> scrape(const Http& http, std::vector<std::string>* bad = nullptr,
                                   std::string* text = nullptr) {
  auto r = http.get("/metrics");
  EXPECT_EQ(r.status, 200) << r.describe();
  if (text) *text = r.body;
  std::map<SampleKey, double> out;
  for (auto& s : parse_metrics(r.body, bad)) out[{s.name, s.labels}] = s.value;
  return out;
}

bool labels_have_value(const std::map<std::string, std::string>& labels, const std::string& v) {
  return std::any_of(labels.begin(), labels.end(), [&](const auto& kv) { return kv.second == v; });
}

TEST_F(ObservabilityTest, MetricsCountRequestsAndLatencyByRouteAndStatus) {
  auto up = upload_raw(http(), make_image(16, 16, 902, ".png"));
  ASSERT_EQ(up.response.status, 201);
  std::string missing = "AAAAAAAAAAAAAAAAAAAAAA";
  auto before = scrape(http());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http().get("/v1/images/" + up.id).status, 200);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(http().get("/v1/images/" + missing).status, 404);

  std::map<SampleKey, double> after;
  std::vector<std::string> bad;
  std::string text;
  const std::regex counter_re("progimage_.*http_requests_total");
  const std::regex bucket_re("progimage_.*http_request_duration_seconds_bucket");
  // Find the counters that moved by exactly 3 (status 200) and 2 (status 404) on one route.
  std::optional<SampleKey> ok_key, missing_key;
  for (int attempt = 0; attempt < 20 && !(ok_key && missing_key); ++attempt) {
    bad.clear();
    after = scrape(http(), &bad, &text);
    ok_key.reset();
    missing_key.reset();
    for (const auto& [key, value] : after) {
      if (!std::regex_match(key.first, counter_re)) continue;
      double delta = value - (before.count(key) ? before[key] : 0);
      if (delta == 3 && labels_have_value(key.second, "200")) ok_key = key;
      if (delta == 2 && labels_have_value(key.second, "404")) missing_key = key;
    }
    if (!(ok_key && missing_key)) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(bad.empty()) << "lines that are not Prometheus text: " << (bad.empty() ? "" : bad[0]);
  ASSERT_TRUE(ok_key) << "no progimage_*http_requests_total sample with status 200 grew by 3:\n" << tail(text, 3000);
  ASSERT_TRUE(missing_key) << "no progimage_*http_requests_total sample with status 404 grew by 2";
  // Same route label, different status: counted by route and status.
  auto route_labels = [](std::map<std::string, std::string> labels) {
    for (auto it = labels.begin(); it != labels.end();)
      it = (it->second == "200" || it->second == "404") ? labels.erase(it) : std::next(it);
    return labels;
  };
  EXPECT_EQ(route_labels(ok_key->second), route_labels(missing_key->second)) << "not counted by route";
  for (const auto& [key, value] : after)
    for (const auto& [k, v] : key.second)
      EXPECT_EQ(v.find(up.id), std::string::npos) << "label " << k << "=" << v << " carries an image id (route "
                                                     "labels must be templates)";
  EXPECT_NE(text.find("# TYPE " + ok_key->first + " counter"), std::string::npos) << "no TYPE counter line";

  // Latency histogram for the same route and status: buckets grow with le, +Inf equals _count.
  std::map<double, double> buckets;
  std::string hist_name;
  for (const auto& [key, value] : after) {
    if (!std::regex_match(key.first, bucket_re)) continue;
    auto labels = key.second;
    auto le = labels.find("le");
    if (le == labels.end()) continue;
    std::string le_text = le->second;
    labels.erase(le);
    if (labels != ok_key->second) continue;
    hist_name = key.first.substr(0, key.first.size() - 7);  // strip _bucket
    buckets[le_text == "+Inf" ? HUGE_VAL : std::stod(le_text)] = value;
  }
  ASSERT_FALSE(buckets.empty()) << "no progimage_*http_request_duration_seconds_bucket with the labels of the counter";
  ASSERT_TRUE(buckets.count(HUGE_VAL)) << "no le=\"+Inf\" bucket";
  EXPECT_GE(buckets.size(), 5u) << "too few buckets";
  double prev = 0;
  for (const auto& [le, count] : buckets) {
    EXPECT_GE(count, prev) << "bucket le=" << le << " is smaller than the one below";
    prev = count;
  }
  SampleKey count_key{hist_name + "_count", ok_key->second};
  SampleKey sum_key{hist_name + "_sum", ok_key->second};
  ASSERT_TRUE(after.count(count_key)) << "no " << hist_name << "_count";
  ASSERT_TRUE(after.count(sum_key)) << "no " << hist_name << "_sum";
  EXPECT_EQ(after[count_key], buckets[HUGE_VAL]);
  EXPECT_EQ(after[count_key] - (before.count(count_key) ? before[count_key] : 0), 3);
  EXPECT_GT(after[sum_key], 0);
  EXPECT_NE(text.find("# TYPE " + hist_name + " histogram"), std::string::npos);
}

TEST_F(ObservabilityTest, MetricsCoverTheOtherSeriesOfTheContract) {
  // Make some image work happen first.
  auto up = upload_raw(http(), make_image(64, 64, 903, ".png"));
  ASSERT_EQ(up.response.status, 201);
  ASSERT_EQ(http().get("/v1/images/" + up.id + ".webp").status, 200);
  std::string text;
  auto all = scrape(http(), nullptr, &text);
  auto any = [&](const char* pattern) {
    std::regex re(pattern, std::regex::icase);
    return std::any_of(all.begin(), all.end(), [&](const auto& kv) { return std::regex_match(kv.first.first, re); });
  };
  EXPECT_TRUE(any("progimage_.*(processing|operation|transform).*(seconds|duration).*"))
      << "no processing time by operation";
  EXPECT_TRUE(any("progimage_.*(queue|pending).*")) << "no queue depth";
  EXPECT_TRUE(any("progimage_.*(cache|derivative).*")) << "no cache hits/misses";
  EXPECT_TRUE(any("progimage_.*(stored.*bytes|bytes.*stored|storage.*bytes|blob.*bytes).*")) << "no bytes stored";
  EXPECT_EQ(http().get("/metrics").header("Content-Type").rfind("text/plain", 0), 0u);
}

}  // namespace
}  // namespace progimage::contract
