// Contract point 6: GET /v1/images/{id}.{ext} for every output format,
// checked by decoding the answer with libvips: format, oriented size, alpha,
// animation, metadata, and the derivative cache.
#include <vips/vips8>

#include <algorithm>
#include <cctype>
#include <regex>

#include "core/hash.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

struct OutputFormat {
  const char* ext;
  const char* content_type;
  const char* sniffed;  // sniff_format() of the bytes
  const char* loader;   // libvips loader that must read them
  bool alpha;           // the format carries an alpha channel
};

const OutputFormat kFormats[] = {
    {"jpg", "image/jpeg", "jpeg", "jpegload", false}, {"jpeg", "image/jpeg", "jpeg", "jpegload", false},
    {"png", "image/png", "png", "pngload", true},     {"webp", "image/webp", "webp", "webpload", true},
    {"avif", "image/avif", "avif", "heifload", true}, {"heic", "image/heic", "heic", "heifload", true},
    {"jxl", "image/jxl", "jxl", "jxlload", true},     {"gif", "image/gif", "gif", "gifload", true},
    {"tiff", "image/tiff", "tiff", "tiffload", true}, {"tif", "image/tiff", "tiff", "tiffload", true},
    {"jp2", "image/jp2", "jp2", "jp2kload", true},
};

constexpr auto kSlow = 120s;  // AVIF/HEIC/JXL encodes of 2 Mpx on a busy 2-core machine

class FormatsTest : public SharedServerTest<FormatsTest> {
 protected:
  std::string upload_file(const std::string& rel) {
    std::string bytes = read_file(testdata_dir() / rel);
    EXPECT_FALSE(bytes.empty()) << rel;
    auto up = upload_raw(http(), bytes);
    EXPECT_EQ(up.response.status / 100, 2) << rel << ": " << up.response.describe();
    return up.id;
  }
  std::string upload_bytes(const std::string& bytes) {
    auto up = upload_raw(http(), bytes);
    EXPECT_EQ(up.response.status / 100, 2) << up.response.describe();
    return up.id;
  }
};

/// The PNG inside an SVG answer (data: URI), decoded from base64; "" when absent.
/// (No std::regex over the payload: libstdc++'s recursive matcher overflows on megabytes.)
std::string embedded_png(const std::string& svg) {
  const std::string marker = "data:image/png;base64,";
  auto start = svg.find(marker);
  if (start == std::string::npos) return {};
  start += marker.size();
  std::string b64;
  for (auto i = start; i < svg.size(); ++i) {
    char c = svg[i];
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=') b64 += c;
    else if (!std::isspace(static_cast<unsigned char>(c))) break;
  }
  return core::base64_decode(b64).value_or("");
}

/// The opening <svg ...> tag.
std::string svg_tag(const std::string& svg) {
  auto start = svg.find("<svg");
  if (start == std::string::npos) return {};
  return svg.substr(start, svg.find('>', start) - start + 1);
}

