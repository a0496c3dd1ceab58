// The transform pipeline, in API.md's fixed order: orientation, crop, trim, resize,
// rotate/flip, filters, mask, watermark, background, encode. Animated images
// are split into frames, each frame goes through the same steps, and the
// frames are stacked again for the encoder.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "core/json.hpp"
#include "core/formats.hpp"
#include "imaging/detail.hpp"
#include "imaging/geometry.hpp"

namespace progimage::imaging {

using core::Error;
using core::ErrorCode;
using vips::VImage;
namespace json = boost::json;

namespace {

bool animated_format(std::string_view f) { return f == "gif" || f == "webp"; }

// Whether the source's frames survive into this output (gif <-> webp).
bool keep_frames(const Source& source, const ops::TransformSpec& spec, const std::string& format) {
  return source.probe.frames > 1 && animated_format(source.probe.format) && animated_format(format) &&
         !spec.page;
}

bool swaps_axes(const Source& source, const ops::TransformSpec& spec) {
  return spec.autorotate && source.probe.orientation >= 5 && source.probe.orientation <= 8;
}

int normalised_rotation(int degrees) { return ((degrees % 360) + 360) % 360; }

// The fill for padding and rotation: the caller's bg, else transparent where
// the output keeps alpha, else white.
ops::Color fill_colour(const ops::TransformSpec& spec, const std::string& format) {
  if (spec.bg) return *spec.bg;
  return core::format_has_alpha(format) ? ops::Color{255, 255, 255, 0} : ops::Color{255, 255, 255, 255};
}

VImage with_alpha(const VImage& img) {
  return img.has_alpha() ? img : img.bandjoin_const({255.0});
}

// Runs `fn` on the colour bands only, keeping alpha aside.
template <class F>
VImage on_colour(const VImage& img, F&& fn) {
  if (!img.has_alpha()) return fn(img).cast(VIPS_FORMAT_UCHAR);
  const VImage colour = img.extract_band(0, VImage::option()->set("n", img.bands() - 1));
  const VImage alpha = img.extract_band(img.bands() - 1);
  return fn(colour).cast(VIPS_FORMAT_UCHAR).bandjoin(alpha);
}

VImage as_rgb(const VImage& img) {
  const int colour_bands = img.bands() - (img.has_alpha() ? 1 : 0);
  return colour_bands >= 3 ? img : img.colourspace(VIPS_INTERPRETATION_sRGB);
}

// The image in a space that can show `c`: grey stays grey for a grey colour and
// becomes sRGB for any other (a grey band would keep only its lightness).
VImage able_to_show(const VImage& img, const ops::Color& c) {
  const bool grey = c.r == c.g && c.g == c.b;
  return grey ? img : as_rgb(img);
}

// `c` as a pixel of `img` (after able_to_show): one grey value or RGB, as the
// image's colour bands are, then alpha when `with_alpha`.
std::vector<double> pixel_of(const ops::Color& c, const VImage& img, bool with_alpha) {
  const int colour_bands = img.bands() - (img.has_alpha() ? 1 : 0);
  std::vector<double> v;
  if (colour_bands >= 3) {
    v = {double(c.r), double(c.g), double(c.b)};
  } else {
    v.push_back(0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b);
  }
  if (with_alpha) v.push_back(c.a);
  return v;
}

ops::Gravity effective_gravity(const Source& source, const ops::Gravity& g) {
  ops::Gravity out = g;
  if (g.kind == ops::GravityKind::focus || (g.kind == ops::GravityKind::smart && source.focus)) {
    out.kind = ops::GravityKind::point;
    out.x = source.focus ? source.focus->first : 0.5;
    out.y = source.focus ? source.focus->second : 0.5;
  }
  return out;
}

VImage cover_crop(const VImage& img, const ops::Gravity& g, int w, int h) {
  if (img.width() == w && img.height() == h) return img;
  if (g.kind == ops::GravityKind::smart || g.kind == ops::GravityKind::entropy) {
    return img.smartcrop(w, h, VImage::option()->set("interesting",
                                                       g.kind == ops::GravityKind::smart
                                                           ? VIPS_INTERESTING_ATTENTION
                                                           : VIPS_INTERESTING_ENTROPY));
  }
  int left = 0, top = 0;
  detail::place(g, img.width(), img.height(), w, h, left, top);
  return img.crop(left, top, w, h);
}

// An antialiased shape rendered by librsvg, as a one-band 0..255 mask.
VImage shape_mask(const ops::Mask& mask, int w, int h) {
  const std::string ws = std::to_string(w), hs = std::to_string(h);
  std::string shape;
  if (mask.kind == ops::MaskKind::circle) {
    const double r = std::min(w, h) / 2.0;
    shape = "<circle cx=\"" + std::to_string(w / 2.0) + "\" cy=\"" + std::to_string(h / 2.0) +
            "\" r=\"" + std::to_string(r) + "\"/>";
  } else if (mask.kind == ops::MaskKind::ellipse) {
    shape = "<ellipse cx=\"" + std::to_string(w / 2.0) + "\" cy=\"" + std::to_string(h / 2.0) +
            "\" rx=\"" + std::to_string(w / 2.0) + "\" ry=\"" + std::to_string(h / 2.0) + "\"/>";
  } else {
    const int r = std::clamp(mask.radius, 0, std::min(w, h) / 2);
    shape = "<rect width=\"" + ws + "\" height=\"" + hs + "\" rx=\"" + std::to_string(r) + "\" ry=\"" +
            std::to_string(r) + "\"/>";
  }
  const std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + ws + "\" height=\"" + hs +
                          "\">" + shape + "</svg>";
  // Rendered into memory at once: the string does not outlive this call.
  VImage rendered = VImage::new_from_buffer(svg.data(), svg.size(), "").copy_memory();
  return rendered.extract_band(rendered.bands() - 1);
}

VImage apply_mask(const VImage& img, const VImage& mask) {
  const VImage rgb = img.has_alpha() ? img : with_alpha(img);
  const VImage colour = rgb.extract_band(0, VImage::option()->set("n", rgb.bands() - 1));
  const VImage alpha = rgb.extract_band(rgb.bands() - 1);
  const VImage combined = (alpha * mask / 255.0).cast(VIPS_FORMAT_UCHAR);
  return colour.bandjoin(combined).copy(VImage::option()->set("interpretation", img.interpretation()));
}

std::optional<Source> resolve_or_fail(const ImageResolver& resolve, const std::string& id,
                                      std::string_view what) {
  std::optional<Source> found = resolve ? resolve(id) : std::nullopt;
  if (!found) {
    throw Error(ErrorCode::unprocessable, std::string(what) + " image " + id + " does not exist");
  }
  return found;
}

// The filters of the spec, on an 8-bit sRGB or grey frame.
VImage apply_filters(VImage img, const ops::TransformSpec& spec) {
  if (spec.blur) {
    img = on_colour(img, [&](const VImage& c) { return c.gaussblur(*spec.blur); });
  }
  if (spec.sharpen) {
    img = on_colour(img, [&](const VImage& c) {
      return c.sharpen(VImage::option()->set("sigma", *spec.sharpen)).colourspace(c.interpretation());
    });
  }
  if (spec.grayscale) {
    img = img.colourspace(VIPS_INTERPRETATION_B_W);
  }
  if (spec.sepia) {
    img = on_colour(as_rgb(img), [](const VImage& c) {
      const VImage m = VImage::new_matrixv(3, 3, 0.393, 0.769, 0.189, 0.349, 0.686, 0.168, 0.272, 0.534, 0.131);
      return c.recomb(m).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    });
  }
  if (spec.negate) {
    img = on_colour(img, [](const VImage& c) { return c.invert(); });
  }
  if (spec.brightness || spec.saturation || spec.hue) {
    img = on_colour(as_rgb(img), [&](const VImage& c) {
      const VImage lch = c.colourspace(VIPS_INTERPRETATION_LCH);
      return lch.linear({spec.brightness.value_or(1), spec.saturation.value_or(1), 1.0},
                        {0.0, 0.0, spec.hue.value_or(0)})
          .colourspace(VIPS_INTERPRETATION_sRGB);
    });
  }
  if (spec.contrast) {
    const double k = *spec.contrast;
    img = on_colour(img, [&](const VImage& c) { return c.linear(k, 128.0 * (1 - k)); });
  }
  if (spec.gamma) {
    img = on_colour(img, [&](const VImage& c) {
      return c.gamma(VImage::option()->set("exponent", *spec.gamma));
    });
  }
  if (spec.tint) {
    // Keep each pixel's lightness, take the chroma of the tint colour.
    const ops::Color t = *spec.tint;
    const VImage swatch = VImage::black(1, 1).new_from_image({double(t.r), double(t.g), double(t.b)})
                              .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                              .colourspace(VIPS_INTERPRETATION_LAB);
    const std::vector<double> lab = swatch.getpoint(0, 0);
    img = on_colour(as_rgb(img), [&](const VImage& c) {
      const VImage l = c.colourspace(VIPS_INTERPRETATION_LAB).extract_band(0);
      return l.bandjoin_const({lab[1], lab[2]})
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_LAB))
          .colourspace(VIPS_INTERPRETATION_sRGB);
    });
  }
  return img;
}

