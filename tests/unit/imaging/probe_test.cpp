// probe_file / probe_buffer / verify_decode on chosen corpus files.
#include <gtest/gtest.h>

#include <fstream>

#include "core/error.hpp"
#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

using core::ErrorCode;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ErrorCode probe_error(const std::string& rel, const Limits& limits = {}) {
  try {
    const auto p = probe_file(corpus(rel), limits);
    verify_decode(corpus(rel), p, limits);
  } catch (const core::Error& e) {
    return e.code();
  }
  ADD_FAILURE() << rel << " was accepted";
  return ErrorCode::internal;
}

struct Case {
  const char* path;
  const char* format;
  int width, height, frames;
  bool alpha;
};

TEST(Probe, IdentifiesEachAcceptedFormatByContent) {
  const Case cases[] = {
      {"sharp-fixtures/flowers.jpeg", "jpeg", 1920, 1080, 1, false},
      {"vips-formats/rgba.png", "png", 128, 128, 1, true},
      {"pillow-formats/apng/delay.png", "png", 128, 64, 1, true},
      {"vips-formats/1.webp", "webp", 550, 368, 1, false},
      {"sharp-fixtures/rotating-squares.webp", "webp", 80, 80, 0, true},
      {"vips-formats/cogs.gif", "gif", 85, 77, 0, true},
      {"pillow-formats/avif/transparency.avif", "avif", 64, 64, 1, true},
      {"heif/heif/RGB_8__29x100.heif", "heic", 29, 100, 1, false},
      {"jxl/grayscale.jxl", "jxl", 200, 200, 1, false},
      {"pillow-formats/hopper_lzw.tif", "tiff", 128, 128, 1, false},
      {"pillow-formats/multipage.tiff", "tiff", 10, 10, 3, false},
      {"sharp-fixtures/check.svg", "svg", 100, 100, 1, true},
      {"vips-formats/looks-like-svg.webp", "webp", 256, 256, 1, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    const Probe p = probe_file(corpus(c.path), {});
    EXPECT_EQ(p.format, c.format);
    EXPECT_EQ(p.width, c.width);
    EXPECT_EQ(p.height, c.height);
    if (c.frames > 0) EXPECT_EQ(p.frames, c.frames);
    else EXPECT_GT(p.frames, 1);
    EXPECT_EQ(p.has_alpha, c.alpha);
    const Probe b = probe_buffer(read_all(corpus(c.path)), {});
    EXPECT_EQ(b.format, p.format);
    EXPECT_EQ(b.width, p.width);
    EXPECT_EQ(b.frames, p.frames);
  }
}

TEST(Probe, OrientationZeroCountsAsOne) {
  EXPECT_EQ(probe_file(corpus("exif-orientation/Landscape_0.jpg"), {}).orientation, 1);
  EXPECT_EQ(probe_file(corpus("exif-orientation/Landscape_6.jpg"), {}).orientation, 6);
  EXPECT_EQ(probe_file(corpus("exif-orientation/Portrait_8.jpg"), {}).orientation, 8);
}

TEST(Probe, PixelLimitMessageNamesSizeAndLimit) {
  Limits limits;
  limits.max_pixels = 1'000'000;
  try {
    probe_file(corpus("sharp-fixtures/flowers.jpeg"), limits);
    FAIL() << "accepted";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::image_too_large);
    EXPECT_EQ(e.status(), 422u);
    EXPECT_STREQ(e.what(), "image is 1920x1080, the limit is 1 megapixels");
  }
  EXPECT_EQ(probe_error("sharp-fixtures/65536-uint32-limit.png"), ErrorCode::image_too_large);
}

TEST(Probe, FrameLimitCountsFrames) {
  Limits limits;
  limits.max_frames = 2;
  EXPECT_EQ(probe_error("vips-formats/cogs.gif", limits), ErrorCode::image_too_large);
  // frames multiply pixels too
  limits = Limits{};
  const int frames = probe_file(corpus("vips-formats/cogs.gif"), limits).frames;
  limits.max_pixels = std::int64_t{85} * 77 * frames - 1;
  EXPECT_EQ(probe_error("vips-formats/cogs.gif", limits), ErrorCode::image_too_large);
}

TEST(Probe, BlockedLoadersAreUnsupported) {
  // JPEG 2000 (crashes openjpeg), BMP, ICO, PPM, TGA: libvips could read them,
  // the allow-list says no. Blocking must hold for every loader entry point.
  for (const char* rel : {"vips-formats/issue412.jp2", "vips-formats/Bretagne2_4.j2k", "vips-formats/small.bmp",
                          "pillow-formats/hopper.ico", "malformed/negative_size.ppm", "vips-formats/targa.tga"}) {
    SCOPED_TRACE(rel);
    EXPECT_EQ(probe_error(rel), ErrorCode::unsupported_media);
    EXPECT_THROW((void)probe_buffer(read_all(corpus(rel)), {}), core::Error);
    EXPECT_THROW((void)vips::VImage::new_from_file(corpus(rel).c_str()), vips::VError);
    vips_error_clear();
  }
}

