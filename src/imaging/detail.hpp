#pragma once
// Internals shared by the imaging sources (not part of the module's API):
// libvips error conversion, deadlines, loader names and the pure hash code.
#include <vips/vips8>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "imaging/imaging.hpp"

namespace progimage::imaging::detail {

/// The accepted input formats, in the order API.md lists them.
inline constexpr std::array<std::string_view, 9> kInputFormats = {
    "jpeg", "png", "webp", "gif", "avif", "heic", "jxl", "tiff", "svg"};

/// A wall-clock budget for one request's libvips work.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget)
      : at_(std::chrono::steady_clock::now() + budget), budget_(budget) {}
  bool expired() const { return std::chrono::steady_clock::now() >= at_; }
  std::chrono::milliseconds budget() const { return budget_; }
  /// Throws core::Error timeout when the budget is spent.
  void check(std::string_view what) const;

 private:
  std::chrono::steady_clock::time_point at_;
  std::chrono::milliseconds budget_;
};

/// While alive, libvips' "eval" progress on `image` (and every image built
/// from it afterwards) kills the running computation once the deadline passes.
class KillSwitch {
 public:
  KillSwitch(const vips::VImage& image, const Deadline& deadline);
  ~KillSwitch();
  KillSwitch(const KillSwitch&) = delete;
  KillSwitch& operator=(const KillSwitch&) = delete;
  bool fired() const { return fired_.load(); }

 private:
  static void on_eval(VipsImage* image, VipsProgress* progress, void* self);
  vips::VImage image_;
  const Deadline& deadline_;
  unsigned long handler_ = 0;
  std::atomic<bool> fired_{false};
};

/// Logs a libvips failure and turns it into our error. A killed computation
/// becomes `timeout`; anything else `code` with `message`.
[[noreturn]] void rethrow_vips(const vips::VError& e, core::ErrorCode code, const std::string& message,
                               const KillSwitch* kill = nullptr);

/// "100" or "2.5": a pixel count in megapixels for error messages.
std::string megapixels(std::int64_t pixels);

/// Our format name for a libvips loader class name ("VipsForeignLoadJpegFile" -> "jpeg");
/// heif loaders answer "heif" (the caller decides avif or heic). Empty when not accepted.
std::string format_of_loader(std::string_view loader);

/// True when the bytes start like gzip (svgz): refused before libvips sees them.
bool is_gzip(std::string_view head);
/// Refuses GIF frame extents over the pixel limit and TIFF directories that
/// break the TIFF 6.0 rules (unsorted tags, strips shorter than the pixels).
void check_structure(const std::string& format, std::string_view bytes, const Limits& limits);

/// Reads up to `n` leading bytes of a file.
std::string read_head(const std::filesystem::path& path, std::size_t n);
/// avif or heic from an ISO-BMFF ftyp box; empty when neither brand is found.
std::string heif_brand(std::string_view head);

/// Loads `path` (whose format the probe found) with the options our policy
/// needs: fail on truncation, `n` pages (-1 = all), access pattern.
/// How strict decoding is: truncated and corrupt data are errors.
inline constexpr VipsFailOn kFailOn = VIPS_FAIL_ON_ERROR;

vips::VImage load_image(const std::filesystem::path& path, const Probe& probe, int page, int n,
                        bool sequential, double shrink = 1.0, VipsFailOn fail_on = kFailOn);

/// How many GIF frames decode, counting from the first, before one fails.
int leading_gif_frames(const std::filesystem::path& path, const Probe& probe, const Deadline& deadline);

/// Page 0 of an image, upright (EXIF orientation applied), 8-bit sRGB or grey,
/// scaled to fit a box x box square when box > 0 (never enlarged).
/// With box > 0 the pixels stream (sequential load, shrink-on-load where the
/// format has it, resize, then rotate the small result): memory stays bounded
/// by the box, not the source. The result is then in memory; `deadline`, when
/// given, stops that decode (core::Error timeout). box == 0 loads with random
/// access and stays lazy.
vips::VImage load_upright(const std::filesystem::path& path, const Probe& probe, int box,
                          const Deadline* deadline = nullptr);

/// The colour policy of every output: CMYK and other non-RGB data goes to
/// sRGB through its ICC profile; 16-bit and float drop to 8 bits.
vips::VImage to_srgb8(const vips::VImage& in);
/// Exactly w x h pixels (alpha premultiplied while resampling), in the
/// band format `img` has.
vips::VImage scale_to(const vips::VImage& img, int w, int h);
/// The same policy, keeping 16-bit RGB or grey at 16 bits when asked (for
/// working copies, which must lose nothing a render could still use).
enum class Depth { eight_bits, keep_16_bits };
vips::VImage to_srgb(const vips::VImage& in, Depth depth);

/// An EXIF string field as libvips shows it, reduced to its value ("" when absent).
std::string exif_value(const vips::VImage& img, const char* field);
/// Perceptual hash of any upright 8-bit image.
std::uint64_t phash_of(const vips::VImage& upright);

/// Removes metadata: with `strip` everything but the ICC profile and the
/// animation fields; without it only nothing (GPS included, as asked).
vips::VImage strip_metadata(const vips::VImage& img, bool strip);

/// Encoded bytes without EXIF/XMP (APP1) and IPTC (APP13) segments; ICC stays.
std::string jpeg_drop_metadata(const std::string& jpeg);
/// Encoded WebP without its EXIF and XMP chunks (VP8X flags updated).
std::string webp_drop_metadata(const std::string& webp);

/// Encodes `img` (frames stacked vertically when `frames` > 1) as `format`.
/// With spec.strip the output carries no EXIF, XMP or IPTC (see encode.cpp).
std::string encode(const vips::VImage& img, const ops::TransformSpec& spec, const std::string& format,
                   int frames);

// ---- pure helpers, unit-tested directly ----

/// 64-bit DCT perceptual hash of a 32x32 grey image (row-major, any scale).
std::uint64_t phash_from_gray32(const std::array<double, 32 * 32>& gray);
std::string hex64(std::uint64_t v);
int hamming(std::uint64_t a, std::uint64_t b);

/// Standard blurhash of an sRGB image (3 bytes per pixel, row-major).
std::string blurhash_encode(const std::uint8_t* rgb, int width, int height, int components_x,
                            int components_y);

/// "desc" tag of an ICC profile (v2 'desc' or v4 'mluc'); empty when absent.
std::string icc_description(const std::uint8_t* data, std::size_t size);

}  // namespace progimage::imaging::detail
