#include "core/formats.hpp"

#include <gtest/gtest.h>

using namespace progimage::core;

TEST(Formats, ExtensionsMapOntoOutputFormats) {
  EXPECT_EQ(output_format_for_extension("jpg"), "jpeg");
  EXPECT_EQ(output_format_for_extension("JPEG"), "jpeg");
  EXPECT_EQ(output_format_for_extension("tif"), "tiff");
  for (auto f : {"png", "webp", "avif", "heic", "jxl", "gif", "tiff", "jp2", "svg"})
    EXPECT_EQ(output_format_for_extension(f), f);
  EXPECT_EQ(output_format_for_extension("auto"), std::nullopt);
  EXPECT_EQ(output_format_for_extension("bmp"), std::nullopt);
  EXPECT_EQ(output_format_for_extension(""), std::nullopt);
  EXPECT_EQ(output_format_for_extension("jp"), std::nullopt);
}

TEST(Formats, MimeTypesAndAlpha) {
  EXPECT_EQ(mime_type("jpeg"), "image/jpeg");
  EXPECT_EQ(mime_type("svg"), "image/svg+xml");
  EXPECT_EQ(mime_type("jp2"), "image/jp2");
  EXPECT_EQ(mime_type("bmp"), "application/octet-stream");
  EXPECT_FALSE(format_has_alpha("jpeg"));
  for (auto f : {"png", "webp", "gif", "avif", "heic", "jxl", "tiff", "jp2", "svg"}) EXPECT_TRUE(format_has_alpha(f));
}

TEST(Formats, EveryWrittenFormatHasAnExtensionAndAMime) {
  int written = 0;
  for (const auto& f : formats()) {
    EXPECT_FALSE(f.extensions.empty()) << f.name;
    EXPECT_TRUE(f.mime.starts_with("image/")) << f.name;
    if (f.writable) {
      ++written;
      EXPECT_TRUE(is_output_format(f.name));
      EXPECT_EQ(output_format_for_extension(f.name), std::string(f.name));
    }
  }
  EXPECT_EQ(written, 10);
  EXPECT_FALSE(is_output_format("bmp"));
  EXPECT_EQ(output_extensions_text(), "jpg jpeg png webp avif heic jxl gif tiff tif jp2 svg");
}
