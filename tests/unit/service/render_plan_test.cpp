// service::plan_render, negotiate_format and derivative_key: the one place
// where a request becomes (spec, output format, canonical form, cache key).
#include "service/render_plan.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/error.hpp"
#include "ops/canonical.hpp"
#include "ops/parse.hpp"

namespace progimage::service {
namespace {

ops::TransformSpec spec_of(std::string_view query) { return ops::parse_query(ops::split_query(query)); }

core::ImageRecord record(std::string format = "jpeg", bool has_alpha = false) {
  core::ImageRecord r;
  r.id = "img1";
  r.sha256 = std::string(64, 'a');
  r.format = std::move(format);
  r.width = 800;
  r.height = 600;
  r.has_alpha = has_alpha;
  return r;
}

// ---- output format ------------------------------------------------------------

TEST(PlanRender, WithoutExtensionOrFormatTheSourceFormatIsKept) {
  EXPECT_EQ(plan_render(record("jpeg"), spec_of("w=100")).format, "jpeg");
  EXPECT_EQ(plan_render(record("webp"), spec_of("w=100")).format, "webp");
  EXPECT_EQ(plan_render(record("gif"), spec_of("w=100")).format, "gif");
}

TEST(PlanRender, ASourceFormatThatCannotBeWrittenBecomesPng) {
  // A record whose format is no output format (the table can read formats it
  // cannot write): the render falls back to PNG, lossless and with alpha.
  auto image = record("bmp");
  auto plan = plan_render(image, spec_of("w=100"));
  EXPECT_EQ(plan.format, "png");
  EXPECT_EQ(plan.spec.format, "png");
  EXPECT_FALSE(plan.original) << "a re-encode is not the original";
  EXPECT_FALSE(plan_render(image, {}).original);
  EXPECT_EQ(plan_render(image, {}).format, "png");
}

TEST(PlanRender, TheExtensionChoosesTheFormat) {
  EXPECT_EQ(plan_render(record("jpeg"), spec_of("w=100"), "webp").format, "webp");
  EXPECT_EQ(plan_render(record("png"), {}, "jpg").format, "jpeg");
  EXPECT_EQ(plan_render(record("png"), {}, "JPEG").format, "jpeg") << "extensions are case-insensitive";
  EXPECT_EQ(plan_render(record("png"), {}, "tif").format, "tiff");
  EXPECT_EQ(plan_render(record("png"), {}, "jp2").format, "jp2") << "written though never read";
}

TEST(PlanRender, AnExplicitFormatWinsOverTheExtension) {
  auto plan = plan_render(record("jpeg"), spec_of("format=avif"), "png");
  EXPECT_EQ(plan.format, "avif");
  EXPECT_FALSE(plan.vary_accept);
  EXPECT_EQ(plan_render(record("jpeg"), spec_of("format=webp&w=10")).format, "webp");
}

TEST(PlanRender, AnUnknownExtensionIsABadParameterNamingIt) {
  for (const char* ext : {"bmp", "jpeg2000", "exe", "pngx"}) {
    try {
      plan_render(record(), spec_of("w=100"), ext);
      ADD_FAILURE() << ext << " was accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter) << ext;
      EXPECT_NE(std::string(e.what()).find(std::string(".") + ext), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("webp"), std::string::npos) << "lists what is accepted: " << e.what();
    }
  }
}

TEST(PlanRender, FormatAutoWithoutExtensionNegotiatesAndVaries) {
  auto plan = plan_render(record("jpeg"), spec_of("format=auto&w=100"), {}, "image/webp,*/*;q=0.8");
  EXPECT_EQ(plan.format, "webp");
  EXPECT_TRUE(plan.vary_accept);
  EXPECT_EQ(plan.spec.format, "webp") << "the plan's spec is concrete, never auto";
  EXPECT_EQ(plan.canonical.find("auto"), std::string::npos) << plan.canonical;

  auto no_accept = plan_render(record("jpeg"), spec_of("format=auto&w=100"));
  EXPECT_EQ(no_accept.format, "jpeg");
  EXPECT_TRUE(no_accept.vary_accept);
  EXPECT_EQ(plan_render(record("png", true), spec_of("format=auto")).format, "png") << "alpha keeps PNG";
}

TEST(PlanRender, FormatAutoWithAnExtensionTakesTheExtensionButStillVaries) {
  // API.md: format=auto answers with Vary: Accept; the extension fixes the bytes.
  auto plan = plan_render(record("jpeg"), spec_of("format=auto&w=100"), "png", "image/avif");
  EXPECT_EQ(plan.format, "png");
  EXPECT_TRUE(plan.vary_accept);
  EXPECT_EQ(plan.key, plan_render(record("jpeg"), spec_of("format=auto&w=100"), "png", "image/webp").key)
      << "the Accept header does not reach the key when the extension decides";
}

TEST(PlanRender, NoVaryWithoutFormatAuto) {
  EXPECT_FALSE(plan_render(record(), spec_of("w=100"), {}, "image/avif").vary_accept);
  EXPECT_FALSE(plan_render(record(), spec_of("w=100"), "webp", "image/avif").vary_accept);
  EXPECT_EQ(plan_render(record(), spec_of("w=100"), {}, "image/avif").format, "jpeg")
      << "Accept is read only for format=auto";
}

// ---- the original --------------------------------------------------------------

TEST(PlanRender, TheOriginalOnlyForIdentityInTheSameFormatWithoutVary) {
  EXPECT_TRUE(plan_render(record("jpeg"), {}).original);
  EXPECT_TRUE(plan_render(record("jpeg"), {}, "jpg").original);
  EXPECT_TRUE(plan_render(record("jpeg"), spec_of("format=jpeg")).original);
  EXPECT_TRUE(plan_render(record("png"), {}, "png").original);

  EXPECT_FALSE(plan_render(record("jpeg"), {}, "png").original) << "another format";
  EXPECT_FALSE(plan_render(record("jpeg"), spec_of("format=webp")).original);
  EXPECT_FALSE(plan_render(record("jpeg"), spec_of("w=100")).original) << "a transform";
  EXPECT_FALSE(plan_render(record("jpeg"), spec_of("q=80")).original) << "encoder options change the bytes";
  EXPECT_FALSE(plan_render(record("jpeg"), spec_of("strip=false")).original);
  // format=auto choosing the source's own format still varies by Accept.
  auto automatic = plan_render(record("jpeg"), spec_of("format=auto"), {}, "image/jpeg");
  EXPECT_EQ(automatic.format, "jpeg");
  EXPECT_FALSE(automatic.original);
}

TEST(PlanRender, TheFallbackDoesNotReachThePlan) {
  auto spec = spec_of("w=100");
  spec.fallback = "placeholder";
  auto plan = plan_render(record(), spec);
  EXPECT_TRUE(plan.spec.fallback.empty());
  EXPECT_EQ(plan.key, plan_render(record(), spec_of("w=100")).key) << "the fallback does not change the pixels";

  auto identity = ops::TransformSpec{};
  identity.fallback = "placeholder";
  EXPECT_TRUE(plan_render(record(), identity).original);
}

// ---- canonical form and key ------------------------------------------------------

TEST(PlanRender, TheCanonicalFormIsThatOfThePlannedSpec) {
  for (const char* query : {"", "w=300&h=200&fit=cover", "format=auto&w=50", "h=10&w=20&grayscale=true&q=70",
                            "w=300&h=300&fit=cover&gravity=focus", "blur=2&rotate=90"}) {
    auto plan = plan_render(record(), spec_of(query), {}, "image/webp");
    EXPECT_EQ(plan.canonical, ops::canonical(plan.spec)) << query;
    EXPECT_EQ(plan.spec.format, plan.format) << query;
    EXPECT_NE(plan.canonical.find("format=" + plan.format), std::string::npos)
        << "the format is part of the canonical form: " << plan.canonical;
    EXPECT_EQ(plan.key, derivative_key(record(), plan.canonical, plan.format, plan.spec)) << query;
    EXPECT_EQ(plan.key.size(), 64u);
  }
  EXPECT_EQ(plan_render(record(), spec_of("w=300&h=200&fit=cover")).canonical, "fit=cover&format=jpeg&h=200&w=300");
}

TEST(PlanRender, EqualRequestsHaveEqualKeys) {
  auto a = plan_render(record(), spec_of("w=300&h=200&fit=cover"));
  auto b = plan_render(record(), spec_of("fit=cover&h=200&w=300"));
  auto c = plan_render(record(), spec_of("width=300&height=200&fit=cover"), "jpg");
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.key, c.key) << "an alias and the source's own extension plan the same render";
  EXPECT_EQ(a.canonical, c.canonical);

