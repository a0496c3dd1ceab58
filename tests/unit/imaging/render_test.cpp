// render() and explain(): properties of the outputs, decoded back with libvips.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <tuple>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "imaging/detail.hpp"
#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

using core::ErrorCode;

ops::TransformSpec width(int w) {
  ops::TransformSpec s;
  s.width = w;
  return s;
}

// JPEG 2000 loaders are blocked in this process: read the size from the JP2 header box.
void jp2_size(const std::string& b, int& w, int& h) {
  const auto at = b.find("ihdr");
  ASSERT_NE(at, std::string::npos);
  auto u32 = [&](std::size_t i) {
    return (std::uint8_t(b[i]) << 24) | (std::uint8_t(b[i + 1]) << 16) | (std::uint8_t(b[i + 2]) << 8) |
           std::uint8_t(b[i + 3]);
  };
  h = static_cast<int>(u32(at + 4));
  w = static_cast<int>(u32(at + 8));
}

TEST(Render, EveryOutputFormatDecodesAsItself) {
  const auto src = source_of("vips-formats/rgba.png");  // 128x128 with alpha
  const std::map<std::string, std::string> loaders = {
      {"jpeg", "jpegload_buffer"}, {"png", "pngload_buffer"}, {"webp", "webpload_buffer"},
      {"avif", "heifload_buffer"}, {"heic", "heifload_buffer"}, {"jxl", "jxlload_buffer"},
      {"gif", "gifload_buffer"},   {"tiff", "tiffload_buffer"}, {"svg", "svgload_buffer"}};
  for (const std::string format : {"jpeg", "png", "webp", "avif", "heic", "jxl", "gif", "tiff", "jp2", "svg"}) {
    SCOPED_TRACE(format);
    const Rendered r = render(src, width(64), format, {}, {});
    EXPECT_EQ(r.format, format);
    EXPECT_EQ(r.mime, core::mime_type(format));
    EXPECT_EQ(r.width, 64);
    EXPECT_EQ(r.height, 64);
    if (format == "jp2") {
      EXPECT_EQ(r.bytes.substr(4, 8), std::string("jP  \r\n\x87\n", 8));
      int w = 0, h = 0;
      jp2_size(r.bytes, w, h);
      EXPECT_EQ(w, 64);
      EXPECT_EQ(h, 64);
      continue;
    }
    const auto img = decode(r.bytes);
    EXPECT_EQ(loader_of(img), loaders.at(format));
    EXPECT_EQ(img.width(), 64);
    EXPECT_EQ(img.height(), 64);
    EXPECT_EQ(img.has_alpha(), core::format_has_alpha(format)) << "bands " << img.bands();
    if (format == "avif" || format == "heic") {
      EXPECT_EQ(img.get_string("heif-compression"), std::string(format == "avif" ? "av1" : "hevc"));
    }
  }
}

TEST(Render, SvgOutputEmbedsThePngAtPixelSize) {
  const Rendered r = render(source_of("sharp-fixtures/flowers.jpeg"), width(200), "svg", {}, {});
  EXPECT_EQ(r.mime, "image/svg+xml");
  EXPECT_NE(r.bytes.find("width=\"200\" height=\"113\""), std::string::npos);
  EXPECT_NE(r.bytes.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);
}

TEST(Render, ExifOrientationGivesUprightOutput) {
  ops::TransformSpec spec;
  spec.strip = false;  // keep EXIF so we can check it no longer rotates
  const auto reference = [&](const char* kind) {
    const Rendered r = render(source_of(std::string("exif-orientation/") + kind + "_1.jpg"), width(240), "png", {}, {});
    return detail::phash_of(decode(r.bytes));
  };
  const auto landscape = reference("Landscape"), portrait = reference("Portrait");
  for (const std::string kind : {"Landscape", "Portrait"}) {
    for (int n = 0; n <= 8; ++n) {
      const std::string rel = "exif-orientation/" + kind + "_" + std::to_string(n) + ".jpg";
      SCOPED_TRACE(rel);
      const auto src = source_of(rel);
      const Rendered r = render(src, spec, "jpeg", {}, {});
      const int w = kind == "Landscape" ? 1800 : 1200, h = kind == "Landscape" ? 1200 : 1800;
      EXPECT_EQ(r.width, w);
      EXPECT_EQ(r.height, h);
      const auto img = decode(r.bytes);
      EXPECT_EQ(img.width(), w);
      EXPECT_EQ(img.height(), h);
      const int orientation = img.get_typeof("orientation") ? img.get_int("orientation") : 1;
      EXPECT_EQ(orientation, 1) << "a viewer would rotate the upright pixels again";
      // Same picture as the _1 file: mirrored or rotated wrongly would be far.
      const Rendered small = render(src, width(240), "png", {}, {});
      EXPECT_LE(detail::hamming(detail::phash_of(decode(small.bytes)), kind == "Landscape" ? landscape : portrait), 6);
    }
  }
}

