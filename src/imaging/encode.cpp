// Savers: one place that knows each output format's options, and the
// metadata policy of the outputs.
//
// strip=true means no EXIF, XMP or IPTC in any output, only the ICC profile.
// strip_metadata() removes those fields from the image, but libvips 8.14's
// jpegsave, webpsave and heifsave run vips__exif_update() whenever their
// `strip` option is off: it builds a fresh EXIF block (resolution, version,
// colour space, dimensions) even from an image with no EXIF at all. Their
// `strip` option drops the ICC profile as well, so it cannot be used. Hence:
// jpeg and webp are saved with strip off and the regenerated EXIF segment or
// chunk is cut out of the encoded bytes; avif and heic are encoded through
// libheif directly (the same settings heifsave uses) with the ICC profile and
// nothing else. png writes eXIf only when exif-data exists, tiff and jxl write
// no EXIF in 8.14, gif none.
#include <libheif/heif.h>
#include <spdlog/spdlog.h>
#include <webp/mux.h>

#include <algorithm>
#include <cstring>
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

// libjpeg keeps a whole-image coefficient buffer (2 bytes per sample) for
// optimised Huffman tables: ~45 MB for a 15 Mpx picture. Above this size the
// standard tables are used and the encoder streams. (Progressive JPEG always
// needs that buffer: it is the client's explicit choice.)
constexpr std::int64_t kOptimizeCodingMaxPixels = std::int64_t{1} << 22;  // 2048 x 2048

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

std::uint16_t be16(const std::string& s, std::size_t at) {
  return static_cast<std::uint16_t>((std::uint8_t(s[at]) << 8) | std::uint8_t(s[at + 1]));
}

}  // namespace

std::string jpeg_drop_metadata(const std::string& jpeg) {
  // SOI, then marker segments up to SOS; everything from SOS on is copied as is.
  if (jpeg.size() < 4 || std::uint8_t(jpeg[0]) != 0xFF || std::uint8_t(jpeg[1]) != 0xD8) return jpeg;
  std::string out = jpeg.substr(0, 2);
  std::size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (std::uint8_t(jpeg[at]) != 0xFF) return jpeg;  // not what jpegsave writes: leave it
    const std::uint8_t marker = std::uint8_t(jpeg[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA) break;  // start of scan
    const std::size_t len = be16(jpeg, at + 2);
    if (len < 2 || at + 2 + len > jpeg.size()) return jpeg;
    // APP1 holds EXIF and XMP, APP13 IPTC (Photoshop). APP2 (ICC) stays.
    if (marker != 0xE1 && marker != 0xED) out.append(jpeg, at, 2 + len);
    at += 2 + len;
  }
  out.append(jpeg, at, std::string::npos);
  return out;
}

std::string webp_drop_metadata(const std::string& webp) {
  WebPData data{reinterpret_cast<const std::uint8_t*>(webp.data()), webp.size()};
  std::unique_ptr<WebPMux, decltype(&WebPMuxDelete)> mux(WebPMuxCreate(&data, 0), &WebPMuxDelete);
  if (!mux) throw vips::VError("webp: cannot parse the encoded image to strip its metadata");
  for (const char* chunk : {"EXIF", "XMP "}) {
    const WebPMuxError err = WebPMuxDeleteChunk(mux.get(), chunk);
    if (err != WEBP_MUX_OK && err != WEBP_MUX_NOT_FOUND) {
      throw vips::VError("webp: cannot remove the " + std::string(chunk) + " chunk");
    }
  }
  WebPData assembled;
  WebPDataInit(&assembled);
  if (WebPMuxAssemble(mux.get(), &assembled) != WEBP_MUX_OK) {
    throw vips::VError("webp: cannot reassemble the image after stripping its metadata");
  }
  std::string out(reinterpret_cast<const char*>(assembled.bytes), assembled.size);
  WebPDataClear(&assembled);
  return out;
}

