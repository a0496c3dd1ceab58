// /info metadata: EXIF fields, ICC name, perceptual hash, dominant colour, blurhash.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

#include "core/json.hpp"
#include "core/time.hpp"
#include "imaging/detail.hpp"

namespace progimage::imaging {

using core::Error;
using core::ErrorCode;
namespace json = boost::json;

namespace detail {

std::string exif_value(const vips::VImage& img, const char* field) {
  if (img.get_typeof(field) != G_TYPE_STRING && img.get_typeof(field) != VIPS_TYPE_REF_STRING) return {};
  // Not VImage::get_string(): in 8.14 it can return freed memory (see probe.cpp).
  char* v = nullptr;
  if (vips_image_get_as_string(img.get_image(), field, &v) != 0 || v == nullptr) {
    vips_error_clear();
    return {};
  }
  std::string s = v;
  g_free(v);
  // libvips shows "VALUE (VALUE, TYPE, N components, M bytes)": keep VALUE.
  // Pick the " (" whose bracket starts with the same text, so a value that
  // itself contains " (" survives.
  std::size_t cut = s.find(" (");
  for (std::size_t k = cut; k != std::string::npos; k = s.find(" (", k + 1)) {
    if (s.compare(k + 2, k, s, 0, k) == 0) {
      cut = k;
      break;
    }
  }
  if (cut != std::string::npos) s.resize(cut);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

namespace {

// "n/d" -> n/d; plain numbers too. NaN when it is not a number.
double rational(std::string_view text) {
  const std::string t(text);
  char* end = nullptr;
  const double n = std::strtod(t.c_str(), &end);
  if (end == t.c_str()) return std::nan("");
  if (*end == '/') {
    const double d = std::strtod(end + 1, nullptr);
    return d == 0 ? std::nan("") : n / d;
  }
  return n;
}

std::vector<double> rationals(const std::string& text) {
  std::vector<double> out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto next = text.find(' ', at);
    if (next == std::string::npos) next = text.size();
    if (next > at) out.push_back(rational(std::string_view(text).substr(at, next - at)));
    at = next + 1;
  }
  return out;
}

std::optional<double> gps_coordinate(const vips::VImage& img, const char* value, const char* ref) {
  const auto parts = rationals(exif_value(img, value));
  if (parts.size() != 3 || std::isnan(parts[0]) || std::isnan(parts[1]) || std::isnan(parts[2]))
    return std::nullopt;
  double deg = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
  const std::string r = exif_value(img, ref);
  if (r == "S" || r == "W") deg = -deg;
  return std::round(deg * 1e6) / 1e6;
}

std::string exposure_text(const std::string& raw) {
  const double v = rational(raw);
  if (std::isnan(v) || v <= 0) return {};
  if (v < 1) {
    return "1/" + std::to_string(static_cast<long>(std::lround(1.0 / v)));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// DateTimeOriginal ("YYYY:MM:DD HH:MM:SS", the camera's local time) as RFC
/// 3339 in UTC when the camera also recorded its offset from UTC
/// (OffsetTimeOriginal, "+HH:MM"), else as "YYYY-MM-DDTHH:MM:SS" without a zone:
/// which zone the camera's clock was in is then unknown.
std::string taken_at(const std::string& raw, const std::string& offset) {
  if (raw.size() < 19) return {};
  std::string s = raw.substr(0, 19);
  static constexpr char kShape[] = "dddd:dd:dd dd:dd:dd";
  for (int i = 0; i < 19; ++i) {
    if (kShape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != kShape[i]) return {};
  }
  if (s.starts_with("0000")) return {};
  s[4] = '-';
  s[7] = '-';
  s[10] = 'T';
  if (offset.size() == 6 && offset.substr(1, 2) <= "14" && offset.substr(4, 2) <= "59") {
    if (const auto utc = core::parse_rfc3339(s + offset)) return core::format_rfc3339(*utc);
  }
  if (!core::parse_rfc3339(s + "Z")) return {};  // a month, day or hour out of range
  return s;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) return false;
    for (int k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += extra + 1;
  }
  return true;
}

json::value text_or_null(const std::string& s) {
  if (s.empty() || !valid_utf8(s)) return nullptr;
  return json::value(s);
}

json::object exif_json(const vips::VImage& img, const Probe& probe, Metadata& meta) {
  json::object exif;
  meta.camera_make = exif_value(img, "exif-ifd0-Make");
  meta.camera_model = exif_value(img, "exif-ifd0-Model");
  if (!valid_utf8(meta.camera_make)) meta.camera_make.clear();
  if (!valid_utf8(meta.camera_model)) meta.camera_model.clear();
  exif["make"] = text_or_null(meta.camera_make);
  exif["model"] = text_or_null(meta.camera_model);
  exif["lens"] = text_or_null(exif_value(img, "exif-ifd2-LensModel"));
  exif["taken_at"] = text_or_null(
      taken_at(exif_value(img, "exif-ifd2-DateTimeOriginal"), exif_value(img, "exif-ifd2-OffsetTimeOriginal")));
  exif["orientation"] = probe.orientation;
  exif["exposure"] = text_or_null(exposure_text(exif_value(img, "exif-ifd2-ExposureTime")));
  std::string iso = exif_value(img, "exif-ifd2-ISOSpeedRatings");
  if (iso.empty()) iso = exif_value(img, "exif-ifd2-PhotographicSensitivity");
  const double iso_v = rational(iso);
  exif["iso"] = std::isnan(iso_v) || iso_v <= 0 ? json::value(nullptr) : json::value(std::lround(iso_v));
  const double focal = rational(exif_value(img, "exif-ifd2-FocalLength"));
  exif["focal_length"] =
      std::isnan(focal) || focal <= 0 ? json::value(nullptr) : json::value(std::round(focal * 100) / 100);
  auto lat = gps_coordinate(img, "exif-ifd3-GPSLatitude", "exif-ifd3-GPSLatitudeRef");
  auto lon = gps_coordinate(img, "exif-ifd3-GPSLongitude", "exif-ifd3-GPSLongitudeRef");
  if (lat && lon && std::abs(*lat) <= 90 && std::abs(*lon) <= 180) {
    exif["gps"] = json::object{{"lat", *lat}, {"lon", *lon}};
  } else {
    exif["gps"] = nullptr;
  }
  return exif;
}

// Most common colour of the opaque pixels, 4 bits per channel, then averaged.
std::string dominant_color(const vips::VImage& rgb8) {
  const int w = rgb8.width(), h = rgb8.height(), bands = rgb8.bands();
  size_t size = 0;
  void* raw = rgb8.write_to_memory(&size);
  std::unique_ptr<void, decltype(&g_free)> hold(raw, &g_free);
  const auto* px = static_cast<const std::uint8_t*>(raw);
  struct Bucket {
    long n = 0;
    double r = 0, g = 0, b = 0;
  };
  std::map<int, Bucket> buckets;
  for (int i = 0; i < w * h; ++i) {
    const std::uint8_t* p = px + static_cast<std::size_t>(i) * bands;
    if (bands == 4 && p[3] < 128) continue;
    const int key = ((p[0] >> 4) << 8) | ((p[1] >> 4) << 4) | (p[2] >> 4);
    auto& b = buckets[key];
    ++b.n;
    b.r += p[0];
    b.g += p[1];
    b.b += p[2];
  }
  if (buckets.empty()) return "#000000";
  const auto best = std::max_element(buckets.begin(), buckets.end(),
                                     [](auto& a, auto& b) { return a.second.n < b.second.n; });
  char buf[8];
  const auto& b = best->second;
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(std::lround(b.r / b.n)),
                int(std::lround(b.g / b.n)), int(std::lround(b.b / b.n)));
  return buf;
}

// Exact w x h, stretched: for hashes the aspect ratio does not matter.
vips::VImage stretch(const vips::VImage& img, int w, int h) {
  vips::VImage out = img.resize(double(w) / img.width(),
                                vips::VImage::option()->set("vscale", double(h) / img.height()));
  if (out.width() != w || out.height() != h) {
    out = out.embed(0, 0, w, h, vips::VImage::option()->set("extend", VIPS_EXTEND_COPY));
  }
  return out;
}

}  // namespace

std::uint64_t phash_of(const vips::VImage& upright) {
  vips::VImage grey = upright;
  if (grey.has_alpha()) grey = grey.flatten(vips::VImage::option()->set("background", std::vector<double>(grey.bands() - 1, 255.0)));
  grey = grey.colourspace(VIPS_INTERPRETATION_B_W);
  if (grey.bands() > 1) grey = grey.extract_band(0);
  grey = stretch(grey, 32, 32).cast(VIPS_FORMAT_DOUBLE);
  size_t size = 0;
  void* raw = grey.write_to_memory(&size);
  std::unique_ptr<void, decltype(&g_free)> hold(raw, &g_free);
  std::array<double, 32 * 32> px{};
  std::memcpy(px.data(), raw, std::min(size, sizeof(px)));
  return phash_from_gray32(px);
}

}  // namespace detail

namespace {

/// How much of the original a copy lost on its two sides of one axis.
struct CropGuess {
  double before = 0, after = 0;  // left and right, or top and bottom
};
constexpr std::array<CropGuess, 4> kCropGuesses = {{{0, 0}, {0.05, 0}, {0, 0.05}, {0.025, 0.025}}};

/// `img` as the original it would have been cropped from: the lost strips
/// restored by repeating the edge pixels, so the content sits where it did.
vips::VImage uncropped(const vips::VImage& img, CropGuess across, CropGuess down) {
  const double width = img.width() / (1 - across.before - across.after);
  const double height = img.height() / (1 - down.before - down.after);
  return img.embed(static_cast<int>(std::lround(width * across.before)),
                   static_cast<int>(std::lround(height * down.before)), static_cast<int>(std::lround(width)),
                   static_cast<int>(std::lround(height)), vips::VImage::option()->set("extend", VIPS_EXTEND_COPY));
}

vips::VImage cropped(const vips::VImage& img, CropGuess across, CropGuess down) {
  const int x = static_cast<int>(img.width() * across.before), y = static_cast<int>(img.height() * down.before);
  const int width = img.width() - x - static_cast<int>(img.width() * across.after);
  const int height = img.height() - y - static_cast<int>(img.height() * down.after);
  return img.extract_area(x, y, std::max(width, 1), std::max(height, 1));
}

}  // namespace

std::vector<std::uint64_t> similarity_hashes(const std::filesystem::path& path, const Probe& probe,
                                             const Limits& limits) {
  detail::Deadline deadline(limits.timeout);
  std::vector<std::uint64_t> hashes;
  try {
    // The same thumbnail analyze() hashes, so the first hash is the stored one.
    const vips::VImage thumb = detail::load_upright(path, probe, 128, &deadline);
    hashes.push_back(detail::phash_of(thumb));
    for (const auto across : kCropGuesses)
      for (const auto down : kCropGuesses) {
        if (across.before + across.after + down.before + down.after == 0) continue;  // the image itself
        hashes.push_back(detail::phash_of(uncropped(thumb, across, down)));
        hashes.push_back(detail::phash_of(cropped(thumb, across, down)));
      }
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media, "the image cannot be analysed");
  }
  return hashes;
}