TEST_F(FormatsTest, EveryExtensionDecodesAsItsFormatWithTheOrientedSize) {
  // Stored 1800x1200 with EXIF orientation 6: displays as 1200x1800.
  std::string id = upload_file("exif-orientation/Portrait_6.jpg");
  ASSERT_FALSE(id.empty());
  const std::string original = read_file(testdata_dir() / "exif-orientation/Portrait_6.jpg");
  for (const auto& f : kFormats) {
    SCOPED_TRACE(f.ext);
    auto r = http().get("/v1/images/" + id + "." + f.ext, {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.header("Content-Type"), f.content_type);
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(sniff_format(r.body), f.sniffed);
    if (std::string(f.sniffed) == "jpeg") {
      // Same format, no parameters: the original bytes (EXIF orientation and all).
      EXPECT_TRUE(r.body == original) << "a JPEG asked for as ." << f.ext << " is not the original";
      continue;
    }
    auto d = decode(r.body);
    ASSERT_TRUE(d.error.empty()) << "libvips cannot decode the answer: " << d.error;
    EXPECT_EQ(d.loader, f.loader);
    EXPECT_EQ(d.width, 1200);
    EXPECT_EQ(d.height, 1800);
  }
  auto svg = http().get("/v1/images/" + id + ".svg", {}, kSlow);
  ASSERT_EQ(svg.status, 200) << svg.describe();
  EXPECT_EQ(svg.header("Content-Type").rfind("image/svg+xml", 0), 0u) << svg.header("Content-Type");
  EXPECT_EQ(svg.header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(svg.body.find("<svg"), std::string::npos);
  const std::string tag = svg_tag(svg.body);
  EXPECT_TRUE(std::regex_search(tag, std::regex(R"(width=["']1200(px)?["'])"))) << tag;
  EXPECT_TRUE(std::regex_search(tag, std::regex(R"(height=["']1800(px)?["'])"))) << tag;
  auto png = embedded_png(svg.body);
  ASSERT_FALSE(png.empty()) << "no embedded data:image/png;base64 in the SVG: " << svg.body.substr(0, 300);
  auto d = decode(png);
  EXPECT_EQ(d.loader, "pngload") << d.error;
  EXPECT_EQ(d.width, 1200);
  EXPECT_EQ(d.height, 1800);
  auto rendered = decode(svg.body);  // libvips' own SVG loader reads it at its size
  EXPECT_TRUE(rendered.error.empty()) << rendered.error;
  EXPECT_EQ(rendered.width, 1200);
  EXPECT_EQ(rendered.height, 1800);
}

TEST_F(FormatsTest, EveryExifOrientationIsApplied) {
  std::string landscape = read_file(testdata_dir() / "exif-orientation/Landscape_1.jpg");
  std::string portrait = read_file(testdata_dir() / "exif-orientation/Portrait_1.jpg");
  for (const char* kind : {"Landscape", "Portrait"}) {
    for (int n = 0; n <= 8; ++n) {
      std::string rel = std::string("exif-orientation/") + kind + "_" + std::to_string(n) + ".jpg";
      SCOPED_TRACE(rel);
      std::string id = upload_file(rel);
      if (id.empty()) continue;
      auto r = http().get("/v1/images/" + id + ".png", {}, kSlow);
      ASSERT_EQ(r.status, 200) << r.describe();
      auto d = decode(r.body);
      ASSERT_TRUE(d.error.empty()) << d.error;
      bool is_landscape = std::string(kind) == "Landscape";
      EXPECT_EQ(d.width, is_landscape ? 1800 : 1200);
      EXPECT_EQ(d.height, is_landscape ? 1200 : 1800);
      // Same picture as the upright reference, not a mirrored or rotated one.
      double diff = mean_abs_diff(r.body, is_landscape ? landscape : portrait);
      EXPECT_GE(diff, 0) << "sizes differ from the upright reference";
      EXPECT_LT(diff, 12) << "output is not the upright picture (mean difference " << diff << ")";
    }
  }
}

TEST_F(FormatsTest, AlphaIsKeptWhereTheFormatHasItAndFlattenedOtherwise) {
  // Left half fully transparent over noise, right half opaque noise.
  std::string rgba = make_image(64, 48, 301, ".png", 4);
  std::string id = upload_bytes(rgba);
  ASSERT_FALSE(id.empty());
  for (const auto& f : kFormats) {
    SCOPED_TRACE(f.ext);
    auto r = http().get("/v1/images/" + id + "." + f.ext, {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    auto d = decode(r.body);
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_EQ(d.has_alpha, f.alpha) << "bands " << d.bands;
    EXPECT_EQ(d.width, 64);
    EXPECT_EQ(d.height, 48);
  }
  // Flattened JPEG: the transparent half became one flat colour (the noise under it is gone).
  auto jpg = http().get("/v1/images/" + id + ".jpg", {}, kSlow);
  ASSERT_EQ(jpg.status, 200);
  auto img = vips::VImage::new_from_buffer(jpg.body.data(), jpg.body.size(), "");
  double left_dev = img.extract_area(2, 2, 28, 44).deviate();
  double right_dev = img.extract_area(34, 2, 28, 44).deviate();
  EXPECT_LT(left_dev, 4) << "transparent area not flattened to a background colour";
  EXPECT_GT(right_dev, 8) << "opaque area lost its content";
  // The SVG embeds a PNG, which keeps alpha.
  auto svg = http().get("/v1/images/" + id + ".svg", {}, kSlow);
  ASSERT_EQ(svg.status, 200);
  auto png = decode(embedded_png(svg.body));
  EXPECT_TRUE(png.has_alpha) << png.error;
}

TEST_F(FormatsTest, AnimatedGifBecomesAnimatedWebpAndBack) {
  std::string id = upload_file("vips-formats/cogs.gif");  // 85x77, 5 frames
  ASSERT_FALSE(id.empty());
  auto webp = http().get("/v1/images/" + id + ".webp", {}, kSlow);
  ASSERT_EQ(webp.status, 200) << webp.describe();
  auto d = decode(webp.body);
  ASSERT_TRUE(d.error.empty()) << d.error;
  EXPECT_EQ(d.loader, "webpload");
  EXPECT_EQ(d.pages, 5) << "animated GIF -> WebP lost frames";
  EXPECT_EQ(d.width, 85);
  EXPECT_EQ(d.height, 77);

  auto up = upload_raw(http(), webp.body);
  ASSERT_EQ(up.response.status / 100, 2) << up.response.describe();
  EXPECT_EQ(jint(up.json, "frames"), d.pages) << up.response.body;
  auto gif = http().get("/v1/images/" + up.id + ".gif", {}, kSlow);
  ASSERT_EQ(gif.status, 200) << gif.describe();
  auto g = decode(gif.body);
  EXPECT_EQ(g.loader, "gifload") << g.error;
  EXPECT_EQ(g.pages, 5) << "animated WebP -> GIF lost frames";
  EXPECT_EQ(g.width, 85);
  EXPECT_EQ(g.height, 77);
}

TEST_F(FormatsTest, AnimatedTrueKeepsAllFrames) {
  std::string id = upload_file("sharp-fixtures/animated-loop-3.gif");  // 370x285, 10 frames
  ASSERT_FALSE(id.empty());
  auto webp = http().get("/v1/images/" + id + ".webp?animated=true", {}, kSlow);
  ASSERT_EQ(webp.status, 200) << webp.describe();
  auto d = decode(webp.body);
  EXPECT_EQ(d.loader, "webpload") << d.error;
  EXPECT_EQ(d.pages, 10);
  EXPECT_EQ(d.width, 370);
  EXPECT_EQ(d.height, 285);
}

TEST_F(FormatsTest, MetadataIsStrippedExceptTheIccProfile) {
  // A JPEG with GPS EXIF: no EXIF (so no GPS), XMP or IPTC in any output.
  std::string gps_id = upload_file("exif-samples/jpg/gps/DSCN0010.jpg");
  ASSERT_FALSE(gps_id.empty());
  for (const char* ext : {"png", "webp", "tiff", "avif", "jxl"}) {
    SCOPED_TRACE(ext);
    auto r = http().get("/v1/images/" + gps_id + "." + ext, {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    auto d = decode(r.body);
    ASSERT_TRUE(d.error.empty()) << d.error;
    for (const auto& field : d.fields) {
      EXPECT_EQ(field.find("GPS"), std::string::npos) << "GPS left in the output: " << field;
      EXPECT_NE(field, "exif-data") << "EXIF left in the output";
      EXPECT_NE(field, "xmp-data") << "XMP left in the output";
      EXPECT_NE(field, "iptc-data") << "IPTC left in the output";
    }
  }
  // A JPEG with an ICC profile keeps it.
  std::string icc_src = read_file(testdata_dir() / "exif-samples/jpg/Canon_40D.jpg");
  std::string icc = decode(icc_src).icc;
  ASSERT_FALSE(icc.empty());
  std::string icc_id = upload_bytes(icc_src);
  ASSERT_FALSE(icc_id.empty());
  for (const char* ext : {"png", "webp", "tiff", "jxl"}) {
    SCOPED_TRACE(ext);
    auto r = http().get("/v1/images/" + icc_id + "." + ext, {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    auto d = decode(r.body);
    ASSERT_TRUE(d.error.empty()) << d.error;
    EXPECT_FALSE(d.icc.empty()) << "ICC profile dropped";
    // JPEG XL stores a standard profile such as this sRGB one as an enumerated colour
    // space and decoders synthesise an equivalent (shorter) profile: only presence counts there.
    if (std::string(ext) != "jxl")
      EXPECT_TRUE(d.icc == icc) << "ICC profile changed (" << d.icc.size() << " vs " << icc.size() << " bytes)";
    for (const auto& field : d.fields) EXPECT_NE(field, "exif-data") << "EXIF left in the output";
  }
}

TEST_F(FormatsTest, SameFormatWithoutParametersIsTheOriginal) {
  std::string png = make_image(40, 40, 302, ".png");
  std::string id = upload_bytes(png);
  auto r = http().get("/v1/images/" + id + ".png");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.body == png);
  std::string jpg = read_file(testdata_dir() / "exif-samples/jpg/Nikon_D70.jpg");
  std::string jid = upload_bytes(jpg);
  for (const char* ext : {"jpg", "jpeg"}) {
    auto j = http().get("/v1/images/" + jid + "." + ext);
    ASSERT_EQ(j.status, 200) << j.describe();
    EXPECT_TRUE(j.body == jpg) << ext;
  }
}

TEST_F(FormatsTest, UnknownExtensionIsAJsonError) {
  std::string id = upload_bytes(make_image(20, 20, 303, ".png"));
  for (const char* ext : {"bmp", "pdf", "exe"}) {
    auto r = http().get("/v1/images/" + id + "." + ext);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << ext << ": " << r.describe();
    EXPECT_TRUE(is_error(r, r.status)) << ext;
  }
}

double derivative_hits(const Http& http) {
  auto m = http.get("/metrics");
  auto samples = parse_metrics(m.body);
  double hits = 0;
  std::regex derivative_re("progimage_.*(derivative|cache).*");
  for (const auto& s : samples) {
    if (!std::regex_match(s.name, derivative_re)) continue;
    bool hit_label = std::any_of(s.labels.begin(), s.labels.end(), [](const auto& kv) { return kv.second == "hit"; });
    bool hit_name = s.name.find("hit") != std::string::npos;
    if (hit_label || (hit_name && s.labels.empty())) hits += s.value;
  }
  return hits;
}

TEST_F(FormatsTest, ConversionsAreCachedAsDerivatives) {
  std::string id = upload_bytes(make_image(300, 200, 304, ".png"));
  ASSERT_FALSE(id.empty());
  double hits_before = derivative_hits(http());
  auto first = http().get("/v1/images/" + id + ".webp", {}, kSlow);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(first.header("X-Cache"), "miss");
  auto second = http().get("/v1/images/" + id + ".webp", {}, kSlow);
  ASSERT_EQ(second.status, 200) << second.describe();
  EXPECT_EQ(second.header("X-Cache"), "hit");
  EXPECT_TRUE(second.body == first.body) << "a cached derivative differs from the first answer";
  double hits_after = derivative_hits(http());
  EXPECT_GE(hits_after - hits_before, 1) << "no derivative cache hit counted in /metrics";

  auto list = http().get("/v1/images/" + id + "/derivatives");
  ASSERT_TRUE(is_json_ok(list, 200));
  auto j = *list.json();
  const auto* ds = jfind(j, "derivatives");
  ASSERT_TRUE(ds && ds->is_array()) << list.body;
  bool found = false;
  for (const auto& d : ds->as_array()) {
    if (jstring(d, "format") != "webp") continue;
    found = true;
    EXPECT_EQ(jint(d, "width"), 300) << boost::json::serialize(d);
    EXPECT_EQ(jint(d, "height"), 200) << boost::json::serialize(d);
    EXPECT_EQ(jint(d, "size"), static_cast<std::int64_t>(first.body.size())) << boost::json::serialize(d);
    EXPECT_TRUE(jfind(d, "params") && jfind(d, "created_at") && jfind(d, "last_used_at")) << boost::json::serialize(d);
  }
  EXPECT_TRUE(found) << "the webp derivative is not listed: " << list.body;
  // The derivative's bytes live in the blob store (looked at when it is a directory).
  if (auto blobs = server().blob_dir()) {
    EXPECT_FALSE(files_with_content(*blobs, sha256_hex(first.body)).empty());
  }

  auto purge = http().request("DELETE", "/v1/images/" + id + "/derivatives");
  EXPECT_EQ(purge.status / 100, 2) << purge.describe();
  auto third = http().get("/v1/images/" + id + ".webp", {}, kSlow);
  ASSERT_EQ(third.status, 200);
  EXPECT_EQ(third.header("X-Cache"), "miss") << "served from a purged cache";
}

}  // namespace
}  // namespace progimage::contract
