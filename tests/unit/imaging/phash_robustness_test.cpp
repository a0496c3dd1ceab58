// How near the similar-image search finds copies of a photo made the ways
// copies are made — resized, recompressed, slightly cropped, slightly
// recoloured — and how near unrelated photos of the corpus come to each
// other. The search looks up an image's similarity_hashes() (its own hash and
// its crop guesses) within distance 10 of the stored hashes
// (service/similar_images), in both directions: a copy sent to find its
// stored photo (POST /v1/similar) and a stored photo asked for its stored
// copies (GET /v1/images/{id}/similar). Every copy must be found both ways
// and no unrelated photo may come that near. The table this prints is
// recorded in bench/RESULTS.md and summarised in docs/API.md.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <vips/vips8>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "imaging/detail.hpp"
#include "test_support.hpp"

namespace progimage::imaging {
namespace {

using vips::VImage;
namespace fs = std::filesystem;

constexpr int kSimilarDistance = 10;  // service::SimilarQuery's default max_distance

/// Photos of the corpus that show different scenes (one file per scene: the
/// orientation set is one picture, the CMYK pair is one picture).
const std::vector<std::string> kPhotos = {
    "exif-orientation/Landscape_1.jpg",
    "exif-samples/jpg/Canon_PowerShot_S40.jpg",
    "exif-samples/jpg/Reconyx_HC500_Hyperfire.jpg",
    "exif-samples/jpg/gps/DSCN0010.jpg",
    "exif-samples/heic/IMG_5195.HEIC",
    "exif-samples/heic/samplefilehub.heif",
    "vips-formats/sample.jpg",
    "vips-formats/1.webp",
    "vips-formats/avif-orientation-6.avif",
    "sharp-fixtures/Channel_digital_image_CMYK_color.jpg",
    "sharp-fixtures/concert.jpg",
    "pillow-formats/iptc.jpg",
    "pillow-formats/sugarshack.mpo",
    "pillow-formats/avif/rot1mir0.avif",
    "malformed/hopper_bad_exif.jpg",
    "jxl/sunset_logo.jxl",
};

/// Corpus pictures without content: a smooth vignette has no structure for a
/// perceptual hash to keep (its low frequencies are all near zero, so every
/// bit is rounding noise and any re-encoding flips a third of them). They
/// count as unrelated to every photo; their own copies are reported, not
/// required.
const std::vector<std::string> kFeatureless = {"sharp-fixtures/flowers.jpeg"};

/// One way of copying a photo: `make` turns the upright original into the
/// copy, `suffix` says how it is saved (format and quality).
struct Edit {
  std::string kind;  // resized, recompressed, cropped, recoloured, grey
  std::string name;
  std::function<VImage(const VImage&)> make;
  std::string suffix = ".jpg[Q=90]";
};

VImage crop_fraction(const VImage& img, double left, double top, double right, double bottom) {
  const int x = static_cast<int>(img.width() * left), y = static_cast<int>(img.height() * top);
  const int w = img.width() - x - static_cast<int>(img.width() * right);
  const int h = img.height() - y - static_cast<int>(img.height() * bottom);
  return img.extract_area(x, y, w, h);
}

/// Scales the chroma (saturation) and turns the hue of an sRGB image in LCh.
VImage in_lch(const VImage& img, double chroma, double hue_degrees) {
  return img.colourspace(VIPS_INTERPRETATION_LCH)
      .linear({1.0, chroma, 1.0}, {0.0, 0.0, hue_degrees})
      .colourspace(VIPS_INTERPRETATION_sRGB);
}

VImage clipped(const VImage& img) { return img.cast(VIPS_FORMAT_UCHAR); }

std::vector<Edit> edits() {
  auto same = [](const VImage& img) { return img; };
  return {
      {"resized", "50%", [](const VImage& i) { return i.resize(0.5); }},
      {"resized", "25%", [](const VImage& i) { return i.resize(0.25); }},
      {"resized", "300 px wide", [](const VImage& i) { return i.resize(300.0 / i.width()); }},
      {"resized", "200% (upscaled)", [](const VImage& i) { return i.resize(2.0); }},
      {"recompressed", "JPEG q40", same, ".jpg[Q=40]"},
      {"recompressed", "JPEG q75", same, ".jpg[Q=75]"},
      {"recompressed", "WebP q50", same, ".webp[Q=50]"},
      {"recompressed", "PNG", same, ".png"},
      {"cropped", "2.5% each side", [](const VImage& i) { return crop_fraction(i, .025, .025, .025, .025); }},
      {"cropped", "5% left", [](const VImage& i) { return crop_fraction(i, .05, 0, 0, 0); }},
      {"cropped", "5% bottom", [](const VImage& i) { return crop_fraction(i, 0, 0, 0, .05); }},
      {"cropped", "5% left and top", [](const VImage& i) { return crop_fraction(i, .05, .05, 0, 0); }},
      {"recoloured", "brightness x1.1", [](const VImage& i) { return clipped(i.linear(1.1, 0.0)); }},
      {"recoloured", "contrast x1.15", [](const VImage& i) { return clipped(i.linear(1.15, -0.15 * 128)); }},
      {"recoloured", "saturation x1.3", [](const VImage& i) { return clipped(in_lch(i, 1.3, 0)); }},
      {"recoloured", "hue +15 degrees", [](const VImage& i) { return clipped(in_lch(i, 1.0, 15)); }},
      {"recoloured", "gamma 1.2",
       [](const VImage& i) { return clipped(i.gamma(VImage::option()->set("exponent", 1.2))); }},
      {"grey", "greyscale", [](const VImage& i) { return i.colourspace(VIPS_INTERPRETATION_B_W); }},
  };
}

class PhashRobustness : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/phash-robustness-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// The hash that an upload of `path` is stored with.
  static std::uint64_t stored_hash(const fs::path& path) {
    const Limits limits;
    std::optional<std::uint64_t> phash;
    try {
      phash = analyze(path, probe_file(path, limits), limits).phash;
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
    if (!phash) throw std::runtime_error("no phash for " + path.string());
    return *phash;
  }

  /// What a search for `path` looks up.
  static std::vector<std::uint64_t> search_hashes(const fs::path& path) {
    const Limits limits;
    return similarity_hashes(path, probe_file(path, limits), limits);
  }

  /// The photo as people see it: upright, in sRGB, 8 bits, no alpha.
  static VImage upright(const std::string& rel) {
    VImage img = VImage::thumbnail(test::corpus(rel).c_str(), 100'000,
                                   VImage::option()->set("size", VIPS_SIZE_DOWN)->set("no_rotate", false));
    if (img.has_alpha()) img = img.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
    if (img.interpretation() != VIPS_INTERPRETATION_sRGB) img = img.colourspace(VIPS_INTERPRETATION_sRGB);
    return img.cast(VIPS_FORMAT_UCHAR).copy_memory();
  }

  fs::path dir_;
};

/// The nearest any of `query` comes to `stored`: the distance the search reports.
int search_distance(const std::vector<std::uint64_t>& query, std::uint64_t stored) {
  int best = 64;
  for (const auto h : query) best = std::min(best, detail::hamming(h, stored));
  return best;
}

struct Picture {
  std::string rel;
  bool featureless = false;
  std::uint64_t stored = 0;             // its hash when uploaded
  std::vector<std::uint64_t> searched;  // what a search for it looks up
};

struct Copy {
  std::size_t picture;
  const Edit* edit;
  std::uint64_t stored = 0;
  std::vector<std::uint64_t> searched;
  int copy_finds_photo = 0;  // POST /v1/similar with the copy, the photo stored
  int photo_finds_copy = 0;  // GET similar of the photo, the copy stored
};

TEST_F(PhashRobustness, CopiesAreFoundBothWaysAndUnrelatedPhotosStayFar) {
  const auto kinds_of_edit = edits();
  std::vector<Picture> pictures;
  for (const auto& rel : kPhotos) pictures.push_back({rel});
  for (const auto& rel : kFeatureless) pictures.push_back({rel, true});
  for (auto& p : pictures) {
    p.stored = stored_hash(test::corpus(p.rel));
    p.searched = search_hashes(test::corpus(p.rel));
    ASSERT_EQ(p.searched.front(), p.stored) << p.rel << ": a search leads with the stored hash";
  }

  std::vector<Copy> copies;
  for (std::size_t p = 0; p < pictures.size(); ++p) {
    const VImage photo = upright(pictures[p].rel);
    for (const auto& edit : kinds_of_edit) {
      // "copy.jpg[Q=40]" saves with those options; the file is "copy.jpg".
      const std::string saved_as = (dir_ / "copy").string() + edit.suffix;
      edit.make(photo).write_to_file(saved_as.c_str());
      const fs::path file = saved_as.substr(0, saved_as.find('['));
      Copy c{p, &edit, stored_hash(file), search_hashes(file)};
      c.copy_finds_photo = search_distance(c.searched, pictures[p].stored);
      c.photo_finds_copy = search_distance(pictures[p].searched, c.stored);
      copies.push_back(std::move(c));
    }
  }

  // Recall per edit, each way: the share of copies found within the search distance.
  std::printf("\n| edit | kind | copy finds photo | mean | max | photo finds copy | mean | max |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& edit : kinds_of_edit) {
    struct Way {
      int found = 0, total = 0, sum = 0, worst = 0;
      void add(int d) {
        ++total;
        sum += d;
        worst = std::max(worst, d);
        found += d <= kSimilarDistance ? 1 : 0;
      }
    } forward, backward;
    for (const auto& c : copies) {
      if (c.edit != &edit || pictures[c.picture].featureless) continue;
      forward.add(c.copy_finds_photo);
      backward.add(c.photo_finds_copy);
      EXPECT_LE(c.copy_finds_photo, kSimilarDistance) << pictures[c.picture].rel << ", " << edit.name << ", copy sent";
      EXPECT_LE(c.photo_finds_copy, kSimilarDistance) << pictures[c.picture].rel << ", " << edit.name << ", copy stored";
    }
    std::printf("| %s | %s | %d/%d | %.1f | %d | %d/%d | %.1f | %d |\n", edit.name.c_str(), edit.kind.c_str(),
                forward.found, forward.total, double(forward.sum) / forward.total, forward.worst, backward.found,
                backward.total, double(backward.sum) / backward.total, backward.worst);
  }
  for (const auto& c : copies) {
    if (!pictures[c.picture].featureless) continue;
    std::printf("featureless %s, %s: copy finds it at %d, it finds the copy at %d\n", pictures[c.picture].rel.c_str(),
                c.edit->name.c_str(), c.copy_finds_photo, c.photo_finds_copy);
  }

  // False matches: a search for any picture (original or copy) that reaches
  // another picture's stored hash, or a stored copy of it, within the distance.
  int pairs = 0, false_matches = 0, nearest = 64;
  auto compare = [&](std::size_t picture, const std::vector<std::uint64_t>& searched, const std::string& what) {
    auto check = [&](std::uint64_t stored, const std::string& other) {
      const int d = search_distance(searched, stored);
      ++pairs;
      nearest = std::min(nearest, d);
      if (d > kSimilarDistance) return;
      ++false_matches;
      ADD_FAILURE() << what << " is " << d << " from unrelated " << other;
    };
    for (std::size_t other = 0; other < pictures.size(); ++other)
      if (other != picture) check(pictures[other].stored, pictures[other].rel);
    for (const auto& c : copies)
      if (c.picture != picture) check(c.stored, pictures[c.picture].rel + " (" + c.edit->name + ")");
  };
  for (std::size_t p = 0; p < pictures.size(); ++p) compare(p, pictures[p].searched, pictures[p].rel);
  for (const auto& c : copies)
    compare(c.picture, c.searched, pictures[c.picture].rel + " (" + c.edit->name + ")");
  std::printf("\n%zu photos (+%zu featureless), %zu copies, %zu hashes per search: %d false matches within %d "
              "among %d unrelated pairs; nearest unrelated pair at %d\n",
              kPhotos.size(), kFeatureless.size(), copies.size(), pictures.front().searched.size(), false_matches,
              kSimilarDistance, pairs, nearest);
}

}  // namespace
}  // namespace progimage::imaging
