// Perceptual hash, blurhash and ICC description: small pure functions.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {

std::uint64_t phash_from_gray32(const std::array<double, 32 * 32>& gray) {
  constexpr int N = 32;
  // cos table for a 1-D DCT-II; only the 8 lowest frequencies are needed.
  static const auto table = [] {
    std::array<double, 8 * N> t{};
    for (int u = 0; u < 8; ++u)
      for (int x = 0; x < N; ++x) t[u * N + x] = std::cos((2 * x + 1) * u * M_PI / (2.0 * N));
    return t;
  }();
  std::array<double, 8 * N> rows{};  // [u][y]: DCT along x for each row y
  for (int y = 0; y < N; ++y)
    for (int u = 0; u < 8; ++u) {
      double s = 0;
      for (int x = 0; x < N; ++x) s += gray[y * N + x] * table[u * N + x];
      rows[u * N + y] = s;
    }
  std::array<double, 64> coef{};  // [v][u]
  for (int v = 0; v < 8; ++v)
    for (int u = 0; u < 8; ++u) {
      double s = 0;
      for (int y = 0; y < N; ++y) s += rows[u * N + y] * table[v * N + y];
      coef[v * 8 + u] = s;
    }
  // The DC term is the mean brightness: left out of the median and the hash.
  std::array<double, 63> ac{};
  std::copy(coef.begin() + 1, coef.end(), ac.begin());
  std::nth_element(ac.begin(), ac.begin() + 31, ac.end());
  const double median = ac[31];
  // Rounding noise around exact zeros (flat or separable images) must not set bits.
  double peak = 0;
  for (double c : coef) peak = std::max(peak, std::abs(c));
  const double eps = 1e-9 * (peak + 1);
  std::uint64_t hash = 0;
  for (int i = 1; i < 64; ++i) {
    if (coef[i] > median + eps) hash |= std::uint64_t{1} << (63 - i);
  }
  return hash;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

int hamming(std::uint64_t a, std::uint64_t b) { return __builtin_popcountll(a ^ b); }

namespace {

constexpr std::string_view kBase83 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void base83(std::string& out, int value, int length) {
  for (int i = 1; i <= length; ++i) {
    int divisor = 1;
    for (int k = 0; k < length - i; ++k) divisor *= 83;
    out += kBase83[(value / divisor) % 83];
  }
}

double srgb_to_linear(std::uint8_t v) {
  const double x = v / 255.0;
  return x <= 0.04045 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4);
}

int linear_to_srgb(double v) {
  v = std::clamp(v, 0.0, 1.0);
  return v <= 0.0031308 ? static_cast<int>(v * 12.92 * 255 + 0.5)
                        : static_cast<int>((1.055 * std::pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
}

double sign_pow(double v, double e) { return std::copysign(std::pow(std::abs(v), e), v); }

}  // namespace

std::string blurhash_encode(const std::uint8_t* rgb, int width, int height, int cx, int cy) {
  if (cx < 1 || cx > 9 || cy < 1 || cy > 9 || width < 1 || height < 1) return {};
  std::vector<double> lin(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < lin.size(); ++i) lin[i] = srgb_to_linear(rgb[i]);
  std::vector<std::array<double, 3>> factors;
  for (int j = 0; j < cy; ++j)
    for (int i = 0; i < cx; ++i) {
      const double norm = (i == 0 && j == 0) ? 1.0 : 2.0;
      std::array<double, 3> f{};
      for (int y = 0; y < height; ++y) {
        const double by = std::cos(M_PI * j * y / height);
        for (int x = 0; x < width; ++x) {
          const double basis = std::cos(M_PI * i * x / width) * by;
          const double* p = &lin[(static_cast<std::size_t>(y) * width + x) * 3];
          f[0] += basis * p[0];
          f[1] += basis * p[1];
          f[2] += basis * p[2];
        }
      }
      const double scale = norm / (static_cast<double>(width) * height);
      for (double& c : f) c *= scale;
      factors.push_back(f);
    }

  std::string out;
  base83(out, (cx - 1) + (cy - 1) * 9, 1);
  double max_value = 1;
  if (factors.size() > 1) {
    double actual = 0;
    for (std::size_t k = 1; k < factors.size(); ++k)
      for (double c : factors[k]) actual = std::max(actual, std::abs(c));
    const int quantised = static_cast<int>(std::max(0.0, std::min(82.0, std::floor(actual * 166 - 0.5))));
    max_value = (quantised + 1) / 166.0;
    base83(out, quantised, 1);
  } else {
    base83(out, 0, 1);
  }
  const auto& dc = factors[0];
  base83(out, (linear_to_srgb(dc[0]) << 16) + (linear_to_srgb(dc[1]) << 8) + linear_to_srgb(dc[2]), 4);
  for (std::size_t k = 1; k < factors.size(); ++k) {
    int q[3];
    for (int c = 0; c < 3; ++c) {
      q[c] = static_cast<int>(
          std::max(0.0, std::min(18.0, std::floor(sign_pow(factors[k][c] / max_value, 0.5) * 9 + 9.5))));
    }
    base83(out, q[0] * 19 * 19 + q[1] * 19 + q[2], 2);
  }
  return out;
}

std::string icc_description(const std::uint8_t* data, std::size_t size) {
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    if (at + 4 > size) return 0;
    return (std::uint32_t(data[at]) << 24) | (std::uint32_t(data[at + 1]) << 16) |
           (std::uint32_t(data[at + 2]) << 8) | data[at + 3];
  };
  if (data == nullptr || size < 132) return {};
  const std::uint32_t count = u32(128);
  for (std::uint32_t t = 0; t < count && 132 + (t + 1) * 12 <= size; ++t) {
    const std::size_t entry = 132 + t * 12;
    if (std::string_view(reinterpret_cast<const char*>(data + entry), 4) != "desc") continue;
    const std::size_t off = u32(entry + 4), len = u32(entry + 8);
    if (off + len > size || len < 12) return {};
    const std::string_view type(reinterpret_cast<const char*>(data + off), 4);
    std::string text;
    if (type == "desc") {
      // v2 textDescriptionType: ASCII count (with NUL) then the characters.
      const std::size_t n = std::min<std::size_t>(u32(off + 8), len - 12);
      text.assign(reinterpret_cast<const char*>(data + off + 12), n);
    } else if (type == "mluc") {
      // v4 multiLocalizedUnicodeType: the first record, UTF-16BE.
      if (u32(off + 8) == 0 || len < 28) return {};
      const std::size_t rlen = u32(off + 20), roff = u32(off + 24);
      if (roff + rlen > len) return {};
      for (std::size_t i = 0; i + 1 < rlen; i += 2) {
        const unsigned c = (unsigned(data[off + roff + i]) << 8) | data[off + roff + i + 1];
        if (c < 0x80) {
          text += static_cast<char>(c);
        } else if (c < 0x800) {
          text += static_cast<char>(0xC0 | (c >> 6));
          text += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0xD800 || c > 0xDFFF) {
          text += static_cast<char>(0xE0 | (c >> 12));
          text += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
          text += static_cast<char>(0x80 | (c & 0x3F));
        }  // surrogate pairs are rare in profile names: dropped
      }
    } else {
      return {};
    }
    while (!text.empty() && (text.back() == '\0' || text.back() == ' ')) text.pop_back();
    if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
    // Only printable text goes into JSON.
    for (char& ch : text)
      if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
    return text;
  }
  return {};
}

}  // namespace progimage::imaging::detail
