#include "ops/canonical.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace progimage::ops {

std::string format_number(double value) {
  if (value == 0) return "0";  // also -0
  char buf[400];  // fixed notation of the largest double fits
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (ec != std::errc{}) return "nan";  // not reached for finite values
  return std::string(buf, end);
}

std::string to_string(Fit fit) {
  switch (fit) {
    case Fit::inside: return "inside";
    case Fit::contain: return "contain";
    case Fit::cover: return "cover";
    case Fit::fill: return "fill";
    case Fit::outside: return "outside";
  }
  return "inside";
}

std::string to_string(Flip flip) {
  switch (flip) {
    case Flip::none: return "";
    case Flip::h: return "h";
    case Flip::v: return "v";
    case Flip::hv: return "hv";
  }
  return "";
}

std::string to_string(const Gravity& g) {
  switch (g.kind) {
    case GravityKind::center: return "center";
    case GravityKind::north: return "north";
    case GravityKind::south: return "south";
    case GravityKind::east: return "east";
    case GravityKind::west: return "west";
    case GravityKind::northeast: return "northeast";
    case GravityKind::northwest: return "northwest";
    case GravityKind::southeast: return "southeast";
    case GravityKind::southwest: return "southwest";
    case GravityKind::smart: return "smart";
    case GravityKind::entropy: return "entropy";
    case GravityKind::focus: return "focus";
    case GravityKind::point: return "fp:" + format_number(g.x) + ":" + format_number(g.y);
  }
  return "center";
}

std::string to_string(const Color& c) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t v : {c.r, c.g, c.b, c.a}) {
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  if (c.a == 255) out.resize(6);
  return out;
}

std::string to_string(const Mask& m) {
  switch (m.kind) {
    case MaskKind::none: return "";
    case MaskKind::circle: return "circle";
    case MaskKind::ellipse: return "ellipse";
    case MaskKind::rounded: return "rounded:" + std::to_string(m.radius);
    case MaskKind::image: return "image:" + m.image_id;
  }
  return "";
}

std::string to_string(const Rect& r) {
  return std::to_string(r.x) + "," + std::to_string(r.y) + "," + std::to_string(r.w) + "," + std::to_string(r.h);
}

QueryParams canonical_params(const TransformSpec& s) {
  static const TransformSpec defaults;
  static const Watermark wm_defaults;
  QueryParams out;
  auto add = [&out](std::string key, std::string value) { out.emplace_back(std::move(key), std::move(value)); };
  auto add_bool = [&add](std::string key, bool value, bool default_value) {
    if (value != default_value) add(std::move(key), value ? "true" : "false");
  };
  auto add_number = [&add](std::string key, const std::optional<double>& v) {
    if (v) add(std::move(key), format_number(*v));
  };
  auto add_int = [&add](std::string key, const std::optional<int>& v) {
    if (v) add(std::move(key), std::to_string(*v));
  };

  add_int("w", s.width);
  add_int("h", s.height);
  if (s.dpr != defaults.dpr) add("dpr", format_number(s.dpr));
  if (s.fit != defaults.fit) add("fit", to_string(s.fit));
  if (s.gravity != defaults.gravity) add("gravity", to_string(s.gravity));
  if (s.crop) add("crop", to_string(*s.crop));
  add_bool("enlarge", s.enlarge, defaults.enlarge);
  if (s.rotate != 0) add("rotate", std::to_string(s.rotate));
  if (s.flip != Flip::none) add("flip", to_string(s.flip));
  add_bool("autorotate", s.autorotate, defaults.autorotate);
  add_number("blur", s.blur);
  add_number("sharpen", s.sharpen);
  add_bool("grayscale", s.grayscale, false);
  add_bool("sepia", s.sepia, false);
  add_bool("negate", s.negate, false);
  add_number("brightness", s.brightness);
  add_number("saturation", s.saturation);
  add_number("hue", s.hue);
  add_number("contrast", s.contrast);
  add_number("gamma", s.gamma);
  if (s.tint) add("tint", to_string(*s.tint));
  if (s.mask.kind != MaskKind::none) add("mask", to_string(s.mask));
  if (s.watermark) {
    add("watermark", s.watermark->image_id);
    if (s.watermark->gravity != wm_defaults.gravity) add("wm_gravity", to_string(s.watermark->gravity));
    if (s.watermark->opacity != wm_defaults.opacity) add("wm_opacity", format_number(s.watermark->opacity));
    if (s.watermark->scale != wm_defaults.scale) add("wm_scale", format_number(s.watermark->scale));
  }
  if (s.bg) add("bg", to_string(*s.bg));
  add_int("trim", s.trim);
  if (!s.format.empty()) add("format", s.format);
  add_int("q", s.quality);
  add_bool("lossless", s.lossless, defaults.lossless);
  add_bool("progressive", s.progressive, defaults.progressive);
  add_int("effort", s.effort);
  add_bool("strip", s.strip, defaults.strip);
  add_int("page", s.page);
  add_bool("animated", s.animated, defaults.animated);
  // fallback is left out on purpose: it picks the source, not the pixels.

  std::sort(out.begin(), out.end());
  return out;
}

std::string canonical(const TransformSpec& spec) {
  std::string out;
  for (const auto& [k, v] : canonical_params(spec)) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

bool is_identity(const TransformSpec& spec) {
  TransformSpec t = spec;
  t.format.clear();
  t.fallback.clear();
  return t == TransformSpec{};
}

}  // namespace progimage::ops
