// Identifying uploads by content, header-only limits, and the full decode check.
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "imaging/detail.hpp"

namespace progimage::imaging {

using core::Error;
using core::ErrorCode;

namespace {

constexpr std::size_t kMaxTextMetadata = 1 << 20;
constexpr std::string_view kAccepted = "jpeg, png, webp, gif, avif, heic, jxl, tiff, svg";

[[noreturn]] void refuse_unknown() {
  throw Error(ErrorCode::unsupported_media,
              "not an image of a supported format (accepted: " + std::string(kAccepted) + ")");
}

int read_int(const vips::VImage& img, const char* field, int fallback) {
  if (img.get_typeof(field) == 0) return fallback;
  try {
    return img.get_int(field);
  } catch (const vips::VError&) {
    vips_error_clear();
    return fallback;
  }
}

std::string read_string(const vips::VImage& img, const char* field) {
  if (img.get_typeof(field) != G_TYPE_STRING && img.get_typeof(field) != VIPS_TYPE_REF_STRING) return {};
  // VImage::get_string() in 8.14 returns a pointer into a GValue it has
  // already unset (a use-after-free for G_TYPE_STRING fields): take a copy.
  char* v = nullptr;
  if (vips_image_get_as_string(img.get_image(), field, &v) != 0) {
    vips_error_clear();
    return {};
  }
  std::string out = v != nullptr ? v : "";
  g_free(v);
  return out;
}

// Reads the facts we keep from a header-only image and applies the limits.
Probe finish_probe(const vips::VImage& img, std::string format, std::string_view head,
                   const Limits& limits) {
  Probe p;
  if (format == "heif") {
    // libheif names the codec; the ftyp brand is the fallback.
    std::string codec = read_string(img, "heif-compression");
    if (codec == "av1") {
      format = "avif";
    } else if (codec == "hevc") {
      format = "heic";
    } else {
      format = detail::heif_brand(head);
      if (format.empty()) format = "heic";
    }
  }
  p.format = std::move(format);
  p.width = img.width();
  p.height = img.height();
  if (p.format == "gif" || p.format == "webp" || p.format == "avif" || p.format == "heic" ||
      p.format == "tiff") {
    p.frames = std::max(1, read_int(img, "n-pages", 1));
  }
  p.has_alpha = img.has_alpha();
  p.orientation = read_int(img, "orientation", 1);
  if (p.orientation < 1 || p.orientation > 8) p.orientation = 1;

  // Text chunks that inflate to megabytes are a metadata decompression bomb.
  std::size_t text_bytes = 0;
  gchar** fields = vips_image_get_fields(img.get_image());
  for (gchar** f = fields; f != nullptr && *f != nullptr; ++f) {
    if (img.get_typeof(*f) == VIPS_TYPE_REF_STRING || img.get_typeof(*f) == G_TYPE_STRING) text_bytes += read_string(img, *f).size();
  }
  g_strfreev(fields);
  if (text_bytes > kMaxTextMetadata) {
    throw Error(ErrorCode::image_too_large,
                "image metadata inflates to " + std::to_string(text_bytes / 1024) +
                    " KiB of text, the limit is " + std::to_string(kMaxTextMetadata / 1024) + " KiB");
  }
  if (p.width <= 0 || p.height <= 0) {
    throw Error(ErrorCode::unsupported_media, "image has no pixels");
  }
  if (p.frames > limits.max_frames) {
    throw Error(ErrorCode::image_too_large,
                "image has " + std::to_string(p.frames) + " frames, the limit is " +
                    std::to_string(limits.max_frames));
  }
  const std::int64_t pixels = std::int64_t{p.width} * p.height * p.frames;
  if (pixels > limits.max_pixels) {
    std::string size = std::to_string(p.width) + "x" + std::to_string(p.height);
    if (p.frames > 1) size += " with " + std::to_string(p.frames) + " frames";
    throw Error(ErrorCode::image_too_large, "image is " + size + ", the limit is " +
                                                detail::megapixels(limits.max_pixels) + " megapixels");
  }
  return p;
}

}  // namespace

Probe probe_file(const std::filesystem::path& path, const Limits& limits) {
  const std::string head = detail::read_head(path, 64);
  if (head.empty()) throw Error(ErrorCode::unsupported_media, "the file is empty");
  // librsvg hangs on truncated gzip; nothing we accept is gzip-wrapped.
  if (detail::is_gzip(head)) {
    throw Error(ErrorCode::unsupported_media, "gzip-compressed data (svgz) is not accepted");
  }
  const char* loader = vips_foreign_find_load(path.c_str());
  if (loader == nullptr) {
    vips_error_clear();
    refuse_unknown();
  }
  std::string format = detail::format_of_loader(loader);
  if (format.empty()) refuse_unknown();
  if (format == "gif" || format == "tiff") {
    std::ifstream in(path, std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    detail::check_structure(format, all, limits);
  }
  try {
    auto img = detail::load_image(path, Probe{format}, 0, 1, true);
    return finish_probe(img, std::move(format), head, limits);
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media,
                         "the " + format + " header cannot be read");
  }
}

Probe probe_buffer(std::string_view bytes, const Limits& limits) {
  if (bytes.empty()) throw Error(ErrorCode::unsupported_media, "the body is empty");
  if (detail::is_gzip(bytes)) {
    throw Error(ErrorCode::unsupported_media, "gzip-compressed data (svgz) is not accepted");
  }
  const char* loader = vips_foreign_find_load_buffer(bytes.data(), bytes.size());
  if (loader == nullptr) {
    vips_error_clear();
    refuse_unknown();
  }
  std::string format = detail::format_of_loader(loader);
  if (format.empty()) refuse_unknown();
  detail::check_structure(format, bytes, limits);
  try {
    // The buffer outlives this header-only image, which dies here.
    auto opts = vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL);
    auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "", opts);
    return finish_probe(img, std::move(format), bytes.substr(0, 64), limits);
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media,
                         "the " + format + " header cannot be read");
  }
}

