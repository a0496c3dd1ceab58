// Contract tests for what the first wave left short (issue 10, point 9):
// empty query components, trim on images it would empty, a multi-page TIFF
// whose pages are stored differently, and the background of grey images.
#include <vips/vips8>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/hash.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

constexpr auto kSlow = 120s;  // a busy 2-core machine

/// Decodes an answer into memory; a 1x1 black image (and a failure) when it does not decode.
vips::VImage load(const std::string& bytes) {
  make_image(1, 1, 1);
  try {
    return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
  } catch (const vips::VError& e) {
    ADD_FAILURE() << "libvips cannot decode the answer (" << bytes.size() << " bytes): " << e.what();
    vips_error_clear();
    return vips::VImage::black(1, 1);
  }
}


class FirstWaveGapsTest : public SharedServerTest<FirstWaveGapsTest> {
 public:
  static ServerOptions server_options() { return {.args = {"--workers", "0"}}; }

 protected:
  std::string upload_ok(const std::string& bytes) {
    auto up = upload_raw(http(), bytes);
    EXPECT_EQ(up.response.status / 100, 2) << up.response.describe();
    EXPECT_FALSE(up.id.empty()) << up.response.describe();
    return up.id;
  }
  /// GET that must answer 200 with an image; returns it decoded.
  vips::VImage get_image(const std::string& target) {
    auto r = http().get(target, {}, kSlow);
    EXPECT_EQ(r.status, 200) << target << ": " << r.describe();
    return r.status == 200 ? load(r.body) : vips::VImage::black(1, 1);
  }
};

// ---- empty query components ------------------------------------------------

TEST_F(FirstWaveGapsTest, EmptyQueryComponentsMeanWhatTheQueryMeansWithoutThem) {
  const std::string id = upload_ok(make_image(64, 48, 1));
  ASSERT_FALSE(id.empty());
  struct Case {
    const char* query;
    int width, height;
  };
  const Case cases[] = {
      {"", 64, 48},        {"&", 64, 48},       {"&&", 64, 48},
      {"w=32&", 32, 24},   {"&w=32", 32, 24},   {"w=32&&h=10&fit=fill", 32, 10},
      {"&w=32&&h=10&fit=fill&", 32, 10},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("?") + c.query);
    auto img = get_image("/v1/images/" + id + ".png?" + c.query);
    EXPECT_EQ(img.width(), c.width);
    EXPECT_EQ(img.height(), c.height);
  }
  // The same parameters with or without stray '&' are one derivative.
  auto plain = http().get("/v1/images/" + id + ".webp?w=20", {}, kSlow);
  ASSERT_EQ(plain.status, 200) << plain.describe();
  for (const char* query : {"w=20&", "&w=20", "&&w=20&&"}) {
    auto r = http().get("/v1/images/" + id + ".webp?" + query, {}, kSlow);
    EXPECT_EQ(r.status, 200) << query << ": " << r.describe();
    EXPECT_EQ(r.header("X-Cache"), "hit") << query << " was not the derivative of w=20";
  }
  // The other endpoints that read a query take them the same way.
  auto explain = http().get("/v1/images/" + id + "/explain?w=32&&");
  ASSERT_TRUE(is_json_ok(explain, 200)) << explain.describe();
  EXPECT_EQ(jint(*explain.json(), "output.width"), 32) << explain.body;
  EXPECT_TRUE(is_json_ok(http().get("/v1/images?&limit=5&"), 200));
  auto up = upload_raw(http(), make_image(16, 16, 2), "&name=stray.png&");
  EXPECT_EQ(up.response.status / 100, 2) << up.response.describe();
  EXPECT_EQ(jstring(up.json, "name"), "stray.png") << up.response.body;
  // A name that is empty but has '=' is still a parameter, and still unknown.
  EXPECT_TRUE(is_error(http().get("/v1/images/" + id + ".png?=1"), 400, "bad_parameter"));
}

