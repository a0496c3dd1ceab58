// The builder spells every value as the server's canonical form does
// (src/ops/canonical.cpp, src/ops/parse.cpp): decimals rounded to 6 places
// and printed in shortest fixed notation, rotate and hue modulo 360,
// colours in lower-case hex, defaults left out.
#include "progimage/transform.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "encode.hpp"

namespace progimage {
namespace {

constexpr double kDecimalScale = 1e6;

double round_decimal(double v) { return std::round(v * kDecimalScale) / kDecimalScale + 0.0; }  // -0 → 0

/// A decimal as the server prints it once parsed: rounded, shortest fixed.
std::string decimal(double value) {
  const double v = round_decimal(value);
  if (v == 0) return "0";
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc{} ? std::string(buf, end) : std::string("nan");
}

std::string boolean(bool b) { return b ? "true" : "false"; }

std::string hex_colour(Color c, bool with_alpha) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char v : {c.r, c.g, c.b, c.a}) {
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  if (!with_alpha || c.a == 255) out.resize(6);
  return out;
}

constexpr std::array<std::string_view, 5> kFits = {"inside", "contain", "cover", "fill", "outside"};
constexpr std::array<std::string_view, 12> kGravities = {"center",    "north",     "south",     "east",
                                                         "west",      "northeast", "northwest", "southeast",
                                                         "southwest", "smart",     "entropy",   "focus"};
constexpr std::array<std::string_view, 3> kFlips = {"h", "v", "hv"};
constexpr std::array<std::string_view, 11> kFormats = {"jpeg", "png", "webp", "avif", "heic", "jxl",
                                                       "gif",  "tiff", "jp2", "svg",  "auto"};

std::string name_of(Fit f) { return std::string(kFits[static_cast<std::size_t>(f)]); }
std::string name_of(Gravity g) { return std::string(kGravities[static_cast<std::size_t>(g)]); }
std::string name_of(Flip f) { return std::string(kFlips[static_cast<std::size_t>(f)]); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// ---- reading values for Transform::parse ----

std::optional<long long> to_integer(std::string_view s) {
  long long v = 0;
  if (s.starts_with('+')) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int> to_int(std::string_view s) {
  auto v = to_integer(s);
  if (!v || *v < INT32_MIN || *v > INT32_MAX) return std::nullopt;
  return static_cast<int>(*v);
}

/// The server's decimal grammar: -?([0-9]+(.[0-9]*)?|.[0-9]+), no exponent.
std::optional<double> to_decimal(std::string_view s) {
  std::string_view body = s.starts_with('-') ? s.substr(1) : s;
  if (body.empty() || body.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  if (body.find('.') != body.rfind('.') || body == ".") return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<bool> to_bool(std::string_view s) {
  const std::string l = lower(s);
  if (l == "true" || l == "1") return true;
  if (l == "false" || l == "0") return false;
  return std::nullopt;
}

template <class Enum, std::size_t N>
std::optional<Enum> to_keyword(std::string_view s, const std::array<std::string_view, N>& names) {
  const std::string l = lower(s);
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == l) return static_cast<Enum>(i);
  return std::nullopt;
}

std::optional<Gravity> to_gravity(std::string_view s) {
  if (lower(s) == "centre") return Gravity::center;
  return to_keyword<Gravity>(s, kGravities);
}

std::optional<Flip> to_flip(std::string_view s) {
  if (lower(s) == "vh") return Flip::hv;
  return to_keyword<Flip>(s, kFlips);
}

std::optional<Color> to_colour(std::string_view s) {
  if (s.starts_with('#')) s.remove_prefix(1);
  if (s.size() != 6 && s.size() != 8) return std::nullopt;
  unsigned char bytes[4] = {0, 0, 0, 255};
  for (std::size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc{} || end != s.data() + i + 2) return std::nullopt;
    bytes[i / 2] = static_cast<unsigned char>(v);
  }
  return Color{bytes[0], bytes[1], bytes[2], bytes[3]};
}

/// `x,y,w,h` of four integers.
std::optional<std::array<int, 4>> to_crop(std::string_view s) {
  std::array<int, 4> v{};
  for (int i = 0; i < 4; ++i) {
    auto comma = s.find(',');
    if ((i < 3) == (comma == std::string_view::npos)) return std::nullopt;
    auto n = to_int(s.substr(0, comma));
    if (!n) return std::nullopt;
    v[static_cast<std::size_t>(i)] = *n;
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return v;
}

/// The builder's reading of one canonical-named parameter; false when the
/// value is not in a form it knows (it is then sent as given, for the
/// server to judge).
using Apply = bool (*)(Transform&, std::string_view);

template <auto Setter>
bool apply_int(Transform& t, std::string_view v) {
  auto n = to_int(v);
  if (n) (t.*Setter)(*n);
  return n.has_value();
}

template <auto Setter>
bool apply_decimal(Transform& t, std::string_view v) {
  auto n = to_decimal(v);
  if (n) (t.*Setter)(*n);
  return n.has_value();
}

template <auto Setter>
bool apply_bool(Transform& t, std::string_view v) {
  auto b = to_bool(v);
  if (b) (t.*Setter)(*b);
  return b.has_value();
}

struct Reader {
  std::string_view name;
  Apply apply;
};

}  // namespace

std::string_view to_string(Format format) { return kFormats[static_cast<std::size_t>(format)]; }

std::optional<Format> parse_format(std::string_view name) {
  const std::string l = lower(name);
  if (l == "jpg") return Format::jpeg;
  if (l == "tif") return Format::tiff;
  return to_keyword<Format>(l, kFormats);
}

// ---- setters ----

Transform& Transform::put(std::string name, std::string value) {
  params_[std::move(name)] = std::move(value);
  return *this;
}

Transform& Transform::put_unless(std::string name, std::string value, std::string_view default_value) {
  if (value == default_value) {
    params_.erase(name);  // setting the default undoes an earlier setting
    return *this;
  }
  return put(std::move(name), std::move(value));
}

Transform& Transform::width(int px) { return put("w", std::to_string(px)); }
Transform& Transform::height(int px) { return put("h", std::to_string(px)); }
Transform& Transform::dpr(double ratio) { return put_unless("dpr", decimal(ratio), "1"); }
Transform& Transform::fit(Fit f) { return put_unless("fit", name_of(f), "inside"); }
Transform& Transform::gravity(Gravity g) { return put_unless("gravity", name_of(g), "center"); }
Transform& Transform::focal_point(double x, double y) {
  return put("gravity", "fp:" + decimal(x) + ":" + decimal(y));
}
Transform& Transform::crop(int x, int y, int w, int h) {
  return put("crop", std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(w) + "," + std::to_string(h));
}
Transform& Transform::enlarge(bool allow) { return put_unless("enlarge", boolean(allow), "false"); }
Transform& Transform::rotate(int degrees) {
  return put_unless("rotate", std::to_string((degrees % 360 + 360) % 360), "0");
}
Transform& Transform::flip(Flip f) { return put("flip", name_of(f)); }
Transform& Transform::autorotate(bool apply) { return put_unless("autorotate", boolean(apply), "true"); }
Transform& Transform::blur(double sigma) { return put("blur", decimal(sigma)); }
Transform& Transform::sharpen(double sigma) { return put("sharpen", decimal(sigma)); }
Transform& Transform::grayscale(bool apply) { return put_unless("grayscale", boolean(apply), "false"); }
Transform& Transform::sepia(bool apply) { return put_unless("sepia", boolean(apply), "false"); }
Transform& Transform::negate(bool apply) { return put_unless("negate", boolean(apply), "false"); }
Transform& Transform::brightness(double m) { return put("brightness", decimal(m)); }
Transform& Transform::saturation(double m) { return put("saturation", decimal(m)); }
Transform& Transform::hue(double degrees) {
  // As the server: modulo 360 before rounding (fmod is exact), 360 after it is 0.
  double h = std::isfinite(degrees) ? std::fmod(degrees, 360.0) : degrees;
  if (h < 0) h += 360.0;
  h = round_decimal(h);
  return put("hue", decimal(h >= 360 ? 0.0 : h));
}
Transform& Transform::contrast(double value) { return put("contrast", decimal(value)); }
Transform& Transform::gamma(double value) { return put("gamma", decimal(value)); }
Transform& Transform::tint(Color color) { return put("tint", hex_colour(color, false)); }
Transform& Transform::mask_circle() { return put("mask", "circle"); }
Transform& Transform::mask_ellipse() { return put("mask", "ellipse"); }
Transform& Transform::mask_rounded(int radius) { return put("mask", "rounded:" + std::to_string(radius)); }
Transform& Transform::mask_image(std::string_view image_id) { return put("mask", "image:" + std::string(image_id)); }
Transform& Transform::watermark(std::string_view image_id, Gravity g, double opacity, double scale) {
  put("watermark", std::string(image_id));
  put_unless("wm_gravity", name_of(g), "southeast");
  put_unless("wm_opacity", decimal(opacity), "0.5");
  return put_unless("wm_scale", decimal(scale), "0.25");
}
Transform& Transform::background(Color color) { return put("bg", hex_colour(color, true)); }
Transform& Transform::trim(int threshold) { return put("trim", std::to_string(threshold)); }
Transform& Transform::format(Format f) { return put("format", std::string(to_string(f))); }
Transform& Transform::quality(int q) { return put("q", std::to_string(q)); }
Transform& Transform::lossless(bool on) { return put_unless("lossless", boolean(on), "false"); }
Transform& Transform::progressive(bool on) { return put_unless("progressive", boolean(on), "false"); }
Transform& Transform::effort(int e) { return put("effort", std::to_string(e)); }
Transform& Transform::strip(bool on) { return put_unless("strip", boolean(on), "true"); }
Transform& Transform::page(int p) { return put("page", std::to_string(p)); }
Transform& Transform::animated(bool on) { return put_unless("animated", boolean(on), "false"); }
Transform& Transform::preset(std::string_view name) { return put("preset", std::string(name)); }
Transform& Transform::fallback(std::string_view image_id) { return put("fallback", std::string(image_id)); }

namespace {

/// The API's aliases (docs/API.md), mapped to the canonical names.
std::string_view canonical_name(std::string_view name) {
  if (name == "width") return "w";
  if (name == "height") return "h";
  if (name == "quality") return "q";
  if (name == "background") return "bg";
  if (name == "greyscale") return "grayscale";
  return name;
}

}  // namespace

Transform& Transform::set(std::string_view name, std::string_view value) {
  std::string key(canonical_name(name));
  if (value.empty()) {
    params_.erase(key);
    return *this;
  }
  return put(std::move(key), std::string(value));
}

std::string Transform::query() const {
  std::string out;
  for (const auto& [k, v] : params_) {
    if (!out.empty()) out += '&';
    // ',' and ':' are legal in a query and the canonical form uses them (crop, fp:X:Y, rounded:R).
    out += detail::percent_encode(k);
    out += '=';
    out += detail::percent_encode(v, ",:");
  }
  return out;
}

// ---- parse ----

Transform Transform::parse(std::string_view query) {
  static constexpr Reader kReaders[] = {
      {"w", &apply_int<&Transform::width>},
      {"h", &apply_int<&Transform::height>},
      {"dpr", &apply_decimal<&Transform::dpr>},
      {"fit",
       [](Transform& t, std::string_view v) {
         auto f = to_keyword<Fit>(v, kFits);
         if (f) t.fit(*f);
         return f.has_value();
       }},
      {"gravity",
       [](Transform& t, std::string_view v) {
         const std::string l = lower(v);
         if (l.starts_with("fp:")) {
           std::string_view rest = std::string_view(l).substr(3);
           auto colon = rest.find(':');
           auto x = to_decimal(rest.substr(0, colon));
           auto y = colon == std::string_view::npos ? std::nullopt : to_decimal(rest.substr(colon + 1));
           if (x && y) t.focal_point(*x, *y);
           return x && y;
         }
         auto g = to_gravity(v);
         if (g) t.gravity(*g);
         return g.has_value();
       }},
      {"crop",
       [](Transform& t, std::string_view v) {
         auto c = to_crop(v);
         if (c) t.crop((*c)[0], (*c)[1], (*c)[2], (*c)[3]);
         return c.has_value();
       }},
      {"enlarge", &apply_bool<&Transform::enlarge>},
      {"rotate",
       [](Transform& t, std::string_view v) {
         auto n = to_integer(v);
         if (n) t.rotate(static_cast<int>(*n % 360));
         return n.has_value();
       }},
      {"flip",
       [](Transform& t, std::string_view v) {
         auto f = to_flip(v);
         if (f) t.flip(*f);
         return f.has_value();
       }},
      {"autorotate", &apply_bool<&Transform::autorotate>},
      {"blur", &apply_decimal<&Transform::blur>},
      {"sharpen", &apply_decimal<&Transform::sharpen>},
      {"grayscale", &apply_bool<&Transform::grayscale>},
      {"sepia", &apply_bool<&Transform::sepia>},
      {"negate", &apply_bool<&Transform::negate>},
      {"brightness", &apply_decimal<&Transform::brightness>},
      {"saturation", &apply_decimal<&Transform::saturation>},
      {"hue", &apply_decimal<&Transform::hue>},
      {"contrast", &apply_decimal<&Transform::contrast>},
      {"gamma", &apply_decimal<&Transform::gamma>},
      {"tint",
       [](Transform& t, std::string_view v) {
         auto c = to_colour(v);
         bool ok = c && v.size() - (v.starts_with('#') ? 1 : 0) == 6;
         if (ok) t.tint(*c);
         return ok;
       }},
      {"mask",
       [](Transform& t, std::string_view v) {
         const std::string l = lower(v);
         if (l == "circle") t.mask_circle();
         else if (l == "ellipse") t.mask_ellipse();
         else if (l.starts_with("rounded:") && to_int(std::string_view(l).substr(8)))
           t.mask_rounded(*to_int(std::string_view(l).substr(8)));
         else if (l.starts_with("image:")) t.mask_image(v.substr(6));  // ids are case-sensitive
         else return false;
         return true;
       }},
      {"wm_gravity",
       [](Transform& t, std::string_view v) {
         auto g = to_gravity(v);
         if (g) t.put_unless("wm_gravity", name_of(*g), "southeast");
         return g.has_value();
       }},
      {"wm_opacity",
       [](Transform& t, std::string_view v) {
         auto n = to_decimal(v);
         if (n) t.put_unless("wm_opacity", decimal(*n), "0.5");
         return n.has_value();
       }},
      {"wm_scale",
       [](Transform& t, std::string_view v) {
         auto n = to_decimal(v);
         if (n) t.put_unless("wm_scale", decimal(*n), "0.25");
         return n.has_value();
       }},
      {"bg",
       [](Transform& t, std::string_view v) {
         auto c = to_colour(v);
         if (c) t.background(*c);
         return c.has_value();
       }},
      {"trim",
       [](Transform& t, std::string_view v) {
         const std::string l = lower(v);
         if (l == "false") {
           t.params_.erase("trim");
           return true;
         }
         auto n = l == "true" ? std::optional<int>(10) : to_int(l);
         if (n) t.trim(*n);
         return n.has_value();
       }},
      {"format",
       [](Transform& t, std::string_view v) {
         auto f = parse_format(v);
         if (f) t.format(*f);
         return f.has_value();
       }},
      {"q", &apply_int<&Transform::quality>},
      {"lossless", &apply_bool<&Transform::lossless>},
      {"progressive", &apply_bool<&Transform::progressive>},
      {"effort", &apply_int<&Transform::effort>},
      {"strip", &apply_bool<&Transform::strip>},
      {"page", &apply_int<&Transform::page>},
      {"animated", &apply_bool<&Transform::animated>},
  };

  Transform t;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    auto eq = pair.find('=');
    auto name = detail::percent_decode(pair.substr(0, eq));
    auto value = detail::percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value) throw std::invalid_argument("bad percent-encoding in \"" + std::string(pair) + "\"");
    if (name->empty()) throw std::invalid_argument("a parameter without a name: \"" + std::string(pair) + "\"");
    const std::string_view key = canonical_name(*name);
    bool read = false;
    for (const auto& reader : kReaders)
      if (reader.name == key) read = reader.apply(t, *value);
    if (!read) t.put(std::string(key), *value);
  }
  return t;
}

}  // namespace progimage
