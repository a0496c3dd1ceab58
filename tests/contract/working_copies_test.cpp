// Working copies (API.md, "Working copies"): made in the background for large
// still images, decoded by the renders they suffice for, counted in stats,
// gone with the last image of their bytes; small images get none.
#include <thread>

#include "harness.hpp"

namespace progimage::contract {
namespace {

class WorkingCopiesTest : public SharedServerTest<WorkingCopiesTest> {
 protected:
  static std::int64_t stats_bytes() {
    auto r = http().get("/v1/stats");
    EXPECT_TRUE(is_json_ok(r, 200)) << r.describe();
    const auto json = r.json();
    return json ? jint(*json, "bytes_working_copies") : -1;
  }
  static double renders_from_copies() {
    return metric_sum(parse_metrics(http().get("/metrics").body), "progimage_working_copy_renders_total");
  }
  /// The load step of /explain for `query`.
  static boost::json::object load_step(const std::string& id, const std::string& query) {
    auto r = http().get("/v1/images/" + id + "/explain?" + query);
    EXPECT_EQ(r.status, 200) << r.describe();
    const auto json = r.json();
    if (!json) return {};
    const auto* steps = jfind(*json, "steps");
    if (!steps || !steps->is_array() || steps->as_array().empty()) return {};
    return steps->as_array().front().as_object();
  }
  /// Waits until the image's copies are recorded: explain names one for
  /// `query` (the largest level is made last).
  static bool copies_made(const std::string& id, const std::string& query = "w=300") {
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < end) {
      if (load_step(id, query).contains("working_copy")) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

TEST_F(WorkingCopiesTest, LargeImagesGetCopiesThatSmallerRendersDecode) {
  const std::int64_t before = stats_bytes();
  // Twice 2048 px wide: a JPEG (which shrinks on load) gets both levels.
  const std::string bytes = make_image(4100, 2600, 1401, ".jpg");
  const auto up = upload_raw(http(), bytes);
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  ASSERT_TRUE(copies_made(up.id, "w=1000")) << "no working copy of level 2048 after a minute";
  const std::int64_t grown = stats_bytes() - before;
  EXPECT_GT(grown, 0);
  EXPECT_LT(grown, static_cast<std::int64_t>(bytes.size()));

  // Each output decodes the smallest level that holds it.
  const auto small = load_step(up.id, "w=300");
  EXPECT_EQ(jint(small.at("working_copy"), "level"), 512);
  EXPECT_EQ(jint(small.at("working_copy"), "width"), 512);
  EXPECT_EQ(jint(small.at("working_copy"), "height"), 325);
  EXPECT_EQ(jint(load_step(up.id, "w=1000&format=webp").at("working_copy"), "level"), 2048);
  EXPECT_EQ(jint(load_step(up.id, "w=300&dpr=3").at("working_copy"), "level"), 2048) << "900 px";
  // What needs the original's pixels does not.
  for (const char* query : {"format=png", "w=4000", "w=300&autorotate=false", "w=300&strip=false",
                            "w=300&trim=10", "crop=0,0,400,400&w=300"}) {
    EXPECT_FALSE(load_step(up.id, query).contains("working_copy")) << query;
  }

  // A render from a copy: the original's geometry, counted, close to a render of the original.
  const double counted = renders_from_copies();
  auto from_copy = http().get("/v1/images/" + up.id + "?w=300&format=png");
  ASSERT_EQ(from_copy.status, 200) << from_copy.describe();
  EXPECT_EQ(from_copy.header("X-Cache"), "miss");
  const auto d = decode(from_copy.body);
  EXPECT_EQ(d.width, 300);
  EXPECT_EQ(d.height, 190);
  EXPECT_EQ(renders_from_copies(), counted + 1);
  // The original itself, unchanged.
  auto original = http().get("/v1/images/" + up.id);
  ASSERT_EQ(original.status, 200);
  EXPECT_TRUE(original.body == bytes);
}

TEST_F(WorkingCopiesTest, SmallImagesGetNone) {
  const std::int64_t before = stats_bytes();
  const auto up = upload_raw(http(), make_image(700, 500, 1402, ".jpg"));
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  // Variants are made by the same queue: once they are ready, a copy would be too.
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end &&
         http().get("/v1/images/" + up.id + "/variants/thumb").status == 202)
    std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(load_step(up.id, "w=300").contains("working_copy"));
  EXPECT_EQ(stats_bytes(), before);
}

TEST_F(WorkingCopiesTest, CopiesGoWithTheImage) {
  const std::int64_t before = stats_bytes();
  const std::string bytes = make_image(2000, 1500, 1403, ".png");
  const auto up = upload_raw(http(), bytes);
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  ASSERT_TRUE(copies_made(up.id));
  EXPECT_GT(stats_bytes(), before);
  ASSERT_EQ(http().request("DELETE", "/v1/images/" + up.id).status, 204);
  EXPECT_EQ(stats_bytes(), before);
  SKIP_UNLESS_BLOB_FILES(server());
  EXPECT_TRUE(files_named(*server().blob_dir() / "working", sha256_hex(bytes)).empty())
      << "a working copy's file outlived its image";
}

}  // namespace
}  // namespace progimage::contract
