#include "ops/canonical.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "ops/parse.hpp"

using namespace progimage;
using namespace progimage::ops;

namespace {

TransformSpec q(std::string_view raw) { return parse_query(split_query(raw)); }

/// A random valid spec, built field by field (not through the parser), with
/// decimals on the parser's 6-digit grid.
class SpecGenerator {
 public:
  explicit SpecGenerator(unsigned seed) : rng_(seed) {}

  TransformSpec next() {
    TransformSpec s;
    if (coin()) s.width = integer(1, 16384);
    if (coin()) s.height = integer(1, 16384);
    if (coin()) s.dpr = decimal(1, 4);
    if (coin()) s.fit = static_cast<Fit>(integer(0, 4));
    if (coin()) s.gravity = gravity(true);
    if (coin()) s.crop = Rect{integer(0, 100000000), integer(0, 100000000), integer(1, 100000000), integer(1, 5000)};
    s.enlarge = coin();
    if (coin()) s.rotate = integer(0, 359);
    s.flip = static_cast<Flip>(integer(0, 3));
    s.autorotate = coin();
    if (coin()) s.blur = decimal(0.3, 100);
    if (coin()) s.sharpen = decimal(0.3, 10);
    s.grayscale = coin();
    s.sepia = coin();
    s.negate = coin();
    if (coin()) s.brightness = decimal(0, 10);
    if (coin()) s.saturation = decimal(0, 10);
    if (coin()) s.contrast = decimal(0, 10);
    if (coin()) s.gamma = decimal(0.1, 10);
    if (coin()) s.hue = std::min(decimal(0, 360), 359.999999);
    if (coin()) s.tint = color(false);
    switch (integer(0, 4)) {
      case 0: break;
      case 1: s.mask = Mask{MaskKind::circle}; break;
      case 2: s.mask = Mask{MaskKind::ellipse}; break;
      case 3: s.mask = Mask{MaskKind::rounded, integer(1, 16384)}; break;
      case 4: s.mask = Mask{MaskKind::image, 0, id()}; break;
    }
    if (coin()) {
      Watermark wm;
      wm.image_id = id();
      if (coin()) wm.gravity = gravity(false);
      if (coin()) wm.opacity = decimal(0, 1);
      if (coin()) wm.scale = std::max(decimal(0, 1), 0.000001);
      s.watermark = wm;
    }
    if (coin()) s.bg = color(true);
    if (coin()) s.trim = integer(1, 254);
    static const char* formats[] = {"", "auto", "jpeg", "png", "webp", "avif", "heic", "jxl", "gif", "tiff", "jp2", "svg"};
    s.format = formats[integer(0, 11)];
    if (coin()) s.quality = integer(1, 100);
    s.lossless = coin();
    s.progressive = coin();
    if (coin()) s.effort = integer(0, 9);
    s.strip = coin();
    if (coin()) s.page = integer(0, 1000);
    s.animated = coin();
    return s;
  }

 private:
  bool coin() { return std::uniform_int_distribution<int>(0, 1)(rng_) == 1; }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  double decimal(double lo, double hi) {
    // Sometimes a short value, sometimes the full six digits, sometimes a bound.
    switch (integer(0, 3)) {
      case 0: return lo;
      case 1: return hi;
      case 2: return std::clamp(std::round(std::uniform_real_distribution<double>(lo, hi)(rng_) * 10) / 10, lo, hi);
      default: return std::clamp(std::round(std::uniform_real_distribution<double>(lo, hi)(rng_) * 1e6) / 1e6, lo, hi);
    }
  }
  Gravity gravity(bool content_aware) {
    int kind = integer(0, content_aware ? 12 : 9);
    if (kind == 12 || (!content_aware && kind == 9)) return Gravity{GravityKind::point, decimal(0, 1), decimal(0, 1)};
    if (!content_aware && kind >= 9) kind = 0;
    return Gravity{static_cast<GravityKind>(kind)};
  }
  Color color(bool alpha) {
    auto byte = [this] { return static_cast<std::uint8_t>(integer(0, 255)); };
    Color c{byte(), byte(), byte(), 255};
    if (alpha && coin()) c.a = byte();
    return c;
  }
  std::string id() {
    static constexpr char abc[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
    std::string out(integer(1, 64), 'x');
    for (char& c : out) c = abc[integer(0, 63)];
    return out;
  }

  std::mt19937 rng_;
};

}  // namespace

TEST(Canonical, SortedNonDefaultOnly) {
  EXPECT_EQ(canonical(q("w=300&h=300&fit=cover&format=webp")), "fit=cover&format=webp&h=300&w=300");
  EXPECT_EQ(canonical(q("fit=inside&dpr=1&autorotate=true&strip=true&enlarge=false&rotate=360&trim=false")), "");
  EXPECT_EQ(canonical(q("dpr=2.0&blur=1.50")), "blur=1.5&dpr=2");
  EXPECT_EQ(canonical(q("format=jpg&bg=%23FFFFFF&tint=AABBCC")), "bg=ffffff&format=jpeg&tint=aabbcc");
  EXPECT_EQ(canonical(q("bg=ff000080&quality=90&width=10")), "bg=ff000080&q=90&w=10");
  EXPECT_EQ(canonical(q("gravity=fp:0.50:0.250&crop=0,0,10,10&mask=rounded:8")),
            "crop=0,0,10,10&gravity=fp:0.5:0.25&mask=rounded:8");
  EXPECT_EQ(canonical(q("watermark=abc&wm_gravity=southeast&wm_opacity=0.5&wm_scale=0.25")), "watermark=abc");
  EXPECT_EQ(canonical(q("watermark=abc&wm_gravity=north&wm_opacity=0.75")),
            "watermark=abc&wm_gravity=north&wm_opacity=0.75");
  EXPECT_EQ(canonical(q("trim=true&rotate=-90&hue=-45&autorotate=0&strip=0")),
            "autorotate=false&hue=315&rotate=270&strip=false&trim=10");
  EXPECT_EQ(canonical(q("gravity=centre")), "");
  EXPECT_EQ(canonical(q("brightness=0.000001&gamma=0.1")), "brightness=0.000001&gamma=0.1");
}

TEST(Canonical, LeavesOutFallbackAndSig) {
  EXPECT_EQ(canonical(q("w=10&fallback=abc&sig=xyz")), "w=10");
}

TEST(Canonical, OrderIndependent) {
  EXPECT_EQ(canonical(q("w=1&h=2")), canonical(q("h=2&w=1")));
  EXPECT_EQ(canonical(q("format=png&blur=2&crop=1,1,5,5&grayscale=true")),
            canonical(q("grayscale=true&crop=1,1,5,5&blur=2&format=png")));
}

TEST(Canonical, FormatNumber) {
  EXPECT_EQ(format_number(2), "2");
  EXPECT_EQ(format_number(1.5), "1.5");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(0.000001), "0.000001");
  EXPECT_EQ(format_number(100), "100");
  EXPECT_EQ(format_number(359.999999), "359.999999");
  EXPECT_EQ(format_number(1e21), "1000000000000000000000");
}

