#pragma once
// libvips behind a small surface: start-up, probing uploads by content,
// verifying a full decode, metadata for /info, and rendering a transform.
// vips::VError never leaves this module: failures become core::Error.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/spec.hpp"

namespace progimage::imaging {

struct Limits {
  std::int64_t max_pixels = 100'000'000;  // width * height * frames
  int max_frames = 256;
  int max_output_dimension = 16384;
  std::chrono::milliseconds timeout{10'000};
};

/// Starts libvips once per process: no operation cache, only the allowed
/// loaders, its warnings routed to our log. `concurrency` threads per image.
void startup(int concurrency);
/// Frees libvips' per-thread state; call at the end of a pool thread.
void thread_shutdown();
/// Gives the heap that large decodes freed back to the system: the thresholds
/// startup() sets keep it for the next render, which is right for renders but
/// not after background work that decoded far more than a render does.
void release_memory();

struct Probe {
  std::string format;  // jpeg png webp gif avif heic jxl tiff svg
  int width = 0;       // stored size (before EXIF orientation)
  int height = 0;
  int frames = 1;      // animation frames (gif/webp) or pages
  bool has_alpha = false;
  int orientation = 1;  // EXIF 1..8
};

/// Identifies an image by its bytes and reads its header only. Throws
/// core::Error unsupported_media (not an accepted format, or unreadable) or
/// image_too_large (over the pixel or frame limits).
Probe probe_file(const std::filesystem::path& path, const Limits& limits);
Probe probe_buffer(std::string_view bytes, const Limits& limits);

/// Decodes every pixel, refusing truncated or corrupt data (unsupported_media),
/// within the time limit (core::Error timeout).
void verify_decode(const std::filesystem::path& path, const Probe& probe, const Limits& limits);

struct Metadata {
  std::string camera_make;   // empty when absent
  std::string camera_model;
  std::optional<std::uint64_t> phash;  // also in `json`, as 16 hex digits
  std::string json;  // object: exif{make, model, lens, taken_at, orientation, exposure, iso,
                     // focal_length, gps{lat, lon}}, icc, pages, phash, dominant_color, blurhash
};

/// How a camera reads to people: the model when it already names the maker
/// ("Canon EOS 40D"), else make and model ("OLYMPUS CORPORATION C8080WZ").
std::string camera_name(const std::string& make, const std::string& model);

/// Reads EXIF and computes the perceptual hash, dominant colour and blurhash.
Metadata analyze(const std::filesystem::path& path, const Probe& probe, const Limits& limits);

/// The perceptual hashes a similar-image search looks up for this image: its
/// own (analyze's phash, first), then the image as it would be had it been
/// cropped out of a larger original (padded back by its edge pixels) and as
/// its slightly cropped copies would be (cropped), by 5% on one side or 2.5%
/// on both, across and down. A crop moves every frequency of the hash; these
/// guesses put the geometry back, so that copies cropped by up to 5% are found
/// whichever of the two was stored first.
std::vector<std::uint64_t> similarity_hashes(const std::filesystem::path& path, const Probe& probe,
                                             const Limits& limits);

// ---- working copies ------------------------------------------------------------

/// A reduced copy of an original that renders needing fewer pixels decode
/// instead of it: upright (EXIF orientation applied), in the colour space the
/// pipeline renders from (CMYK and the like already in sRGB, RGB profiles
/// kept), alpha and 16-bit depth kept where the original has them, no other
/// metadata.
struct WorkingCopy {
  int level = 0;   // its longest side, the level it was made for
  int width = 0;   // upright
  int height = 0;
  std::string format;          // jpeg, webp or png
  std::filesystem::path path;  // where its bytes are, once opened
};

/// The levels (longest sides) of the working copies worth making for an
/// original: none for small, animated, multi-page and vector images.
std::vector<int> working_copy_levels(const Probe& probe);

struct EncodedWorkingCopy {
  WorkingCopy copy;
  std::string bytes;
};

/// A source image with the stored facts the pipeline may use.
struct Source {
  std::filesystem::path path;
  Probe probe;
  std::optional<std::pair<double, double>> focus;  // stored focal point, fractions
  /// Decoded instead of `path` where it holds enough pixels for the render
  /// (pick_working_copy() chose it); sizes and crops stay the original's.
  std::optional<WorkingCopy> working_copy;
};

/// Makes the working copy of `original` at `level`. Throws core::Error.
EncodedWorkingCopy make_working_copy(const Source& original, int level, const Limits& limits);
/// Whether a copy is small enough against its original's bytes to be stored.
bool worth_keeping(const EncodedWorkingCopy& copy, std::int64_t original_bytes);

/// The smallest of `copies` that render(source, spec, format) can decode
/// instead of the original with no visible difference, or nullopt when the
/// render needs the original: no resize, an output (after dpr, of the crop
/// region) too large for every copy, enlarge beyond them, trim (its box
/// depends on the full-resolution pixels), autorotate=false, kept metadata
/// (strip=false), a page, animation, or a vector source.
std::optional<std::size_t> pick_working_copy(const Source& source, const std::vector<WorkingCopy>& copies,
                                             const ops::TransformSpec& spec, const std::string& format);

/// Other stored images that a transform refers to (mask:image:, watermark).
using ImageResolver = std::function<std::optional<Source>(const std::string& id)>;

struct Rendered {
  std::string bytes;
  std::string format;  // output format name
  std::string mime;
  int width = 0;
  int height = 0;
  int frames = 1;
};

/// Applies `spec` to `source` and encodes as `format` (a concrete output
/// format name, never "auto" or empty). Throws core::Error.
Rendered render(const Source& source, const ops::TransformSpec& spec, const std::string& format,
                const ImageResolver& resolve, const Limits& limits);

/// Predicts the output of render() without encoding: width, height, steps (JSON array).
struct Plan {
  int width = 0;
  int height = 0;
  std::string steps_json;
};
Plan explain(const Source& source, const ops::TransformSpec& spec, const std::string& format);


}  // namespace progimage::imaging
