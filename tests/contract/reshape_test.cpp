// Contract tests of the reshape (issue 10): the derivative key covers the
// stored focal point (point 2), and node roles (point 6): a worker node
// serves only health and metrics and makes the variants of an API node on
// the same backends; an API node starts no workers.
#include <vips/vips8>

#include <algorithm>
#include <map>
#include <thread>

#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

// ---- point 2: a moved focal point is a new render ------------------------------

/// A PNG whose left half is pure red and whose right half is pure blue.
std::string red_left_blue_right(int width, int height) {
  make_image(1, 1, 1);  // starts libvips in this process
  auto half = [&](double r, double b) {
    return vips::VImage::black(width / 2, height, vips::VImage::option()->set("bands", 3)) +
           std::vector<double>{r, 0, b};
  };
  auto image = half(255, 0).join(half(0, 255), VIPS_DIRECTION_HORIZONTAL).cast(VIPS_FORMAT_UCHAR);
  void* buffer = nullptr;
  std::size_t size = 0;
  image.write_to_buffer(".png", &buffer, &size);
  std::string out(static_cast<const char*>(buffer), size);
  g_free(buffer);
  return out;
}

struct Rgb {
  double r = -1, g = -1, b = -1;
};

/// The mean colour of columns [left, left + width) of a decoded answer.
Rgb mean_colour(const std::string& bytes, double left_fraction, double width_fraction) {
  try {
    auto image = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").colourspace(VIPS_INTERPRETATION_sRGB);
    int left = static_cast<int>(image.width() * left_fraction);
    int width = std::max(1, static_cast<int>(image.width() * width_fraction));
    auto area = image.extract_area(left, 0, width, image.height());
    return {area.extract_band(0).avg(), area.extract_band(1).avg(), area.extract_band(2).avg()};
  } catch (const vips::VError& e) {
    ADD_FAILURE() << "the answer does not decode: " << e.what();
    vips_error_clear();
    return {};
  }
}

::testing::AssertionResult is_red(const Rgb& c) {
  if (c.r > 230 && c.g < 25 && c.b < 25) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "mean colour " << c.r << "," << c.g << "," << c.b << " is not red";
}

::testing::AssertionResult is_blue(const Rgb& c) {
  if (c.b > 230 && c.g < 25 && c.r < 25) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "mean colour " << c.r << "," << c.g << "," << c.b << " is not blue";
}

class ReshapeFocusTest : public SharedServerTest<ReshapeFocusTest> {
 public:
  static ServerOptions server_options() { return {.args = {"--workers", "0"}}; }

 protected:
  /// Uploads the red|blue image (`width` keeps each test's bytes its own).
  std::string upload_halves(int width) {
    auto up = upload_raw(http(), red_left_blue_right(width, 200), {}, "image/png");
    EXPECT_FALSE(up.id.empty()) << up.response.describe();
    return up.id;
  }

  void set_focus(const std::string& id, std::string_view focus_json) {
    auto r = http().request("PATCH", "/v1/images/" + id, "{\"focus\": " + std::string(focus_json) + "}",
                            {{"Content-Type", "application/json"}});
    ASSERT_TRUE(is_json_ok(r, 200)) << r.describe();
  }

  /// GET of `url`, checked to be a PNG derivative with the given X-Cache.
  Response get_render(const std::string& url, std::string_view cache) {
    auto r = http().get(url);
    EXPECT_EQ(r.status, 200) << url << ": " << r.describe();
    EXPECT_EQ(r.header("X-Cache"), cache) << url;
    EXPECT_EQ(sniff_format(r.body), "png") << url;
    return r;
  }

  /// The issue's scenario: a render keyed on the old focus must not be
  /// served after the focus moved to the other half.
  void expect_focus_move_rerenders(const std::string& gravity, int width) {
    auto id = upload_halves(width);
    ASSERT_FALSE(id.empty());
    set_focus(id, R"({"x": 0.1, "y": 0.5})");
    // 2:1 covered into 1:1: the crop is one half or the other.
    const std::string url = "/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=" + gravity;

    auto first = get_render(url, "miss");
    EXPECT_TRUE(is_red(mean_colour(first.body, 0, 1))) << "focus on the left";
    auto again = get_render(url, "hit");
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.header("ETag"), first.header("ETag"));

