// Jobs over remote images that keep their results instead of storing them
// ("store": false), for a retention after which they answer 410 and their
// bytes go; and callbacks, which are always signed: with no secret
// configured, by a key the server generated once and an admin can read.
#include <mutex>
#include <thread>

#include "core/hash.hpp"
#include "jobs_support.hpp"

namespace progimage::contract {
namespace {

using namespace progimage::contract::jobs;
namespace json = boost::json;

/// Serves /N.png (N from 0) from `images`, 404 otherwise.
struct Origin {
  explicit Origin(std::vector<std::string> images)
      : images(std::move(images)),
        server("127.0.0.1", [this](int fd, const LoopbackRequest& req, const std::atomic<bool>&) {
          auto n = std::atoi(req.target.c_str() + 1);
          if (req.target.size() > 1 && n >= 0 && n < static_cast<int>(this->images.size()))
            return answer(fd, 200, this->images[n], "image/png");
          answer(fd, 404, "no");
        }) {}
  std::string url(int n) const { return server.base_url() + "/" + std::to_string(n) + ".png"; }

  std::vector<std::string> images;
  LoopbackServer server;
};

std::size_t files_under(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file()) ++n;
  return n;
}

TEST(JobOutputs, RemoteSourcesWithoutStoreAreKeptServedThenExpire) {
  Origin origin({make_image(120, 80, 1, ".png"), make_image(90, 60, 2, ".png")});
  ServerOptions o;
  o.args = {"--fetch-allow", "127.0.0.0/8", "--workers", "2", "--job-output-retention", "3s"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();

  auto id = submit(http, json::object{{"sources", json::array{json::object{{"url", origin.url(0)}},
                                                              json::object{{"url", origin.url(1)}}}},
                                      {"params", "w=30"},
                                      {"format", "webp"},
                                      {"store", false}});
  ASSERT_FALSE(id.empty());
  auto job = wait_finished(http, id, 60s);
  ASSERT_EQ(jstring(job, "status"), "completed") << json::serialize(job);
  auto results = all_results(http, id);
  ASSERT_EQ(results.size(), 2u);
  std::vector<std::string> urls;
  for (std::size_t n = 0; n < results.size(); ++n) {
    json::value r = results[n];
    EXPECT_FALSE(jfind(r, "image_id")) << "nothing is stored: " << json::serialize(r);
    EXPECT_EQ(jstring(r, "url"), "/v1/jobs/" + id + "/results/" + std::to_string(n));
    EXPECT_FALSE(jstring(r, "expires_at").empty());
    urls.push_back(jstring(r, "url"));
  }
  // The kept bytes are the transform of each source.
  for (std::size_t n = 0; n < urls.size(); ++n) {
    auto got = http.get(urls[n]);
    ASSERT_EQ(got.status, 200) << got.describe();
    EXPECT_EQ(got.header("Content-Type"), "image/webp");
    EXPECT_EQ(got.header("Cache-Control").rfind("private, max-age=", 0), 0u) << got.header("Cache-Control");
    auto d = decode(got.body);
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_EQ(d.loader, "webpload");
    EXPECT_EQ(d.width, 30);
  }
  auto stats = http.get("/v1/stats").json();
  ASSERT_TRUE(stats);
  EXPECT_EQ(jint(*stats, "images"), 0) << "store: false keeps results out of the catalogue";
  const auto blobs = server.blob_dir();
  if (blobs) EXPECT_EQ(files_under(*blobs / "outputs"), 2u);

  // Positions that hold nothing, and a job that does not exist.
  EXPECT_TRUE(is_error(http.get("/v1/jobs/" + id + "/results/2"), 404, "not_found"));
  EXPECT_TRUE(is_error(http.get("/v1/jobs/" + id + "/results/x"), 404, "not_found"));
  EXPECT_TRUE(is_error(http.get("/v1/jobs/NoSuchJob0000000000001/results/0"), 404, "not_found"));

  // After the retention: 410, and the sweep removes the bytes.
  std::this_thread::sleep_for(3500ms);
  for (const auto& url : urls) {
    auto gone = http.get(url);
    EXPECT_TRUE(is_error(gone, 410, "result_expired")) << gone.describe();
  }
  if (!blobs) GTEST_SKIP() << "the sweep's removal is checked on file storage only, not " << server.storage_url();
  auto end = std::chrono::steady_clock::now() + 15s;
  while (files_under(*blobs / "outputs") > 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(200ms);
  EXPECT_EQ(files_under(*blobs / "outputs"), 0u) << "expired outputs are removed";
}

TEST(JobOutputs, DerivativeAndStoredResultsAreNotKeptOutputs) {
  ServerOptions o;
  o.args = {"--workers", "1"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();
  auto up = upload_raw(http, make_image(64, 48, 3, ".png"));
  ASSERT_FALSE(up.id.empty());
  auto id = submit(http, json::object{{"sources", json::array{up.id}}, {"params", "w=16"}});
  ASSERT_FALSE(id.empty());
  auto job = wait_finished(http, id, 60s);
  ASSERT_EQ(jstring(job, "status"), "completed") << json::serialize(job);
  auto result = http.get("/v1/jobs/" + id + "/results/0");
  EXPECT_TRUE(is_error(result, 404, "not_found")) << result.describe();
  EXPECT_NE(result.body.find("not a kept output"), std::string::npos) << result.body;
}

TEST(JobOutputs, CallbacksAreSignedWithAGeneratedSecretThatAnAdminCanRead) {
  std::mutex mu;
  std::vector<LoopbackRequest> hits;
  LoopbackServer receiver("127.0.0.1", [&](int fd, const LoopbackRequest& req, const std::atomic<bool>&) {
    {
      std::lock_guard lock(mu);
      hits.push_back(req);
    }
    answer(fd, 200, "", "text/plain");
  });
  ServerOptions o;
  o.args = {"--fetch-allow", "127.0.0.0/8", "--workers", "1", "--api-key", "admin-key:admin", "--api-key",
            "write-key:write"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto http = server.http();
  const Headers admin{{"Authorization", "Bearer admin-key"}};
  const Headers writer{{"Authorization", "Bearer write-key"}};

  EXPECT_TRUE(is_error(http.get("/v1/callbacks/secret", writer), 403, "forbidden")) << "admins only";
  auto read = http.get("/v1/callbacks/secret", admin);
  ASSERT_EQ(read.status, 200) << read.describe();
  const auto secret = jstring(*read.json(), "secret");
  EXPECT_EQ(jstring(*read.json(), "source"), "generated");
  EXPECT_GE(secret.size(), 40u);

  auto up = upload_raw(http, make_image(40, 30, 4, ".png"), {}, "application/octet-stream", writer);
  ASSERT_FALSE(up.id.empty()) << up.response.describe();
  auto r = http.request("POST", "/v1/jobs",
                        json::serialize(json::object{{"sources", json::array{up.id}},
                                                     {"params", "w=10"},
                                                     {"callback_url", receiver.base_url() + "/hook"}}),
                        {{"Content-Type", "application/json"}, {"Authorization", "Bearer write-key"}});
  ASSERT_EQ(r.status, 202) << r.describe();
  auto end = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (!hits.empty() || std::chrono::steady_clock::now() > end) break;
    }
    std::this_thread::sleep_for(100ms);
  }
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].header("X-ProgImage-Signature"), "sha256=" + core::to_hex(core::hmac_sha256(secret, hits[0].body)))
        << "verifiable with the secret an admin read";
  }

  // The key is kept in the catalog: the same after a restart.
  ASSERT_TRUE(server.restart());
  auto again = server.http().get("/v1/callbacks/secret", admin);
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(jstring(*again.json(), "secret"), secret);
}

TEST(JobOutputs, AConfiguredCallbackSecretIsNotRepeated) {
  ServerOptions o;
  o.args = {"--callback-secret", "my-own-secret", "--workers", "0"};
  Server server(o);
  ASSERT_TRUE(server.start());
  auto read = server.http().get("/v1/callbacks/secret");
  ASSERT_EQ(read.status, 200) << read.describe();
  EXPECT_EQ(jstring(*read.json(), "source"), "configuration");
  EXPECT_EQ(read.body.find("my-own-secret"), std::string::npos) << read.body;
}

}  // namespace
}  // namespace progimage::contract
