// The pure helpers: pHash, blurhash, ICC description.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {
namespace {

std::array<double, 32 * 32> pattern(double (*f)(int, int)) {
  std::array<double, 32 * 32> a{};
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) a[y * 32 + x] = f(x, y);
  return a;
}

TEST(Phash, FlatImageHashesToZero) {
  EXPECT_EQ(phash_from_gray32(pattern([](int, int) { return 128.0; })), 0u);
}

TEST(Phash, IgnoresBrightnessAndContrast) {
  auto a = pattern([](int x, int y) { return double(x * 3 + (y % 7) * 11); });
  auto b = pattern([](int x, int y) { return 20 + 0.5 * double(x * 3 + (y % 7) * 11); });
  EXPECT_EQ(phash_from_gray32(a), phash_from_gray32(b));
}

TEST(Phash, InvertedImageIsFar) {
  auto a = pattern([](int x, int y) { return std::sin(x / 5.0) * std::cos(y / 3.0) * 100 + x * y / 4.0; });
  auto b = pattern([](int x, int y) { return -(std::sin(x / 5.0) * std::cos(y / 3.0) * 100 + x * y / 4.0); });
  EXPECT_GT(hamming(phash_from_gray32(a), phash_from_gray32(b)), 40);
}

TEST(Phash, SmallNoiseStaysClose) {
  auto a = pattern([](int x, int y) { return std::sin(x / 4.0) * std::cos(y / 6.0) * 80 + x * y / 8.0; });
  auto b = a;
  for (int i = 0; i < 32 * 32; i += 7) b[i] += (i % 3) - 1.0;
  EXPECT_LE(hamming(phash_from_gray32(a), phash_from_gray32(b)), 4);
}

TEST(Phash, HexIsSixteenLowercaseDigits) {
  EXPECT_EQ(hex64(0), "0000000000000000");
  EXPECT_EQ(hex64(0xDEADBEEF0123ABCDull), "deadbeef0123abcd");
  EXPECT_EQ(hamming(0xFFull, 0x0Full), 4);
}

TEST(Blurhash, KnownVectors) {
  // Worked by hand from the blurhash algorithm (woltapp/blurhash spec).
  // DC only: size flag 0, max 0, DC 0xFF0000 = "TI:j".
  std::vector<std::uint8_t> red(8 * 6 * 3);
  for (std::size_t i = 0; i < red.size(); i += 3) red[i] = 255;
  EXPECT_EQ(blurhash_encode(red.data(), 8, 6, 1, 1), "00TI:j");
  // A 2x1 red image, 4x3 components: basis sums are 2,1,0,1 along x and all
  // rows equal, so AC red = 1,0,1 / 2,1,0,1 / 2,1,0,1; max 2 -> 82 '~';
  // non-zero AC -> (18,9,9) = 6678 "|c", zero AC -> (9,9,9) = 3429 "fQ".
  EXPECT_EQ(blurhash_encode(red.data(), 2, 1, 4, 3), "L~TI:j|cfQ|c|c|cfQ|c|c|cfQ|c");
}

TEST(Blurhash, LengthAndHorizontalGradient) {
  std::vector<std::uint8_t> img(32 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) img[(y * 32 + x) * 3 + c] = static_cast<std::uint8_t>(x * 8);
  const std::string h = blurhash_encode(img.data(), 32, 16, 4, 3);
  ASSERT_EQ(h.size(), 28u);
  // The first AC component (1,0) of a left-dark, right-bright ramp is negative
  // in every channel: quantised below 9 -> value < 9*361+9*19+9.
  constexpr std::string_view kChars =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
  const int ac1 = int(kChars.find(h[6])) * 83 + int(kChars.find(h[7]));
  EXPECT_LT(ac1 / 361, 9);
  // Grey input: every AC component has equal R, G and B quanta.
  for (int k = 0; k < 11; ++k) {
    const int v = int(kChars.find(h[6 + 2 * k])) * 83 + int(kChars.find(h[7 + 2 * k]));
    EXPECT_EQ(v / 361, (v / 19) % 19);
    EXPECT_EQ(v / 361, v % 19);
  }
  EXPECT_TRUE(blurhash_encode(img.data(), 32, 16, 0, 3).empty());
}

std::vector<std::uint8_t> icc_with_desc_v2(const std::string& name) {
  std::vector<std::uint8_t> p(132 + 12, 0);
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    if (p.size() < at + 4) p.resize(at + 4);
    for (int i = 0; i < 4; ++i) p[at + i] = std::uint8_t(v >> (24 - 8 * i));
  };
  put32(128, 1);
  std::memcpy(&p[132], "desc", 4);
  put32(136, 144);
  put32(140, static_cast<std::uint32_t>(12 + name.size() + 1));
  p.resize(144 + 12 + name.size() + 1);
  std::memcpy(&p[144], "desc", 4);
  put32(152, static_cast<std::uint32_t>(name.size() + 1));
  std::memcpy(&p[156], name.data(), name.size());
  return p;
}

TEST(Icc, ReadsV2Description) {
  auto p = icc_with_desc_v2("sRGB IEC61966-2.1");
  EXPECT_EQ(icc_description(p.data(), p.size()), "sRGB IEC61966-2.1");
}

TEST(Icc, GarbageGivesEmpty) {
  std::vector<std::uint8_t> junk(300, 0xff);
  EXPECT_EQ(icc_description(junk.data(), junk.size()), "");
  EXPECT_EQ(icc_description(nullptr, 0), "");
  auto p = icc_with_desc_v2("x");
  p.resize(150);  // tag points past the end
  EXPECT_EQ(icc_description(p.data(), p.size()), "");
}

TEST(Formats, HeifBrand) {
  using namespace std::string_literals;
  EXPECT_EQ(heif_brand("\0\0\0\x18" "ftypavif\0\0\0\0mif1"s), "avif");
  EXPECT_EQ(heif_brand("\0\0\0\x18" "ftypmif1\0\0\0\0heic"s), "heic");
  EXPECT_EQ(heif_brand("\0\0\0\x18" "ftypisom\0\0\0\0mp41"s), "");
  EXPECT_TRUE(is_gzip("\x1f\x8b\x08"));
  EXPECT_FALSE(is_gzip("<svg"));
}

}  // namespace
}  // namespace progimage::imaging::detail
