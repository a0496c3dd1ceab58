// Structural checks that libvips' decoders repair silently but we refuse:
// GIF frames whose extents are a decompression bomb, TIFF directories that
// break the TIFF 6.0 rules libtiff papers over.
#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

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

// Reads a classic TIFF (not BigTIFF) in its byte order; 0 past the end.
class TiffReader {
 public:
  explicit TiffReader(std::string_view d) : d_(d), le_(!d.empty() && d[0] == 'I') {}
  std::uint32_t u16(std::size_t at) const {
    if (at + 2 > d_.size()) return 0;
    const auto a = std::uint8_t(d_[at]), b = std::uint8_t(d_[at + 1]);
    return le_ ? (a | (b << 8)) : ((a << 8) | b);
  }
  std::uint32_t u32(std::size_t at) const {
    if (at + 4 > d_.size()) return 0;
    return le_ ? (u16(at) | (u16(at + 2) << 16)) : ((u16(at) << 16) | u16(at + 2));
  }
  std::size_t size() const { return d_.size(); }

 private:
  std::string_view d_;
  bool le_;
};

// Checks one image file directory at `ifd`; returns the offset of the next (0: none).
std::uint32_t check_tiff_directory(const TiffReader& r, std::size_t ifd, const Error& corrupt) {
  const std::uint32_t count = r.u16(ifd);
  std::uint32_t prev = 0, width = 0, length = 0, compression = 1, spp = 1, bps = 1, planar = 1;
  std::vector<std::uint32_t> byte_counts, offsets;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::size_t e = ifd + 2 + std::size_t{i} * 12;
    const std::uint32_t tag = r.u16(e), type = r.u16(e + 2), n = r.u32(e + 4);
    // TIFF 6.0: "The entries in an IFD must be sorted in ascending order by Tag."
    if (i > 0 && tag <= prev) throw corrupt;
    prev = tag;
    auto value = [&](std::uint32_t k) -> std::uint32_t {
      const std::size_t size = type == 3 ? 2 : 4;
      const std::size_t base = n * size <= 4 ? e + 8 : r.u32(e + 8);
      return type == 3 ? r.u16(base + k * size) : r.u32(base + k * size);
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
      if (std::uint64_t{offsets[k]} + byte_counts[k] > r.size()) throw corrupt;
    }
  }
  // Uncompressed chunky strips must hold the pixels they claim.
  if (compression == 1 && planar == 1 && !byte_counts.empty() && width > 0 && length > 0) {
    const std::uint64_t row = (std::uint64_t{width} * bps * spp + 7) / 8;
    std::uint64_t total = 0;
    for (auto c : byte_counts) total += c;
    if (total < row * length) throw corrupt;
  }
  return r.u32(ifd + 2 + std::size_t{count} * 12);
}

// Every page's directory, so that a truncated later page is refused like a
// truncated first one (verify_decode() lets later pages fail to decode).
void check_tiff(std::string_view d, const Limits& limits) {
  if (d.size() < 8) return;
  const TiffReader r(d);
  if (r.u16(2) != 42) return;  // BigTIFF and others: left to libtiff
  const Error corrupt(ErrorCode::unsupported_media, "the TIFF directory is corrupt");
  std::set<std::size_t> seen;  // a chain that loops ends where it loops
  for (std::size_t ifd = r.u32(4); ifd != 0 && seen.insert(ifd).second;) {
    // More pages than allowed: probe_file() refuses them by count.
    if (seen.size() > static_cast<std::size_t>(limits.max_frames)) return;
    if (ifd + 2 + std::size_t{r.u16(ifd)} * 12 > d.size()) {
      if (seen.size() == 1) return;  // libtiff refuses this itself
      throw corrupt;                 // a page cut off
    }
    ifd = check_tiff_directory(r, ifd, corrupt);
  }
}

}  // namespace

void check_structure(const std::string& format, std::string_view bytes, const Limits& limits) {
  if (format == "gif") check_gif(bytes, limits);
  if (format == "tiff") check_tiff(bytes, limits);
}

}  // namespace progimage::imaging::detail