class FirstWaveGapsSigningTest : public SharedServerTest<FirstWaveGapsSigningTest> {
 public:
  static ServerOptions server_options() { return {.args = {"--signing-secret", "gap-secret", "--workers", "0"}}; }
};

TEST_F(FirstWaveGapsSigningTest, ASignedUrlWithStrayAmpersandsVerifiesAsWithout) {
  auto up = upload_raw(http(), make_image(120, 90, 3, ".jpg"));
  ASSERT_EQ(up.response.status / 100, 2) << up.response.describe();
  const std::string path = "/v1/images/" + up.id + ".webp";
  const std::string sig = url_signature("gap-secret", path, {{"w", "40"}, {"h", "30"}, {"fit", "cover"}});
  for (const std::string& query : {"w=40&h=30&fit=cover&sig=" + sig, "w=40&&h=30&fit=cover&sig=" + sig + "&",
                                  "&w=40&h=30&&fit=cover&&sig=" + sig}) {
    auto r = http().get(path + "?" + query, {}, kSlow);
    EXPECT_EQ(r.status, 200) << query << ": " << r.describe();
    EXPECT_EQ(decode(r.body).width, 40) << query;
  }
  // A conversion without parameters signs the empty query; a bare '&' changes nothing.
  const std::string bare = url_signature("gap-secret", path, {});
  auto r = http().get(path + "?&sig=" + bare + "&", {}, kSlow);
  EXPECT_EQ(r.status, 200) << r.describe();
  // An empty component is not a way around the signature.
  EXPECT_TRUE(is_error(http().get(path + "?w=41&&h=30&fit=cover&sig=" + sig), 403, "bad_signature"));
}

// ---- trim ------------------------------------------------------------------

/// A PNG of one solid pixel value: 1 band grey, 2 grey + alpha, 3 RGB, 4 RGBA.
std::string solid_png(int w, int h, const std::vector<double>& pixel) {
  make_image(1, 1, 1);  // starts libvips in the harness
  const auto interpretation = pixel.size() >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
  auto img = vips::VImage::black(w, h)
                 .new_from_image(pixel)
                 .cast(VIPS_FORMAT_UCHAR)
                 .copy(vips::VImage::option()->set("interpretation", interpretation));
  void* buf = nullptr;
  size_t size = 0;
  img.write_to_buffer(".png", &buf, &size);
  std::string out(static_cast<char*>(buf), size);
  g_free(buf);
  return out;
}

TEST_F(FirstWaveGapsTest, TrimOfAUniformImageReturnsItUntrimmed) {
  for (const auto& pixel : std::vector<std::vector<double>>{{200, 30, 30}, {90}, {10, 200, 10, 0}}) {
    SCOPED_TRACE(std::to_string(pixel.size()) + " band(s)");
    const std::string id = upload_ok(solid_png(40, 30, pixel));
    auto img = get_image("/v1/images/" + id + ".png?trim=10");
    EXPECT_EQ(img.width(), 40);
    EXPECT_EQ(img.height(), 30);
    auto small = get_image("/v1/images/" + id + ".jpg?trim=true&w=20");
    EXPECT_EQ(small.width(), 20);
    EXPECT_EQ(small.height(), 15);
  }
}

TEST_F(FirstWaveGapsTest, TrimOfAnImageTooSmallToTrimReturnsItUntrimmed) {
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {2, 50}, {50, 1}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h));
    const std::string id = upload_ok(make_image(w, h, 4));
    auto img = get_image("/v1/images/" + id + ".png?trim=10");
    EXPECT_EQ(img.width(), w);
    EXPECT_EQ(img.height(), h);
  }
}