struct Context {
  const Source& source;
  const ops::TransformSpec& spec;
  const std::string& format;
  const ImageResolver& resolve;
  const Limits& limits;
};

// Savers hold the whole output (and libvips' resamplers a frame of it), so
// an enlarged output is bounded like an upload: per side and in total area.
void check_output_size(int w, int h, int frames, const Limits& limits) {
  std::string size = std::to_string(w) + "x" + std::to_string(h);
  if (w > limits.max_output_dimension || h > limits.max_output_dimension) {
    throw Error(ErrorCode::unprocessable, "output would be " + size + ", the limit is " +
                                              std::to_string(limits.max_output_dimension) + " px per side");
  }
  if (std::int64_t{w} * h * frames > limits.max_pixels) {
    if (frames > 1) size += " with " + std::to_string(frames) + " frames";
    throw Error(ErrorCode::unprocessable, "output would be " + size + ", the limit is " +
                                              detail::megapixels(limits.max_pixels) +
                                              " megapixels; ask for a smaller width or height");
  }
}

// Steps after loading, for one frame. `logical_w/h` is the size the resize
// plan is computed from (the source before shrink-on-load).
VImage process_frame(VImage img, const Context& cx, const detail::ResizePlan& plan,
                     const std::optional<VImage>& mask_img, const std::optional<VImage>& watermark) {
  const auto& spec = cx.spec;
  if (plan.resize) {
    img = detail::scale_to(img, plan.scaled_w, plan.scaled_h);
    if (plan.crop) {
      img = cover_crop(img, effective_gravity(cx.source, spec.gravity), plan.out_w, plan.out_h);
    } else if (plan.pad) {
      const ops::Color fill = fill_colour(spec, cx.format);
      img = able_to_show(img, fill);
      if (fill.a < 255) img = with_alpha(img);
      int left = 0, top = 0;
      detail::place(ops::Gravity{}, plan.out_w, plan.out_h, img.width(), img.height(), left, top);
      img = img.embed(left, top, plan.out_w, plan.out_h,
                      VImage::option()
                          ->set("extend", VIPS_EXTEND_BACKGROUND)
                          ->set("background", pixel_of(fill, img, img.has_alpha())));
    }
  }
  const int angle = normalised_rotation(spec.rotate);
  if (angle == 90) img = img.rot90();
  else if (angle == 180) img = img.rot180();
  else if (angle == 270) img = img.rot270();
  else if (angle != 0) {
    const ops::Color fill = fill_colour(spec, cx.format);
    img = able_to_show(img, fill);
    if (fill.a < 255) img = with_alpha(img);
    img = img.rotate(angle, VImage::option()->set("background", pixel_of(fill, img, img.has_alpha())));
    img = img.cast(VIPS_FORMAT_UCHAR);
  }
  if (spec.flip == ops::Flip::h || spec.flip == ops::Flip::hv) img = img.flip(VIPS_DIRECTION_HORIZONTAL);
  if (spec.flip == ops::Flip::v || spec.flip == ops::Flip::hv) img = img.flip(VIPS_DIRECTION_VERTICAL);

  img = apply_filters(img, spec);

  if (spec.mask.kind != ops::MaskKind::none) {
    const VImage m = spec.mask.kind == ops::MaskKind::image
                         ? detail::scale_to(*mask_img, img.width(), img.height())
                         : shape_mask(spec.mask, img.width(), img.height());
    img = apply_mask(img, m);
  }
  if (watermark) {
    VImage wm = *watermark;
    const int ww = std::max(1, static_cast<int>(std::lround(img.width() * spec.watermark->scale)));
    int wh = std::max(1, static_cast<int>(std::lround(double(wm.height()) * ww / wm.width())));
    int fit_w = ww;
    if (wh > img.height()) {
      fit_w = std::max(1, static_cast<int>(std::lround(double(ww) * img.height() / wh)));
      wh = img.height();
    }
    wm = detail::scale_to(with_alpha(as_rgb(wm)), fit_w, wh);
    const VImage wm_colour = wm.extract_band(0, VImage::option()->set("n", 3));
    const VImage wm_alpha = (wm.extract_band(3) * spec.watermark->opacity).cast(VIPS_FORMAT_UCHAR);
    wm = wm_colour.bandjoin(wm_alpha);
    int left = 0, top = 0;
    detail::place(spec.watermark->gravity, img.width(), img.height(), wm.width(), wm.height(), left, top);
    const bool had_alpha = img.has_alpha();
    VImage base = with_alpha(as_rgb(img));
    base = base.composite2(wm, VIPS_BLEND_MODE_OVER,
                           VImage::option()->set("x", left)->set("y", top))
               .cast(VIPS_FORMAT_UCHAR);
    img = had_alpha ? base : base.extract_band(0, VImage::option()->set("n", 3));
  }
  if (img.has_alpha() && !core::format_has_alpha(cx.format)) {
    const ops::Color bg = cx.spec.bg.value_or(ops::Color{255, 255, 255, 255});
    img = able_to_show(img, bg);
    img = img.flatten(VImage::option()->set("background", pixel_of(bg, img, false))).cast(VIPS_FORMAT_UCHAR);
  }
  return img;
}

