#include "ops/parse.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "core/error.hpp"
#include "ops/canonical.hpp"

using namespace progimage;
using namespace progimage::ops;

namespace {

TransformSpec q(std::string_view raw, const Presets& presets = {}) {
  return parse_query(split_query(raw), presets);
}

/// The message of the bad_parameter error that parsing `raw` throws ("" if none).
std::string error_of(std::string_view raw, const Presets& presets = {}) {
  try {
    q(raw, presets);
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter) << raw;
    EXPECT_EQ(e.status(), 400u);
    return e.what();
  }
  return "";
}

/// Expects parsing to fail with a message that starts with `param` and contains `hint`.
void expect_rejected(std::string_view raw, std::string_view param, std::string_view hint = "") {
  std::string msg = error_of(raw);
  EXPECT_FALSE(msg.empty()) << raw << " was accepted";
  EXPECT_TRUE(msg.starts_with(param)) << raw << " -> " << msg;
  EXPECT_NE(msg.find(hint), std::string::npos) << raw << " -> " << msg;
}

}  // namespace

TEST(SplitQuery, DecodesInOrder) {
  auto p = split_query("w=300&bg=%23ff0000&tags=a+b&flag&&x=");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"w", "300"}));
  EXPECT_EQ(p[1].second, "#ff0000");
  EXPECT_EQ(p[2].second, "a b");
  EXPECT_EQ(p[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(p[4], (std::pair<std::string, std::string>{"x", ""}));
  EXPECT_TRUE(split_query("").empty());
  EXPECT_TRUE(split_query("&").empty());
}

TEST(SplitQuery, EmptyComponentsAreNotParameters) {
  // What URL builders leave behind: a bare '?', a leading, trailing or doubled '&'.
  for (std::string_view raw : {"", "&", "&&&"}) EXPECT_TRUE(split_query(raw).empty()) << raw;
  const QueryParams w_and_h = {{"w", "10"}, {"h", "5"}};
  for (std::string_view raw : {"w=10&h=5&", "&w=10&h=5", "w=10&&h=5", "&&w=10&&&h=5&&"})
    EXPECT_EQ(split_query(raw), w_and_h) << raw;
  EXPECT_EQ(q("w=10&&h=5&"), q("w=10&h=5"));
  // An empty name with '=' is a parameter, and not one we know.
  EXPECT_EQ(split_query("=1"), (QueryParams{{"", "1"}}));
  EXPECT_EQ(split_query("w=10&="), (QueryParams{{"w", "10"}, {"", ""}}));
  expect_rejected("w=10&=1", "unknown parameter \"\"");
}

TEST(SplitQuery, RejectsMalformedEncoding) {
  for (std::string_view bad : {"w=%zz", "w=%2", "w=%", "a b=1", "w=1#frag"}) {
    try {
      split_query(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    }
  }
}

TEST(ParseQuery, DefaultsWhenEmpty) {
  EXPECT_EQ(q(""), TransformSpec{});
  EXPECT_EQ(canonical(q("")), "");
}

TEST(ParseQuery, WidthHeight) {
  auto s = q("w=300&h=200");
  EXPECT_EQ(s.width, 300);
  EXPECT_EQ(s.height, 200);
  EXPECT_EQ(q("w=1").width, 1);
  EXPECT_EQ(q("w=16384").width, 16384);
  EXPECT_EQ(q("h=007").height, 7);
  for (auto bad : {"w=0", "w=16385", "w=-1", "w=abc", "w=1.5", "w=", "w=+5", "w=%2B5", "w=%205", "w=1e3",
                   "w=99999999999999999999999"})
    expect_rejected(bad, "w must be an integer from 1 to 16384", "got");
  expect_rejected("h=0", "h must be an integer from 1 to 16384");
  EXPECT_EQ(error_of("w=abc"), "w must be an integer from 1 to 16384, got \"abc\"");
}

TEST(ParseQuery, Aliases) {
  EXPECT_EQ(q("width=300&height=200"), q("w=300&h=200"));
  EXPECT_EQ(q("quality=80"), q("q=80"));
  EXPECT_EQ(q("background=ff0000"), q("bg=ff0000"));
  EXPECT_EQ(q("greyscale=true"), q("grayscale=true"));
  // The message uses the spelling the client used.
  expect_rejected("width=0", "width must be an integer from 1 to 16384");
  expect_rejected("quality=101", "quality must be an integer from 1 to 100");
  // An alias and its parameter together are a repetition.
  expect_rejected("w=1&width=2", "width is given more than once", "(as w and width)");
  expect_rejected("bg=ffffff&background=000000", "background is given more than once");
}

TEST(ParseQuery, Dpr) {
  EXPECT_EQ(q("dpr=1").dpr, 1);
  EXPECT_EQ(q("dpr=2").dpr, 2);
  EXPECT_EQ(q("dpr=1.5").dpr, 1.5);
  EXPECT_EQ(q("dpr=4").dpr, 4);
  EXPECT_EQ(q("dpr=2.").dpr, 2);
  for (auto bad : {"dpr=0.99", "dpr=4.01", "dpr=0", "dpr=x", "dpr=1e0", "dpr=inf", "dpr=nan", "dpr=.", "dpr=-"})
    expect_rejected(bad, "dpr must be a number from 1 to 4");
}

TEST(ParseQuery, FitAndGravity) {
  EXPECT_EQ(q("fit=inside").fit, Fit::inside);
  EXPECT_EQ(q("fit=contain").fit, Fit::contain);
  EXPECT_EQ(q("fit=cover").fit, Fit::cover);
  EXPECT_EQ(q("fit=fill").fit, Fit::fill);
  EXPECT_EQ(q("fit=outside").fit, Fit::outside);
  EXPECT_EQ(q("fit=COVER").fit, Fit::cover);  // keywords ignore case
  expect_rejected("fit=crop", "fit must be one of inside, contain, cover, fill, outside", "\"crop\"");

  const std::pair<const char*, GravityKind> kinds[] = {
      {"center", GravityKind::center},       {"centre", GravityKind::center},
      {"north", GravityKind::north},         {"south", GravityKind::south},
      {"east", GravityKind::east},           {"west", GravityKind::west},
      {"northeast", GravityKind::northeast}, {"northwest", GravityKind::northwest},
      {"southeast", GravityKind::southeast}, {"southwest", GravityKind::southwest},
      {"smart", GravityKind::smart},         {"entropy", GravityKind::entropy},
      {"focus", GravityKind::focus},
  };
  for (auto [name, kind] : kinds) EXPECT_EQ(q(std::string("gravity=") + name).gravity.kind, kind) << name;

  auto g = q("gravity=fp:0.25:1").gravity;
  EXPECT_EQ(g.kind, GravityKind::point);
  EXPECT_EQ(g.x, 0.25);
  EXPECT_EQ(g.y, 1);
  EXPECT_EQ(q("gravity=fp:0:0").gravity, (Gravity{GravityKind::point, 0, 0}));
  for (auto bad : {"gravity=middle", "gravity=fp:1.1:0", "gravity=fp:0:-0.1", "gravity=fp:0.5", "gravity=fp:a:b",
                   "gravity=fp:0.5:0.5:1", "gravity=fp::"})
    expect_rejected(bad, "gravity must be center, north", "fp:X:Y");
}

TEST(ParseQuery, Crop) {
  EXPECT_EQ(q("crop=0,0,1,1").crop, (Rect{0, 0, 1, 1}));
  EXPECT_EQ(q("crop=10,20,300,400").crop, (Rect{10, 20, 300, 400}));
  EXPECT_EQ(q("crop=100000000,0,100000000,1").crop, (Rect{100000000, 0, 100000000, 1}));
  for (auto bad : {"crop=0,0,0,1", "crop=0,0,1,0", "crop=-1,0,1,1", "crop=1,2,3", "crop=1,2,3,4,5", "crop=1,2,3,",
                   "crop=a,b,c,d", "crop=1.5,0,1,1", "crop=", "crop=100000001,0,1,1", "crop=+1,0,1,1"})
    expect_rejected(bad, "crop must be x,y,w,h");
}

TEST(ParseQuery, RotateFlipOrientation) {
  EXPECT_EQ(q("rotate=90").rotate, 90);
  EXPECT_EQ(q("rotate=0").rotate, 0);
  EXPECT_EQ(q("rotate=360").rotate, 0);
  EXPECT_EQ(q("rotate=-90").rotate, 270);
  EXPECT_EQ(q("rotate=45").rotate, 45);
  EXPECT_EQ(q("rotate=-721").rotate, 359);
  EXPECT_EQ(q("rotate=1000000000000").rotate, 1000000000000 % 360);
  expect_rejected("rotate=1.5", "rotate must be an integer");
  expect_rejected("rotate=abc", "rotate must be an integer");

  EXPECT_EQ(q("flip=h").flip, Flip::h);
  EXPECT_EQ(q("flip=v").flip, Flip::v);
  EXPECT_EQ(q("flip=hv").flip, Flip::hv);
  EXPECT_EQ(q("flip=vh").flip, Flip::hv);
  expect_rejected("flip=x", "flip must be h, v or hv");

  EXPECT_FALSE(q("autorotate=false").autorotate);
  EXPECT_TRUE(q("autorotate=true").autorotate);
  expect_rejected("autorotate=maybe", "autorotate must be true, false, 1 or 0");
}

TEST(ParseQuery, Booleans) {
  for (std::string name : {"enlarge", "grayscale", "sepia", "negate", "lossless", "progressive", "animated"}) {
    auto get = [&](const TransformSpec& s) {
      return name == "enlarge" ? s.enlarge : name == "grayscale" ? s.grayscale : name == "sepia" ? s.sepia
           : name == "negate" ? s.negate : name == "lossless" ? s.lossless : name == "progressive" ? s.progressive
           : s.animated;
    };
    EXPECT_TRUE(get(q(name + "=true")));
    EXPECT_TRUE(get(q(name + "=1")));
    EXPECT_TRUE(get(q(name + "=TRUE")));
    EXPECT_FALSE(get(q(name + "=false")));
    EXPECT_FALSE(get(q(name + "=0")));
    expect_rejected(name + "=yes", name + " must be true, false, 1 or 0", "\"yes\"");
    expect_rejected(name + "=", name + " must be true, false, 1 or 0");
    expect_rejected(name, name + " must be true, false, 1 or 0");  // no '=' means an empty value
  }
  EXPECT_FALSE(q("strip=false").strip);
  EXPECT_TRUE(q("strip=1").strip);
}

TEST(ParseQuery, Filters) {
  EXPECT_EQ(q("blur=0.3").blur, 0.3);
  EXPECT_EQ(q("blur=100").blur, 100);
  expect_rejected("blur=0.29", "blur must be a number from 0.3 to 100");
  expect_rejected("blur=100.5", "blur must be a number from 0.3 to 100");
  EXPECT_EQ(q("sharpen=10").sharpen, 10);
  expect_rejected("sharpen=10.1", "sharpen must be a number from 0.3 to 10");
  expect_rejected("sharpen=0", "sharpen must be a number from 0.3 to 10");

  for (std::string name : {"brightness", "saturation", "contrast"}) {
    EXPECT_NO_THROW(q(name + "=0"));
    EXPECT_NO_THROW(q(name + "=10"));
    EXPECT_NO_THROW(q(name + "=1.25"));
    expect_rejected(name + "=10.000001", name + " must be a number from 0 to 10");
    expect_rejected(name + "=-0.5", name + " must be a number from 0 to 10");
  }
  EXPECT_EQ(q("brightness=1.5").brightness, 1.5);
  EXPECT_EQ(q("saturation=0").saturation, 0);
  EXPECT_EQ(q("contrast=2").contrast, 2);
  EXPECT_EQ(q("gamma=0.1").gamma, 0.1);
  EXPECT_EQ(q("gamma=10").gamma, 10);
  expect_rejected("gamma=0.05", "gamma must be a number from 0.1 to 10");

  EXPECT_EQ(q("hue=90").hue, 90);
  EXPECT_EQ(q("hue=360").hue, 0);
  EXPECT_EQ(q("hue=-90").hue, 270);
  EXPECT_EQ(q("hue=725.5").hue, 5.5);
  EXPECT_EQ(q("hue=359.9999999").hue, 0);  // rounds to 360, which is 0
  EXPECT_EQ(q("hue=-0.0000001").hue, 0);
  expect_rejected("hue=red", "hue must be a number");

  // Decimals keep six fractional digits, so near-equal values share one form.
  EXPECT_EQ(q("blur=1.50000001"), q("blur=1.5"));
  EXPECT_EQ(canonical(q("blur=1.5000000")), "blur=1.5");
}

TEST(ParseQuery, Colours) {
  EXPECT_EQ(q("bg=ff8000").bg, (Color{255, 128, 0, 255}));
  EXPECT_EQ(q("bg=%23FF8000").bg, (Color{255, 128, 0, 255}));
  EXPECT_EQ(q("bg=ff800080").bg, (Color{255, 128, 0, 128}));
  EXPECT_EQ(q("bg=ffffffff"), q("bg=ffffff"));
  EXPECT_EQ(q("tint=00Aa11").tint, (Color{0, 170, 17, 255}));
  for (auto bad : {"bg=fff", "bg=ff80000", "bg=gg0000", "bg=red", "bg=%23%23ff0000", "bg=ff%20000", "bg=+f0000"})
    expect_rejected(bad, "bg must be a colour rrggbb or rrggbbaa");
  expect_rejected("tint=ff000080", "tint must be a colour rrggbb");
}

TEST(ParseQuery, Mask) {
  EXPECT_EQ(q("mask=circle").mask.kind, MaskKind::circle);
  EXPECT_EQ(q("mask=ellipse").mask.kind, MaskKind::ellipse);
  EXPECT_EQ(q("mask=rounded:12").mask, (Mask{MaskKind::rounded, 12}));
  EXPECT_EQ(q("mask=image:4Jb1mX0cQe9T2vK7pLw8Aa").mask, (Mask{MaskKind::image, 0, "4Jb1mX0cQe9T2vK7pLw8Aa"}));
  for (auto bad : {"mask=square", "mask=rounded:0", "mask=rounded:", "mask=rounded:x", "mask=image:", "mask=image:a/b",
                   "mask=rounded:16385"})
    expect_rejected(bad, "mask must be circle, ellipse, rounded:R");
}

TEST(ParseQuery, Watermark) {
  auto s = q("watermark=4Jb1mX0cQe9T2vK7pLw8Aa");
  ASSERT_TRUE(s.watermark);
  EXPECT_EQ(s.watermark->image_id, "4Jb1mX0cQe9T2vK7pLw8Aa");
  EXPECT_EQ(s.watermark->gravity.kind, GravityKind::southeast);
  EXPECT_EQ(s.watermark->opacity, 0.5);
  EXPECT_EQ(s.watermark->scale, 0.25);

  // Options may come before the watermark itself.
  s = q("wm_opacity=1&wm_scale=0.1&wm_gravity=fp:0.1:0.9&watermark=abc");
  ASSERT_TRUE(s.watermark);
  EXPECT_EQ(s.watermark->opacity, 1);
  EXPECT_EQ(s.watermark->scale, 0.1);
  EXPECT_EQ(s.watermark->gravity, (Gravity{GravityKind::point, 0.1, 0.9}));
  EXPECT_EQ(q("watermark=abc&wm_opacity=0").watermark->opacity, 0);
  EXPECT_EQ(q("watermark=abc&wm_scale=1").watermark->scale, 1);

  expect_rejected("watermark=a.b", "watermark must be an image id");
  expect_rejected("watermark=", "watermark must be an image id");
  expect_rejected("watermark=abc&wm_scale=0", "wm_scale must be a number greater than 0 and at most 1");
  expect_rejected("watermark=abc&wm_scale=0.0000001", "wm_scale must be a number greater than 0");
  expect_rejected("watermark=abc&wm_opacity=1.1", "wm_opacity must be a number from 0 to 1");
  expect_rejected("watermark=abc&wm_gravity=smart", "wm_gravity must be center");
  expect_rejected("wm_opacity=0.3", "wm_opacity needs watermark");
}

TEST(ParseQuery, Trim) {
  EXPECT_EQ(q("trim=true").trim, 10);
  EXPECT_EQ(q("trim=1").trim, 1);  // a number is a threshold, not a boolean
  EXPECT_EQ(q("trim=254").trim, 254);
  EXPECT_EQ(q("trim=false").trim, std::nullopt);
  for (auto bad : {"trim=0", "trim=255", "trim=yes", "trim=1.5"})
    expect_rejected(bad, "trim must be true, false or a threshold from 1 to 254");
}

TEST(ParseQuery, FormatAndEncoder) {
  const std::pair<const char*, const char*> formats[] = {
      {"jpg", "jpeg"}, {"jpeg", "jpeg"}, {"png", "png"}, {"webp", "webp"}, {"avif", "avif"},
      {"heic", "heic"}, {"jxl", "jxl"},   {"gif", "gif"}, {"tiff", "tiff"}, {"tif", "tiff"},
      {"jp2", "jp2"},   {"svg", "svg"},   {"auto", "auto"}, {"WEBP", "webp"},
  };
  for (auto [in, out] : formats) EXPECT_EQ(q(std::string("format=") + in).format, out) << in;
  expect_rejected("format=bmp", "format must be one of jpg, jpeg", "\"bmp\"");
  expect_rejected("format=", "format must be one of");

  EXPECT_EQ(q("q=1").quality, 1);
  EXPECT_EQ(q("q=100").quality, 100);
  expect_rejected("q=0", "q must be an integer from 1 to 100");
  expect_rejected("q=101", "q must be an integer from 1 to 100");
  EXPECT_EQ(q("effort=0").effort, 0);
  EXPECT_EQ(q("effort=9").effort, 9);
  expect_rejected("effort=10", "effort must be an integer from 0 to 9");
  EXPECT_EQ(q("page=0").page, 0);
  EXPECT_EQ(q("page=1000").page, 1000);
  expect_rejected("page=1001", "page must be an integer from 0 to 1000");
  expect_rejected("page=-1", "page must be an integer from 0 to 1000");
}

TEST(ParseQuery, FallbackAndSig) {
  EXPECT_EQ(q("fallback=4Jb1mX0cQe9T2vK7pLw8Aa").fallback, "4Jb1mX0cQe9T2vK7pLw8Aa");
  expect_rejected("fallback=../etc", "fallback must be an image id");
  EXPECT_EQ(q("w=10&sig=whatever"), q("w=10"));  // verification is separate
  EXPECT_EQ(q("sig=a&sig=b"), TransformSpec{});
}

TEST(ParseQuery, UnknownAndRepeated) {
  EXPECT_EQ(error_of("foo=1"), "unknown parameter \"foo\" (see \"Transform parameters\" in the API)");
  expect_rejected("W=100", "unknown parameter \"W\"");
  expect_rejected("=1", "unknown parameter \"\"");
  expect_rejected("w%00=1", "unknown parameter \"w\\x00\"");  // control bytes are shown escaped
  expect_rejected("w=1&w=1", "w is given more than once");
  expect_rejected("grayscale=true&grayscale=false", "grayscale is given more than once");
  // Long values are cut in messages.
  std::string msg = error_of("w=" + std::string(500, '9'));
  EXPECT_LT(msg.size(), 150u);
  EXPECT_NE(msg.find("...\""), std::string::npos);
}

TEST(ParseQuery, OrderIndependent) {
  EXPECT_EQ(canonical(q("w=1&h=2")), canonical(q("h=2&w=1")));
  EXPECT_EQ(q("w=1&h=2"), q("h=2&w=1"));
  EXPECT_EQ(q("watermark=abc&wm_opacity=0.2&blur=2&fit=cover"), q("fit=cover&blur=2&wm_opacity=0.2&watermark=abc"));
}

TEST(Presets, ExpandAndOverride) {
  const Presets presets = {{"thumb", "w=100&h=100&fit=cover"}, {"wm", "watermark=abc&wm_opacity=0.3"}};
  EXPECT_EQ(q("preset=thumb", presets), q("w=100&h=100&fit=cover"));
  // Explicit parameters win, wherever the preset appears in the URL.
  EXPECT_EQ(q("w=50&preset=thumb", presets), q("w=50&h=100&fit=cover"));
  EXPECT_EQ(q("preset=thumb&fit=contain&format=webp", presets), q("w=100&h=100&fit=contain&format=webp"));
  EXPECT_EQ(q("preset=wm&wm_opacity=0.9", presets).watermark->opacity, 0.9);
  EXPECT_EQ(canonical(q("preset=thumb", presets)), "fit=cover&h=100&w=100");

  try {
    q("preset=nope", presets);
    ADD_FAILURE();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
    EXPECT_EQ(std::string(e.what()), "preset must be a configured preset name (one of thumb, wm), got \"nope\"");
  }
  EXPECT_NE(error_of("preset=x").find("none are configured"), std::string::npos);
  EXPECT_TRUE(error_of("preset=thumb&preset=thumb", presets).starts_with("preset is given more than once"));
}

TEST(Presets, BadPresetsNameThePreset) {
  const Presets presets = {{"broken", "w=0"}, {"nested", "preset=broken"}, {"ok", "w=1"}};
  EXPECT_EQ(error_of("preset=broken", presets),
            "preset \"broken\": w must be an integer from 1 to 16384, got \"0\"");
  EXPECT_NE(error_of("preset=nested", presets).find("cannot use another preset"), std::string::npos);
  EXPECT_THROW(validate_presets(presets), core::Error);
  EXPECT_NO_THROW(validate_presets({{"ok", "w=1"}, {"thumb", "w=100&h=100&fit=cover"}}));
}

TEST(ParseJson, SameSpecAsQuery) {
  auto j = [](std::string_view text) { return parse_json(boost::json::parse(text).as_object()); };
  EXPECT_EQ(j(R"({"w": 300, "h": "200", "fit": "cover", "grayscale": true})"),
            q("w=300&h=200&fit=cover&grayscale=true"));
  EXPECT_EQ(j(R"({"dpr": 1.5, "blur": "2.25", "hue": -90, "rotate": -90, "q": 80.0})"),
            q("dpr=1.5&blur=2.25&hue=270&rotate=270&q=80"));
  EXPECT_EQ(j(R"({"crop": [1, 2, 3, 4], "enlarge": "true", "strip": false, "trim": true})"),
            q("crop=1,2,3,4&enlarge=true&strip=false&trim=true"));
  EXPECT_EQ(j(R"({"crop": "1,2,3,4", "width": 10, "background": "#00ff00", "sig": "x"})"),
            q("crop=1,2,3,4&w=10&bg=00ff00"));
  EXPECT_EQ(j(R"({"gravity": "fp:0.5:0.25", "watermark": "abc", "wm_scale": 0.1, "wm_opacity": 1})"),
            q("gravity=fp:0.5:0.25&watermark=abc&wm_scale=0.1&wm_opacity=1"));
  EXPECT_EQ(j(R"({"blur": 5e-1, "sharpen": 5E0})"), q("blur=0.5&sharpen=5"));  // JSON exponents are numbers
  EXPECT_EQ(canonical(j(R"({"w": 300, "h": 300, "fit": "cover", "format": "webp"})")),
            "fit=cover&format=webp&h=300&w=300");

  const Presets presets = {{"thumb", "w=100&h=100&fit=cover"}};
  EXPECT_EQ(parse_json(boost::json::parse(R"({"preset": "thumb", "w": 50})").as_object(), presets),
            q("preset=thumb&w=50", presets));
}

TEST(ParseJson, RejectsWrongTypes) {
  auto msg = [](std::string_view text) -> std::string {
    try {
      parse_json(boost::json::parse(text).as_object());
    } catch (const core::Error& e) {
      EXPECT_EQ(e.code(), core::ErrorCode::bad_parameter);
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(msg(R"({"w": 1.5})"), "w must be an integer from 1 to 16384, got \"1.5\"");
  EXPECT_EQ(msg(R"({"w": [1]})"), "w must be an integer from 1 to 16384, got a JSON array");
  EXPECT_EQ(msg(R"({"w": null})"), "w must be an integer from 1 to 16384, got a JSON null");
  EXPECT_EQ(msg(R"({"fit": {"a": 1}})"), "fit must be one of inside, contain, cover, fill, outside, got a JSON object");
  EXPECT_TRUE(msg(R"({"crop": [1, 2, 3]})").starts_with("crop must be x,y,w,h"));
  EXPECT_TRUE(msg(R"({"crop": [1, 2, 3, [4]]})").starts_with("crop must be x,y,w,h"));
  EXPECT_TRUE(msg(R"({"grayscale": 2})").starts_with("grayscale must be true, false, 1 or 0"));
  EXPECT_TRUE(msg(R"({"w": 1e400})").starts_with("w must be an integer"));
  EXPECT_TRUE(msg(R"({"nope": 1})").starts_with("unknown parameter \"nope\""));
  EXPECT_TRUE(msg(R"({"w": 1, "width": 2})").starts_with("width is given more than once"));
  EXPECT_TRUE(msg(R"({"preset": 3})").starts_with("preset must be a configured preset name"));
}

TEST(IsTransformParameter, KnowsEveryName) {
  for (auto name : {"w", "h", "width", "height", "dpr", "fit", "gravity", "crop", "enlarge", "rotate", "flip",
                    "autorotate", "blur", "sharpen", "grayscale", "greyscale", "sepia", "negate", "brightness",
                    "saturation", "hue", "contrast", "gamma", "tint", "mask", "watermark", "wm_gravity",
                    "wm_opacity", "wm_scale", "bg", "background", "trim", "format", "q", "quality", "lossless",
                    "progressive", "effort", "strip", "page", "animated", "preset", "fallback", "sig"})
    EXPECT_TRUE(is_transform_parameter(name)) << name;
  EXPECT_FALSE(is_transform_parameter("url"));
  EXPECT_FALSE(is_transform_parameter("W"));
  EXPECT_FALSE(is_transform_parameter(""));
}
