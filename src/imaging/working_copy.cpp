// Working copies: which levels an original gets, how one is made, and which
// one a render may decode instead of the original.
#include <algorithm>
#include <cmath>
#include <iterator>

#include "imaging/detail.hpp"
#include "imaging/geometry.hpp"

namespace progimage::imaging {

using core::Error;
using core::ErrorCode;
using vips::VImage;

namespace {

// The levels, smallest first (the most used is made first), each with the JPEG and WebP quality of its
// copies. 512 serves the thumbnails and cards most requests ask for (outputs
// up to 409 px, with the headroom below), at 90, where libvips also keeps
// JPEG chroma at full resolution; 2048 the page-sized ones, at 85 with chroma
// halved: a reduction to at most 1638 px hides that loss, and the copy stays
// a fraction of a camera original.
struct Level {
  int longest;
  int quality;
};
constexpr Level kLevels[] = {{512, 90}, {2048, 85}};

// A level is made only for an original at least this much larger: nearer
// than that, decoding the copy instead saves too little to pay for storing it.
// JPEG and WebP originals shrink on load (JPEG in the DCT, by 2, 4 or 8), so
// a copy must be smaller by more before it pays.
double worth_making(const std::string& format) { return format == "jpeg" || format == "webp" ? 2.0 : 1.5; }

// A copy is kept only when it takes at most this share of its original's
// bytes: where it would take more, the original is one that compresses far
// better than a photograph (vector-like art, a modern codec at low quality),
// and a copy would double what is stored for it.
constexpr double kMaxShareOfOriginal = 0.5;

// 16-bit copies, in JPEG XL: at this quality and effort they are a few
// percent of a 16-bit PNG and decode as fast.
constexpr int kDeepQuality = 95;
constexpr int kDeepEffort = 3;

// A copy serves a render only with this many of its pixels per output pixel
// along each side: reduced once more, it then shows none of its own
// resampling or compression (the corpus test holds the difference).
constexpr double kHeadroom = 1.25;

/// What a render needs of the original, in its upright pixels: the region it
/// shows and the size that region is scaled to.
struct Need {
  int shown_w = 0, shown_h = 0;
  ops::Rect region;
  int scaled_w = 0, scaled_h = 0;
};

std::optional<Need> need_of(const Source& source, const ops::TransformSpec& spec) {
  const Probe& p = source.probe;
  if (p.format == "svg" || p.frames != 1 || spec.page.value_or(0) != 0) return std::nullopt;
  if (!spec.autorotate || !spec.strip || spec.trim || (!spec.width && !spec.height)) return std::nullopt;
  const bool swap = p.orientation >= 5 && p.orientation <= 8;
  Need n;
  n.shown_w = swap ? p.height : p.width;
  n.shown_h = swap ? p.width : p.height;
  n.region = {0, 0, n.shown_w, n.shown_h};
  if (spec.crop) {
    const auto r = detail::clip_rect(*spec.crop, n.shown_w, n.shown_h);
    if (!r) return std::nullopt;  // the render refuses it, from the original
    n.region = *r;
  }
  const auto plan = detail::plan_resize(n.region.w, n.region.h, spec);
  n.scaled_w = plan.scaled_w;
  n.scaled_h = plan.scaled_h;
  return n;
}

bool holds(const WorkingCopy& copy, const Need& need) {
  const double fx = double(copy.width) / need.shown_w, fy = double(copy.height) / need.shown_h;
  return need.region.w * fx >= kHeadroom * need.scaled_w && need.region.h * fy >= kHeadroom * need.scaled_h;
}

int quality_of(int level) {
  for (const Level& l : kLevels)
    if (l.longest == level) return l.quality;
  return kLevels[std::size(kLevels) - 1].quality;
}

/// The copy's encoding: JPEG for 8-bit opaque pixels (it decodes fastest and
/// shrinks on load), WebP where there is alpha, JPEG XL at 16 bits.
std::string format_for(const VImage& img) {
  if (img.format() == VIPS_FORMAT_USHORT) return "jxl";
  return img.has_alpha() ? "webp" : "jpeg";
}

ops::TransformSpec encoding_for(const std::string& format, int level) {
  ops::TransformSpec encoding;
  encoding.quality = format == "jxl" ? kDeepQuality : quality_of(level);
  if (format == "jxl") encoding.effort = kDeepEffort;
  return encoding;
}

}  // namespace

std::vector<int> working_copy_levels(const Probe& probe) {
  std::vector<int> levels;
  if (probe.format == "svg" || probe.frames != 1) return levels;
  const int longest = std::max(probe.width, probe.height);
  for (const Level& level : kLevels)
    if (longest >= worth_making(probe.format) * level.longest) levels.push_back(level.longest);
  return levels;
}

EncodedWorkingCopy make_working_copy(const Source& original, int level, const Limits& limits) {
  const Probe& p = original.probe;
  const int longest = std::max(p.width, p.height);
  if (level <= 0 || level >= longest) throw Error(ErrorCode::internal, "a working copy must be smaller than its original");
  detail::Deadline deadline(limits.timeout);
  const double scale = double(level) / longest;
  try {
    // A streaming load, shrunk by the loader where the format can (never below
    // the level), reduced strip by strip; turning it upright needs random
    // access, so that happens to the reduced image in memory.
    VImage img = detail::load_image(original.path, p, 0, 1, true, 1.0 / scale);
    detail::KillSwitch kill(img, deadline);
    try {
      img = detail::to_srgb(img, detail::Depth::keep_16_bits);
      const int w = std::max(1, static_cast<int>(std::lround(p.width * scale)));
      const int h = std::max(1, static_cast<int>(std::lround(p.height * scale)));
      img = detail::scale_to(img, w, h).copy_memory().autorot();
      img = detail::strip_metadata(img, true);  // the ICC profile stays: the pixels mean what they meant
      EncodedWorkingCopy out;
      out.copy = {level, img.width(), img.height(), format_for(img), {}};
      out.bytes = detail::encode(img, encoding_for(out.copy.format, level), out.copy.format, 1);
      deadline.check("making a working copy");
      return out;
    } catch (const vips::VError& e) {
      detail::rethrow_vips(e, ErrorCode::unprocessable, "the working copy could not be made", &kill);
    }
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media, "the original could not be decoded");
  }
}

bool worth_keeping(const EncodedWorkingCopy& copy, std::int64_t original_bytes) {
  return static_cast<double>(copy.bytes.size()) <= kMaxShareOfOriginal * static_cast<double>(original_bytes);
}

std::optional<std::size_t> pick_working_copy(const Source& source, const std::vector<WorkingCopy>& copies,
                                             const ops::TransformSpec& spec, const std::string& format) {
  if (copies.empty() || format == "svg") return std::nullopt;
  const auto need = need_of(source, spec);
  if (!need) return std::nullopt;
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < copies.size(); ++i) {
    if (holds(copies[i], *need) && (!best || copies[i].level < copies[*best].level)) best = i;
  }
  return best;
}

}  // namespace progimage::imaging
