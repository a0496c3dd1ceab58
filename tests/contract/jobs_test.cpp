// Jobs and variants (API.md "Jobs", issue 4), quick tier: variants after
// upload, a poison item that fails after its attempts without holding up the
// others, cancel, validation and result pages.
#include <set>
#include <thread>

#include "jobs_support.hpp"

namespace progimage::contract {
namespace {

using namespace progimage::contract::jobs;
namespace json = boost::json;

class JobsTest : public SharedServerTest<JobsTest> {
 public:
  static ServerOptions server_options() {
    ServerOptions o;
    o.args = {"--fetch-allow", "127.0.0.0/8", "--job-backoff", "200ms", "--workers", "2"};
    return o;
  }
};

TEST_F(JobsTest, VariantsAppearAfterUpload) {
  auto up = upload_raw(http(), make_image(640, 480, 7, ".jpg"));
  ASSERT_FALSE(up.id.empty()) << up.response.describe();
  auto* variants = jfind(up.json, "variants");
  ASSERT_TRUE(variants && variants->is_object());
  EXPECT_EQ(variants->as_object().size(), 3u);
  for (const char* name : {"thumb", "small", "medium"}) EXPECT_TRUE(variants->as_object().contains(name)) << name;

  std::map<std::string, std::pair<int, int>> expect{{"thumb", {100, 100}}, {"small", {320, 240}}, {"medium", {960, 720}}};
  for (const auto& [name, size] : expect) {
    Response r;
    auto end = std::chrono::steady_clock::now() + 30s;
    do {
      r = http().get("/v1/images/" + up.id + "/variants/" + name);
      if (r.status == 202) {
        EXPECT_FALSE(r.header("Retry-After").empty());
        EXPECT_EQ(jstring(*r.json(), "status"), "pending");
        std::this_thread::sleep_for(100ms);
      }
    } while (r.status == 202 && std::chrono::steady_clock::now() < end);
    ASSERT_EQ(r.status, 200) << name << ": " << r.describe();
    auto d = decode(r.body);
    ASSERT_TRUE(d.error.empty()) << d.error;
    if (name == "medium") {
      EXPECT_EQ(d.height, 480) << "never enlarged";  // 480 px source, no enlarge
    } else {
      EXPECT_EQ(d.width, size.first) << name;
      EXPECT_EQ(d.height, size.second) << name;
    }
  }
  auto info = http().get("/v1/images/" + up.id + "/info").json();
  ASSERT_TRUE(info);
  EXPECT_EQ(jstring(*info, "variants.thumb"), "ready");
  EXPECT_EQ(jstring(*info, "variants.small"), "ready");
  EXPECT_EQ(jstring(*info, "variants.medium"), "ready");
  EXPECT_TRUE(is_error(http().get("/v1/images/" + up.id + "/variants/huge"), 404, "not_found"));
}

TEST_F(JobsTest, PoisonItemFailsAfterItsAttemptsAndTheJobIsPartial) {
  std::vector<std::string> good;
  for (int i = 0; i < 6; ++i) good.push_back(make_image(120 + i, 90, 100 + i, ".png"));
  std::string corrupt = make_image(200, 150, 99, ".jpg");
  corrupt.resize(corrupt.size() / 3);
  for (std::size_t i = 200; i < corrupt.size(); i += 7) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  corrupt = "\xff\xd8\xff\xe0 not really a jpeg" + corrupt.substr(40);
  LoopbackServer origin("127.0.0.1", [&](int fd, const LoopbackRequest& req, const std::atomic<bool>&) {
    if (req.target == "/bad.jpg") return answer(fd, 200, corrupt, "image/jpeg");
    auto n = std::atoi(req.target.c_str() + 6);  // /good/N.png
    if (req.target.rfind("/good/", 0) == 0 && n >= 0 && n < static_cast<int>(good.size()))
      return answer(fd, 200, good[n], "image/png");
    answer(fd, 404, "no");
  });
  json::array sources;
  for (std::size_t i = 0; i < good.size(); ++i) {
    if (i == 2) sources.push_back(json::object{{"url", origin.base_url() + "/bad.jpg"}});
    sources.push_back(json::object{{"url", origin.base_url() + "/good/" + std::to_string(i) + ".png"}});
  }
  auto id = submit(http(), json::object{{"sources", sources}, {"store", true}});
  ASSERT_FALSE(id.empty());
  auto job = wait_finished(http(), id, 60s);
  ASSERT_TRUE(finished(job)) << json::serialize(job);
  EXPECT_EQ(jstring(job, "status"), "partial");
  EXPECT_EQ(jint(job, "total"), 7);
  EXPECT_EQ(jint(job, "done"), 6);
  EXPECT_EQ(jint(job, "failed"), 1);
  auto results = all_results(http(), id);
  ASSERT_EQ(results.size(), 7u);
  for (const auto& r : results) {
    json::value v = r;
    if (jstring(v, "source").find("bad.jpg") != std::string::npos) {
      EXPECT_EQ(jstring(v, "status"), "failed");
      EXPECT_EQ(jint(v, "attempts"), 3) << "failed for good after its attempts";
      EXPECT_EQ(jstring(v, "error.code"), "unsupported_media") << json::serialize(v);
      EXPECT_FALSE(jstring(v, "error.message").empty());
    } else {
      EXPECT_EQ(jstring(v, "status"), "done") << json::serialize(v);
      auto image = jstring(v, "image_id");
      EXPECT_EQ(http().get("/v1/images/" + image + "/info").status, 200) << image;
    }
  }
}

TEST_F(JobsTest, CancelStopsNewItems) {
  auto up = upload_raw(http(), make_image(300, 200, 3, ".png"));
  ASSERT_FALSE(up.id.empty());
  json::array sources;
  for (int i = 0; i < 3000; ++i) sources.emplace_back(up.id);
  auto id = submit(http(), json::object{{"sources", sources}, {"params", "w=50"}, {"format", "webp"}});
  ASSERT_FALSE(id.empty());
  std::this_thread::sleep_for(200ms);
  auto r = http().request("DELETE", "/v1/jobs/" + id);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(jstring(*r.json(), "status"), "cancelled");
  auto job = wait_finished(http(), id, 20s);
  ASSERT_TRUE(finished(job)) << json::serialize(job);
  EXPECT_EQ(jstring(job, "status"), "cancelled");
  auto done = jint(job, "done");
  EXPECT_LT(done, 3000);
  EXPECT_EQ(done + jint(job, "failed") + jint(job, "cancelled"), 3000);
  std::this_thread::sleep_for(1500ms);
  auto later = get_job(http(), id);
  EXPECT_EQ(jint(later, "done"), done) << "no item ran after the cancel finished";
  EXPECT_EQ(http().request("DELETE", "/v1/jobs/unknownjobidxxxxxxxxxx").status, 404);
}

TEST_F(JobsTest, DerivativeJobResultsArePagedAndServeTheDerivative) {
  auto up = upload_raw(http(), make_image(400, 300, 5, ".jpg"));
  ASSERT_FALSE(up.id.empty());
  json::array sources;
  for (int i = 0; i < 250; ++i) sources.emplace_back(up.id);
  auto id = submit(http(), json::object{{"sources", sources}, {"params", json::object{{"w", 120}}}, {"format", "webp"}});
  auto job = wait_finished(http(), id, 60s);
  ASSERT_TRUE(finished(job)) << json::serialize(job);
  EXPECT_EQ(jstring(job, "status"), "completed");
  auto first = get_job(http(), id, "limit=100");
  EXPECT_EQ(jfind(first, "results")->as_array().size(), 100u);
  EXPECT_TRUE(jfind(first, "next_cursor")->is_string());
  auto results = all_results(http(), id);
  ASSERT_EQ(results.size(), 250u);
  json::value r0 = results.front();
  auto url = jstring(r0, "url");
  ASSERT_FALSE(url.empty()) << json::serialize(r0);
  auto d = http().get(url);
  ASSERT_EQ(d.status, 200) << d.describe();
  EXPECT_EQ(d.header("X-Cache"), "hit") << "the job filled the derivative cache";
  EXPECT_EQ(decode(d.body).width, 120);
  EXPECT_EQ(sniff_format(d.body), "webp");
}

TEST_F(JobsTest, QuerySelectorTakesMatchingStoredImages) {
  std::string tag = "sel" + std::to_string(::getpid());
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(upload_raw(http(), make_image(64, 64, 900 + i), "tags=" + tag).id.empty());
  auto id = submit(http(), json::object{{"query", json::object{{"tag", json::array{tag}}}}, {"params", "w=10"}});
  auto job = wait_finished(http(), id, 30s);
  EXPECT_EQ(jint(job, "total"), 3);
  EXPECT_EQ(jstring(job, "status"), "completed");
}

TEST_F(JobsTest, BadSubmissionsAreRefusedWithClearMessages) {
  auto up = upload_raw(http(), make_image(32, 32, 11));
  auto post = [&](const json::value& body) {
    return http().request("POST", "/v1/jobs", json::serialize(body), {{"Content-Type", "application/json"}});
  };
  json::array many;
  for (int i = 0; i < 10001; ++i) many.emplace_back(up.id);
  EXPECT_TRUE(is_error(post(json::object{{"sources", many}}), 400, "bad_parameter"));
  auto unknown = post(json::object{{"sources", json::array{up.id, "NoSuchImageId0000000001"}}});
  EXPECT_TRUE(is_error(unknown, 400, "bad_parameter"));
  EXPECT_NE(unknown.body.find("NoSuchImageId0000000001"), std::string::npos) << unknown.body;
  EXPECT_TRUE(is_error(post(json::object{{"sources", json::array{json::object{{"url", "ftp://example.com/a.jpg"}}}}}),
                       400, "bad_parameter"))
      << "URL sources are http or https";
  EXPECT_TRUE(is_error(post(json::object{{"sources", json::array{up.id}}, {"params", "w=abc"}}), 400, "bad_parameter"));
  EXPECT_TRUE(is_error(post(json::object{{"sources", json::array{up.id}}, {"format", "bmp"}}), 400, "bad_parameter"));
  EXPECT_TRUE(is_error(post(json::object{{"params", "w=1"}}), 400, "bad_parameter"));
  EXPECT_TRUE(is_error(post(json::object{{"sources", json::array{up.id}}, {"callback_url", "ftp://x/"}}), 400,
                       "bad_parameter"));
  EXPECT_TRUE(is_error(post(json::object{{"sources", json::array{up.id}}, {"colour", "red"}}), 400, "bad_parameter"));
  EXPECT_TRUE(is_error(http().request("POST", "/v1/jobs", "nope", {{"Content-Type", "application/json"}}), 400));
  EXPECT_TRUE(is_error(http().get("/v1/jobs/NoSuchJob0000000000001"), 404, "not_found"));
}

TEST_F(JobsTest, QueueDepthAndOutcomesAreInMetrics) {
  auto up = upload_raw(http(), make_image(64, 48, 21, ".png"));
  ASSERT_FALSE(up.id.empty());
  auto end = std::chrono::steady_clock::now() + 30s;
  while (http().get("/v1/images/" + up.id + "/variants/thumb").status == 202 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(100ms);
  auto text = http().get("/metrics").body;
  std::vector<std::string> bad;
  auto samples = parse_metrics(text, &bad);
  EXPECT_TRUE(bad.empty());
  EXPECT_NE(text.find("progimage_job_queue_items{status=\"queued\"}"), std::string::npos);
  EXPECT_NE(text.find("progimage_job_queue_items{status=\"running\"}"), std::string::npos);
  EXPECT_GT(metric_sum(samples, "progimage_job_items_total", {{"outcome", "done"}}), 0);
  EXPECT_NE(text.find("progimage_job_items_total{outcome=\"failed\"}"), std::string::npos);
  EXPECT_NE(text.find("progimage_job_items_total{outcome=\"retried\"}"), std::string::npos);
}

}  // namespace
}  // namespace progimage::contract
