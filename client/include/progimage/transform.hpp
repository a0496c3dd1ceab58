#pragma once
/// @file
/// A typed builder of transform parameters (docs/API.md, "Transform parameters").
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace progimage {

/// How the image fits the `w` × `h` box.
enum class Fit { inside, contain, cover, fill, outside };

/// Output formats; `automatic` is `format=auto` (chosen by the `Accept` header).
enum class Format { jpeg, png, webp, avif, heic, jxl, gif, tiff, jp2, svg, automatic };

/// Where `cover` crops (and where a watermark goes).
enum class Gravity { center, north, south, east, west, northeast, northwest, southeast, southwest, smart, entropy, focus };

enum class Flip { h, v, hv };

/// An RGB(A) colour, 0–255 per channel.
struct Color {
  unsigned char r = 0, g = 0, b = 0, a = 255;
};

/// The name of a format as the API writes it (`jpeg`, `webp`, `auto`, …).
std::string_view to_string(Format format);
/// The format of a name or extension (`jpg` and `tif` too, any case), or nullopt.
std::optional<Format> parse_format(std::string_view name);

/// Transform parameters, built by chained calls:
///
/// @code
/// auto t = progimage::Transform{}.width(300).height(300).fit(progimage::Fit::cover)
///              .format(progimage::Format::webp);
/// t.query();  // "fit=cover&format=webp&h=300&w=300"
/// @endcode
///
/// Each setter stores its value as the server's canonical form spells it
/// (decimals rounded to 6 places in shortest fixed notation, `rotate` and
/// `hue` modulo 360, colours in lower-case hex), and a value equal to the
/// server's default (`fit=inside`, `dpr=1`, `autorotate=true`, …) is left
/// out, so that `query()` is exactly the `canonical` the server reports
/// from `/explain` for the same parameters. Ranges are the server's to
/// check: an out-of-range value is sent and answered 400 `bad_parameter`.
class Transform {
 public:
  Transform() = default;
  /// Parses a query string (`w=300&fit=cover`, aliases allowed) into a
  /// builder. Throws std::invalid_argument for a malformed pair; names are
  /// checked by the server, not here.
  static Transform parse(std::string_view query);

  Transform& width(int px);
  Transform& height(int px);
  /// Pixel ratio 1–4, multiplying `w` and `h`.
  Transform& dpr(double ratio);
  Transform& fit(Fit fit);
  Transform& gravity(Gravity gravity);
  /// Gravity at a focal point given as fractions 0–1 of width and height.
  Transform& focal_point(double x, double y);
  /// A region of the upright image before resizing.
  Transform& crop(int x, int y, int w, int h);
  Transform& enlarge(bool allow = true);
  /// Degrees clockwise, any integer.
  Transform& rotate(int degrees);
  Transform& flip(Flip flip);
  Transform& autorotate(bool apply);
  Transform& blur(double sigma);
  Transform& sharpen(double sigma);
  Transform& grayscale(bool apply = true);
  Transform& sepia(bool apply = true);
  Transform& negate(bool apply = true);
  Transform& brightness(double multiplier);
  Transform& saturation(double multiplier);
  Transform& hue(double degrees);
  Transform& contrast(double value);
  Transform& gamma(double value);
  Transform& tint(Color color);
  Transform& mask_circle();
  Transform& mask_ellipse();
  Transform& mask_rounded(int radius);
  /// That stored image's luminance as alpha.
  Transform& mask_image(std::string_view image_id);
  /// A stored image composited over the result, placed by `gravity`, with
  /// `opacity` 0–1 and a width of `scale` 0–1 of the result.
  Transform& watermark(std::string_view image_id, Gravity gravity = Gravity::southeast, double opacity = 0.5,
                       double scale = 0.25);
  Transform& background(Color color);
  /// Trims borders within `threshold` (1–254) of the corner colour.
  Transform& trim(int threshold = 10);
  Transform& format(Format format);
  Transform& quality(int q);
  Transform& lossless(bool on = true);
  Transform& progressive(bool on = true);
  /// 0 (fastest) – 9 (smallest).
  Transform& effort(int effort);
  /// `strip(false)` keeps the metadata.
  Transform& strip(bool on);
  Transform& page(int page);
  Transform& animated(bool on = true);
  /// A named set of parameters of the server's configuration.
  Transform& preset(std::string_view name);
  /// An image served instead when the requested one is missing.
  Transform& fallback(std::string_view image_id);
  /// Any parameter by name, for what this builder does not name (a value
  /// "" removes it). The value is sent as given.
  Transform& set(std::string_view name, std::string_view value);

  /// `key=value` pairs sorted by key, values percent-encoded where needed;
  /// "" for no parameters. `preset` and `fallback`, which the server's
  /// canonical form leaves out, are included in their sorted place.
  std::string query() const;
  /// The parameters, by name, with their canonical values (not encoded).
  const std::map<std::string, std::string>& params() const noexcept { return params_; }
  bool empty() const noexcept { return params_.empty(); }
  bool operator==(const Transform&) const = default;

 private:
  Transform& put(std::string name, std::string value);
  Transform& put_unless(std::string name, std::string value, std::string_view default_value);

  std::map<std::string, std::string> params_;
};

}  // namespace progimage
