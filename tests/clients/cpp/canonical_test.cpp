// The builder's query() is exactly the server's canonical form: compared
// with what /explain reports for the same parameters.
#include "support.hpp"

namespace progimage::clients_test {
namespace {

TEST(ClientCanonical, QueryEqualsExplainCanonicalOverVariedTransforms) {
  Server server;
  ASSERT_TRUE(server.start());
  Client c(options_for(server.base_url()));
  const std::string id = c.upload_file(corpus("exif-orientation/Landscape_1.jpg")).id;
  const std::string mark = c.upload_file(corpus("pngsuite/basn6a08.png")).id;

  using T = Transform;
  const std::vector<Transform> cases = {
      T{}.width(300).format(Format::webp),
      T{}.width(300).height(200).fit(Fit::cover).gravity(Gravity::smart).format(Format::jpeg),
      T{}.height(100).dpr(2.5).format(Format::png),
      T{}.width(50).fit(Fit::contain).background(Color{255, 0, 0, 128}).format(Format::png),
      T{}.width(64).focal_point(0.3, 0.7).fit(Fit::cover).height(64).format(Format::avif),
      T{}.crop(10, 20, 300, 200).format(Format::webp),
      T{}.rotate(-90).flip(Flip::hv).format(Format::jpeg),
      T{}.rotate(45).background(Color{1, 2, 3}).width(80).format(Format::png),
      T{}.blur(1.23456789).sharpen(0.5).width(90).format(Format::jpeg),
      T{}.brightness(1.1).saturation(0.5).hue(-45.5).contrast(1.2).gamma(2.2).format(Format::webp),
      T{}.grayscale().sepia().negate().width(70).format(Format::png),
      T{}.tint(Color{0x12, 0xab, 0xef}).width(60).format(Format::jpeg),
      T{}.mask_circle().width(50).format(Format::png),
      T{}.mask_rounded(8).width(50).format(Format::webp),
      T{}.mask_image(mark).width(50).format(Format::png),
      T{}.watermark(mark, Gravity::northwest, 0.8, 0.1).width(200).format(Format::jpeg),
      T{}.watermark(mark).width(200).format(Format::jpeg),
      T{}.trim(25).width(100).format(Format::png),
      T{}.quality(55).progressive().strip(false).width(100).format(Format::jpeg),
      T{}.lossless().effort(3).width(40).format(Format::webp),
      T{}.enlarge().width(4000).autorotate(false).fit(Fit::outside).height(10).format(Format::jpeg),
      T{}.page(0).animated().width(30).format(Format::gif),
      T{}.dpr(1).fit(Fit::inside).rotate(720).format(Format::tiff),
      T::parse("width=120&quality=70&greyscale=1&background=FFFFFF&format=jpg&hue=400&gravity=centre"),
  };
  ASSERT_GE(cases.size(), 20u);
  for (const Transform& t : cases) {
    try {
      EXPECT_EQ(c.explain(id, t).canonical, t.query());
    } catch (const Error& e) {
      ADD_FAILURE() << t.query() << ": " << e.code() << " " << e.what();
    }
  }
}

}  // namespace
}  // namespace progimage::clients_test