namespace {

void heif_check(const heif_error& err, const char* what) {
  if (err.code != heif_error_Ok) {
    throw vips::VError(std::string("heif: ") + what + ": " + (err.message ? err.message : "failed"));
  }
}

struct HeifFill {
  std::uint8_t* plane = nullptr;
  int stride = 0;
  int row_bytes = 0;
};

// vips_sink_disc() hands over finished strips top to bottom.
int heif_fill_strip(VipsRegion* region, VipsRect* area, void* a) {
  auto* fill = static_cast<HeifFill*>(a);
  for (int y = 0; y < area->height; ++y) {
    std::memcpy(fill->plane + static_cast<std::size_t>(area->top + y) * fill->stride,
                VIPS_REGION_ADDR(region, 0, area->top + y), fill->row_bytes);
  }
  return 0;
}

// AVIF/HEIC with the ICC profile and no other metadata (see the top of the
// file), with heifsave's settings: Q, lossless, speed = 9 - effort, 4:4:4
// chroma from Q 90 up, 8-bit RGB(A).
std::string heif_encode_stripped(const vips::VImage& in, bool avif, int q, bool lossless, int effort) {
  vips::VImage img = in;
  const int colour_bands = img.bands() - (img.has_alpha() ? 1 : 0);
  if (colour_bands < 3) img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
  const bool alpha = img.bands() == 4;
  if (img.bands() != 3 && !alpha) throw vips::VError("heif: unexpected band count");

  std::unique_ptr<heif_context, decltype(&heif_context_free)> ctx(heif_context_alloc(), &heif_context_free);
  heif_encoder* raw_encoder = nullptr;
  heif_check(heif_context_get_encoder_for_format(
                 ctx.get(), avif ? heif_compression_AV1 : heif_compression_HEVC, &raw_encoder),
             "no encoder");
  std::unique_ptr<heif_encoder, decltype(&heif_encoder_release)> encoder(raw_encoder, &heif_encoder_release);
  heif_check(heif_encoder_set_lossy_quality(encoder.get(), q), "quality");
  heif_check(heif_encoder_set_lossless(encoder.get(), lossless), "lossless");
  heif_error err = heif_encoder_set_parameter_integer(encoder.get(), "speed", 9 - effort);
  if (err.code != heif_error_Ok && err.subcode != heif_suberror_Unsupported_parameter) heif_check(err, "speed");
  err = heif_encoder_set_parameter_string(encoder.get(), "chroma", q >= 90 ? "444" : "420");
  if (err.code != heif_error_Ok && err.subcode != heif_suberror_Unsupported_parameter) heif_check(err, "chroma");

  heif_image* raw_image = nullptr;
  heif_check(heif_image_create(img.width(), img.height(), heif_colorspace_RGB,
                               alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, &raw_image),
             "image");
  std::unique_ptr<heif_image, decltype(&heif_image_release)> image(raw_image, &heif_image_release);
  heif_check(heif_image_add_plane(image.get(), heif_channel_interleaved, img.width(), img.height(), 8), "plane");
  HeifFill fill;
  fill.plane = heif_image_get_plane(image.get(), heif_channel_interleaved, &fill.stride);
  fill.row_bytes = img.width() * img.bands();
  if (fill.plane == nullptr) throw vips::VError("heif: no plane");
  if (vips_sink_disc(img.get_image(), heif_fill_strip, &fill) != 0) throw vips::VError();

  // Only an RGB profile describes these pixels (a grey one went with the grey data).
  if (img.get_typeof(VIPS_META_ICC_NAME) != 0) {
    size_t len = 0;
    const void* icc = img.get_blob(VIPS_META_ICC_NAME, &len);
    if (icc != nullptr && len >= 20 && std::memcmp(static_cast<const char*>(icc) + 16, "RGB ", 4) == 0) {
      heif_check(heif_image_set_raw_color_profile(image.get(), "prof", icc, len), "icc profile");
    }
  }

  std::unique_ptr<heif_encoding_options, decltype(&heif_encoding_options_free)> options(
      heif_encoding_options_alloc(), &heif_encoding_options_free);
  options->save_alpha_channel = alpha ? 1 : 0;
  heif_image_handle* raw_handle = nullptr;
  heif_check(heif_context_encode_image(ctx.get(), image.get(), encoder.get(), options.get(), &raw_handle),
             "encode");
  heif_image_handle_release(raw_handle);

  std::string out;
  heif_writer writer{};
  writer.writer_api_version = 1;
  writer.write = [](heif_context*, const void* data, size_t size, void* userdata) {
    static_cast<std::string*>(userdata)->append(static_cast<const char*>(data), size);
    return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
  };
  heif_check(heif_context_write(ctx.get(), &writer, &out), "write");
  return out;
}

}  // namespace

std::string encode(const vips::VImage& img, const ops::TransformSpec& spec, const std::string& format,
                   int frames) {
  auto opts = vips::VImage::option()->set("strip", FALSE);
  const int q = spec.quality.value_or(0);
  if (format == "jpeg") {
    const bool optimize = std::int64_t{img.width()} * img.height() <= kOptimizeCodingMaxPixels;
    opts->set("Q", q ? q : 80)->set("optimize_coding", optimize)->set("interlace", spec.progressive);
    std::string out = save(img, "jpegsave_buffer", opts);
    return spec.strip ? jpeg_drop_metadata(out) : out;
  }
  if (format == "png") {
    opts->set("compression", 6)->set("interlace", spec.progressive);
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 1, 10));
    return save(img, "pngsave_buffer", opts);
  }
  if (format == "webp") {
    opts->set("Q", q ? q : 80)->set("lossless", spec.lossless);
    if (spec.effort) opts->set("effort", std::clamp(*spec.effort, 0, 6));
    std::string out = save(img, "webpsave_buffer", opts);
    return spec.strip ? webp_drop_metadata(out) : out;
  }
  if (format == "avif" || format == "heic") {
    if (spec.strip) {
      return heif_encode_stripped(img, format == "avif", q ? q : 50, spec.lossless,
                                  std::clamp(spec.effort.value_or(2), 0, 9));
    }
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
