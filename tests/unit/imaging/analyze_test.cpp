// analyze(): EXIF camera fields over exif-samples, GPS, ICC name, hashes.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>

#include "imaging/detail.hpp"
#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

namespace json = boost::json;

json::object analyze_json(const std::string& rel) {
  const auto src = source_of(rel);
  const Metadata m = analyze(src.path, src.probe, {});
  return json::parse(m.json).as_object();
}

TEST(Analyze, CameraOfEveryExifSampleMatchesTheManifest) {
  int checked = 0;
  for (const auto& row : manifest()) {
    if (!row.path.starts_with("exif-samples/")) continue;
    const auto at = row.note.find("camera: ");
    if (at == std::string::npos || row.expected == "invalid-should-be-rejected") continue;
    std::string expected = row.note.substr(at + 8);
    expected = expected.substr(0, expected.find(';'));
    SCOPED_TRACE(row.path);
    const auto src = Source{corpus(row.path), probe_file(corpus(row.path), {}), {}};
    const Metadata m = analyze(src.path, src.probe, {});
    if (row.path.find("Reconyx") != std::string::npos) {
      // The note says libexif finds no Make/Model in its non-standard EXIF.
      EXPECT_TRUE(m.camera_make.empty());
      EXPECT_TRUE(m.camera_model.empty());
      continue;
    }
    EXPECT_EQ(camera_name(m.camera_make, m.camera_model), expected);
    const auto exif = json::parse(m.json).as_object().at("exif").as_object();
    EXPECT_EQ(exif.at("make").as_string(), m.camera_make);
    EXPECT_EQ(exif.at("model").as_string(), m.camera_model);
    ++checked;
  }
  EXPECT_EQ(checked, 19);  // 21 notes in exif-samples, less Reconyx and the corrupt one
}

TEST(Analyze, TakenAtIsUtcWhenTheCameraRecordedItsOffset) {
  // DateTimeOriginal 2021:04:11 15:47:53, OffsetTimeOriginal -05:00. (The
  // corpus' other photo with an offset, pillow-formats/ultrahdr.jpg, is truncated.)
  EXPECT_EQ(analyze_json("exif-samples/heic/IMG_5195.HEIC").at("exif").at("taken_at").as_string(),
            "2021-04-11T20:47:53Z");
}

TEST(Analyze, ExifFieldsOfAGpsPhoto) {
  const auto exif = analyze_json("exif-samples/jpg/gps/DSCN0010.jpg").at("exif").as_object();
  EXPECT_EQ(exif.at("make").as_string(), "NIKON");
  EXPECT_EQ(exif.at("model").as_string(), "COOLPIX P6000");
  EXPECT_EQ(exif.at("taken_at").as_string(), "2008-10-22T16:28:39");
  EXPECT_EQ(exif.at("exposure").as_string(), "1/75");
  EXPECT_EQ(exif.at("iso").as_int64(), 64);
  EXPECT_DOUBLE_EQ(exif.at("focal_length").to_number<double>(), 24.0);
  EXPECT_EQ(exif.at("orientation").as_int64(), 1);
  const auto gps = exif.at("gps").as_object();
  // 43° 28' 2.814" N, 11° 53' 6.456" E
  EXPECT_NEAR(gps.at("lat").to_number<double>(), 43.467448, 1e-5);
  EXPECT_NEAR(gps.at("lon").to_number<double>(), 11.885127, 1e-5);
}

TEST(Analyze, LensAndNoGps) {
  const auto exif = analyze_json("exif-samples/heic/IMG_5195.HEIC").at("exif").as_object();
  EXPECT_EQ(exif.at("lens").as_string(), "iPhone 11 Pro Max back triple camera 4.25mm f/1.8");
  EXPECT_TRUE(exif.at("gps").is_null() || exif.at("gps").is_object());
  const auto none = analyze_json("sharp-fixtures/check.svg");
  EXPECT_TRUE(none.at("exif").as_object().at("make").is_null());
  EXPECT_TRUE(none.at("exif").as_object().at("gps").is_null());
  EXPECT_TRUE(none.at("icc").is_null());
}

TEST(Analyze, IccProfileName) {
  const auto p3 = analyze_json("sharp-fixtures/p3.png");
  ASSERT_TRUE(p3.at("icc").is_string());
  EXPECT_NE(std::string(p3.at("icc").as_string()).find("P3"), std::string::npos) << p3.at("icc");
  const auto canon = analyze_json("exif-samples/jpg/Canon_40D.jpg");
  ASSERT_TRUE(canon.at("icc").is_string());
  EXPECT_NE(std::string(canon.at("icc").as_string()).find("sRGB"), std::string::npos) << canon.at("icc");
}

TEST(Analyze, HashesAndColourShapes) {
  const auto o = analyze_json("vips-formats/cogs.gif");
  EXPECT_EQ(o.at("pages").as_int64(), probe_file(corpus("vips-formats/cogs.gif"), {}).frames);
  EXPECT_EQ(o.at("phash").as_string().size(), 16u);
  EXPECT_EQ(o.at("blurhash").as_string().size(), 28u);
  const std::string colour(o.at("dominant_color").as_string());
  ASSERT_EQ(colour.size(), 7u);
  EXPECT_EQ(colour[0], '#');
}

TEST(Analyze, DominantColourOfAFlag) {
  // The Dutch flag: red, white, blue bands of equal size; white wins the
  // 4-bit histogram only by a hair, so accept any of the three.
  const std::string c(analyze_json("sharp-fixtures/Flag_of_the_Netherlands-16bit.png").at("dominant_color").as_string());
  EXPECT_TRUE(c == "#ffffff" || c.substr(0, 3) == "#ae" || c.substr(0, 3) == "#21") << c;
}

std::uint64_t phash_of_file(const std::filesystem::path& p) {
  const Probe pr = probe_file(p, {});
  return std::stoull(std::string(json::parse(analyze(p, pr, {}).json).at("phash").as_string()), nullptr, 16);
}

TEST(Analyze, PhashSurvivesResizeAndRecompression) {
  // A textured photo (flowers.jpeg is a near-flat vignette: no structure to hash).
  const auto src = source_of("exif-samples/jpg/gps/DSCN0010.jpg");
  ops::TransformSpec spec;
  spec.width = 300;
  spec.quality = 40;
  const Rendered small = render(src, spec, "webp", {}, {});
  const auto tmp = std::filesystem::temp_directory_path() / "progimage_phash_copy.webp";
  { std::ofstream(tmp, std::ios::binary) << small.bytes; }
  const auto original = phash_of_file(src.path);
  const auto copy = phash_of_file(tmp);
  EXPECT_LE(detail::hamming(original, copy), 10);
  if (!::testing::Test::HasFailure()) std::filesystem::remove(tmp);
  // Different photos are far apart.
  for (const char* other : {"vips-formats/sample.jpg", "exif-orientation/Landscape_1.jpg",
                            "sharp-fixtures/concert.jpg", "pillow-formats/iptc.jpg"}) {
    EXPECT_GT(detail::hamming(original, phash_of_file(corpus(other))), 16) << other;
  }
}

}  // namespace
}  // namespace progimage::imaging::test
