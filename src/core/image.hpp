#pragma once
// The stored image record shared by the catalog, the handlers and the jobs.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace progimage::core {

struct FocusPoint {
  double x = 0.5;  // fraction of width
  double y = 0.5;  // fraction of height
};

struct ImageRecord {
  std::string id;
  std::string tenant = "default";  // who owns it (core/tenant.hpp)
  std::string sha256;      // of the original bytes; also the blob key
  std::string format;      // loader family: jpeg png webp gif avif heic jxl tiff svg
  int width = 0;           // stored size, before EXIF orientation
  int height = 0;
  std::int64_t size = 0;   // bytes
  int frames = 1;
  bool has_alpha = false;
  std::int64_t created_at = 0;  // unix seconds
  std::string name;
  std::string description;
  std::vector<std::string> tags;       // lower-case, unique, sorted
  std::string camera_make;             // empty when absent
  std::string camera_model;
  std::optional<FocusPoint> focus;
  std::string metadata_json;           // the `/info` extras (exif, icc, phash...) as a JSON object
  std::optional<std::uint64_t> phash;  // 64-bit perceptual hash, for similar images
  std::map<std::string, std::string> variants;  // preset name -> pending|ready|failed
  /// insert_image() queues the making of the image's working copies (not stored).
  bool wants_working_copies = false;
};

}  // namespace progimage::core
