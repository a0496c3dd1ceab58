// Savers: one place that knows each output format's options.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {

using core::Error;
using core::ErrorCode;

vips::VImage strip_metadata(const vips::VImage& in, bool strip) {
  if (!strip) return in;
  vips::VImage img = in.copy();
  // The fields that describe pixels or animation stay; the rest (EXIF, XMP,
  // IPTC, comments, GPS...) goes. Basic header fields are not removable.
  static constexpr std::string_view kKeep[] = {VIPS_META_ICC_NAME, "page-height", "delay",
                                               "loop", "gif-delay", "gif-loop", "palette",
                                               "bits-per-sample"};
  gchar** fields = vips_image_get_fields(img.get_image());
  for (gchar** f = fields; f != nullptr && *f != nullptr; ++f) {
    const std::string_view name(*f);
    if (std::find(std::begin(kKeep), std::end(kKeep), name) != std::end(kKeep)) continue;
    vips_image_remove(img.get_image(), *f);
  }
  g_strfreev(fields);
  return img;
}

namespace {

std::string take_blob(VipsBlob* blob) {
  size_t len = 0;
  const void* data = vips_blob_get(blob, &len);
  std::string out(static_cast<const char*>(data), len);
  vips_area_unref(VIPS_AREA(blob));
  return out;
}

std::string save(const vips::VImage& img, const char* saver, vips::VOption* opts) {
  VipsBlob* blob = nullptr;
  opts->set("in", img)->set("buffer", &blob);
  vips::VImage::call(saver, opts);
  return take_blob(blob);
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    unsigned v = std::uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= std::uint8_t(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string encode(const vips::VImage& img, const ops::TransformSpec& spec, const std::string& format,
                   int frames) {
  auto opts = vips::VImage::option()->set("strip", FALSE);
  const int q = spec.quality.value_or(0);
  if (format == "jpeg") {
    opts->set("Q", q ? q : 80)->set("optimize_coding", TRUE)->set("interlace", spec.progressive);
    return save(img, "jpegsave_buffer", opts);
  }
  if (format == "png") {
    opts->set("compression", 6)->set("interlace", spec.progressive);
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 1, 10));
    return save(img, "pngsave_buffer", opts);
  }
  if (format == "webp") {
    opts->set("Q", q ? q : 80)->set("lossless", spec.lossless);
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 0, 6));
    return save(img, "webpsave_buffer", opts);
  }
  if (format == "avif" || format == "heic") {
    opts->set("Q", q ? q : 50)
        ->set("lossless", spec.lossless)
        ->set("compression", format == "avif" ? VIPS_FOREIGN_HEIF_COMPRESSION_AV1
                                              : VIPS_FOREIGN_HEIF_COMPRESSION_HEVC);
    // libaom's default effort is slow for an on-the-fly service.
    opts->set("effort", std::clamp(spec.effort.value_or(2), 0, 9));
    return save(img, "heifsave_buffer", opts);
  }
  if (format == "jxl") {
    opts->set("Q", q ? q : 75)->set("lossless", spec.lossless);
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 1, 9));
    return save(img, "jxlsave_buffer", opts);
  }
  if (format == "gif") {
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 1, 10));
    return save(img, "gifsave_buffer", opts);
  }
  if (format == "tiff") {
    if (q && !spec.lossless && !img.has_alpha()) {
      opts->set("compression", VIPS_FOREIGN_TIFF_COMPRESSION_JPEG)->set("Q", q);
    } else {
      opts->set("compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE);
    }
    return save(img, "tiffsave_buffer", opts);
  }
  if (format == "jp2") {
    opts->set("Q", q ? q : 48)->set("lossless", spec.lossless);
    return save(img, "jp2ksave_buffer", opts);
  }
  if (format == "svg") {
    // An SVG document that shows the raster at its pixel size.
    const int w = img.width(), h = frames > 1 ? img.height() / frames : img.height();
    vips::VImage first = frames > 1 ? img.crop(0, 0, w, h) : img;
    const std::string png = save(first, "pngsave_buffer", opts->set("compression", 6));
    const std::string ws = std::to_string(w), hs = std::to_string(h);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
           "width=\"" + ws + "\" height=\"" + hs + "\" viewBox=\"0 0 " + ws + " " + hs + "\">\n"
           "<image width=\"" + ws + "\" height=\"" + hs + "\" xlink:href=\"data:image/png;base64," +
           base64(png) + "\"/>\n</svg>\n";
  }
  throw Error(ErrorCode::bad_parameter, "unknown output format: " + format);
}

}  // namespace progimage::imaging::detail
