#pragma once
// The image object of docs/API.md ("Image object"), as every route sends it.
#include <boost/json/object.hpp>

#include "core/image.hpp"

namespace progimage::http {

/// The image object; `duplicate` is written only for upload answers.
boost::json::object image_json(const core::ImageRecord& image, std::optional<bool> duplicate = std::nullopt);

/// The image object with its `/info` extras (exif, icc, phash, ...).
boost::json::object image_info_json(const core::ImageRecord& image);

}  // namespace progimage::http