TEST(Render, AlphaKeptOrFlattened) {
  const auto src = source_of("sharp-fixtures/full-transparent.png");
  const auto png = decode(render(src, width(50), "png", {}, {}).bytes);
  ASSERT_TRUE(png.has_alpha());
  EXPECT_EQ(png.getpoint(10, 10).back(), 0);
  const auto jpeg = decode(render(src, width(50), "jpeg", {}, {}).bytes);
  EXPECT_EQ(jpeg.bands(), 3);
  for (double v : jpeg.getpoint(10, 10)) EXPECT_NEAR(v, 255, 2);  // white by default
  auto red = width(50);
  red.bg = ops::Color{255, 0, 0, 255};
  const auto flat = decode(render(src, red, "jpeg", {}, {}).bytes).getpoint(10, 10);
  EXPECT_NEAR(flat[0], 255, 3);
  EXPECT_NEAR(flat[1], 0, 3);
  EXPECT_NEAR(flat[2], 0, 3);
}

int pages_of(const std::string& bytes) {
  const auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  return img.get_typeof("n-pages") ? img.get_int("n-pages") : 1;
}

TEST(Render, AnimationSurvivesGifWebpRoundTrip) {
  for (const char* rel : {"vips-formats/cogs.gif", "sharp-fixtures/animated-loop-3.gif",
                          "sharp-fixtures/animated-loop-3.webp", "sharp-fixtures/rotating-squares.webp"}) {
    SCOPED_TRACE(rel);
    const auto src = source_of(rel);
    ASSERT_GT(src.probe.frames, 1);
    const std::string other = src.probe.format == "gif" ? "webp" : "gif";
    const Rendered converted = render(src, ops::TransformSpec{}, other, {}, {});
    EXPECT_EQ(converted.frames, src.probe.frames);
    EXPECT_EQ(pages_of(converted.bytes), src.probe.frames);
    const auto all = decode(converted.bytes, true);
    EXPECT_EQ(all.get_int("page-height"), src.probe.height);
    EXPECT_EQ(all.height(), src.probe.height * src.probe.frames);
    // and back, resized: every frame keeps the new size
    const auto tmp = std::filesystem::temp_directory_path() / ("progimage_anim." + other);
    { std::ofstream(tmp, std::ios::binary) << converted.bytes; }
    Source back{tmp, probe_file(tmp, {}), {}};
    EXPECT_EQ(back.probe.frames, src.probe.frames);
    const Rendered again = render(back, width(40), src.probe.format, {}, {});
    std::filesystem::remove(tmp);
    EXPECT_EQ(again.frames, src.probe.frames);
    const auto frames = decode(again.bytes, true);
    EXPECT_EQ(frames.width(), 40);
    EXPECT_EQ(frames.get_int("page-height"), again.height);
    EXPECT_EQ(frames.height(), again.height * src.probe.frames);
  }
}

TEST(Render, PageSelectsOneFrame) {
  const auto src = source_of("vips-formats/cogs.gif");
  auto spec = ops::TransformSpec{};
  spec.page = 1;
  EXPECT_EQ(render(src, spec, "webp", {}, {}).frames, 1);
  EXPECT_EQ(render(src, ops::TransformSpec{}, "png", {}, {}).frames, 1);
  spec.page = 999;
  EXPECT_THROW(render(src, spec, "png", {}, {}), core::Error);
}

TEST(Render, DamagedGifFrameEndsTheAnimation) {
  const auto src = source_of("vips-formats/invalid_multiframe.gif");
  const Rendered r = render(src, ops::TransformSpec{}, "webp", {}, {});
  EXPECT_EQ(r.frames, 3);  // the 4th frame's data is invalid
}

