// Jobs, slow tier (issue 4): SIGKILL during a 1,000-item job loses and
// duplicates nothing; variants survive a crash between upload and their
// generation; a callback is delivered once, signed, after two failures.
#include <sys/wait.h>

#include <random>
#include <set>
#include <thread>

#include "core/hash.hpp"
#include "jobs_support.hpp"

namespace progimage::contract {
namespace {

using namespace progimage::contract::jobs;
namespace json = boost::json;

std::int64_t image_count(const Http& http) {
  std::int64_t n = 0;
  std::string cursor;
  for (;;) {
    auto r = http.get("/v1/images?limit=1000" + (cursor.empty() ? "" : "&cursor=" + url_encode(cursor))).json();
    if (!r) return -1;
    n += static_cast<std::int64_t>(jfind(*r, "images")->as_array().size());
    auto* next = jfind(*r, "next_cursor");
    if (!next || !next->is_string()) return n;
    cursor = std::string(next->as_string());
  }
}

TEST(JobsCrash, KillDuringAThousandItemJobLosesAndDuplicatesNothing) {
  ServerOptions o;
  o.args = {"--job-lease", "2s", "--workers", "2", "--job-backoff", "200ms"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();
  constexpr int kSources = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kSources; ++i) {
    auto up = upload_raw(http, make_image(96 + i, 64, 5000 + i, ".png"));
    ASSERT_FALSE(up.id.empty()) << up.response.describe();
    ids.push_back(up.id);
  }
  json::array sources;
  for (int i = 0; i < 1000; ++i) sources.emplace_back(ids[i % kSources]);
  auto job_id = submit(http, json::object{{"sources", sources}, {"params", "w=40"}, {"format", "webp"}, {"store", true}});
  ASSERT_FALSE(job_id.empty());

  // SIGKILL at a random moment in the middle of the job.
  std::mt19937 rng(std::random_device{}());
  const int kill_at = std::uniform_int_distribution<int>(150, 650)(rng);
  auto end = std::chrono::steady_clock::now() + 120s;
  std::int64_t done_before = 0;
  while (std::chrono::steady_clock::now() < end) {
    done_before = jint(get_job(http, job_id), "done", 0);
    if (done_before >= kill_at) break;
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 50)(rng)));
  server.kill9();
  ASSERT_LT(done_before, 1000) << "the job finished before the kill; nothing was tested";

  ASSERT_TRUE(server.restart());
  auto job = wait_finished(http, job_id, 180s);
  ASSERT_TRUE(finished(job)) << json::serialize(job) << tail(server.stderr_text());
  EXPECT_EQ(jstring(job, "status"), "completed");
  EXPECT_EQ(jint(job, "total"), 1000);
  EXPECT_EQ(jint(job, "done"), 1000);
  EXPECT_EQ(jint(job, "failed"), 0);

  auto results = all_results(http, job_id);
  ASSERT_EQ(results.size(), 1000u) << "one result per item, none lost, none twice";
  std::map<std::string, std::set<std::string>> outputs;  // source -> stored result ids
  for (const auto& r : results) {
    json::value v = r;
    EXPECT_EQ(jstring(v, "status"), "done");
    outputs[jstring(v, "source")].insert(jstring(v, "image_id"));
  }
  EXPECT_EQ(outputs.size(), static_cast<std::size_t>(kSources));
  for (const auto& [source, stored] : outputs) EXPECT_EQ(stored.size(), 1u) << source << ": one stored image";
  // The sources plus one stored output each: no duplicate stored image.
  EXPECT_EQ(image_count(http), 2 * kSources);
}