// libvips' find_trim smooths with a 3x3 median first, which needs 3x3 pixels.
constexpr int kMinTrimSide = 3;

// What trim keeps of a frame: the box around whatever differs from the top-left
// corner by more than `threshold`. nullopt when the frame stays as it is: too
// small to trim, or all of it background (trimming would leave nothing).
std::optional<ops::Rect> trim_box(VImage frame, int threshold) {
  if (frame.width() < kMinTrimSide || frame.height() < kMinTrimSide) return std::nullopt;
  if (frame.has_alpha()) frame = frame.flatten();
  const std::vector<double> corner = frame.getpoint(0, 0);
  int top = 0, width = 0, height = 0;
  const int left = frame.find_trim(
      &top, &width, &height, VImage::option()->set("threshold", double(threshold))->set("background", corner));
  if (width <= 0 || height <= 0) return std::nullopt;
  return ops::Rect{left, top, width, height};
}

// Crop rectangle clipped to the image; empty -> 422.
ops::Rect clip_rect(const ops::Rect& r, int w, int h) {
  if (auto inside = detail::clip_rect(r, w, h)) return *inside;
  throw Error(ErrorCode::unprocessable, "crop lies outside the image");
}

// Region `r` of the original, from a working copy of it scaled by fx, fy, as
// exactly w x h pixels. The region's edges fall between the copy's pixels: a
// whole-pixel crop would shift the content by a fraction of an output pixel
// (visible on every edge), so the copy is reduced until the region has the
// output's size and then moved by the fraction that remains.
VImage region_of_copy(const VImage& copy, const ops::Rect& r, double fx, double fy, int w, int h) {
  const double sx = w / (r.w * fx), sy = h / (r.h * fy);
  const int scaled_w = std::max(1, static_cast<int>(std::lround(copy.width() * sx)));
  const int scaled_h = std::max(1, static_cast<int>(std::lround(copy.height() * sy)));
  const VImage scaled = detail::scale_to(copy, scaled_w, scaled_h);
  const double ox = r.x * fx * sx, oy = r.y * fy * sy;
  const int ix = std::clamp(static_cast<int>(std::floor(ox)), 0, scaled_w - 1);
  const int iy = std::clamp(static_cast<int>(std::floor(oy)), 0, scaled_h - 1);
  const VImage part = scaled.crop(ix, iy, std::min(w + 2, scaled_w - ix), std::min(h + 2, scaled_h - iy));
  VImage moved = part.affine({1.0, 0.0, 0.0, 1.0},
                             VImage::option()
                                 ->set("interpolate", vips::VInterpolate::new_from_name("bicubic"))
                                 ->set("oarea", std::vector<int>{0, 0, w, h})
                                 ->set("odx", -(ox - ix))
                                 ->set("ody", -(oy - iy))
                                 ->set("extend", VIPS_EXTEND_COPY));
  return moved.cast(copy.format());
}