void verify_decode(const std::filesystem::path& path, const Probe& probe, const Limits& limits) {
  detail::Deadline deadline(limits.timeout);
  // Decodes one load to its last pixel, refusing corrupt data.
  auto decode = [&](int page, int n, VipsFailOn fail_on) {
    vips::VImage img;
    try {
      img = detail::load_image(path, probe, page, n, true, 1.0, fail_on);
    } catch (const vips::VError& e) {
      detail::rethrow_vips(e, ErrorCode::unsupported_media,
                           "the " + probe.format + " image cannot be decoded");
    }
    detail::KillSwitch kill(img, deadline);
    try {
      (void)img.avg();
    } catch (const vips::VError& e) {
      detail::rethrow_vips(e, ErrorCode::unsupported_media,
                           "the " + probe.format + " image data is corrupt or truncated", &kill);
    }
    deadline.check("decoding the image");
  };

  if (probe.format == "gif" && probe.frames > 1) {
    // The first frame must be intact. A damaged later frame ends the animation
    // early (browsers show the frames that decode), as render() does too.
    decode(0, 1, detail::kFailOn);
    try {
      decode(0, -1, VIPS_FAIL_ON_NONE);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::unsupported_media) throw;
      spdlog::info("animated GIF {}: {} of {} frames decode", path.string(),
                   detail::leading_gif_frames(path, probe, deadline), probe.frames);
    }
  } else if (probe.format == "gif" || probe.format == "webp") {
    decode(0, probe.frames > 1 ? -1 : 1, detail::kFailOn);
  } else if (probe.format == "tiff" && probe.frames > 1) {
    // Each page is an image of its own, stored its own way (JPEG 2000, JBIG,
    // subsampled YCbCr... that libvips may not decode). The first page, the one
    // a plain request shows, must decode; a later page that does not is 422 when
    // asked for. Truncation is refused for every page by check_structure().
    decode(0, 1, detail::kFailOn);
    for (int page = 1; page < probe.frames; ++page) {
      try {
        decode(page, 1, detail::kFailOn);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::unsupported_media) throw;
        spdlog::info("TIFF {}: page {} of {} does not decode", path.string(), page, probe.frames);
      }
    }
  } else if (probe.frames > 1) {
    // HEIF images may differ in size: one load each.
    for (int page = 0; page < probe.frames; ++page) decode(page, 1, detail::kFailOn);
  } else {
    decode(0, 1, detail::kFailOn);
  }
}

namespace detail {

int leading_gif_frames(const std::filesystem::path& path, const Probe& probe, const Deadline& deadline) {
  int good = 0;
  for (; good < probe.frames; ++good) {
    deadline.check("decoding the image");
    try {
      vips::VImage img = load_image(path, probe, good, 1, true, 1.0, kFailOn);  // strict: a lenient decode may pass a damaged frame
      (void)img.avg();
    } catch (const vips::VError&) {
      vips_error_clear();
      break;
    }
  }
  return good;
}

namespace {

// Keeps a copy of the bytes alive for as long as libvips holds the blob.
VipsBlob* blob_from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::not_found, "cannot open image file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  void* copy = g_malloc(data.size() ? data.size() : 1);
  std::memcpy(copy, data.data(), data.size());
  return vips_blob_new([](void* data, void*) { g_free(data); return 0; }, copy, data.size());
}

const char* loader_nickname(const std::string& format) {
  if (format == "jpeg") return "jpegload";
  if (format == "png") return "pngload";
  if (format == "webp") return "webpload";
  if (format == "gif") return "gifload";
  if (format == "avif" || format == "heic" || format == "heif") return "heifload";
  if (format == "jxl") return "jxlload";
  if (format == "tiff") return "tiffload";
  return nullptr;
}

}  // namespace

vips::VImage load_image(const std::filesystem::path& path, const Probe& probe, int page, int n,
                        bool sequential, double shrink, VipsFailOn fail_on) {
  vips::VImage out;
  auto opts = vips::VImage::option()
                  ->set("access", sequential ? VIPS_ACCESS_SEQUENTIAL : VIPS_ACCESS_RANDOM)
                  ->set("fail_on", fail_on);
  const std::string& f = probe.format;
  if (f == "gif" || f == "webp" || f == "tiff" || f == "avif" || f == "heic" || f == "heif") {
    opts->set("page", page)->set("n", n);
  }
  if (shrink > 1.0 && f == "jpeg") {
    int s = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
    opts->set("shrink", s);
  } else if (shrink != 1.0 && (f == "webp" || f == "svg")) {
    opts->set("scale", 1.0 / shrink);
  }
  if (f == "svg") {
    // From memory: without a base path librsvg cannot follow external references.
    VipsBlob* blob = blob_from_file(path);
    opts->set("buffer", blob)->set("out", &out);
    vips_area_unref(VIPS_AREA(blob));
    vips::VImage::call("svgload_buffer", opts);
    return out;
  }
  const char* nick = loader_nickname(f);
  if (nick == nullptr) throw Error(ErrorCode::unsupported_media, "format not accepted: " + f);
  opts->set("filename", path.c_str())->set("out", &out);
  vips::VImage::call(nick, opts);
  return out;
}

}  // namespace detail
}  // namespace progimage::imaging
