// Contract point 11: image work runs in a bounded pool; a full pool answers
// 503 overloaded with Retry-After, and the server stays healthy.
#include <future>
#include <regex>

#include "harness.hpp"

namespace progimage::contract {
namespace {

TEST(Overload, FullProcessingPoolAnswers503WithRetryAfter) {
  // One processing thread, no waiting room, no derivative cache (every request is work).
  Server server({.args = {"--processing-threads", "1", "--processing-queue", "0", "--cache-bytes", "0"}});
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::vector<std::string> ids;
  for (std::uint32_t seed = 801; seed <= 803; ++seed) {
    // Uploads go one by one; the pool has room for each.
    auto up = upload_raw(http, make_image(2500, 2000, seed, ".jpg"), "", "image/jpeg");
    ASSERT_EQ(up.response.status, 201) << up.response.describe();
    ids.push_back(up.id);
  }
  // 3 images x 6 formats: 18 distinct conversions of 5 Mpx at once.
  std::vector<std::future<Response>> pending;
  for (const auto& id : ids)
    for (const char* ext : {"png", "webp", "tiff", "gif", "avif", "jxl"})
      pending.push_back(std::async(std::launch::async, [&http, id, ext] {
        return http.get("/v1/images/" + id + "." + ext, {}, 180s);
      }));
  int ok = 0, overloaded = 0;
  for (auto& f : pending) {
    auto r = f.get();
    if (r.status == 200) {
      ++ok;
    } else if (r.status == 503) {
      ++overloaded;
      EXPECT_TRUE(is_error(r, 503, "overloaded"));
      std::string retry = r.header("Retry-After");
      // delta-seconds or an HTTP-date (RFC 9110)
      std::regex retry_re(R"(\d+|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT)");
      EXPECT_TRUE(std::regex_match(retry, retry_re)) << "503 without a valid Retry-After: '" << retry << "'";
    } else {
      ADD_FAILURE() << "neither 200 nor 503: " << r.describe();
    }
  }
  EXPECT_GE(overloaded, 1) << "18 concurrent conversions on 1 thread with no queue were all accepted";
  EXPECT_GE(ok, 1) << "the pool refused everything";
  // Still healthy, and work is accepted again once the pool is free.
  EXPECT_EQ(http.get("/healthz").status, 200);
  auto after = http.get("/v1/images/" + ids[0] + ".webp", {}, 120s);
  EXPECT_EQ(after.status, 200) << after.describe();
  EXPECT_TRUE(server.alive());
}

}  // namespace
}  // namespace progimage::contract