    set_focus(id, R"({"x": 0.9, "y": 0.5})");
    auto moved = get_render(url, "miss");
    EXPECT_TRUE(is_blue(mean_colour(moved.body, 0, 1))) << "focus moved to the right: the crop follows it";
    EXPECT_NE(moved.header("ETag"), first.header("ETag")) << "another render, another validator";
    auto moved_again = get_render(url, "hit");
    EXPECT_EQ(moved_again.body, moved.body);

    // A client holding the old validator gets the new render, not a 304.
    auto revalidated = http().get(url, {{"If-None-Match", first.header("ETag")}});
    EXPECT_EQ(revalidated.status, 200) << revalidated.describe();
    EXPECT_TRUE(is_blue(mean_colour(revalidated.body, 0, 1)));
  }
};

TEST_F(ReshapeFocusTest, MovingTheFocusRerendersGravityFocus) { expect_focus_move_rerenders("focus", 400); }

TEST_F(ReshapeFocusTest, MovingTheFocusRerendersGravitySmart) { expect_focus_move_rerenders("smart", 402); }

TEST_F(ReshapeFocusTest, ClearingTheFocusRerendersGravityFocusAtTheCentre) {
  auto id = upload_halves(404);
  ASSERT_FALSE(id.empty());
  set_focus(id, R"({"x": 0.9, "y": 0.5})");
  const std::string url = "/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=focus";
  auto right = get_render(url, "miss");
  EXPECT_TRUE(is_blue(mean_colour(right.body, 0, 1)));

  set_focus(id, "null");
  auto centre = get_render(url, "miss");
  EXPECT_TRUE(is_red(mean_colour(centre.body, 0, 0.4))) << "without a focus the crop is centred: red on the left";
  EXPECT_TRUE(is_blue(mean_colour(centre.body, 0.6, 0.4))) << "and blue on the right";
  get_render(url, "hit");
}

TEST_F(ReshapeFocusTest, TheFocusDoesNotChangeOtherRenders) {
  // Only renders that read the focus are keyed on it: the rest stay cached.
  auto id = upload_halves(406);
  ASSERT_FALSE(id.empty());
  const std::string url = "/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=west";
  auto first = get_render(url, "miss");
  EXPECT_TRUE(is_red(mean_colour(first.body, 0, 1)));
  set_focus(id, R"({"x": 0.9, "y": 0.5})");
  auto after = get_render(url, "hit");
  EXPECT_EQ(after.body, first.body);
}

// ---- point 6: node roles ---------------------------------------------------------

/// A second node on the catalog, blob store and data directory of `first`.
std::unique_ptr<Server> node_beside(const Server& first, const std::vector<std::string>& args) {
  ServerOptions options;
  options.pass_listen_and_data = false;  // given here: those of `first`
  options.args = {"--listen",  "127.0.0.1:0",       "--data",    first.data_dir().string(),
                  "--catalog", first.catalog_url(),                  "--storage", first.storage_url()};
  options.args.insert(options.args.end(), args.begin(), args.end());
  return std::make_unique<Server>(options);
}

double metric(const Http& http, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  auto r = http.get("/metrics");
  EXPECT_EQ(r.status, 200) << r.describe();
  std::vector<std::string> bad;
  auto samples = parse_metrics(r.body, &bad);
  EXPECT_TRUE(bad.empty()) << bad.front();
  EXPECT_TRUE(std::any_of(samples.begin(), samples.end(), [&](const Sample& s) { return s.name == name; }))
      << name << " is not in /metrics";
  return metric_sum(samples, "^" + name + "$", labels);
}

/// The variant statuses of an image, from /info.
std::map<std::string, std::string> variant_statuses(const Http& http, const std::string& id) {
  std::map<std::string, std::string> out;
  auto info = http.get("/v1/images/" + id + "/info").json();
  if (!info) return out;
  auto* variants = jfind(*info, "variants");
  if (!variants || !variants->is_object()) return out;
  for (const auto& [name, status] : variants->as_object())
    if (status.is_string()) out[std::string(name)] = std::string(status.as_string());
  return out;
}

constexpr const char* kVariantNames[] = {"thumb", "small", "medium"};

