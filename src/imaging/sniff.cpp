// Structural checks that libvips' decoders repair silently but we refuse:
// GIF frames whose extents are a decompression bomb, TIFF directories that
// break the TIFF 6.0 rules libtiff papers over.
#include <algorithm>
#include <cstdint>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {

using core::Error;
using core::ErrorCode;

namespace {

void check_gif(std::string_view d, const Limits& limits) {
  auto u16 = [&](std::size_t at) { return std::uint32_t(std::uint8_t(d[at])) | (std::uint32_t(std::uint8_t(d[at + 1])) << 8); };
  if (d.size() < 13) return;
  std::size_t at = 13;
  if (std::uint8_t(d[10]) & 0x80) at += 3u << ((std::uint8_t(d[10]) & 7) + 1);  // global colour table
  auto skip_sub_blocks = [&] {
    while (at < d.size()) {
      const std::size_t n = std::uint8_t(d[at]);
      at += 1 + n;
      if (n == 0) return;
    }
  };
  while (at < d.size()) {
    const auto block = std::uint8_t(d[at]);
    if (block == 0x3B) return;  // trailer
    if (block == 0x21) {        // extension: label, then sub-blocks
      at += 2;
      skip_sub_blocks();
    } else if (block == 0x2C) {  // image descriptor
      if (at + 10 > d.size()) return;
      const std::int64_t right = std::int64_t{u16(at + 1)} + u16(at + 5);
      const std::int64_t bottom = std::int64_t{u16(at + 3)} + u16(at + 7);
      if (right * bottom > limits.max_pixels) {
        throw Error(ErrorCode::image_too_large,
                    "a GIF frame extends to " + std::to_string(right) + "x" + std::to_string(bottom) +
                        ", the limit is " + megapixels(limits.max_pixels) + " megapixels");
      }
      const auto flags = std::uint8_t(d[at + 9]);
      at += 10;
      if (flags & 0x80) at += 3u << ((flags & 7) + 1);  // local colour table
      at += 1;                                          // LZW minimum code size
      skip_sub_blocks();
    } else {
      return;  // garbage after the frames: the decoder has the final word
    }
  }
}

void check_tiff(std::string_view d) {
  if (d.size() < 8) return;
  const bool le = d[0] == 'I';
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    if (at + 2 > d.size()) return 0;
    const auto a = std::uint8_t(d[at]), b = std::uint8_t(d[at + 1]);
    return le ? (a | (b << 8)) : ((a << 8) | b);
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    if (at + 4 > d.size()) return 0;
    return le ? (u16(at) | (u16(at + 2) << 16)) : ((u16(at) << 16) | u16(at + 2));
  };
  if (u16(2) != 42) return;  // BigTIFF and others: left to libtiff
  const std::size_t ifd = u32(4);
  const std::uint32_t count = u16(ifd);
  if (ifd + 2 + std::size_t{count} * 12 > d.size()) return;  // libtiff refuses this itself
  const Error corrupt(ErrorCode::unsupported_media, "the TIFF directory is corrupt");
  std::uint32_t prev = 0, width = 0, length = 0, compression = 1, spp = 1, bps = 1, planar = 1;
  std::vector<std::uint32_t> byte_counts, offsets;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t e = ifd + 2 + std::size_t{i} * 12;
    const std::uint32_t tag = u16(e), type = u16(e + 2), n = u32(e + 4);
    // TIFF 6.0: "The entries in an IFD must be sorted in ascending order by Tag."
    if (i > 0 && tag <= prev) throw corrupt;
    prev = tag;
    auto value = [&](std::uint32_t k) -> std::uint32_t {
      const std::size_t size = type == 3 ? 2 : 4;
      const std::size_t base = n * size <= 4 ? e + 8 : u32(e + 8);
      return type == 3 ? u16(base + k * size) : u32(base + k * size);
    };
    if (type != 3 && type != 4) continue;
    switch (tag) {
      case 256: width = value(0); break;
      case 257: length = value(0); break;
      case 258: bps = value(0); break;
      case 259: compression = value(0); break;
      case 277: spp = value(0); break;
      case 284: planar = value(0); break;
      case 273:
      case 279:
        if (n > 0 && n < 1'000'000) {
          auto& list = tag == 273 ? offsets : byte_counts;
          for (std::uint32_t k = 0; k < n; ++k) list.push_back(value(k));
        }
        break;
      default: break;
    }
  }
  // Every strip must lie inside the file.
  if (offsets.size() == byte_counts.size()) {
    for (std::size_t k = 0; k < offsets.size(); ++k) {
      if (std::uint64_t{offsets[k]} + byte_counts[k] > d.size()) throw corrupt;
    }
  }
  // Uncompressed chunky strips must hold the pixels they claim.
  if (compression == 1 && planar == 1 && !byte_counts.empty() && width > 0 && length > 0) {
    const std::uint64_t row = (std::uint64_t{width} * bps * spp + 7) / 8;
    std::uint64_t total = 0;
    for (auto c : byte_counts) total += c;
    if (total < row * length) throw corrupt;
  }
}

}  // namespace

void check_structure(const std::string& format, std::string_view bytes, const Limits& limits) {
  if (format == "gif") check_gif(bytes, limits);
  if (format == "tiff") check_tiff(bytes);
}

}  // namespace progimage::imaging::detail