TEST(Probe, SvgzIsRefusedBeforeLibvips) {
  EXPECT_EQ(probe_error("vips-formats/truncated.svgz"), ErrorCode::unsupported_media);
  EXPECT_EQ(probe_error("vips-formats/logo.svgz"), ErrorCode::unsupported_media);
}

TEST(Probe, EmptyAndGarbage) {
  EXPECT_EQ(probe_error("heif/heif_corrupted/empty.heic"), ErrorCode::unsupported_media);
  EXPECT_THROW((void)probe_buffer("", {}), core::Error);
  EXPECT_THROW((void)probe_buffer("hello, world", {}), core::Error);
}

TEST(Verify, RefusesTruncatedAndCorruptData) {
  for (const char* rel : {"vips-formats/truncated.jpg", "sharp-fixtures/truncated.png", "vips-formats/truncated.gif",
                          "exif-samples/jpg/corrupted.jpg", "malformed/broken_data_stream.png"}) {
    SCOPED_TRACE(rel);
    EXPECT_EQ(probe_error(rel), ErrorCode::unsupported_media);
  }
}

TEST(Verify, BombsAndBrokenStructures) {
  EXPECT_EQ(probe_error("malformed/png_decompression_dos.png"), ErrorCode::image_too_large);
  EXPECT_EQ(probe_error("malformed/decompression_bomb_extents.gif"), ErrorCode::image_too_large);
  EXPECT_EQ(probe_error("malformed/tiff_wrong_bits_per_sample.tiff"), ErrorCode::unsupported_media);
  EXPECT_EQ(probe_error("malformed/crash-0da013a13571cc8eb457a39fee8db18f8a3c7127.tif"),
            ErrorCode::unsupported_media);
}

TEST(Verify, AcceptsEdgeCases) {
  for (const char* rel : {"vips-formats/invalid_multiframe.gif", "pillow-formats/multipage.tiff",
                          "sharp-fixtures/pitm.avif", "malformed/junk_jpeg_header.jpg",
                          "malformed/multipage_single_frame_loop.tiff"}) {
    SCOPED_TRACE(rel);
    const auto p = probe_file(corpus(rel), {});
    EXPECT_NO_THROW(verify_decode(corpus(rel), p, {}));
  }
}

TEST(Verify, AMultiPageTiffNeedsItsFirstPageToDecode) {
  // 11 pages, each stored differently; libvips 8.14 decodes the first and
  // most others, not the JPEG 2000, JBIG and subsampled YCbCr ones.
  const auto rel = "weserv-fixtures/MultipleFormats.tif";
  const auto p = probe_file(corpus(rel), {});
  EXPECT_EQ(p.format, "tiff");
  EXPECT_EQ(p.frames, 11);
  EXPECT_EQ(p.width, 600);
  EXPECT_EQ(p.height, 75);
  EXPECT_NO_THROW(verify_decode(corpus(rel), p, {}));
  EXPECT_NO_THROW((void)probe_buffer(read_all(corpus(rel)), {}));
}

TEST(Verify, ATiffCutInALaterPageIsRefused) {
  const std::string whole = read_all(corpus("weserv-fixtures/MultipleFormats.tif"));
  // Cut inside page 6's strip (offset 209606, 180000 bytes) and inside page 4's directory.
  for (std::size_t size : {300'000u, 204'600u}) {
    SCOPED_TRACE(size);
    try {
      (void)probe_buffer(std::string_view(whole).substr(0, size), {});
      ADD_FAILURE() << "a TIFF cut at " << size << " bytes was accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unsupported_media) << e.what();
    }
  }
}

TEST(Verify, DeadlineStopsALongDecode) {
  Limits limits;
  limits.max_pixels = 300'000'000;
  limits.timeout = std::chrono::milliseconds(200);
  const auto rel = "sharp-fixtures/giant-image.jpg";  // 280 Mpx, several seconds to decode
  const auto p = probe_file(corpus(rel), limits);
  const auto start = std::chrono::steady_clock::now();
  try {
    verify_decode(corpus(rel), p, limits);
    FAIL() << "no timeout";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::timeout);
    EXPECT_EQ(e.status(), 503u);
  }
  // Killed near the deadline, not after a full decode.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

}  // namespace
}  // namespace progimage::imaging::test