TEST(JobsCrash, SigtermGivesBackLeasesSoTheJobFinishesAfterRestart) {
  ServerOptions o;
  o.args = {"--job-lease", "10m", "--workers", "2"};  // only a released lease runs again soon
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();
  auto up = upload_raw(http, make_image(120, 80, 41, ".png"));
  ASSERT_FALSE(up.id.empty());
  json::array sources;
  for (int i = 0; i < 2000; ++i) sources.emplace_back(up.id);
  auto job_id = submit(http, json::object{{"sources", sources}, {"params", "w=30"}});
  ASSERT_FALSE(job_id.empty());
  auto end = std::chrono::steady_clock::now() + 60s;
  while (jint(get_job(http, job_id), "done", 0) < 100 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(finished(get_job(http, job_id))) << "the job finished before SIGTERM; nothing was tested";
  int status = server.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "clean exit on SIGTERM; status " << status;
  ASSERT_TRUE(server.restart());
  auto job = wait_finished(http, job_id, 120s);
  ASSERT_TRUE(finished(job)) << json::serialize(job);
  EXPECT_EQ(jstring(job, "status"), "completed");
  EXPECT_EQ(jint(job, "done"), 2000);
  EXPECT_EQ(all_results(http, job_id).size(), 2000u);
}

TEST(JobsCrash, VariantsAreMadeAfterACrashBetweenUploadAndGeneration) {
  ServerOptions o;
  o.args = {"--workers", "0"};  // nothing generates them before the kill
  Server server(o);
  ASSERT_TRUE(server.start());
  auto up = upload_raw(server.http(), make_image(300, 200, 77, ".jpg"));
  ASSERT_FALSE(up.id.empty());
  EXPECT_EQ(server.http().get("/v1/images/" + up.id + "/variants/thumb").status, 202);
  server.kill9();
  server.options().args = {"--workers", "2"};
  ASSERT_TRUE(server.restart());
  auto end = std::chrono::steady_clock::now() + 30s;
  for (const char* name : {"thumb", "small", "medium"}) {
    Response r;
    do {
      r = server.http().get("/v1/images/" + up.id + "/variants/" + name);
      if (r.status == 202) std::this_thread::sleep_for(100ms);
    } while (r.status == 202 && std::chrono::steady_clock::now() < end);
    EXPECT_EQ(r.status, 200) << name << ": " << r.describe();
  }
}

TEST(JobsCrash, CallbackIsDeliveredOnceSignedAfterTwoFailures) {
  const std::string secret = "callback-test-secret";
  std::mutex mu;
  std::vector<LoopbackRequest> hits;
  LoopbackServer receiver("127.0.0.1", [&](int fd, const LoopbackRequest& req, const std::atomic<bool>&) {
    std::size_t n;
    {
      std::lock_guard lock(mu);
      hits.push_back(req);
      n = hits.size();
    }
    answer(fd, n <= 2 ? 503 : 200, "", "text/plain");
  });
  ServerOptions o;
  o.args = {"--fetch-allow", "127.0.0.0/8", "--callback-secret", secret, "--workers", "2"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();
  auto up = upload_raw(http, make_image(80, 60, 31, ".png"));
  ASSERT_FALSE(up.id.empty());
  auto job_id = submit(http, json::object{{"sources", json::array{up.id, up.id}},
                                          {"params", "w=20"},
                                          {"callback_url", receiver.base_url() + "/hook"}});
  ASSERT_FALSE(job_id.empty());
  auto end = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (hits.size() >= 3 || std::chrono::steady_clock::now() > end) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(4s);  // time for a wrong extra delivery to show
  std::lock_guard lock(mu);
  ASSERT_EQ(hits.size(), 3u) << "two failed attempts, then one delivery, nothing after it";
  for (const auto& h : hits) {
    EXPECT_EQ(h.method, "POST");
    EXPECT_EQ(h.target, "/hook");
    auto body = json::parse(h.body);
    EXPECT_EQ(jstring(body, "id"), job_id);
    EXPECT_EQ(jstring(body, "status"), "completed");
    EXPECT_EQ(jint(body, "done"), 2);
    EXPECT_EQ(body.at("results").as_array().size(), 2u);
    auto expected = "sha256=" + core::to_hex(core::hmac_sha256(secret, h.body));
    EXPECT_EQ(h.header("X-ProgImage-Signature"), expected) << "the receiver can verify the body";
  }
  auto job = get_job(http, job_id);
  EXPECT_EQ(jstring(job, "status"), "completed");
}

}  // namespace
}  // namespace progimage::contract
