// Working copies: which levels an original gets, what a copy holds, which
// copy a render may decode, and (corpus, slow tier) that renders from a copy
// cannot be told from renders of the original.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "core/error.hpp"
#include "ops/canonical.hpp"
#include "imaging/detail.hpp"
#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

Probe probe_of(std::string format, int w, int h, int frames = 1, int orientation = 1) {
  Probe p;
  p.format = std::move(format);
  p.width = w;
  p.height = h;
  p.frames = frames;
  p.orientation = orientation;
  return p;
}

ops::TransformSpec width(int w) {
  ops::TransformSpec s;
  s.width = w;
  return s;
}

/// A temporary file holding `bytes`, removed with the object.
class TempFile {
 public:
  TempFile(const std::string& bytes, const std::string& suffix) {
    static int serial = 0;
    path_ = fs::temp_directory_path() /
            ("progimage-wc-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + suffix);
    std::ofstream(path_, std::ios::binary) << bytes;
  }
  ~TempFile() { fs::remove(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// A working copy made of `src` at `level`, its bytes in a file.
struct MadeCopy {
  WorkingCopy copy;
  std::unique_ptr<TempFile> file;
};

MadeCopy made(const Source& src, int level) {
  auto encoded = make_working_copy(src, level, {});
  MadeCopy m{encoded.copy, std::make_unique<TempFile>(encoded.bytes, "." + encoded.copy.format)};
  m.copy.path = m.file->path();
  return m;
}

/// How different two decoded renders of the same size look: CIEDE2000 after
/// both are blurred as the eye blurs detail at a normal viewing distance (a
/// Gaussian of one pixel, as S-CIELAB does with its spatial filters), so that
/// a difference in sharpness finer than a pixel counts as what it is, not as
/// a change of colour. The mean, and the share of pixels differing by more
/// than 5 (clearly visible). Transparent outputs are compared over white, as
/// a page would show them.
struct Distance {
  double mean = 0;
  double visible = 0;
};

Distance distance(const std::string& a_bytes, const std::string& b_bytes) {
  auto seen = [](const std::string& bytes) {
    VImage img = decode(bytes);
    if (img.has_alpha()) img = img.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
    return detail::to_srgb8(img).colourspace(VIPS_INTERPRETATION_LAB).gaussblur(1.0);
  };
  const VImage de = seen(a_bytes).dE00(seen(b_bytes));
  return {de.avg(), (de > 5.0).avg() / 255.0};
}

// How far a render from a working copy may be from the same render of the
// original (see distance()), measured on lossless (PNG) outputs so that a
// lossy encoder's own error does not count twice: a mean CIEDE2000 under 1 is
// below what people notice side by side, and clearly different pixels stay
// under one in a hundred.
constexpr double kMaxMeanDistance = 1.0;
constexpr double kMaxVisibleShare = 0.01;

// ---- levels -------------------------------------------------------------------

TEST(WorkingCopy, LevelsFollowTheSizeAndKindOfTheOriginal) {
  EXPECT_EQ(working_copy_levels(probe_of("jpeg", 6000, 4000)), (std::vector<int>{512, 2048}));
  EXPECT_EQ(working_copy_levels(probe_of("jpeg", 4000, 3000)), (std::vector<int>{512}))
      << "JPEG shrinks on load: a level must be half its size or less";
  EXPECT_EQ(working_copy_levels(probe_of("jpeg", 1080, 1920)), (std::vector<int>{512}));
  EXPECT_TRUE(working_copy_levels(probe_of("jpeg", 1000, 700)).empty());
  EXPECT_EQ(working_copy_levels(probe_of("png", 1600, 1200)), (std::vector<int>{512}));
  EXPECT_EQ(working_copy_levels(probe_of("png", 800, 600)), (std::vector<int>{512}));
  EXPECT_EQ(working_copy_levels(probe_of("heic", 3072, 2000)), (std::vector<int>{512, 2048}));
  EXPECT_TRUE(working_copy_levels(probe_of("png", 767, 500)).empty()) << "decoding it is cheap already";
  EXPECT_TRUE(working_copy_levels(probe_of("gif", 2000, 2000, 12)).empty()) << "animated";
  EXPECT_TRUE(working_copy_levels(probe_of("tiff", 2000, 2000, 3)).empty()) << "pages";
  EXPECT_TRUE(working_copy_levels(probe_of("svg", 4000, 4000)).empty()) << "vector";
}

TEST(WorkingCopy, IsUprightAndKeepsAlphaAndDepth) {
  // Landscape_6 is stored 1200x1800 with EXIF orientation 6: it shows 1800x1200.
  const auto rotated = made(source_of("exif-orientation/Landscape_6.jpg"), 512);
  EXPECT_EQ(rotated.copy.format, "jpeg");
  EXPECT_EQ(rotated.copy.width, 512);
  EXPECT_EQ(rotated.copy.height, 341);
  const VImage upright = VImage::new_from_file(rotated.copy.path.c_str());
  EXPECT_EQ(upright.width(), 512);
  EXPECT_EQ(upright.get_typeof(VIPS_META_ORIENTATION) == 0 ? 1 : upright.get_int(VIPS_META_ORIENTATION), 1);
  EXPECT_EQ(upright.get_typeof(VIPS_META_EXIF_NAME), 0) << "no metadata but the colour profile";

  // A 1600x1200 RGBA image at 16 bits per sample, written as PNG.
  const VImage gradient = (VImage::xyz(1600, 1200).extract_band(0) * 40).cast(VIPS_FORMAT_USHORT);
  const VImage alpha = (gradient * 0 + 40000).cast(VIPS_FORMAT_USHORT);
  const VImage rgba16 = VImage::bandjoin(std::vector<VImage>{gradient, gradient, gradient, alpha})
                            .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  VipsBlob* blob = nullptr;
  auto opts = VImage::option()->set("in", rgba16)->set("buffer", &blob);
  VImage::call("pngsave_buffer", opts);
  const std::string png(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  const TempFile original(png, ".png");
  Source src;
  src.path = original.path();
  src.probe = probe_file(src.path, {});
  const auto deep = made(src, 512);
  EXPECT_EQ(deep.copy.format, "jxl");
  const VImage copy = VImage::new_from_file(deep.copy.path.c_str());
  EXPECT_EQ(copy.format(), VIPS_FORMAT_USHORT);
  EXPECT_EQ(copy.bands(), 4);
  EXPECT_EQ(copy.width(), 512);
  EXPECT_EQ(copy.height(), 384);

  const auto opaque = made(source_of("exif-orientation/Landscape_1.jpg"), 512);
  EXPECT_EQ(opaque.copy.format, "jpeg") << "opaque 8-bit pixels";
}

TEST(WorkingCopy, IsNeverLargerThanItsOriginal) {
  EXPECT_THROW(make_working_copy(source_of("exif-orientation/Landscape_1.jpg"), 1800, {}), core::Error);
}

// ---- choosing a copy ----------------------------------------------------------

class PickWorkingCopy : public ::testing::Test {
 protected:
  PickWorkingCopy() {
    source.probe = probe_of("jpeg", 4000, 3000);
    copies = {{2048, 2048, 1536, "jpeg", {}}, {512, 512, 384, "jpeg", {}}};
  }
  std::optional<int> level(const ops::TransformSpec& spec) {
    const auto pick = pick_working_copy(source, copies, spec, "webp");
    if (!pick) return std::nullopt;
    return copies[*pick].level;
  }
  Source source;
  std::vector<WorkingCopy> copies;
};

TEST_F(PickWorkingCopy, TakesTheSmallestThatHoldsTheOutputWithHeadroom) {
  EXPECT_EQ(level(width(300)), 512);
  EXPECT_EQ(level(width(409)), 512);
  EXPECT_EQ(level(width(410)), 2048) << "512 px would be less than 1.25 per output pixel";
  EXPECT_EQ(level(width(1600)), 2048);
  EXPECT_EQ(level(width(1639)), std::nullopt) << "2048 px would be less than 1.25 per output pixel";
  auto tall = ops::TransformSpec{};
  tall.height = 300;  // 400 px wide
  EXPECT_EQ(level(tall), 512);
}

TEST_F(PickWorkingCopy, CountsDprAndMapsCropRegions) {
  auto retina = width(200);
  retina.dpr = 2;  // 400 px
  EXPECT_EQ(level(retina), 512);
  retina.dpr = 3;  // 600 px
  EXPECT_EQ(level(retina), 2048);

  auto crop = width(300);
  crop.crop = ops::Rect{1000, 1000, 1000, 1000};  // a quarter of the width: 128 px of the 512 copy
  EXPECT_EQ(level(crop), 2048);
  crop.crop = ops::Rect{0, 0, 400, 400};  // 205 px of the 2048 copy for 300 px out
  EXPECT_EQ(level(crop), std::nullopt);
  crop.crop = ops::Rect{5000, 0, 10, 10};  // outside: the render refuses it from the original
  EXPECT_EQ(level(crop), std::nullopt);
}

TEST_F(PickWorkingCopy, LeavesToTheOriginalWhatNeedsIt) {
  EXPECT_EQ(level(ops::TransformSpec{}), std::nullopt) << "no resize: full resolution";
  auto enlarge = width(6000);
  enlarge.enlarge = true;
  EXPECT_EQ(level(enlarge), std::nullopt);
  auto raw = width(300);
  raw.autorotate = false;
  EXPECT_EQ(level(raw), std::nullopt);
  auto keep_metadata = width(300);
  keep_metadata.strip = false;
  EXPECT_EQ(level(keep_metadata), std::nullopt);
  auto trim = width(300);
  trim.trim = 10;
  EXPECT_EQ(level(trim), std::nullopt);
  auto page = width(300);
  page.page = 1;
  EXPECT_EQ(level(page), std::nullopt);
  EXPECT_EQ(pick_working_copy(source, {}, width(300), "webp"), std::nullopt);
}

TEST(WorkingCopy, RendersFromACopyHaveTheOriginalsGeometry) {
  auto src = source_of("exif-orientation/Landscape_6.jpg");
  const auto copy = made(src, 512);
  Source from_copy = src;
  from_copy.working_copy = copy.copy;
  std::vector<ops::TransformSpec> specs(4, width(300));
  specs[1].height = 120;
  specs[1].fit = ops::Fit::cover;
  specs[2].width = 333;
  specs[2].height = 333;
  specs[2].fit = ops::Fit::contain;
  specs[3].crop = ops::Rect{300, 200, 1400, 900};
  specs[3].width = 250;
  for (const auto& spec : specs) {
    SCOPED_TRACE(ops::canonical(spec));
    ASSERT_TRUE(pick_working_copy(src, {copy.copy}, spec, "png"));
    const auto a = render(src, spec, "png", {}, {});
    const auto b = render(from_copy, spec, "png", {}, {});
    EXPECT_EQ(a.width, b.width);
    EXPECT_EQ(a.height, b.height);
    const auto d = distance(a.bytes, b.bytes);
    EXPECT_LE(d.mean, kMaxMeanDistance) << "ΔE2000";
    EXPECT_LE(d.visible, kMaxVisibleShare);
    EXPECT_EQ(explain(from_copy, spec, "png").width, explain(src, spec, "png").width);
  }
  // A render the copy cannot serve ignores it.
  const auto full = render(from_copy, ops::TransformSpec{}, "jpeg", {}, {});
  EXPECT_EQ(full.width, 1800);
}

// ---- the corpus (slow tier) ---------------------------------------------------

// The goal for the storage the copies take, against the originals' bytes.
constexpr double kMaxOverhead = 0.20;

TEST(WorkingCopyCorpus, RendersFromCopiesCannotBeToldFromRendersOfOriginals) {
  // Lossless outputs: a lossy encoder's own error would count twice otherwise.
  const std::string format = "png";
  auto specs_for = [](const Probe& p) {
    const bool swap = p.orientation >= 5 && p.orientation <= 8;
    const int w = swap ? p.height : p.width, h = swap ? p.width : p.height;
    std::vector<ops::TransformSpec> specs(6, width(300));
    specs[1].width.reset();
    specs[1].height = 300;
    specs[2].height = 300;
    specs[2].fit = ops::Fit::cover;
    specs[3].width = 1200;  // from the 2048 level where there is one
    specs[4].width = 150;
    specs[4].dpr = 2;
    specs[5].crop = ops::Rect{w / 4, h / 4, w / 2, h / 2};
    specs[5].width = 200;
    return specs;
  };

  std::int64_t original_bytes = 0, copy_bytes = 0;
  int images = 0, renders = 0;
  Distance worst;
  for (const auto& row : manifest()) {
    if (row.expected.rfind("valid", 0) != 0) continue;
    Source src;
    try {
      src = source_of(row.path);
      verify_decode(src.path, src.probe, {});
    } catch (const core::Error&) {
      continue;  // refused at upload (over the limits, truncated, a format that is off)
    }
    original_bytes += static_cast<std::int64_t>(fs::file_size(src.path));
    const auto levels = working_copy_levels(src.probe);
    if (levels.empty()) continue;
    SCOPED_TRACE(row.path);
    std::vector<MadeCopy> made_copies;
    std::vector<WorkingCopy> copies;
    const auto size = static_cast<std::int64_t>(fs::file_size(src.path));
    for (int level : levels) {
      // As the service keeps them: only copies worth their bytes.
      auto encoded = make_working_copy(src, level, {});
      if (!worth_keeping(encoded, size)) continue;
      copy_bytes += static_cast<std::int64_t>(encoded.bytes.size());
      MadeCopy m{encoded.copy, std::make_unique<TempFile>(encoded.bytes, "." + encoded.copy.format)};
      m.copy.path = m.file->path();
      copies.push_back(m.copy);
      made_copies.push_back(std::move(m));
    }
    if (copies.empty()) continue;
    ++images;
    const auto specs = specs_for(src.probe);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      const auto pick = pick_working_copy(src, copies, specs[i], format);
      if (!pick) continue;
      Source from_copy = src;
      from_copy.working_copy = copies[*pick];
      const auto a = render(src, specs[i], format, {}, {});
      const auto b = render(from_copy, specs[i], format, {}, {});
      ASSERT_EQ(a.width, b.width);
      ASSERT_EQ(a.height, b.height);
      const auto d = distance(a.bytes, b.bytes);
      EXPECT_LE(d.mean, kMaxMeanDistance) << "spec " << i << " from level " << copies[*pick].level;
      EXPECT_LE(d.visible, kMaxVisibleShare) << "spec " << i << " from level " << copies[*pick].level;
      worst.mean = std::max(worst.mean, d.mean);
      worst.visible = std::max(worst.visible, d.visible);
      ++renders;
    }
  }
  const double overhead = double(copy_bytes) / double(original_bytes);
  std::printf("working copies: %d images of the corpus, %d renders compared; worst mean ΔE2000 %.3f, worst share "
              "over 5: %.4f; copies %lld bytes for %lld of originals: overhead %.1f%%\n",
              images, renders, worst.mean, worst.visible, static_cast<long long>(copy_bytes),
              static_cast<long long>(original_bytes), 100 * overhead);
  EXPECT_GT(images, 20);
  EXPECT_GT(renders, 50);
  EXPECT_LE(overhead, kMaxOverhead);
}

}  // namespace
}  // namespace progimage::imaging::test