  // Two records of the same bytes (a deduplicated upload) share their renders.
  auto other = record();
  other.id = "img2";
  other.name = "another name";
  other.tags = {"beach"};
  EXPECT_EQ(plan_render(other, spec_of("w=300&h=200&fit=cover")).key, a.key);
}

TEST(PlanRender, DifferentParametersFormatsOrBytesHaveDifferentKeys) {
  std::set<std::string> keys;
  keys.insert(plan_render(record(), spec_of("w=300")).key);
  keys.insert(plan_render(record(), spec_of("w=301")).key);
  keys.insert(plan_render(record(), spec_of("w=300"), "webp").key);
  keys.insert(plan_render(record(), spec_of("w=300"), "png").key);
  keys.insert(plan_render(record(), spec_of("w=300&q=80")).key);
  auto other_bytes = record();
  other_bytes.sha256 = std::string(64, 'b');
  keys.insert(plan_render(other_bytes, spec_of("w=300")).key);
  EXPECT_EQ(keys.size(), 6u);
}

TEST(DerivativeKey, DependsOnEachOfItsParts) {
  const auto image = record();
  const auto spec = spec_of("w=300&format=jpeg");
  const auto base = derivative_key(image, "format=jpeg&w=300", "jpeg", spec);
  EXPECT_EQ(base, derivative_key(image, "format=jpeg&w=300", "jpeg", spec));
  EXPECT_NE(base, derivative_key(image, "format=jpeg&w=301", "jpeg", spec));
  EXPECT_NE(base, derivative_key(image, "format=jpeg&w=300", "png", spec));
  auto other = image;
  other.sha256 = std::string(64, 'c');
  EXPECT_NE(base, derivative_key(other, "format=jpeg&w=300", "jpeg", spec));
  // The parts are delimited: moving text from one part to the next is another key.
  EXPECT_NE(derivative_key(image, "ab", "c", spec), derivative_key(image, "a", "bc", spec));
}

// ---- the focal point -----------------------------------------------------------

core::ImageRecord with_focus(std::optional<core::FocusPoint> focus) {
  auto r = record();
  r.focus = focus;
  return r;
}

TEST(PlanRender, TheFocalPointIsPartOfTheKeyForFocusAndSmartGravity) {
  const auto left = with_focus(core::FocusPoint{0.1, 0.5});
  const auto right = with_focus(core::FocusPoint{0.9, 0.5});
  const auto none = with_focus(std::nullopt);
  for (const char* query : {"w=100&h=100&fit=cover&gravity=focus", "w=100&h=100&fit=cover&gravity=smart"}) {
    auto at_left = plan_render(left, spec_of(query)).key;
    EXPECT_NE(at_left, plan_render(right, spec_of(query)).key) << query << ": a moved focus is another render";
    EXPECT_NE(at_left, plan_render(none, spec_of(query)).key) << query << ": a cleared focus is another render";
    EXPECT_NE(plan_render(none, spec_of(query)).key, plan_render(right, spec_of(query)).key) << query;
    EXPECT_EQ(at_left, plan_render(with_focus(core::FocusPoint{0.1, 0.5}), spec_of(query)).key)
        << query << ": the same focus is the same render";
    EXPECT_NE(at_left, plan_render(with_focus(core::FocusPoint{0.1, 0.50001}), spec_of(query)).key) << query;
  }
}

TEST(PlanRender, TheFocalPointIsNotPartOfTheKeyForOtherGravities) {
  const auto left = with_focus(core::FocusPoint{0.1, 0.5});
  const auto right = with_focus(core::FocusPoint{0.9, 0.5});
  const auto none = with_focus(std::nullopt);
  for (const char* query : {"w=100", "w=100&h=100&fit=cover", "w=100&h=100&fit=cover&gravity=entropy",
                            "w=100&h=100&fit=cover&gravity=north", "w=100&h=100&fit=cover&gravity=fp:0.2:0.8",
                            "w=100&watermark=wm1&wm_gravity=southeast"}) {
    auto key = plan_render(left, spec_of(query)).key;
    EXPECT_EQ(key, plan_render(right, spec_of(query)).key) << query << ": focus does not change this render";
    EXPECT_EQ(key, plan_render(none, spec_of(query)).key) << query;
  }
}

// ---- Accept negotiation (format=auto) -------------------------------------------

TEST(NegotiateFormat, WithoutAcceptJpegOrPngForAlpha) {
  EXPECT_EQ(negotiate_format("", false), "jpeg");
  EXPECT_EQ(negotiate_format("", true), "png");
  EXPECT_EQ(negotiate_format("image/png,image/jpeg", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/jpeg", true), "png") << "alpha needs a format that keeps it";
}

TEST(NegotiateFormat, AvifBeforeWebp) {
  EXPECT_EQ(negotiate_format("image/avif", false), "avif");
  EXPECT_EQ(negotiate_format("image/webp", false), "webp");
  EXPECT_EQ(negotiate_format("image/avif,image/webp", false), "avif");
  EXPECT_EQ(negotiate_format("image/webp,image/avif", false), "avif") << "our order, not the header's";
  EXPECT_EQ(negotiate_format("image/webp;q=1,image/avif;q=0.1", false), "avif") << "any q above 0 admits";
  EXPECT_EQ(negotiate_format("image/avif,image/webp", true), "avif");
  EXPECT_EQ(negotiate_format("image/webp", true), "webp") << "WebP keeps alpha";
  EXPECT_EQ(negotiate_format("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", false), "avif")
      << "a browser's header";
}

TEST(NegotiateFormat, QZeroRefuses) {
  EXPECT_EQ(negotiate_format("image/avif;q=0", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/avif;q=0.0", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/avif;q=0.000", true), "png");
  EXPECT_EQ(negotiate_format("image/avif;q=0,image/webp", false), "webp");
  EXPECT_EQ(negotiate_format("image/avif;q=0,image/webp;q=0", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/avif;level=1;q=0", false), "jpeg") << "q after another parameter";
  EXPECT_EQ(negotiate_format("image/avif;Q=0", false), "jpeg") << "the q name is case-insensitive";
}

TEST(NegotiateFormat, AnyQAboveZeroAdmits) {
  EXPECT_EQ(negotiate_format("image/avif;q=0.5", false), "avif");
  EXPECT_EQ(negotiate_format("image/avif;q=0.001", false), "avif");
  EXPECT_EQ(negotiate_format("image/webp;q=1.0", false), "webp");
}

TEST(NegotiateFormat, SpacesAndCaseAreTolerated) {
  EXPECT_EQ(negotiate_format("image/jpeg, image/webp", false), "webp");
  EXPECT_EQ(negotiate_format("  image/avif ; q=0.5 ", false), "avif");
  EXPECT_EQ(negotiate_format("image/avif ; q=0", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/png,\timage/webp\t;\tq=0.9", false), "webp");
  EXPECT_EQ(negotiate_format("IMAGE/AVIF", false), "avif");
  EXPECT_EQ(negotiate_format("Image/WebP", false), "webp");
}

TEST(NegotiateFormat, WildcardsDoNotCount) {
  // */* does not promise that a client decodes AVIF.
  EXPECT_EQ(negotiate_format("*/*", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/*", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/*,*/*;q=0.8", true), "png");
}

TEST(NegotiateFormat, OnlyTheExactTypeCounts) {
  EXPECT_EQ(negotiate_format("image/avifs", false), "jpeg");
  EXPECT_EQ(negotiate_format("image/avif-sequence", false), "jpeg");
  EXPECT_EQ(negotiate_format("application/webp", false), "jpeg");
  EXPECT_EQ(negotiate_format("xx image/webp", false), "jpeg");
}

}  // namespace
}  // namespace progimage::service
