#include "ops/explain.hpp"

#include <boost/json/object.hpp>

#include <cmath>
#include <cstdint>

#include "ops/canonical.hpp"

namespace progimage::ops {
namespace {

// Boost.JSON writes every double with an exponent (2 -> 2E0); whole numbers read better as integers.
boost::json::value number(double v) {
  if (v == std::trunc(v) && std::fabs(v) < 1e15) return static_cast<std::int64_t>(v);
  return v;
}

}  // namespace

boost::json::array explain_steps(const TransformSpec& s) {
  boost::json::array out;
  auto step = [&out](std::string_view op) -> boost::json::object& {
    auto& o = out.emplace_back(boost::json::object{}).as_object();
    o["op"] = op;
    return o;
  };

  if (s.page || s.animated) {
    auto& o = step("load");
    if (s.page) o["page"] = *s.page;
    o["animated"] = s.animated;
  }
  if (s.autorotate) step("autorotate");
  if (s.crop) {
    auto& o = step("crop");
    o["x"] = s.crop->x;
    o["y"] = s.crop->y;
    o["w"] = s.crop->w;
    o["h"] = s.crop->h;
  }
  if (s.trim) step("trim")["threshold"] = *s.trim;
  if (s.width || s.height) {
    auto& o = step("resize");
    if (s.width) o["w"] = *s.width;
    if (s.height) o["h"] = *s.height;
    o["dpr"] = number(s.dpr);
    o["fit"] = to_string(s.fit);
    o["gravity"] = to_string(s.gravity);
    o["enlarge"] = s.enlarge;
  }
  if (s.rotate) {
    auto& o = step("rotate");
    o["degrees"] = s.rotate;
    if (s.bg) o["bg"] = "#" + to_string(*s.bg);
  }
  if (s.flip != Flip::none) step("flip")["direction"] = to_string(s.flip);
  if (s.blur) step("blur")["sigma"] = number(*s.blur);
  if (s.sharpen) step("sharpen")["sigma"] = number(*s.sharpen);
  if (s.grayscale) step("grayscale");
  if (s.sepia) step("sepia");
  if (s.negate) step("negate");
  if (s.brightness) step("brightness")["factor"] = number(*s.brightness);
  if (s.saturation) step("saturation")["factor"] = number(*s.saturation);
  if (s.hue) step("hue")["degrees"] = number(*s.hue);
  if (s.contrast) step("contrast")["factor"] = number(*s.contrast);
  if (s.gamma) step("gamma")["gamma"] = number(*s.gamma);
  if (s.tint) step("tint")["color"] = "#" + to_string(*s.tint);
  if (s.mask.kind != MaskKind::none) {
    auto& o = step("mask");
    std::string shape = to_string(s.mask);
    o["shape"] = shape.substr(0, shape.find(':'));
    if (s.mask.kind == MaskKind::rounded) o["radius"] = s.mask.radius;
    if (s.mask.kind == MaskKind::image) o["image"] = s.mask.image_id;
  }
  if (s.watermark) {
    auto& o = step("watermark");
    o["image"] = s.watermark->image_id;
    o["gravity"] = to_string(s.watermark->gravity);
    o["opacity"] = number(s.watermark->opacity);
    o["scale"] = number(s.watermark->scale);
  }
  if (s.bg) step("background")["color"] = "#" + to_string(*s.bg);

  auto& enc = step("encode");
  if (!s.format.empty()) enc["format"] = s.format;
  if (s.quality) enc["q"] = *s.quality;
  if (s.lossless) enc["lossless"] = true;
  if (s.progressive) enc["progressive"] = true;
  if (s.effort) enc["effort"] = *s.effort;
  enc["strip"] = s.strip;
  return out;
}

std::vector<std::string> steps(const TransformSpec& spec) {
  std::vector<std::string> names;
  for (const auto& v : explain_steps(spec)) names.emplace_back(v.at("op").as_string());
  return names;
}

}  // namespace progimage::ops
