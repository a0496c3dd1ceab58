// Contract point 7: /info with EXIF, PATCH of description and tags, DELETE
// of the record, its derivatives and its blob.
#include <cmath>
#include <fstream>
#include <regex>
#include <set>

#include "harness.hpp"

namespace progimage::contract {
namespace {

struct ManifestRow {
  std::string path, format, dimensions, expected, note;
};

std::vector<ManifestRow> manifest() {
  std::ifstream in(testdata_dir() / "MANIFEST.tsv");
  std::vector<ManifestRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    ManifestRow r;
    std::vector<std::string*> cols{&r.path, &r.format, &r.dimensions, &r.expected, &r.note};
    std::size_t start = 0;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      auto tab = line.find('\t', start);
      *cols[i] = line.substr(start, i + 1 == cols.size() ? std::string::npos : tab - start);
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(r);
  }
  return rows;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class InfoTest : public SharedServerTest<InfoTest> {
 public:
  // No background variants: a variant of a small PNG can re-encode to the
  // original's exact bytes, and the delete test counts files by content.
  static ServerOptions server_options() {
    ServerOptions o;
    o.args = {"--workers", "0"};
    return o;
  }

 protected:
  Uploaded upload_file(const std::string& rel) {
    auto up = upload_raw(http(), read_file(testdata_dir() / rel));
    EXPECT_EQ(up.response.status / 100, 2) << rel << ": " << up.response.describe();
    return up;
  }
};

// The MANIFEST note says "camera: X" where X is the model when the model
// already starts with the make's first word, else "make model" (trimmed).
bool camera_matches(const std::string& note_camera, const std::string& make, const std::string& model) {
  if (make.empty() || model.empty()) return false;
  if (note_camera == make + " " + model) return true;
  std::string first_word = lower(make.substr(0, make.find(' ')));
  return note_camera == model && lower(model).rfind(first_word, 0) == 0;
}

TEST_F(InfoTest, CameraMakeAndModelForEveryExifSample) {
  int checked = 0;
  for (const auto& row : manifest()) {
    if (row.path.rfind("exif-samples/", 0) != 0 || row.expected == "invalid-should-be-rejected") continue;
    auto pos = row.note.find("camera: ");
    if (pos == std::string::npos || row.note.find("no Make/Model") != std::string::npos) continue;
    std::string camera = row.note.substr(pos + 8);
    camera = camera.substr(0, camera.find(';'));
    SCOPED_TRACE(row.path + " (camera: " + camera + ")");
    auto up = upload_file(row.path);
    if (up.id.empty()) continue;
    auto r = http().get("/v1/images/" + up.id + "/info");
    ASSERT_TRUE(is_json_ok(r, 200));
    auto j = *r.json();
    EXPECT_TRUE(camera_matches(camera, jstring(j, "camera.make"), jstring(j, "camera.model")))
        << "camera is " << (jfind(j, "camera") ? boost::json::serialize(*jfind(j, "camera")) : "absent");
    EXPECT_TRUE(camera_matches(camera, jstring(j, "exif.make"), jstring(j, "exif.model")))
        << "exif is " << (jfind(j, "exif") ? boost::json::serialize(*jfind(j, "exif")) : "absent");
    // The upload answer carries the same camera.
    EXPECT_TRUE(camera_matches(camera, jstring(up.json, "camera.make"), jstring(up.json, "camera.model")))
        << up.response.body;
    ++checked;
  }
  EXPECT_GE(checked, 18) << "fewer camera samples than the corpus has";
}

TEST_F(InfoTest, InfoHasTheExifFieldsOfTheContract) {
  auto up = upload_file("exif-samples/jpg/gps/DSCN0010.jpg");
  ASSERT_FALSE(up.id.empty());
  auto r = http().get("/v1/images/" + up.id + "/info");
  ASSERT_TRUE(is_json_ok(r, 200));
  auto j = *r.json();
  EXPECT_TRUE(is_image_object(j, false));
  EXPECT_EQ(jstring(j, "id"), up.id);
  const auto* exif = jfind(j, "exif");
  ASSERT_TRUE(exif && exif->is_object()) << r.body;
  for (const char* k : {"make", "model", "lens", "taken_at", "orientation", "exposure", "iso", "focal_length", "gps"})
    EXPECT_TRUE(exif->as_object().contains(k)) << "exif lacks '" << k << "': " << boost::json::serialize(*exif);
  EXPECT_EQ(jstring(j, "exif.make"), "NIKON");
  EXPECT_EQ(jstring(j, "exif.model"), "COOLPIX P6000");
  EXPECT_EQ(jint(j, "exif.orientation"), 1);
  EXPECT_TRUE(std::regex_search(jstring(j, "exif.taken_at"), std::regex(R"(^2008-10-2\dT\d\d:\d\d:\d\d)")))
      << "taken_at: " << r.body;
  const auto* lat = jfind(j, "exif.gps.lat");
  const auto* lon = jfind(j, "exif.gps.lon");
  ASSERT_TRUE(lat && lon && lat->is_number() && lon->is_number()) << r.body;
  EXPECT_NEAR(lat->to_number<double>(), 43.0 + 28.0 / 60 + 2.814 / 3600, 1e-3);
  EXPECT_NEAR(lon->to_number<double>(), 11.0 + 53.0 / 60 + 6.456 / 3600, 1e-3);
  // Numbers as people write them, not in exponent form (2.4E1, 4.3467448E1).
  EXPECT_NE(r.body.find(R"("focal_length":24,)"), std::string::npos) << r.body;
  EXPECT_TRUE(std::regex_search(r.body, std::regex(R"("lat":43\.46\d*,"lon":11\.88\d*\})"))) << r.body;
  EXPECT_TRUE(std::regex_match(jstring(j, "phash"), std::regex("^[0-9a-f]{16}$"))) << r.body;
  EXPECT_TRUE(std::regex_match(jstring(j, "dominant_color"), std::regex("^#[0-9a-f]{6}$"))) << r.body;
  EXPECT_FALSE(jstring(j, "blurhash").empty()) << r.body;
  EXPECT_EQ(jint(j, "pages"), 1) << r.body;
  EXPECT_TRUE(jfind(j, "icc")) << "no icc key: " << r.body;

  auto icc = upload_file("exif-samples/jpg/Canon_40D.jpg");
  auto ri = http().get("/v1/images/" + icc.id + "/info");
  ASSERT_TRUE(is_json_ok(ri, 200));
  EXPECT_FALSE(jstring(*ri.json(), "icc").empty()) << "ICC profile name missing: " << ri.body;
}

TEST_F(InfoTest, ImageWithoutExifHasNullCamera) {
  auto up = upload_raw(http(), make_image(50, 50, 401, ".png"));
  ASSERT_EQ(up.response.status, 201);
  auto r = http().get("/v1/images/" + up.id + "/info");
  ASSERT_TRUE(is_json_ok(r, 200));
  const auto json = r.json();  // keep the document alive while `camera` points into it
  const auto* camera = jfind(*json, "camera");
  EXPECT_TRUE(camera && camera->is_null()) << r.body;
}

TEST_F(InfoTest, PatchReplacesDescriptionAndTags) {
  auto up = upload_raw(http(), make_image(30, 30, 402, ".png"), "description=old&tags=first");
  ASSERT_EQ(up.response.status, 201);
  auto r = http().request("PATCH", "/v1/images/" + up.id,
                          R"({"description": "new view of the #Sunset", "tags": ["Red", "blue"]})",
                          {{"Content-Type", "application/json"}});
  ASSERT_TRUE(is_json_ok(r, 200));
  auto j = *r.json();
  EXPECT_TRUE(is_image_object(j, false));
  EXPECT_EQ(jstring(j, "description"), "new view of the #Sunset");
  std::set<std::string> tags;
  for (const auto& t : jfind(j, "tags")->as_array()) tags.emplace(t.as_string());
  EXPECT_TRUE(tags.count("red") && tags.count("blue") && tags.count("sunset")) << r.body;
  EXPECT_FALSE(tags.count("first")) << "tags were not replaced: " << r.body;

  // Fields not in the patch stay; the record is what GET /info shows.
  auto r2 = http().request("PATCH", "/v1/images/" + up.id, R"({"description": "plain"})",
                           {{"Content-Type", "application/json"}});
  ASSERT_TRUE(is_json_ok(r2, 200));
  auto info = http().get("/v1/images/" + up.id + "/info");
  ASSERT_TRUE(is_json_ok(info, 200));
  auto ji = *info.json();
  EXPECT_EQ(jstring(ji, "description"), "plain");
  std::set<std::string> kept;
  for (const auto& t : jfind(ji, "tags")->as_array()) kept.emplace(t.as_string());
  EXPECT_TRUE(kept.count("red") && kept.count("blue")) << "tags lost by a description-only patch: " << info.body;
}

TEST_F(InfoTest, PatchErrors) {
  auto up = upload_raw(http(), make_image(30, 30, 403, ".png"));
  ASSERT_EQ(up.response.status, 201);
  EXPECT_TRUE(is_error(http().request("PATCH", "/v1/images/" + up.id, "{not json",
                                      {{"Content-Type", "application/json"}}),
                       400));
  EXPECT_TRUE(is_error(http().request("PATCH", "/v1/images/" + up.id, R"({"tags": 42})",
                                      {{"Content-Type", "application/json"}}),
                       400));
  EXPECT_TRUE(is_error(http().request("PATCH", "/v1/images/" + up.id, R"({"description": ["x"]})",
                                      {{"Content-Type", "application/json"}}),
                       400));
  EXPECT_TRUE(is_error(http().request("PATCH", "/v1/images/AAAAAAAAAAAAAAAAAAAAAA", R"({"description": "x"})",
                                      {{"Content-Type", "application/json"}}),
                       404, "not_found"));
}

TEST_F(InfoTest, DeleteRemovesTheRecordItsDerivativesAndTheBlob) {
  std::string png = make_image(200, 150, 404, ".png");
  std::string sha = sha256_hex(png);
  auto up = upload_raw(http(), png);
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  auto webp = http().get("/v1/images/" + up.id + ".webp", {}, 60s);
  ASSERT_EQ(webp.status, 200) << webp.describe();
  // The files of a file store are looked at before and after; the API answers are checked with any store.
  const auto blobs = server().blob_dir();
  std::vector<fs::path> derivative_files;
  if (blobs) {
    ASSERT_EQ(files_with_content(*blobs, sha).size(), 1u) << "the original is not stored once in the blob store";
    derivative_files = files_with_content(*blobs, sha256_hex(webp.body));
    EXPECT_EQ(derivative_files.size(), 1u) << "the derivative is not stored in the blob store";
  }

  auto del = http().request("DELETE", "/v1/images/" + up.id);
  EXPECT_EQ(del.status, 204) << del.describe();
  EXPECT_TRUE(del.body.empty());

  EXPECT_TRUE(is_error(http().get("/v1/images/" + up.id), 404, "not_found"));
  EXPECT_TRUE(is_error(http().get("/v1/images/" + up.id + ".webp"), 404, "not_found"));
  EXPECT_TRUE(is_error(http().get("/v1/images/" + up.id + "/info"), 404, "not_found"));
  EXPECT_TRUE(is_error(http().request("DELETE", "/v1/images/" + up.id), 404, "not_found"));

  if (blobs) {
    auto named = files_named(*blobs, sha);
    EXPECT_TRUE(named.empty()) << "a file named by the sha256 is left: " << (named.empty() ? fs::path() : named[0]);
    EXPECT_TRUE(files_with_content(*blobs, sha).empty()) << "the blob is left in the blob store";
    for (const auto& f : derivative_files) EXPECT_FALSE(fs::exists(f)) << "derivative left: " << f;
  }

  // The same bytes can be stored again afterwards, as a new image.
  auto again = upload_raw(http(), png);
  EXPECT_EQ(again.response.status, 201) << again.response.describe();
  EXPECT_NE(again.id, up.id);
  SKIP_UNLESS_BLOB_FILES(server());  // says that the blob files were not looked at
}

}  // namespace
}  // namespace progimage::contract