TEST(Render, StripDropsGpsKeepsIcc) {
  const auto gps = source_of("exif-samples/jpg/gps/DSCN0010.jpg");
  const auto stripped = decode(render(gps, ops::TransformSpec{}, "jpeg", {}, {}).bytes);
  EXPECT_EQ(stripped.get_typeof("exif-ifd3-GPSLatitude"), 0u);
  // Not even the minimal EXIF block (resolution) jpegsave regenerates survives.
  EXPECT_EQ(stripped.get_typeof(VIPS_META_EXIF_NAME), 0u);
  EXPECT_EQ(stripped.get_typeof("exif-ifd0-Make"), 0u);
  EXPECT_EQ(stripped.get_typeof("exif-ifd2-DateTimeOriginal"), 0u);
  ops::TransformSpec keep;
  keep.strip = false;
  const auto kept = decode(render(gps, keep, "jpeg", {}, {}).bytes);
  EXPECT_NE(kept.get_typeof("exif-ifd3-GPSLatitude"), 0u);

  const auto icc = source_of("exif-samples/jpg/Canon_40D.jpg");
  for (const char* format : {"jpeg", "png", "webp"}) {
    SCOPED_TRACE(format);
    const auto out = decode(render(icc, ops::TransformSpec{}, format, {}, {}).bytes);
    EXPECT_NE(out.get_typeof(VIPS_META_ICC_NAME), 0u);
    EXPECT_EQ(out.get_typeof("exif-ifd0-Model"), 0u);
  }
}

TEST(Render, CmykBecomesSrgb) {
  const auto out = decode(render(source_of("sharp-fixtures/Channel_digital_image_CMYK_color.jpg"), width(100),
                                 "png", {}, {}).bytes);
  EXPECT_EQ(out.bands(), 3);
  EXPECT_EQ(out.interpretation(), VIPS_INTERPRETATION_sRGB);
}

TEST(Render, FitModesAndExplainAgree) {
  const auto src = source_of("exif-orientation/Landscape_6.jpg");  // shows as 1800x1200
  struct Case {
    ops::Fit fit;
    std::optional<int> w, h;
    bool enlarge;
    int rotate;
    int ew, eh;
  };
  const Case cases[] = {
      {ops::Fit::inside, 300, 300, false, 0, 300, 200},  {ops::Fit::cover, 300, 300, false, 0, 300, 300},
      {ops::Fit::contain, 300, 300, false, 0, 300, 300}, {ops::Fit::fill, 300, 100, false, 0, 300, 100},
      {ops::Fit::outside, 300, 300, false, 0, 450, 300}, {ops::Fit::inside, 4000, std::nullopt, false, 0, 1800, 1200},
      {ops::Fit::inside, 3600, std::nullopt, true, 0, 3600, 2400}, {ops::Fit::inside, 300, std::nullopt, false, 90, 200, 300},
      {ops::Fit::inside, 300, std::nullopt, false, 30, 360, 323},
      {ops::Fit::inside, 300, std::nullopt, false, 45, 354, 354},
      {ops::Fit::cover, 200, 200, false, 315, 283, 283},
  };
  for (const auto& c : cases) {
    ops::TransformSpec spec;
    spec.fit = c.fit;
    spec.width = c.w;
    spec.height = c.h;
    spec.enlarge = c.enlarge;
    spec.rotate = c.rotate;
    SCOPED_TRACE(std::to_string(static_cast<int>(c.fit)) + " " + std::to_string(c.w.value_or(0)) + " rot " +
                 std::to_string(c.rotate));
    const Plan plan = explain(src, spec, "jpeg");
    const Rendered r = render(src, spec, "jpeg", {}, {});
    EXPECT_EQ(r.width, c.ew);
    EXPECT_EQ(r.height, c.eh);
    EXPECT_EQ(plan.width, r.width);
    EXPECT_EQ(plan.height, r.height);
    const auto img = decode(r.bytes);
    EXPECT_EQ(img.width(), r.width);
    EXPECT_EQ(img.height(), r.height);
    EXPECT_TRUE(boost::json::parse(plan.steps_json).is_array());
  }
}