TEST_F(FirstWaveGapsTest, TrimStillCutsAUniformBorder) {
  make_image(1, 1, 1);
  // A 20x10 red block inside a white 60x40 frame.
  auto framed = vips::VImage::black(20, 10).new_from_image({200.0, 0.0, 0.0})
                    .embed(20, 15, 60, 40, vips::VImage::option()
                                               ->set("extend", VIPS_EXTEND_BACKGROUND)
                                               ->set("background", std::vector<double>{255, 255, 255}));
  void* buf = nullptr;
  size_t size = 0;
  framed.cast(VIPS_FORMAT_UCHAR)
      .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_buffer(".png", &buf, &size);
  const std::string png(static_cast<char*>(buf), size);
  g_free(buf);
  auto img = get_image("/v1/images/" + upload_ok(png) + ".png?trim=10");
  EXPECT_EQ(img.width(), 20);
  EXPECT_EQ(img.height(), 10);
}

// ---- the background of grey images -------------------------------------------

struct Rgb {
  double r, g, b;
};
constexpr Rgb kOrange{255, 140, 0};

::testing::AssertionResult near_colour(const vips::VImage& img, int x, int y, Rgb c, double tolerance = 12) {
  const std::vector<double> p = img.getpoint(x, y);
  if (p.size() < 3) return ::testing::AssertionFailure() << "pixel (" << x << "," << y << ") has " << p.size()
                                                         << " band(s), value " << p[0];
  const double d = std::max({std::abs(p[0] - c.r), std::abs(p[1] - c.g), std::abs(p[2] - c.b)});
  if (d <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "pixel (" << x << "," << y << ") is " << p[0] << "," << p[1] << ","
                                       << p[2] << ", expected " << c.r << "," << c.g << "," << c.b;
}

TEST_F(FirstWaveGapsTest, GreyWithAlphaFlattensOntoTheBackgroundColour) {
  const std::string bytes = read_file(testdata_dir() / "pngsuite/bgai4a16.png");
  ASSERT_FALSE(bytes.empty());
  const std::string id = upload_ok(bytes);
  auto source = load(bytes);
  ASSERT_EQ(source.bands(), 2) << "bgai4a16 is grey + alpha";
  auto out = get_image("/v1/images/" + id + ".jpg?bg=ff8c00");
  ASSERT_EQ(out.width(), source.width());
  ASSERT_EQ(out.height(), source.height());
  // Its alpha is a gradient from fully transparent at the left edge: there
  // the answer is orange, and every pixel is the grey blended over orange.
  const double max_value = source.format() == VIPS_FORMAT_USHORT ? 65535 : 255;
  const std::vector<double> transparent = source.getpoint(0, source.height() / 2);
  ASSERT_EQ(transparent[1], 0) << "bgai4a16 is transparent at the left edge";
  EXPECT_TRUE(near_colour(out, 0, source.height() / 2, kOrange, 30));
  ASSERT_EQ(out.bands(), 3) << "the answer is not RGB";
  double total_error = 0;
  for (int y = 0; y < source.height(); ++y)
    for (int x = 0; x < source.width(); ++x) {
      const std::vector<double> s = source.getpoint(x, y);
      const double grey = s[0] / max_value * 255, alpha = s[1] / max_value;
      const std::vector<double> o = out.getpoint(x, y);
      const double want[3] = {kOrange.r, kOrange.g, kOrange.b};
      for (int b = 0; b < 3; ++b) total_error += std::abs(o[b] - (grey * alpha + want[b] * (1 - alpha)));
    }
  EXPECT_LT(total_error / (3.0 * source.width() * source.height()), 8) << "mean error per channel";
}

TEST_F(FirstWaveGapsTest, RgbWithAlphaFlattensOntoTheBackgroundColourToo) {
  const std::string id = upload_ok(solid_png(32, 32, {20, 40, 200, 0}));
  auto out = get_image("/v1/images/" + id + ".jpg?bg=ff8c00");
  EXPECT_TRUE(near_colour(out, 16, 16, kOrange));
}

TEST_F(FirstWaveGapsTest, GreyImagesArePaddedAndRotatedWithTheBackgroundColour) {
  const std::string id = upload_ok(solid_png(40, 20, {128}));
  auto padded = get_image("/v1/images/" + id + ".jpg?w=40&h=40&fit=contain&bg=ff8c00");
  ASSERT_EQ(padded.height(), 40);
  EXPECT_TRUE(near_colour(padded, 20, 2, kOrange)) << "padding";
  EXPECT_TRUE(near_colour(padded, 20, 20, {128, 128, 128})) << "the image";
  auto rotated = get_image("/v1/images/" + id + ".jpg?rotate=45&bg=ff8c00");
  EXPECT_TRUE(near_colour(rotated, 1, 1, kOrange)) << "rotation corner";
  // A grey background keeps a grey image grey.
  auto grey = get_image("/v1/images/" + id + ".png?w=40&h=40&fit=contain&bg=808080");
  EXPECT_EQ(grey.bands(), 1);
}

// ---- a multi-page TIFF whose pages are stored differently ------------------

TEST_F(FirstWaveGapsTest, AMultiPageTiffWithPagesStoredDifferentlyIsAcceptedAndPageSelectsOne) {
  const std::string bytes = read_file(testdata_dir() / "weserv-fixtures/MultipleFormats.tif");
  ASSERT_FALSE(bytes.empty());
  auto up = upload_raw(http(), bytes, "name=MultipleFormats.tif");
  ASSERT_EQ(up.response.status, 201) << up.response.describe();
  EXPECT_TRUE(is_image_object(up.json));
  EXPECT_EQ(jstring(up.json, "format"), "tiff");
  EXPECT_EQ(jint(up.json, "width"), 600);
  EXPECT_EQ(jint(up.json, "height"), 75);
  auto info = http().get("/v1/images/" + up.id + "/info");
  ASSERT_TRUE(is_json_ok(info, 200));
  EXPECT_EQ(jint(*info.json(), "pages"), 11) << info.body;

  // Page 0 is 1-bit bilevel, page 1 uncompressed CMYK, page 3 JPEG (YCbCr),
  // page 5 PackBits RGB, 6 PackBits CMYK, 8 LZW, 9 CCITT G4, 10 CCITT G3.
  auto first = get_image("/v1/images/" + up.id + ".png");
  EXPECT_EQ(first.width(), 600);
  EXPECT_EQ(first.height(), 75);
  EXPECT_EQ(first.bands(), 1) << "page 0 is bilevel";
  for (int page : {0, 1, 3, 5, 6, 8, 9, 10}) {
    SCOPED_TRACE("page " + std::to_string(page));
    auto img = get_image("/v1/images/" + up.id + ".png?page=" + std::to_string(page));
    EXPECT_EQ(img.width(), 600);
    EXPECT_EQ(img.height(), 75);
    EXPECT_EQ(img.bands(), page == 1 || page == 3 || page == 5 || page == 6 ? 3 : 1) << "colour pages are sRGB";
  }
  // libvips 8.14.1 cannot decode page 2 (JPEG 2000 in TIFF), 4 (JBIG) and
  // 7 (PackBits YCbCr, subsampled): asked for, such a page is 422, never a 5xx.
  for (int page : {2, 4, 7}) {
    SCOPED_TRACE("page " + std::to_string(page));
    auto r = http().get("/v1/images/" + up.id + ".png?page=" + std::to_string(page), {}, kSlow);
    if (r.status == 200) {
      EXPECT_EQ(decode(r.body).width, 600);
    } else {
      EXPECT_TRUE(is_error(r, 422, "unprocessable"));
    }
  }
  EXPECT_TRUE(is_error(http().get("/v1/images/" + up.id + ".png?page=11"), 422, "unprocessable"));
  // Cut inside a later page, it is still refused.
  EXPECT_TRUE(is_error(upload_raw(http(), bytes.substr(0, 300'000)).response, 415, "unsupported_media"));
}

}  // namespace
}  // namespace progimage::contract