TEST(Canonical, IsIdentity) {
  EXPECT_TRUE(is_identity(TransformSpec{}));
  EXPECT_TRUE(is_identity(q("format=webp")));
  EXPECT_TRUE(is_identity(q("format=auto&fallback=abc&sig=x&fit=inside&rotate=0")));
  EXPECT_FALSE(is_identity(q("w=10")));
  EXPECT_FALSE(is_identity(q("q=50")));
  EXPECT_FALSE(is_identity(q("strip=false")));
  EXPECT_FALSE(is_identity(q("autorotate=false")));
  EXPECT_FALSE(is_identity(q("page=0")));
}

// parse_query(split_query(canonical(s))) == s for random valid specs, in any
// parameter order, and canonical() is a fixed point.
TEST(Canonical, RoundTripProperty) {
  SpecGenerator gen(20261122);
  std::mt19937 shuffle_rng(7);
  for (int i = 0; i < 5000; ++i) {
    TransformSpec s = gen.next();
    std::string c = canonical(s);
    SCOPED_TRACE(c);
    QueryParams pairs = split_query(c);
    EXPECT_EQ(pairs, canonical_params(s));
    std::shuffle(pairs.begin(), pairs.end(), shuffle_rng);
    TransformSpec back;
    ASSERT_NO_THROW(back = parse_query(pairs));
    EXPECT_EQ(back, s);
    EXPECT_EQ(canonical(back), c);
  }
}

// The same property from the other side: random valid *queries* (with
// aliases, odd spellings and defaults spelled out) reach a fixed point.
TEST(Canonical, RoundTripFromQueries) {
  std::mt19937 rng(42);
  const std::vector<std::vector<std::string>> choices = {
      {"w=1", "width=16384", "w=0300"},
      {"h=5", "height=200"},
      {"dpr=1", "dpr=2.50", "dpr=3.1415926"},
      {"fit=COVER", "fit=inside", "fit=contain"},
      {"gravity=centre", "gravity=fp:0.333333333:1", "gravity=smart"},
      {"rotate=-450", "rotate=720", "rotate=33"},
      {"hue=-0.5", "hue=359.9999996", "hue=1080.25"},
      {"bg=%23ABCDEF", "background=abcdef80", "bg=000000ff"},
      {"trim=true", "trim=false", "trim=254"},
      {"watermark=abc&wm_opacity=0.123456789", "watermark=x&wm_gravity=fp:1:0&wm_scale=1"},
      {"format=tif", "format=JPG", "format=auto"},
      {"quality=1", "q=100"},
      {"fallback=abc", "sig=zzz"},
      {"strip=0", "strip=1", "autorotate=0"},
      {"blur=0.3", "blur=99.9999999", "sharpen=0.30000001"},
  };
  for (int i = 0; i < 2000; ++i) {
    std::string raw;
    for (const auto& group : choices) {
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) continue;
      if (!raw.empty()) raw += '&';
      raw += group[std::uniform_int_distribution<std::size_t>(0, group.size() - 1)(rng)];
    }
    SCOPED_TRACE(raw);
    TransformSpec s = q(raw);
    s.fallback.clear();  // not part of the canonical form
    EXPECT_EQ(q(canonical(s)), s);
  }
}