TEST(Render, CropRotateFlipFilters) {
  const auto src = source_of("vips-formats/rgba.png");
  ops::TransformSpec crop;
  crop.crop = ops::Rect{10, 20, 50, 40};
  auto r = render(src, crop, "png", {}, {});
  EXPECT_EQ(r.width, 50);
  EXPECT_EQ(r.height, 40);
  crop.crop = ops::Rect{500, 500, 10, 10};
  try {
    render(src, crop, "png", {}, {});
    ADD_FAILURE() << "crop outside accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unprocessable);
  }

  // flip h mirrors: the left column becomes the right one
  const auto plain = decode(render(source_of("exif-orientation/Landscape_1.jpg"), width(200), "png", {}, {}).bytes);
  ops::TransformSpec flip = width(200);
  flip.flip = ops::Flip::h;
  const auto flipped = decode(render(source_of("exif-orientation/Landscape_1.jpg"), flip, "png", {}, {}).bytes);
  const auto a = plain.getpoint(3, 60), b = flipped.getpoint(plain.width() - 4, 60);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 12);

  ops::TransformSpec grey = width(100);
  grey.grayscale = true;
  const auto g = decode(render(source_of("exif-orientation/Landscape_1.jpg"), grey, "jpeg", {}, {}).bytes);
  EXPECT_EQ(g.bands(), 1);

  ops::TransformSpec neg = width(100);
  neg.negate = true;
  const auto n = decode(render(source_of("sharp-fixtures/full-transparent.png"), neg, "jpeg", {}, {}).bytes);
  // flattening happens after the filters: transparent stays white-backed
  EXPECT_NEAR(n.getpoint(5, 5)[0], 255, 2);

  ops::TransformSpec fx = width(100);
  fx.blur = 2;
  fx.sharpen = 1;
  fx.sepia = true;
  fx.brightness = 1.2;
  fx.saturation = 0.5;
  fx.hue = 90;
  fx.contrast = 1.3;
  fx.gamma = 2.2;
  fx.tint = ops::Color{0, 128, 255, 255};
  const auto all = render(source_of("exif-orientation/Landscape_1.jpg"), fx, "webp", {}, {});
  EXPECT_EQ(decode(all.bytes).width(), 100);
}

TEST(Render, MasksMakeCornersTransparent) {
  const auto src = source_of("exif-orientation/Landscape_1.jpg");
  for (auto kind : {ops::MaskKind::circle, ops::MaskKind::ellipse, ops::MaskKind::rounded}) {
    ops::TransformSpec spec = width(120);
    spec.mask.kind = kind;
    spec.mask.radius = 20;
    const auto png = decode(render(src, spec, "png", {}, {}).bytes);
    ASSERT_TRUE(png.has_alpha());
    EXPECT_EQ(png.getpoint(0, 0).back(), 0);
    EXPECT_EQ(png.getpoint(60, 40).back(), 255);
    spec.bg = ops::Color{0, 0, 255, 255};
    const auto jpeg = decode(render(src, spec, "jpeg", {}, {}).bytes);
    EXPECT_GT(jpeg.getpoint(0, 0)[2], 200);  // the bg shows where the format has no alpha
  }
}

TEST(Render, WatermarkAndImageMaskUseTheResolver) {
  const auto src = source_of("exif-orientation/Landscape_1.jpg");
  const Source mark = source_of("vips-formats/rgba.png");
  ImageResolver resolve = [&](const std::string& id) -> std::optional<Source> {
    if (id == "mark") return mark;
    return std::nullopt;
  };
  ops::TransformSpec spec = width(300);
  spec.watermark = ops::Watermark{"mark", ops::Gravity{ops::GravityKind::southeast}, 1.0, 0.25};
  const auto plain = decode(render(src, width(300), "png", {}, {}).bytes);
  const auto marked = decode(render(src, spec, "png", resolve, {}).bytes);
  EXPECT_EQ(marked.width(), 300);
  // bottom-right changed, top-left did not
  const double diff_br = (plain.crop(225, 125, 75, 75) - marked.crop(225, 125, 75, 75)).abs().avg();
  const double diff_tl = (plain.crop(0, 0, 75, 75) - marked.crop(0, 0, 75, 75)).abs().avg();
  EXPECT_GT(diff_br, 5);
  EXPECT_LT(diff_tl, 1);

  spec.watermark->image_id = "missing";
  EXPECT_THROW(render(src, spec, "png", resolve, {}), core::Error);

  ops::TransformSpec masked = width(300);
  masked.mask.kind = ops::MaskKind::image;
  masked.mask.image_id = "mark";
  const auto m = decode(render(src, masked, "png", resolve, {}).bytes);
  EXPECT_TRUE(m.has_alpha());
}

TEST(Render, TrimRemovesUniformBorders) {
  // A 60x40 red rectangle on a 100x100 white canvas.
  auto canvas = vips::VImage::black(100, 100)
                    .new_from_image({255.0, 255.0, 255.0})
                    .cast(VIPS_FORMAT_UCHAR)
                    .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                    .copy_memory();
  canvas.draw_rect({255.0, 0.0, 0.0}, 20, 30, 60, 40, vips::VImage::option()->set("fill", TRUE));
  const auto tmp = std::filesystem::temp_directory_path() / "progimage_trim.png";
  canvas.cast(VIPS_FORMAT_UCHAR).pngsave(tmp.c_str());
  Source src{tmp, probe_file(tmp, {}), {}};
  ops::TransformSpec spec;
  spec.trim = 10;
  const Rendered r = render(src, spec, "png", {}, {});
  std::filesystem::remove(tmp);
  EXPECT_EQ(r.width, 60);
  EXPECT_EQ(r.height, 40);
}

