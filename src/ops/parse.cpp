#include "ops/parse.hpp"

#include <boost/json/value.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/id.hpp"
#include "ops/canonical.hpp"

namespace progimage::ops {
namespace {

using core::Error;
using core::ErrorCode;

constexpr int kMaxDimension = 16384;
// The pixel limit keeps any real source side below this; it also keeps x + w in an int.
constexpr int kMaxCropCoordinate = 100'000'000;
// Decimals keep 6 fractional digits: near-equal URLs share a cache entry and
// canonical numbers stay short.
constexpr double kDecimalScale = 1e6;
constexpr std::size_t kMaxShownValue = 64;

/// One parameter as given. For JSON arrays, objects and null, `json_kind`
/// names the type and `text` is meaningless.
struct Arg {
  std::string_view name;  // as spelled by the client (maybe an alias)
  std::string_view text;
  std::string_view json_kind;
};

/// The value for an error message: printable ASCII only (safe in JSON and
/// logs), long values cut.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMaxShownValue; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > kMaxShownValue) out += "...";
  return out + '"';
}

[[noreturn]] void fail(const Arg& arg, std::string_view expected) {
  std::string got = arg.json_kind.empty() ? quoted(arg.text) : "a JSON " + std::string(arg.json_kind);
  throw Error(ErrorCode::bad_parameter,
              std::string(arg.name) + " must be " + std::string(expected) + ", got " + got);
}

std::string_view scalar(const Arg& arg, std::string_view expected) {
  if (!arg.json_kind.empty()) fail(arg, expected);
  return arg.text;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Grammar: -?[0-9]+ within long long.
std::optional<long long> to_integer(std::string_view s) {
  std::string_view digits = s.starts_with('-') ? s.substr(1) : s;
  if (!all_digits(digits)) return std::nullopt;
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Grammar: -?([0-9]+(\.[0-9]*)?|\.[0-9]+), no exponent, no "inf"/"nan".
std::optional<double> to_decimal(std::string_view s) {
  std::string_view body = s.starts_with('-') ? s.substr(1) : s;
  auto dot = body.find('.');
  std::string_view whole = body.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : body.substr(dot + 1);
  bool ok = (whole.empty() || all_digits(whole)) && (frac.empty() || all_digits(frac)) &&
            (!whole.empty() || !frac.empty());
  if (!ok) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

double round_decimal(double v) {
  return std::round(v * kDecimalScale) / kDecimalScale + 0.0;  // + 0.0 turns -0 into 0
}

int parse_int(const Arg& arg, int lo, int hi) {
  std::string expected = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  auto v = to_integer(scalar(arg, expected));
  if (!v || *v < lo || *v > hi) fail(arg, expected);
  return static_cast<int>(*v);
}

/// A decimal in [lo, hi], or (lo, hi] when lo_exclusive.
double parse_decimal(const Arg& arg, double lo, double hi, bool lo_exclusive = false) {
  std::string expected = lo_exclusive
                             ? "a number greater than " + format_number(lo) + " and at most " + format_number(hi)
                             : "a number from " + format_number(lo) + " to " + format_number(hi);
  auto v = to_decimal(scalar(arg, expected));
  if (!v) fail(arg, expected);
  double r = round_decimal(*v);
  if (r < lo || r > hi || (lo_exclusive && r <= lo)) fail(arg, expected);
  return r;
}

std::optional<bool> to_bool(std::string_view s) {
  std::string l = lower(s);
  if (l == "true" || l == "1") return true;
  if (l == "false" || l == "0") return false;
  return std::nullopt;
}

bool parse_bool(const Arg& arg) {
  constexpr std::string_view expected = "true, false, 1 or 0";
  auto b = to_bool(scalar(arg, expected));
  if (!b) fail(arg, expected);
  return *b;
}

template <class T>
struct Keyword {
  std::string_view name;
  T value;
};

template <class T, std::size_t N>
T parse_keyword(const Arg& arg, const Keyword<T> (&table)[N], std::string_view expected) {
  std::string l = lower(scalar(arg, expected));
  for (const auto& k : table)
    if (k.name == l) return k.value;
  fail(arg, expected);
}

constexpr Keyword<Fit> kFits[] = {
    {"inside", Fit::inside}, {"contain", Fit::contain}, {"cover", Fit::cover},
    {"fill", Fit::fill},     {"outside", Fit::outside},
};

// "centre" is sharp's spelling.
constexpr Keyword<GravityKind> kGravities[] = {
    {"center", GravityKind::center},       {"centre", GravityKind::center},
    {"north", GravityKind::north},         {"south", GravityKind::south},
    {"east", GravityKind::east},           {"west", GravityKind::west},
    {"northeast", GravityKind::northeast}, {"northwest", GravityKind::northwest},
    {"southeast", GravityKind::southeast}, {"southwest", GravityKind::southwest},
    {"smart", GravityKind::smart},         {"entropy", GravityKind::entropy},
    {"focus", GravityKind::focus},
};

constexpr Keyword<Flip> kFlips[] = {{"h", Flip::h}, {"v", Flip::v}, {"hv", Flip::hv}, {"vh", Flip::hv}};

/// gravity for cover crops; for the watermark (`for_watermark`) only the
/// positions make sense, not the content-aware kinds.
Gravity parse_gravity(const Arg& arg, bool for_watermark) {
  std::string_view expected =
      for_watermark ? "center, north, south, east, west, northeast, northwest, southeast, southwest "
                      "or fp:X:Y with X and Y from 0 to 1"
                    : "center, north, south, east, west, northeast, northwest, southeast, southwest, "
                      "smart, entropy, focus or fp:X:Y with X and Y from 0 to 1";
  std::string l = lower(scalar(arg, expected));
  if (l.starts_with("fp:")) {
    std::string_view rest = std::string_view(l).substr(3);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) fail(arg, expected);
    auto x = to_decimal(rest.substr(0, colon));
    auto y = to_decimal(rest.substr(colon + 1));
    if (!x || !y) fail(arg, expected);
    Gravity g{GravityKind::point, round_decimal(*x), round_decimal(*y)};
    if (g.x < 0 || g.x > 1 || g.y < 0 || g.y > 1) fail(arg, expected);
    return g;
  }
  for (const auto& k : kGravities) {
    if (k.name != l) continue;
    bool content_aware = k.value == GravityKind::smart || k.value == GravityKind::entropy ||
                         k.value == GravityKind::focus;
    if (for_watermark && content_aware) break;
    return Gravity{k.value};
  }
  fail(arg, expected);
}

std::optional<Color> to_color(std::string_view s, bool allow_alpha) {
  if (s.starts_with('#')) s.remove_prefix(1);
  if (s.size() != 6 && !(allow_alpha && s.size() == 8)) return std::nullopt;
  std::uint8_t bytes[4] = {0, 0, 0, 255};
  for (std::size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc{} || end != s.data() + i + 2) return std::nullopt;
    bytes[i / 2] = static_cast<std::uint8_t>(v);
  }
  return Color{bytes[0], bytes[1], bytes[2], bytes[3]};
}

Color parse_color(const Arg& arg, bool allow_alpha) {
  std::string_view expected = allow_alpha ? "a colour rrggbb or rrggbbaa (hex)" : "a colour rrggbb (hex)";
  auto c = to_color(scalar(arg, expected), allow_alpha);
  if (!c) fail(arg, expected);
  return *c;
}

std::string parse_id(const Arg& arg) {
  constexpr std::string_view expected = "an image id";
  std::string_view s = scalar(arg, expected);
  if (!core::looks_like_id(s)) fail(arg, expected);
  return std::string(s);
}

Rect parse_crop(const Arg& arg) {
  const std::string expected = "x,y,w,h: integers with x and y from 0 and w and h from 1, each at most " +
                               std::to_string(kMaxCropCoordinate);
  std::string_view s = scalar(arg, expected);
  int v[4];
  for (int i = 0; i < 4; ++i) {
    auto comma = s.find(',');
    if ((i < 3) == (comma == std::string_view::npos)) fail(arg, expected);
    std::string_view part = s.substr(0, comma);
    if (!all_digits(part)) fail(arg, expected);  // no sign: negatives are never valid
    auto n = to_integer(part);
    if (!n || *n > kMaxCropCoordinate || (i >= 2 && *n < 1)) fail(arg, expected);
    v[i] = static_cast<int>(*n);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return Rect{v[0], v[1], v[2], v[3]};
}

Mask parse_mask(const Arg& arg) {
  const std::string expected = "circle, ellipse, rounded:R (R an integer from 1 to " +
                               std::to_string(kMaxDimension) + ") or image:{id}";
  std::string_view s = scalar(arg, expected);
  std::string l = lower(s);
  if (l == "circle") return Mask{MaskKind::circle};
  if (l == "ellipse") return Mask{MaskKind::ellipse};
  if (l.starts_with("rounded:")) {
    auto r = to_integer(std::string_view(l).substr(8));
    if (!r || *r < 1 || *r > kMaxDimension) fail(arg, expected);
    return Mask{MaskKind::rounded, static_cast<int>(*r)};
  }
  if (l.starts_with("image:")) {
    std::string_view id = s.substr(6);  // ids are case-sensitive
    if (!core::looks_like_id(id)) fail(arg, expected);
    return Mask{MaskKind::image, 0, std::string(id)};
  }
  fail(arg, expected);
}

std::optional<int> parse_trim(const Arg& arg) {
  constexpr std::string_view expected = "true, false or a threshold from 1 to 254";
  std::string l = lower(scalar(arg, expected));
  if (l == "true") return 10;
  if (l == "false") return std::nullopt;
  auto v = to_integer(l);
  if (!v || *v < 1 || *v > 254) fail(arg, expected);
  return static_cast<int>(*v);
}

std::string parse_format(const Arg& arg) {
  static const std::string expected = [] {
    std::string out = "one of ";
    for (char c : core::output_extensions_text()) out += c == ' ' ? std::string(", ") : std::string(1, c);
    return out + ", auto";
  }();
  std::string l = lower(scalar(arg, expected));
  if (l == "auto") return l;
  auto f = core::output_format_for_extension(l);
  if (!f) fail(arg, expected);
  return *f;
}

/// Everything parsed so far. The watermark's options wait here until the end
/// because they may come before `watermark` or from a preset.
struct State {
  TransformSpec spec;
  std::optional<std::string> watermark;
  std::optional<Gravity> wm_gravity;
  std::optional<double> wm_opacity, wm_scale;
};

struct Parameter {
  std::string_view name;
  std::string_view canonical_name;  // differs for aliases
  void (*apply)(State&, const Arg&);
};

// Aliases, for users of imaginary, imgproxy and sharp: width -> w, height -> h,
// quality -> q, background -> bg, greyscale -> grayscale.
constexpr Parameter kParameters[] = {
    {"w", "w", [](State& s, const Arg& a) { s.spec.width = parse_int(a, 1, kMaxDimension); }},
    {"width", "w", [](State& s, const Arg& a) { s.spec.width = parse_int(a, 1, kMaxDimension); }},
    {"h", "h", [](State& s, const Arg& a) { s.spec.height = parse_int(a, 1, kMaxDimension); }},
    {"height", "h", [](State& s, const Arg& a) { s.spec.height = parse_int(a, 1, kMaxDimension); }},
    {"dpr", "dpr", [](State& s, const Arg& a) { s.spec.dpr = parse_decimal(a, 1, 4); }},
    {"fit", "fit",
     [](State& s, const Arg& a) {
       s.spec.fit = parse_keyword(a, kFits, "one of inside, contain, cover, fill, outside");
     }},
    {"gravity", "gravity", [](State& s, const Arg& a) { s.spec.gravity = parse_gravity(a, false); }},
    {"crop", "crop", [](State& s, const Arg& a) { s.spec.crop = parse_crop(a); }},
    {"enlarge", "enlarge", [](State& s, const Arg& a) { s.spec.enlarge = parse_bool(a); }},
    {"rotate", "rotate",
     [](State& s, const Arg& a) {
       constexpr std::string_view expected = "an integer (degrees clockwise)";
       auto v = to_integer(scalar(a, expected));
       if (!v) fail(a, expected);
       s.spec.rotate = static_cast<int>((*v % 360 + 360) % 360);
     }},
    {"flip", "flip", [](State& s, const Arg& a) { s.spec.flip = parse_keyword(a, kFlips, "h, v or hv"); }},
    {"autorotate", "autorotate", [](State& s, const Arg& a) { s.spec.autorotate = parse_bool(a); }},
    {"blur", "blur", [](State& s, const Arg& a) { s.spec.blur = parse_decimal(a, 0.3, 100); }},
    {"sharpen", "sharpen", [](State& s, const Arg& a) { s.spec.sharpen = parse_decimal(a, 0.3, 10); }},
    {"grayscale", "grayscale", [](State& s, const Arg& a) { s.spec.grayscale = parse_bool(a); }},
    {"greyscale", "grayscale", [](State& s, const Arg& a) { s.spec.grayscale = parse_bool(a); }},
    {"sepia", "sepia", [](State& s, const Arg& a) { s.spec.sepia = parse_bool(a); }},
    {"negate", "negate", [](State& s, const Arg& a) { s.spec.negate = parse_bool(a); }},
    {"brightness", "brightness", [](State& s, const Arg& a) { s.spec.brightness = parse_decimal(a, 0, 10); }},
    {"saturation", "saturation", [](State& s, const Arg& a) { s.spec.saturation = parse_decimal(a, 0, 10); }},
    {"hue", "hue",
     [](State& s, const Arg& a) {
       constexpr std::string_view expected = "a number (degrees)";
       auto v = to_decimal(scalar(a, expected));
       if (!v) fail(a, expected);
       // Normalise before rounding (fmod is exact), so canonical values read back unchanged.
       double h = std::fmod(*v, 360.0);
       if (h < 0) h += 360.0;
       h = round_decimal(h);
       s.spec.hue = h >= 360 ? 0.0 : h;
     }},
    {"contrast", "contrast", [](State& s, const Arg& a) { s.spec.contrast = parse_decimal(a, 0, 10); }},
    {"gamma", "gamma", [](State& s, const Arg& a) { s.spec.gamma = parse_decimal(a, 0.1, 10); }},
    {"tint", "tint", [](State& s, const Arg& a) { s.spec.tint = parse_color(a, false); }},
    {"mask", "mask", [](State& s, const Arg& a) { s.spec.mask = parse_mask(a); }},
    {"watermark", "watermark", [](State& s, const Arg& a) { s.watermark = parse_id(a); }},
    {"wm_gravity", "wm_gravity", [](State& s, const Arg& a) { s.wm_gravity = parse_gravity(a, true); }},
    {"wm_opacity", "wm_opacity", [](State& s, const Arg& a) { s.wm_opacity = parse_decimal(a, 0, 1); }},
    {"wm_scale", "wm_scale", [](State& s, const Arg& a) { s.wm_scale = parse_decimal(a, 0, 1, true); }},
    {"bg", "bg", [](State& s, const Arg& a) { s.spec.bg = parse_color(a, true); }},
    {"background", "bg", [](State& s, const Arg& a) { s.spec.bg = parse_color(a, true); }},
    {"trim", "trim", [](State& s, const Arg& a) { s.spec.trim = parse_trim(a); }},
    {"format", "format", [](State& s, const Arg& a) { s.spec.format = parse_format(a); }},
    {"q", "q", [](State& s, const Arg& a) { s.spec.quality = parse_int(a, 1, 100); }},
    {"quality", "q", [](State& s, const Arg& a) { s.spec.quality = parse_int(a, 1, 100); }},
    {"lossless", "lossless", [](State& s, const Arg& a) { s.spec.lossless = parse_bool(a); }},
    {"progressive", "progressive", [](State& s, const Arg& a) { s.spec.progressive = parse_bool(a); }},
    // One scale for all encoders (0 fastest, 9 smallest); imaging maps it onto
    // each encoder's own range (webp 0-6, avif 0-9, png 0-9, jxl 1-9).
    {"effort", "effort", [](State& s, const Arg& a) { s.spec.effort = parse_int(a, 0, 9); }},
    {"strip", "strip", [](State& s, const Arg& a) { s.spec.strip = parse_bool(a); }},
    {"page", "page", [](State& s, const Arg& a) { s.spec.page = parse_int(a, 0, 1000); }},
    {"animated", "animated", [](State& s, const Arg& a) { s.spec.animated = parse_bool(a); }},
    {"fallback", "fallback", [](State& s, const Arg& a) { s.spec.fallback = parse_id(a); }},
};

const Parameter* find_parameter(std::string_view name) {
  for (const auto& p : kParameters)
    if (p.name == name) return &p;
  return nullptr;
}

/// A parameter from either spelling: the query's text or a JSON value rendered as text.
struct Entry {
  std::string name;
  std::string text;
  std::string json_kind;
};

void apply_all(State& state, const std::vector<Entry>& entries) {
  std::map<std::string_view, std::string_view> seen;  // canonical name -> spelling
  for (const auto& e : entries) {
    if (e.name == "sig" || e.name == "preset") continue;  // verified / expanded elsewhere
    const Parameter* p = find_parameter(e.name);
    if (!p)
      throw Error(ErrorCode::bad_parameter,
                  "unknown parameter " + quoted(e.name) + " (see \"Transform parameters\" in the API)");
    auto [it, fresh] = seen.emplace(p->canonical_name, p->name);
    if (!fresh) {
      std::string msg = std::string(p->name) + " is given more than once";
      if (it->second != p->name) msg += " (as " + std::string(it->second) + " and " + std::string(p->name) + ")";
      throw Error(ErrorCode::bad_parameter, msg);
    }
    p->apply(state, Arg{p->name, e.text, e.json_kind});
  }
}

std::vector<Entry> to_entries(const QueryParams& params) {
  std::vector<Entry> out;
  out.reserve(params.size());
  for (const auto& [k, v] : params) out.push_back(Entry{k, v, {}});
  return out;
}

std::string preset_names(const Presets& presets) {
  if (presets.empty()) return "none are configured";
  std::string out;
  for (const auto& [name, _] : presets) out += (out.empty() ? "one of " : ", ") + name;
  return out;
}

TransformSpec parse_entries(const std::vector<Entry>& entries, const Presets& presets) {
  State state;
  // The preset goes first whatever its position, so explicit parameters override it.
  const Entry* preset = nullptr;
  for (const auto& e : entries) {
    if (e.name != "preset") continue;
    if (preset) throw Error(ErrorCode::bad_parameter, "preset is given more than once");
    preset = &e;
  }
  if (preset) {
    Arg arg{"preset", preset->text, preset->json_kind};
    auto it = presets.find(std::string(scalar(arg, "a preset name")));
    if (it == presets.end()) fail(arg, "a configured preset name (" + preset_names(presets) + ")");
    try {
      std::vector<Entry> expanded = to_entries(split_query(it->second));
      for (const auto& e : expanded)
        if (e.name == "preset") throw Error(ErrorCode::bad_parameter, "a preset cannot use another preset");
      apply_all(state, expanded);
    } catch (const Error& e) {
      throw Error(ErrorCode::bad_parameter, "preset " + quoted(it->first) + ": " + e.what());
    }
  }
  apply_all(state, entries);

  if (state.watermark) {
    Watermark wm;
    wm.image_id = *state.watermark;
    if (state.wm_gravity) wm.gravity = *state.wm_gravity;
    if (state.wm_opacity) wm.opacity = *state.wm_opacity;
    if (state.wm_scale) wm.scale = *state.wm_scale;
    state.spec.watermark = std::move(wm);
  } else if (state.wm_gravity || state.wm_opacity || state.wm_scale) {
    std::string_view which = state.wm_gravity ? "wm_gravity" : state.wm_opacity ? "wm_opacity" : "wm_scale";
    throw Error(ErrorCode::bad_parameter, std::string(which) + " needs watermark={id}");
  }
  return std::move(state.spec);
}

/// A JSON value as the text its query spelling would have.
Entry to_entry(std::string_view key, const boost::json::value& v) {
  Entry e{std::string(key), {}, {}};
  switch (v.kind()) {
    case boost::json::kind::string: e.text = std::string(v.get_string()); break;
    case boost::json::kind::bool_: e.text = v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: e.text = std::to_string(v.get_int64()); break;
    case boost::json::kind::uint64: e.text = std::to_string(v.get_uint64()); break;
    case boost::json::kind::double_:
      // Overflowing literals (1e400) parse as infinity: "nan" is accepted by no parameter.
      e.text = std::isfinite(v.get_double()) ? format_number(v.get_double()) : "nan";
      break;
    case boost::json::kind::array: {
      // [x, y, w, h] for crop: the array joined as the query spells it.
      const auto& arr = v.get_array();
      bool scalars = key == "crop" && !arr.empty();
      for (const auto& item : arr) {
        if (!item.is_number() && !item.is_string()) scalars = false;
        if (!scalars) break;
        if (!e.text.empty()) e.text += ',';
        e.text += to_entry(key, item).text;
      }
      if (!scalars) e.json_kind = "array";
      break;
    }
    case boost::json::kind::object: e.json_kind = "object"; break;
    case boost::json::kind::null: e.json_kind = "null"; break;
  }
  return e;
}

}  // namespace

QueryParams split_query(std::string_view raw_query) {
  // Boost.URL 1.81's parse_query() builds its view from strlen(s.data()), not
  // s.size() (found by ops_fuzz): give it a NUL-terminated copy. A valid query
  // holds no NUL, so the view then ends exactly at the end of the copy.
  const std::string buffer(raw_query);
  auto parsed = boost::urls::parse_query(buffer);
  if (!parsed)
    throw Error(ErrorCode::bad_parameter,
                "the query string is malformed (bad percent-encoding or a character that must be encoded)");
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  QueryParams out;
  for (auto p : *parsed) {
    if (p.key.empty() && !p.has_value) continue;  // "a=1&&b=2", trailing '&'
    out.emplace_back(p.key.decode(opts), p.has_value ? p.value.decode(opts) : std::string());
  }
  return out;
}

TransformSpec parse_query(const QueryParams& params, const Presets& presets) {
  return parse_entries(to_entries(params), presets);
}

TransformSpec parse_json(const boost::json::object& params, const Presets& presets) {
  std::vector<Entry> entries;
  entries.reserve(params.size());
  for (const auto& kv : params) entries.push_back(to_entry(kv.key(), kv.value()));
  return parse_entries(entries, presets);
}

bool is_transform_parameter(std::string_view name) noexcept {
  return name == "preset" || name == "sig" || find_parameter(name) != nullptr;
}

void validate_presets(const Presets& presets) {
  for (const auto& [name, _] : presets) parse_query({{"preset", name}}, presets);
}

}  // namespace progimage::ops