TEST(ReshapeRoles, AWorkerNodeServesOnlyHealthAndMetrics) {
  Server worker({.args = {"--role", "worker"}});
  ASSERT_TRUE(worker.start());
  auto http = worker.http();
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto r = http.get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
  }
  EXPECT_NE(http.get("/metrics").body.find("progimage_job_items_total"), std::string::npos);

  const std::pair<const char*, const char*> api[] = {
      {"GET", "/v1/images"},         {"POST", "/v1/images"},        {"GET", "/v1/images/abc"},
      {"GET", "/v1/images/abc.png"}, {"PATCH", "/v1/images/abc"},   {"DELETE", "/v1/images/abc"},
      {"GET", "/v1/images/abc/info"}, {"GET", "/v1/images/abc/variants/thumb"}, {"GET", "/v1/stats"},
      {"POST", "/v1/transform"},     {"POST", "/v1/jobs"},          {"GET", "/v1/jobs/abc"},
      {"GET", "/openapi.json"},
  };
  for (const auto& [method, path] : api) {
    auto r = http.request(method, path, method == std::string("POST") ? make_image(8, 8, 1) : std::string());
    EXPECT_TRUE(is_error(r, 404, "not_found")) << method << " " << path << ": " << r.describe();
  }
}

TEST(ReshapeRoles, AWorkerNodeMakesTheVariantsOfAnApiNode) {
  // --workers 2 on the API node: its role, not the count, keeps it from working.
  Server api({.args = {"--role", "api", "--workers", "2"}});
  ASSERT_TRUE(api.start());
  auto worker = node_beside(api, {"--role", "worker", "--workers", "2"});
  ASSERT_TRUE(worker->start());

  auto up = upload_raw(api.http(), make_image(640, 480, 21, ".jpg"));
  ASSERT_FALSE(up.id.empty()) << up.response.describe();
  EXPECT_TRUE(is_error(worker->http().get("/v1/images/" + up.id), 404, "not_found"));

  for (const char* name : kVariantNames) {
    Response r;
    auto end = std::chrono::steady_clock::now() + 60s;
    do {
      r = api.http().get("/v1/images/" + up.id + "/variants/" + name);
      if (r.status == 202) std::this_thread::sleep_for(100ms);
    } while (r.status == 202 && std::chrono::steady_clock::now() < end);
    ASSERT_EQ(r.status, 200) << name << ": " << r.describe() << "\nworker stderr:\n" << tail(worker->stderr_text());
    EXPECT_EQ(r.header("X-Cache"), "hit") << name << ": the API node served what the worker node rendered";
    EXPECT_TRUE(decode(r.body).error.empty()) << name;
  }
  auto statuses = variant_statuses(api.http(), up.id);
  for (const char* name : kVariantNames) EXPECT_EQ(statuses[name], "ready") << name;

  EXPECT_GE(metric(worker->http(), "progimage_job_items_total", {{"outcome", "done"}}), 3);
  EXPECT_EQ(metric(api.http(), "progimage_job_items_total"), 0) << "the API node made none of them";
  EXPECT_TRUE(api.alive());
  EXPECT_TRUE(worker->alive());
}

TEST(ReshapeRoles, AnApiNodeAloneLeavesVariantsPending) {
  Server api({.args = {"--role", "api", "--job-backoff", "100ms"}});  // the default --workers is 2
  ASSERT_TRUE(api.start());
  auto up = upload_raw(api.http(), make_image(320, 240, 22, ".jpg"));
  ASSERT_FALSE(up.id.empty()) << up.response.describe();

  // Many idle polls of a worker, had one been started.
  auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end) {
    auto statuses = variant_statuses(api.http(), up.id);
    ASSERT_EQ(statuses.size(), std::size(kVariantNames));
    for (const char* name : kVariantNames) ASSERT_EQ(statuses[name], "pending") << name;
    std::this_thread::sleep_for(250ms);
  }
  auto r = api.http().get("/v1/images/" + up.id + "/variants/thumb");
  EXPECT_EQ(r.status, 202) << r.describe();
  EXPECT_EQ(jstring(*r.json(), "status"), "pending");

  auto http = api.http();
  EXPECT_EQ(metric(http, "progimage_job_items_total"), 0) << "no item was attempted";
  EXPECT_GE(metric(http, "progimage_job_queue_items", {{"status", "queued"}}), 3) << "they wait in the queue";
  EXPECT_EQ(metric(http, "progimage_job_queue_items", {{"status", "running"}}), 0) << "and nobody leased them";
}

}  // namespace
}  // namespace progimage::contract