Rendered render_impl(const Context& cx, detail::Deadline& deadline, int gif_frames) {
  const Source& source = cx.source;
  const Probe& probe = source.probe;
  const auto& spec = cx.spec;
  if (core::format_has_alpha(cx.format) == false && cx.format != "jpeg") {
    throw Error(ErrorCode::bad_parameter, "unknown output format: " + cx.format);
  }
  const int page = spec.page.value_or(0);
  if (page < 0 || page >= probe.frames) {
    throw Error(ErrorCode::unprocessable, "page " + std::to_string(page) + " does not exist; the image has " +
                                              std::to_string(probe.frames));
  }
  const bool animate = keep_frames(source, spec, cx.format);
  const bool swap = swaps_axes(source, spec);
  const int shown_w = swap ? probe.height : probe.width;
  const int shown_h = swap ? probe.width : probe.height;

  // A working copy chosen for this render is decoded instead of the original.
  // Sizes, the crop region and the resize plan stay the original's, so both
  // give an output of the same size.
  const WorkingCopy* copy = source.working_copy && pick_working_copy(source, {*source.working_copy}, spec, cx.format)
                                ? &*source.working_copy
                                : nullptr;
  const Probe decoded = copy ? Probe{copy->format, copy->width, copy->height, 1, probe.has_alpha, 1} : probe;
  const int decoded_w = copy ? copy->width : shown_w, decoded_h = copy ? copy->height : shown_h;

  // Shrink-on-load when the plan is known before decoding (no crop or trim).
  const bool plan_early = !spec.crop && !spec.trim;
  detail::ResizePlan plan = detail::plan_resize(shown_w, shown_h, spec);
  double shrink = 1.0;
  if (plan_early && plan.resize) {
    const int out_frames = animate ? (gif_frames > 0 ? std::min(gif_frames, probe.frames) : probe.frames) : 1;
    check_output_size(plan.out_w, plan.out_h, out_frames, cx.limits);
    shrink = std::min(double(decoded_w) / plan.scaled_w, double(decoded_h) / plan.scaled_h);
    if (probe.format != "svg") shrink = std::max(1.0, shrink);
    if (animate) shrink = 1.0;  // frames are split by page-height: keep it exact
  }
  const bool upright = copy != nullptr || (!swap && !(probe.orientation != 1 && spec.autorotate));
  const bool simple = !animate && upright && normalised_rotation(spec.rotate) == 0 &&
                      spec.flip == ops::Flip::none && !spec.trim && spec.mask.kind == ops::MaskKind::none &&
                      !spec.watermark && spec.gravity.kind != ops::GravityKind::smart &&
                      spec.gravity.kind != ops::GravityKind::entropy;

  VImage base;
  try {
    base = detail::load_image(copy ? copy->path : source.path, decoded, animate ? 0 : page,
                              animate ? (gif_frames > 0 ? gif_frames : -1) : 1, simple, shrink,
                              probe.format == "gif" ? VIPS_FAIL_ON_NONE : detail::kFailOn);
  } catch (const vips::VError& e) {
    // A later TIFF page may be stored in a way libvips cannot read (verify_decode lets it be).
    if (page == 0) throw;
    detail::rethrow_vips(e, ErrorCode::unprocessable,
                         "page " + std::to_string(page) + " of the image cannot be decoded");
  }
  detail::KillSwitch kill(base, deadline);
  try {
    const int page_h = animate && base.get_typeof("page-height") != 0 ? base.get_int("page-height")
                                                                        : base.height();
    const int n_frames = animate ? std::max(1, base.height() / page_h) : 1;
    VImage img = detail::to_srgb8(base);
    if (spec.autorotate && !animate) {
      img = img.autorot();
    }
    if (spec.autorotate) {
      // Pixels are upright now: a kept EXIF block must not rotate them again.
      img = img.copy();
      img.set(VIPS_META_ORIENTATION, 1);
    }

    std::vector<VImage> frames;
    for (int i = 0; i < n_frames; ++i) {
      frames.push_back(n_frames > 1 ? img.crop(0, i * page_h, img.width(), page_h) : img);
    }

    // Crop and trim change the size the resize plan starts from.
    std::optional<ops::Rect> region;  // of the crop, in the original's upright pixels
    if (spec.crop) {
      region = clip_rect(*spec.crop, shown_w, shown_h);
      if (copy) {
        const auto scaled = detail::plan_resize(region->w, region->h, spec);
        for (auto& f : frames) {
          f = region_of_copy(f, *region, double(decoded_w) / shown_w, double(decoded_h) / shown_h, scaled.scaled_w,
                             scaled.scaled_h);
        }
      } else {
        for (auto& f : frames) f = f.crop(region->x, region->y, region->w, region->h);
      }
    }
    if (spec.trim) {
      if (const auto box = trim_box(frames.front(), *spec.trim)) {
        for (auto& f : frames) f = f.crop(box->x, box->y, box->w, box->h);
      }
      deadline.check("trimming the image");
    }
    if (!plan_early) {
      plan = region && copy ? detail::plan_resize(region->w, region->h, spec)
                            : detail::plan_resize(frames.front().width(), frames.front().height(), spec);
      check_output_size(plan.out_w, plan.out_h, static_cast<int>(frames.size()), cx.limits);
    } else if (!plan.resize) {
      plan.scaled_w = plan.out_w = frames.front().width();
      plan.scaled_h = plan.out_h = frames.front().height();
    }

    std::optional<VImage> mask_img, watermark;
    if (spec.mask.kind == ops::MaskKind::image) {
      const auto m = resolve_or_fail(cx.resolve, spec.mask.image_id, "mask");
      mask_img = detail::load_upright(m->path, m->probe, 0).colourspace(VIPS_INTERPRETATION_B_W).extract_band(0);
    }
    if (spec.watermark) {
      const auto w = resolve_or_fail(cx.resolve, spec.watermark->image_id, "watermark");
      watermark = detail::load_upright(w->path, w->probe, 1024);
    }

    for (auto& f : frames) f = process_frame(f, cx, plan, mask_img, watermark);
    deadline.check("processing the image");

    const int out_w = frames.front().width(), out_h = frames.front().height();
    check_output_size(out_w, out_h, static_cast<int>(frames.size()), cx.limits);
    VImage out = frames.size() > 1 ? VImage::arrayjoin(frames, VImage::option()->set("across", 1)) : frames.front();
    out = detail::strip_metadata(out, spec.strip);
    out = out.copy();
    if (frames.size() > 1) {
      out.set("page-height", out_h);
      out.set("n-pages", static_cast<int>(frames.size()));
    } else {
      vips_image_remove(out.get_image(), "page-height");
    }
    Rendered r;
    r.bytes = detail::encode(out, spec, cx.format, static_cast<int>(frames.size()));
    deadline.check("encoding the image");
    r.format = cx.format;
    r.mime = std::string(core::mime_type(cx.format));
    r.width = out_w;
    r.height = out_h;
    r.frames = cx.format == "svg" ? 1 : static_cast<int>(frames.size());
    return r;
  } catch (const vips::VError& e) {
    const std::string what = page == 0 ? "the image" : "page " + std::to_string(page) + " of the image";
    detail::rethrow_vips(e, ErrorCode::unprocessable, what + " could not be processed", &kill);
  }
}

}  // namespace

