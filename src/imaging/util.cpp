// Deadlines, libvips error conversion, loading and the colour policy.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "imaging/detail.hpp"

namespace progimage::imaging::detail {

using core::Error;
using core::ErrorCode;

std::string megapixels(std::int64_t pixels) {
  std::ostringstream out;
  const double mp = static_cast<double>(pixels) / 1e6;
  if (mp == std::floor(mp)) {
    out << static_cast<std::int64_t>(mp);
  } else {
    out.precision(3);
    out << mp;
  }
  return out.str();
}

void Deadline::check(std::string_view what) const {
  if (expired()) {
    throw Error(ErrorCode::timeout, std::string(what) + " took longer than " +
                                        std::to_string(budget_.count()) + " ms");
  }
}

KillSwitch::KillSwitch(const vips::VImage& image, const Deadline& deadline)
    : image_(image), deadline_(deadline) {
  vips_image_set_progress(image_.get_image(), TRUE);
  handler_ = g_signal_connect(image_.get_image(), "eval", G_CALLBACK(&KillSwitch::on_eval), this);
}

KillSwitch::~KillSwitch() {
  if (handler_ != 0) g_signal_handler_disconnect(image_.get_image(), handler_);
  vips_image_set_progress(image_.get_image(), FALSE);
}

void KillSwitch::on_eval(VipsImage* image, VipsProgress* progress, void* self) {
  auto* ks = static_cast<KillSwitch*>(self);
  if (!ks->deadline_.expired()) return;
  ks->fired_ = true;
  // The threadpool polls the kill flag of the image it computes, which may be
  // a saver's copy downstream of ours: set both.
  vips_image_set_kill(image, TRUE);
  if (progress != nullptr && progress->im != nullptr) vips_image_set_kill(progress->im, TRUE);
}

void rethrow_vips(const vips::VError& e, ErrorCode code, const std::string& message,
                  const KillSwitch* kill) {
  // libvips keeps one process-wide error buffer: log this failure, then empty it.
  vips_error_clear();
  if (kill != nullptr && kill->fired()) {
    spdlog::warn("libvips stopped at the deadline: {}", e.what());
    throw Error(ErrorCode::timeout, "image processing took too long");
  }
  spdlog::info("libvips: {}", e.what());
  throw Error(code, message);
}


}  // namespace progimage::imaging::detail

namespace progimage::imaging::detail {

namespace {

// The ICC header's data colour space signature (bytes 16..19), e.g. "RGB ".
std::string icc_space(const vips::VImage& img) {
  if (img.get_typeof(VIPS_META_ICC_NAME) == 0) return {};
  size_t len = 0;
  const void* data = img.get_blob(VIPS_META_ICC_NAME, &len);
  if (data == nullptr || len < 20) return {};
  return std::string(static_cast<const char*>(data) + 16, 4);
}

}  // namespace

vips::VImage to_srgb(const vips::VImage& in, Depth depth) {
  vips::VImage img = in;
  const bool sixteen = depth == Depth::keep_16_bits && img.format() == VIPS_FORMAT_USHORT;
  const std::string space = icc_space(img);
  const VipsInterpretation interp = img.interpretation();
  if (!space.empty() && space != "RGB " && space != "GRAY") {
    // CMYK, Lab...: only the profile says what the numbers mean. The result
    // carries the sRGB profile libvips attaches.
    auto opts = vips::VImage::option()->set("embedded", TRUE)->set("intent", VIPS_INTENT_PERCEPTUAL);
    if (sixteen) opts->set("depth", 16);
    img = img.icc_transform("srgb", opts);
  } else if (interp == VIPS_INTERPRETATION_CMYK) {
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  const int colour_bands = img.bands() - (img.has_alpha() ? 1 : 0);
  const VipsInterpretation now = img.interpretation();
  if (sixteen && img.format() == VIPS_FORMAT_USHORT &&
      (now == VIPS_INTERPRETATION_RGB16 || now == VIPS_INTERPRETATION_GREY16)) {
    return img;  // already what the 8-bit policy below starts from, at full depth
  }
  if (colour_bands <= 1 || now == VIPS_INTERPRETATION_B_W || now == VIPS_INTERPRETATION_GREY16) {
    if (now != VIPS_INTERPRETATION_B_W || img.format() != VIPS_FORMAT_UCHAR) {
      img = colour_bands <= 1 && now != VIPS_INTERPRETATION_GREY16 && img.format() == VIPS_FORMAT_UCHAR
                ? img.copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W))
                : img.colourspace(VIPS_INTERPRETATION_B_W);
    }
  } else if (now != VIPS_INTERPRETATION_sRGB) {
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
  return img;
}

vips::VImage to_srgb8(const vips::VImage& in) { return to_srgb(in, Depth::eight_bits); }

namespace {

// Exactly w x h: resize may land one pixel off.
vips::VImage exact_size(const vips::VImage& img, int w, int h) {
  if (img.width() == w && img.height() == h) return img;
  vips::VImage out = img;
  if (out.width() > w || out.height() > h) {
    out = out.crop(0, 0, std::min(w, out.width()), std::min(h, out.height()));
  }
  if (out.width() < w || out.height() < h) {
    out = out.embed(0, 0, w, h, vips::VImage::option()->set("extend", VIPS_EXTEND_COPY));
  }
  return out;
}

}  // namespace

vips::VImage scale_to(const vips::VImage& img, int w, int h) {
  if (img.width() == w && img.height() == h) return img;
  const double hs = double(w) / img.width(), vs = double(h) / img.height();
  vips::VImage out;
  if (img.has_alpha()) {
    // Premultiplied, or transparent pixels bleed their colour into edges.
    out = img.premultiply().resize(hs, vips::VImage::option()->set("vscale", vs)).unpremultiply();
  } else {
    out = img.resize(hs, vips::VImage::option()->set("vscale", vs));
  }
  return exact_size(out.cast(img.format()), w, h);
}

}  // namespace progimage::imaging::detail

namespace progimage::imaging::detail {

vips::VImage load_upright(const std::filesystem::path& path, const Probe& probe, int box,
                          const Deadline* deadline) {
  if (box <= 0) {
    // Full size, read in any order later (a mask is sampled once per frame).
    return to_srgb8(load_image(path, probe, 0, 1, false)).autorot();
  }
  // Streaming: a sequential load (shrunk by the loader where the format
  // allows), converted and reduced strip by strip, so only scanline buffers
  // and the small result are ever in memory. Turning it upright needs random
  // access, so that happens to the small image only.
  const double shrink = std::max(1.0, double(std::max(probe.width, probe.height)) / box);
  vips::VImage img = load_image(path, probe, 0, 1, true, shrink);
  std::optional<KillSwitch> kill;
  if (deadline != nullptr) kill.emplace(img, *deadline);
  img = to_srgb8(img);
  const double s = double(box) / std::max(img.width(), img.height());
  if (s < 1.0) img = img.resize(s);
  try {
    img = img.copy_memory();
  } catch (const vips::VError& e) {
    if (kill) rethrow_vips(e, ErrorCode::unsupported_media, "the image cannot be decoded", &*kill);
    throw;
  }
  return img.autorot();
}

}  // namespace progimage::imaging::detail