std::string camera_name(const std::string& make, const std::string& model) {
  if (model.empty()) return make;
  if (make.empty()) return model;
  // "Canon" + "Canon EOS 40D" reads as the model; "NIKON CORPORATION" + "NIKON D70" too.
  const std::string first = make.substr(0, make.find(' '));
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  if (lower(model).starts_with(lower(first))) return model;
  return make + " " + model;
}

Metadata analyze(const std::filesystem::path& path, const Probe& probe, const Limits& limits) {
  detail::Deadline deadline(limits.timeout);
  Metadata meta;
  json::object out;
  try {
    const vips::VImage header = detail::load_image(path, probe, 0, 1, true);
    out["exif"] = detail::exif_json(header, probe, meta);
    std::string icc;
    if (header.get_typeof(VIPS_META_ICC_NAME) != 0) {
      size_t len = 0;
      const void* data = header.get_blob(VIPS_META_ICC_NAME, &len);
      icc = detail::icc_description(static_cast<const std::uint8_t*>(data), len);
    }
    out["icc"] = detail::text_or_null(icc);
    out["pages"] = probe.frames;

    // Streamed down to 128 px and already in memory: the decoded source is
    // never held whole (a 40 MB PNG would otherwise cost its full decode).
    const vips::VImage thumb = detail::load_upright(path, probe, 128, &deadline);
    deadline.check("analysing the image");
    // Colour work on an opaque RGB copy: transparent areas count as white.
    vips::VImage rgb = thumb;
    if (rgb.bands() <= 2) rgb = rgb.colourspace(VIPS_INTERPRETATION_sRGB);
    vips::VImage opaque =
        rgb.has_alpha() ? rgb.flatten(vips::VImage::option()->set("background", std::vector<double>{255, 255, 255}))
                        : rgb;
    opaque = opaque.cast(VIPS_FORMAT_UCHAR);

    meta.phash = detail::phash_of(thumb);
    out["phash"] = detail::hex64(*meta.phash);
    out["dominant_color"] = detail::dominant_color(rgb.cast(VIPS_FORMAT_UCHAR));
    const double s = 32.0 / std::max(opaque.width(), opaque.height());
    vips::VImage small = s < 1 ? opaque.resize(s) : opaque;
    size_t size = 0;
    void* raw = small.write_to_memory(&size);
    std::unique_ptr<void, decltype(&g_free)> hold(raw, &g_free);
    out["blurhash"] = detail::blurhash_encode(static_cast<const std::uint8_t*>(raw), small.width(),
                                              small.height(), 4, 3);
  } catch (const vips::VError& e) {
    detail::rethrow_vips(e, ErrorCode::unsupported_media, "the image cannot be analysed");
  }
  meta.json = core::json_text(out);
  return meta;
}

}  // namespace progimage::imaging