Rendered render(const Source& source, const ops::TransformSpec& spec, const std::string& format,
                const ImageResolver& resolve, const Limits& limits) {
  detail::Deadline deadline(limits.timeout);
  const Context cx{source, spec, format, resolve, limits};
  try {
    try {
      return render_impl(cx, deadline, 0);
    } catch (const Error& e) {
      // An animated GIF with a damaged later frame: keep the frames before it.
      if (e.code() != ErrorCode::unprocessable || source.probe.format != "gif" ||
          !keep_frames(source, spec, format)) {
        throw;
      }
      const int good = detail::leading_gif_frames(source.path, source.probe, deadline);
      if (good < 1 || good >= source.probe.frames) throw;
      return render_impl(cx, deadline, good);
    }
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media, "the image could not be decoded");
  }
}

Plan explain(const Source& source, const ops::TransformSpec& spec, const std::string& format) {
  const Probe& probe = source.probe;
  json::array steps;
  const bool swap = swaps_axes(source, spec);
  int w = swap ? probe.height : probe.width;
  int h = swap ? probe.width : probe.height;
  json::object load{{"op", "load"}, {"format", probe.format}, {"width", probe.width}, {"height", probe.height},
                    {"page", spec.page.value_or(0)}, {"frames", keep_frames(source, spec, format) ? probe.frames : 1}};
  if (source.working_copy && pick_working_copy(source, {*source.working_copy}, spec, format)) {
    load["working_copy"] = json::object{{"level", source.working_copy->level},
                                        {"width", source.working_copy->width},
                                        {"height", source.working_copy->height}};
  }
  steps.push_back(std::move(load));
  if (spec.autorotate && probe.orientation != 1) {
    steps.push_back(json::object{{"op", "autorotate"}, {"orientation", probe.orientation}, {"width", w}, {"height", h}});
  }
  if (spec.crop) {
    const auto r = detail::clip_rect(*spec.crop, w, h).value_or(ops::Rect{std::clamp(spec.crop->x, 0, w),
                                                                          std::clamp(spec.crop->y, 0, h), 0, 0});
    w = r.w;
    h = r.h;
    steps.push_back(json::object{{"op", "crop"}, {"x", r.x}, {"y", r.y}, {"width", w}, {"height", h}});
  }
  if (spec.trim) {
    // The trimmed size depends on the pixels: predicted as unchanged.
    steps.push_back(json::object{{"op", "trim"}, {"threshold", *spec.trim}});
  }
  if (w > 0 && h > 0) {
    const auto plan = detail::plan_resize(w, h, spec);
    if (plan.resize) {
      static constexpr const char* kFits[] = {"inside", "contain", "cover", "fill", "outside"};
      steps.push_back(json::object{{"op", "resize"}, {"fit", kFits[static_cast<int>(spec.fit)]},
                       {"width", plan.scaled_w}, {"height", plan.scaled_h}});
      if (plan.crop) steps.push_back(json::object{{"op", "crop"}, {"width", plan.out_w}, {"height", plan.out_h}});
      if (plan.pad) steps.push_back(json::object{{"op", "pad"}, {"width", plan.out_w}, {"height", plan.out_h}});
      w = plan.out_w;
      h = plan.out_h;
    }
  }
  if (normalised_rotation(spec.rotate) != 0) {
    detail::rotated_size(w, h, spec.rotate, w, h);
    steps.push_back(json::object{{"op", "rotate"}, {"degrees", normalised_rotation(spec.rotate)}, {"width", w}, {"height", h}});
  }
  if (spec.flip != ops::Flip::none) {
    static constexpr const char* kFlips[] = {"none", "h", "v", "hv"};
    steps.push_back(json::object{{"op", "flip"}, {"direction", kFlips[static_cast<int>(spec.flip)]}});
  }
  json::array filters;
  if (spec.blur) filters.push_back(json::object{{"blur", *spec.blur}});
  if (spec.sharpen) filters.push_back(json::object{{"sharpen", *spec.sharpen}});
  if (spec.grayscale) filters.push_back("grayscale");
  if (spec.sepia) filters.push_back("sepia");
  if (spec.negate) filters.push_back("negate");
  if (spec.brightness) filters.push_back(json::object{{"brightness", *spec.brightness}});
  if (spec.saturation) filters.push_back(json::object{{"saturation", *spec.saturation}});
  if (spec.hue) filters.push_back(json::object{{"hue", *spec.hue}});
  if (spec.contrast) filters.push_back(json::object{{"contrast", *spec.contrast}});
  if (spec.gamma) filters.push_back(json::object{{"gamma", *spec.gamma}});
  if (spec.tint) filters.push_back("tint");
  if (!filters.empty()) steps.push_back(json::object{{"op", "filters"}, {"apply", filters}});
  if (spec.mask.kind != ops::MaskKind::none) {
    static constexpr const char* kMasks[] = {"none", "circle", "ellipse", "rounded", "image"};
    steps.push_back(json::object{{"op", "mask"}, {"shape", kMasks[static_cast<int>(spec.mask.kind)]}});
  }
  if (spec.watermark) {
    steps.push_back(json::object{{"op", "watermark"}, {"image", spec.watermark->image_id},
                     {"opacity", spec.watermark->opacity}, {"scale", spec.watermark->scale}});
  }
  if (!core::format_has_alpha(format) && (probe.has_alpha || spec.mask.kind != ops::MaskKind::none)) {
    steps.push_back(json::object{{"op", "flatten"}});
  }
  steps.push_back(json::object{{"op", "encode"}, {"format", format}, {"strip", spec.strip}});
  Plan p;
  p.width = w;
  p.height = h;
  p.steps_json = core::json_text(steps);
  return p;
}

}  // namespace progimage::imaging