/// A temporary PNG of one solid pixel value (1 band grey, 3 RGB, ...), removed with the object.
class SolidPng {
 public:
  SolidPng(int w, int h, const std::vector<double>& pixel)
      : path_(std::filesystem::temp_directory_path() /
              ("progimage_solid_" + std::to_string(w) + "x" + std::to_string(h) + "_" +
               std::to_string(pixel.size()) + ".png")) {
    vips::VImage::black(w, h)
        .new_from_image(pixel)
        .cast(VIPS_FORMAT_UCHAR)
        .copy(vips::VImage::option()->set("interpretation", pixel.size() >= 3 ? VIPS_INTERPRETATION_sRGB
                                                                              : VIPS_INTERPRETATION_B_W))
        .pngsave(path_.c_str());
  }
  ~SolidPng() { std::filesystem::remove(path_); }
  Source source() const { return {path_, probe_file(path_, {}), {}}; }

 private:
  std::filesystem::path path_;
};

TEST(Render, TrimLeavesAnImageItWouldEmptyOrTooSmallToTrimAsItIs) {
  ops::TransformSpec spec;
  spec.trim = 10;
  for (const auto& [w, h, pixel] : std::vector<std::tuple<int, int, std::vector<double>>>{
           {40, 30, {200, 30, 30}}, {40, 30, {90}}, {40, 30, {10, 200, 10, 0}},  // all background
           {1, 1, {255, 0, 0}},     {2, 2, {90}},   {2, 50, {255, 0, 0}},  {50, 1, {0, 0, 255, 255}}}) {
    SCOPED_TRACE(std::to_string(w) + "x" + std::to_string(h) + ", " + std::to_string(pixel.size()) + " bands");
    const SolidPng png(w, h, pixel);
    const Rendered r = render(png.source(), spec, "png", {}, {});
    EXPECT_EQ(r.width, w);
    EXPECT_EQ(r.height, h);
  }
}

TEST(Render, GreyImagesTakeAColouredBackground) {
  ops::TransformSpec orange;
  orange.bg = ops::Color{255, 140, 0, 255};
  // 16-bit grey + alpha, fully transparent at the left edge.
  const auto flat = decode(render(source_of("pngsuite/bgai4a16.png"), orange, "jpeg", {}, {}).bytes);
  ASSERT_EQ(flat.bands(), 3);
  const auto edge = flat.getpoint(0, 16);
  EXPECT_NEAR(edge[0], 255, 16);
  EXPECT_NEAR(edge[1], 140, 16);
  EXPECT_NEAR(edge[2], 0, 16);

  const SolidPng grey(40, 20, {128});
  auto padded = orange;
  padded.width = padded.height = 40;
  padded.fit = ops::Fit::contain;
  const auto pad = decode(render(grey.source(), padded, "png", {}, {}).bytes);
  EXPECT_EQ(pad.getpoint(20, 2), (std::vector<double>{255, 140, 0}));
  EXPECT_EQ(pad.getpoint(20, 20), (std::vector<double>{128, 128, 128}));
  auto rotated = orange;
  rotated.rotate = 45;
  const auto rot = decode(render(grey.source(), rotated, "png", {}, {}).bytes);
  EXPECT_EQ(rot.getpoint(0, 0), (std::vector<double>{255, 140, 0}));

  // A grey background keeps a grey image grey.
  padded.bg = ops::Color{128, 128, 128, 255};
  EXPECT_EQ(decode(render(grey.source(), padded, "png", {}, {}).bytes).bands(), 1);
}

