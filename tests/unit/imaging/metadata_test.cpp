// Output metadata policy (API.md): strip=true (the default) leaves only the
// ICC profile, no EXIF, XMP or IPTC, in every format; strip=false keeps them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "imaging/detail.hpp"
#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

// A JPEG with EXIF (camera, GPS), an ICC profile, XMP and IPTC, made once.
const Source& rich_source() {
  static const Source src = [] {
    const auto path = std::filesystem::temp_directory_path() /
                      ("progimage-metadata-" + std::to_string(getpid()) + ".jpg");
    vips::VImage img = vips::VImage::new_from_file(corpus("exif-samples/jpg/gps/DSCN0010.jpg").c_str()).copy();
    const vips::VImage canon = vips::VImage::new_from_file(corpus("exif-samples/jpg/Canon_40D.jpg").c_str());
    size_t len = 0;
    const void* icc = canon.get_blob(VIPS_META_ICC_NAME, &len);
    img.set(VIPS_META_ICC_NAME, nullptr, const_cast<void*>(icc), len);
    static const std::string xmp =
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">"
        "<rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\" dc:creator=\"Someone\"/>"
        "</rdf:RDF></x:xmpmeta>";
    img.set(VIPS_META_XMP_NAME, nullptr, const_cast<char*>(xmp.data()), xmp.size());
    static const char iptc_bytes[] = "Photoshop 3.0\0" "8BIM\x04\x04\0\0\0\0\0\x07\x1c\x02\x50\0\x02" "Me";
    static const std::string iptc(iptc_bytes, sizeof iptc_bytes);  // the final NUL belongs to the block
    img.set(VIPS_META_IPTC_NAME, nullptr, const_cast<char*>(iptc.data()), iptc.size());
    img.jpegsave(path.c_str(), vips::VImage::option()->set("strip", FALSE));
    static const std::string* const doomed = new std::string(path);  // outlives static destructors
    std::atexit([] { std::filesystem::remove(*doomed); });
    Source s;
    s.path = path;
    s.probe = probe_file(path, {});
    return s;
  }();
  return src;
}

const char* const kFormats[] = {"jpeg", "png", "webp", "avif", "heic", "jxl", "tiff"};

TEST(Metadata, TheSourceCarriesEverything) {
  const auto img = vips::VImage::new_from_file(rich_source().path.c_str());
  EXPECT_NE(img.get_typeof(VIPS_META_EXIF_NAME), 0u);
  EXPECT_NE(img.get_typeof("exif-ifd3-GPSLatitude"), 0u);
  EXPECT_NE(img.get_typeof(VIPS_META_ICC_NAME), 0u);
  EXPECT_NE(img.get_typeof(VIPS_META_XMP_NAME), 0u);
  EXPECT_NE(img.get_typeof(VIPS_META_IPTC_NAME), 0u);
}

TEST(Metadata, StripLeavesOnlyTheIccProfileInEveryFormat) {
  for (const char* format : kFormats) {
    SCOPED_TRACE(format);
    const Rendered r = render(rich_source(), ops::TransformSpec{}, format, {}, {});
    const auto out = decode(r.bytes);
    EXPECT_EQ(out.get_typeof(VIPS_META_EXIF_NAME), 0u);
    EXPECT_EQ(out.get_typeof("exif-ifd0-Make"), 0u);
    EXPECT_EQ(out.get_typeof("exif-ifd3-GPSLatitude"), 0u);
    EXPECT_EQ(out.get_typeof(VIPS_META_XMP_NAME), 0u);
    EXPECT_EQ(out.get_typeof(VIPS_META_IPTC_NAME), 0u);
    EXPECT_NE(out.get_typeof(VIPS_META_ICC_NAME), 0u);
    // Not even a regenerated EXIF block hides in the bytes.
    EXPECT_EQ(r.bytes.find("Exif\0\0", 0, 6), std::string::npos);
    EXPECT_EQ(r.bytes.find("ExifVersion"), std::string::npos);
  }
}

TEST(Metadata, StripFalseKeepsExifAndGps) {
  ops::TransformSpec keep;
  keep.strip = false;
  for (const char* format : kFormats) {
    SCOPED_TRACE(format);
    const auto out = decode(render(rich_source(), keep, format, {}, {}).bytes);
    EXPECT_NE(out.get_typeof(VIPS_META_ICC_NAME), 0u);
    const std::string f = format;
    if (f == "jxl" || f == "tiff") continue;  // libvips 8.14's jxlsave/tiffsave write no EXIF
    EXPECT_NE(out.get_typeof(VIPS_META_EXIF_NAME), 0u);
    EXPECT_NE(out.get_typeof("exif-ifd3-GPSLatitude"), 0u);
    EXPECT_EQ(detail::exif_value(out, "exif-ifd0-Make"), "NIKON");
  }
}

TEST(Metadata, StripWorksForAnimationAlphaAndOtherProfiles) {
  const auto anim = source_of("vips-formats/cogs.gif");
  const Rendered r = render(anim, ops::TransformSpec{}, "webp", {}, {});
  EXPECT_GT(r.frames, 1);
  const auto out = decode(r.bytes, true);
  EXPECT_EQ(out.get_typeof(VIPS_META_EXIF_NAME), 0u);
  EXPECT_GT(out.get_int("n-pages"), 1);
  // Our own AVIF/HEIC path: grey + alpha becomes RGBA, a P3 profile survives.
  const auto grey_alpha = decode(render(source_of("sharp-fixtures/16-bit-grey-alpha.png"), ops::TransformSpec{},
                                        "avif", {}, {}).bytes);
  EXPECT_EQ(grey_alpha.bands(), 4);
  EXPECT_EQ(grey_alpha.get_typeof(VIPS_META_EXIF_NAME), 0u);
  const auto p3 = source_of("sharp-fixtures/p3.png");
  for (const char* format : {"avif", "heic", "webp"}) {
    SCOPED_TRACE(format);
    // Not decode(): its copy_memory() image can outlive the loader that owns the
    // ICC bytes of a HEIF file. Keep the buffer and the loaded image alive.
    const auto encoded = render(p3, ops::TransformSpec{}, format, {}, {}).bytes;
    const auto o = vips::VImage::new_from_buffer(encoded.data(), encoded.size(), "");
    EXPECT_EQ(o.get_typeof(VIPS_META_EXIF_NAME), 0u);
    ASSERT_NE(o.get_typeof(VIPS_META_ICC_NAME), 0u);
    size_t len = 0;
    const void* icc = o.get_blob(VIPS_META_ICC_NAME, &len);
    EXPECT_NE(detail::icc_description(static_cast<const std::uint8_t*>(icc), len).find("P3"), std::string::npos);
  }
}

TEST(Metadata, JpegSegmentFilterKeepsTheImage) {
  EXPECT_EQ(detail::jpeg_drop_metadata("not a jpeg"), "not a jpeg");
  const std::string truncated("\xFF\xD8\xFF\xE1\x00\x40" "Exif", 10);
  EXPECT_EQ(detail::jpeg_drop_metadata(truncated), truncated);  // malformed: untouched
}

}  // namespace
}  // namespace progimage::imaging::test
