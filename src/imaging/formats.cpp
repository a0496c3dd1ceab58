// Loader names and content sniffing helpers (the format table is core/formats).
#include <fstream>

#include "imaging/detail.hpp"

namespace progimage::imaging {

namespace detail {

std::string format_of_loader(std::string_view loader) {
  struct Row {
    std::string_view prefix;
    std::string_view format;
  };
  static constexpr Row kRows[] = {
      {"VipsForeignLoadJpeg", "jpeg"}, {"VipsForeignLoadPng", "png"},
      {"VipsForeignLoadWebp", "webp"}, {"VipsForeignLoadNsgif", "gif"},
      {"VipsForeignLoadHeif", "heif"}, {"VipsForeignLoadJxl", "jxl"},
      {"VipsForeignLoadTiff", "tiff"}, {"VipsForeignLoadSvg", "svg"},
  };
  for (const auto& row : kRows) {
    if (loader.starts_with(row.prefix)) return std::string(row.format);
  }
  return {};
}

bool is_gzip(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
         static_cast<unsigned char>(head[1]) == 0x8b;
}

std::string read_head(const std::filesystem::path& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw core::Error(core::ErrorCode::not_found, "cannot open image file");
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

std::string heif_brand(std::string_view head) {
  // ISO-BMFF: [size][ftyp][major brand][minor version][compatible brands...]
  if (head.size() < 16 || head.substr(4, 4) != "ftyp") return {};
  auto u32 = [&](std::size_t at) {
    return (std::uint32_t(std::uint8_t(head[at])) << 24) | (std::uint32_t(std::uint8_t(head[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(head[at + 2])) << 8) | std::uint32_t(std::uint8_t(head[at + 3]));
  };
  std::size_t box = std::min<std::size_t>(u32(0), head.size());
  auto brand_of = [](std::string_view b) -> std::string {
    if (b == "avif" || b == "avis") return "avif";
    if (b == "heic" || b == "heix" || b == "heim" || b == "heis" || b == "hevc" || b == "hevx")
      return "heic";
    return {};
  };
  if (auto major = brand_of(head.substr(8, 4)); !major.empty()) return major;
  for (std::size_t at = 16; at + 4 <= box; at += 4) {
    if (auto b = brand_of(head.substr(at, 4)); !b.empty()) return b;
  }
  return {};
}

}  // namespace detail
}  // namespace progimage::imaging