TEST(Render, PageSelectsAPageOfAMultiPageTiff) {
  const auto src = source_of("weserv-fixtures/MultipleFormats.tif");
  ops::TransformSpec spec;
  EXPECT_EQ(decode(render(src, spec, "png", {}, {}).bytes).bands(), 1);  // page 0: bilevel
  spec.page = 1;                                                         // uncompressed CMYK
  const Rendered cmyk = render(src, spec, "png", {}, {});
  EXPECT_EQ(cmyk.width, 600);
  EXPECT_EQ(decode(cmyk.bytes).bands(), 3);
  // Pages libvips 8.14 cannot read, in their pixels (2: JPEG 2000 inside TIFF)
  // or already in their header (7: subsampled YCbCr), are 422 naming the page.
  for (int page : {2, 7}) {
    SCOPED_TRACE(page);
    spec.page = page;
    try {
      (void)render(src, spec, "png", {}, {});
      ADD_FAILURE() << "page " << page << " rendered";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unprocessable) << e.what();
      EXPECT_NE(std::string(e.what()).find("page " + std::to_string(page)), std::string::npos) << e.what();
    }
  }
}

TEST(Render, LimitsAreEnforced) {
  const auto src = source_of("sharp-fixtures/flowers.jpeg");
  Limits small;
  small.max_output_dimension = 1000;
  try {
    render(src, ops::TransformSpec{}, "png", {}, small);
    ADD_FAILURE() << "no limit";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unprocessable);
  }
  Limits big;
  big.max_pixels = 300'000'000;
  big.timeout = std::chrono::milliseconds(300);
  const auto giant = source_of("sharp-fixtures/giant-image.jpg", big);
  ops::TransformSpec blur;
  blur.blur = 50;
  blur.crop = ops::Rect{0, 0, 16000, 14000};
  try {
    render(giant, blur, "png", {}, big);
    ADD_FAILURE() << "no timeout";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::timeout);
  }
}

TEST(Render, EnlargedOutputIsBoundedInArea) {
  // Every side within the per-side limit, the whole output (frames included) over the area limit.
  Limits limits;
  limits.max_pixels = 4'000'000;
  auto spec = width(3000);
  spec.height = 3000;
  spec.fit = ops::Fit::fill;
  spec.enlarge = true;
  const auto still = source_of("sharp-fixtures/flowers.jpeg");
  try {
    render(still, spec, "webp", {}, limits);
    ADD_FAILURE() << "no area limit";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unprocessable);
    EXPECT_STREQ(e.what(), "output would be 3000x3000, the limit is 4 megapixels; ask for a smaller width or height");
  }
  spec.width = spec.height = 1900;
  EXPECT_EQ(render(still, spec, "jpeg", {}, limits).width, 1900);

  const auto animated = source_of("vips-formats/cogs.gif");
  ASSERT_GT(animated.probe.frames, 2);
  spec.width = spec.height = 1200;  // 1.44 MP per frame
  try {
    render(animated, spec, "webp", {}, limits);
    ADD_FAILURE() << "frames not counted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unprocessable);
    EXPECT_NE(std::string(e.what()).find("1200x1200 with " + std::to_string(animated.probe.frames) + " frames"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(render(animated, spec, "png", {}, limits).frames, 1);  // one frame fits
  // After a crop the plan is made from the cropped size: checked there too.
  spec.crop = ops::Rect{0, 0, 10, 10};
  spec.width = spec.height = 2100;
  EXPECT_THROW(render(still, spec, "png", {}, limits), core::Error);
}

TEST(Render, SvgSourceRendersAtTheAskedSize) {
  auto spec = width(400);
  spec.enlarge = true;  // vector: rendered at 4x, not upsampled
  const auto src = source_of("sharp-fixtures/check.svg");
  const auto out = decode(render(src, spec, "png", {}, {}).bytes);
  EXPECT_EQ(out.width(), 400);
  EXPECT_EQ(out.height(), 400);
  EXPECT_EQ(render(src, width(400), "png", {}, {}).width, 100);  // no enlarge: intrinsic size
}

TEST(Render, FocusGravityCropsAroundTheFocalPoint) {
  // The focal point in the far right: a cover crop keeps the right edge.
  auto src = source_of("exif-orientation/Landscape_1.jpg");
  src.focus = std::make_pair(1.0, 0.5);
  ops::TransformSpec spec;
  spec.width = 100;
  spec.height = 100;
  spec.fit = ops::Fit::cover;
  spec.gravity.kind = ops::GravityKind::focus;
  const auto focused = decode(render(src, spec, "png", {}, {}).bytes);
  spec.gravity.kind = ops::GravityKind::east;
  const auto east = decode(render(src, spec, "png", {}, {}).bytes);
  EXPECT_LT((focused - east).abs().avg(), 1.0);
  spec.gravity.kind = ops::GravityKind::smart;  // uses the stored focus too
  EXPECT_LT((decode(render(src, spec, "png", {}, {}).bytes) - east).abs().avg(), 1.0);
}

}  // namespace
}  // namespace progimage::imaging::test
