#pragma once
// The canonical transform: every parameter of API.md's "Transform parameters"
// after parsing, validation and preset expansion. Equal specs have equal
// canonical() strings, which key the derivative cache.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace progimage::ops {

enum class Fit { inside, contain, cover, fill, outside };

enum class GravityKind {
  center, north, south, east, west, northeast, northwest, southeast, southwest,
  smart, entropy, focus, point,  // point: fp:X:Y
};

struct Gravity {
  GravityKind kind = GravityKind::center;
  double x = 0.5, y = 0.5;  // for point, fractions 0..1
  bool operator==(const Gravity&) const = default;
};

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  bool operator==(const Rect&) const = default;
};

struct Color {
  std::uint8_t r = 0, g = 0, b = 0, a = 255;
  bool operator==(const Color&) const = default;
};

enum class Flip { none, h, v, hv };

enum class MaskKind { none, circle, ellipse, rounded, image };

struct Mask {
  MaskKind kind = MaskKind::none;
  int radius = 0;        // rounded:R
  std::string image_id;  // image:{id}
  bool operator==(const Mask&) const = default;
};

struct Watermark {
  std::string image_id;
  Gravity gravity{GravityKind::southeast};
  double opacity = 0.5;  // 0..1
  double scale = 0.25;   // of the result width, 0..1
  bool operator==(const Watermark&) const = default;
};

struct TransformSpec {
  std::optional<int> width, height;  // before dpr
  double dpr = 1;                    // 1..4
  Fit fit = Fit::inside;
  Gravity gravity;
  std::optional<Rect> crop;
  bool enlarge = false;
  int rotate = 0;  // 0..359, clockwise
  Flip flip = Flip::none;
  bool autorotate = true;
  std::optional<double> blur;     // sigma 0.3..100
  std::optional<double> sharpen;  // sigma 0.3..10
  bool grayscale = false, sepia = false, negate = false;
  std::optional<double> brightness, saturation, contrast, gamma;
  std::optional<double> hue;  // degrees
  std::optional<Color> tint;
  Mask mask;
  std::optional<Watermark> watermark;
  std::optional<Color> bg;
  std::optional<int> trim;  // threshold 1..254
  std::string format;       // "" (source or extension), "auto", or an output format name
  std::optional<int> quality;  // 1..100
  bool lossless = false, progressive = false;
  std::optional<int> effort;
  bool strip = true;
  std::optional<int> page;
  bool animated = false;
  std::string fallback;  // image id

  bool operator==(const TransformSpec&) const = default;
};

}  // namespace progimage::ops
