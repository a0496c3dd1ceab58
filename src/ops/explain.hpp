#pragma once
// The fixed order in which operations apply, whatever the order of the
// parameters in the URL (see README.md), as data for /explain.
#include <boost/json/array.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "ops/spec.hpp"

namespace progimage::ops {

/// Every operation name, in apply order.
inline constexpr std::array<std::string_view, 22> kApplyOrder = {
    "load",  // page / animated: decode options
    "autorotate", "crop", "trim", "resize", "rotate", "flip",
    "blur", "sharpen", "grayscale", "sepia", "negate", "brightness", "saturation", "hue",
    "contrast", "gamma", "tint",
    "mask", "watermark", "background", "encode",
};

/// Names of the operations that `spec` asks for, in apply order. "encode"
/// always ends the list; "autorotate" is in it unless autorotate=false.
std::vector<std::string> steps(const TransformSpec& spec);

/// The same with parameters, e.g.
/// [{"op": "resize", "w": 300, "h": 300, "fit": "cover", "gravity": "center"},
///  {"op": "encode", "format": "webp"}].
boost::json::array explain_steps(const TransformSpec& spec);

}  // namespace progimage::ops
