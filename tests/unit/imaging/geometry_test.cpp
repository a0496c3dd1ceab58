// Resize arithmetic shared by render() and explain().
#include <gtest/gtest.h>

#include "imaging/geometry.hpp"

namespace progimage::imaging::detail {
namespace {

ops::TransformSpec box(std::optional<int> w, std::optional<int> h, ops::Fit fit = ops::Fit::inside) {
  ops::TransformSpec s;
  s.width = w;
  s.height = h;
  s.fit = fit;
  return s;
}

TEST(Geometry, NoSizeKeepsTheImage) {
  auto p = plan_resize(1920, 1080, ops::TransformSpec{});
  EXPECT_FALSE(p.resize);
  EXPECT_EQ(p.out_w, 1920);
  EXPECT_EQ(p.out_h, 1080);
}

TEST(Geometry, OneSideFollowsAspect) {
  auto p = plan_resize(1920, 1080, box(300, std::nullopt, ops::Fit::cover));
  EXPECT_EQ(p.out_w, 300);
  EXPECT_EQ(p.out_h, 169);
  p = plan_resize(1920, 1080, box(std::nullopt, 540));
  EXPECT_EQ(p.out_w, 960);
  EXPECT_EQ(p.out_h, 540);
}

TEST(Geometry, FitModes) {
  auto inside = plan_resize(1920, 1080, box(300, 300));
  EXPECT_EQ(inside.out_w, 300);
  EXPECT_EQ(inside.out_h, 169);
  auto cover = plan_resize(1920, 1080, box(300, 300, ops::Fit::cover));
  EXPECT_EQ(cover.scaled_w, 533);
  EXPECT_EQ(cover.scaled_h, 300);
  EXPECT_TRUE(cover.crop);
  EXPECT_EQ(cover.out_w, 300);
  EXPECT_EQ(cover.out_h, 300);
  auto contain = plan_resize(1920, 1080, box(300, 300, ops::Fit::contain));
  EXPECT_TRUE(contain.pad);
  EXPECT_EQ(contain.scaled_h, 169);
  EXPECT_EQ(contain.out_w, 300);
  EXPECT_EQ(contain.out_h, 300);
  auto fill = plan_resize(1920, 1080, box(300, 300, ops::Fit::fill));
  EXPECT_EQ(fill.out_w, 300);
  EXPECT_EQ(fill.out_h, 300);
  auto outside = plan_resize(1920, 1080, box(300, 300, ops::Fit::outside));
  EXPECT_EQ(outside.out_w, 533);
  EXPECT_EQ(outside.out_h, 300);
}

TEST(Geometry, NoEnlargeUnlessAsked) {
  auto p = plan_resize(100, 50, box(400, std::nullopt));
  EXPECT_EQ(p.out_w, 100);
  EXPECT_EQ(p.out_h, 50);
  auto s = box(400, std::nullopt);
  s.enlarge = true;
  p = plan_resize(100, 50, s);
  EXPECT_EQ(p.out_w, 400);
  EXPECT_EQ(p.out_h, 200);
  // cover without enlarge on a small image crops to what exists
  p = plan_resize(100, 50, box(80, 80, ops::Fit::cover));
  EXPECT_EQ(p.out_w, 80);
  EXPECT_EQ(p.out_h, 50);
}

TEST(Geometry, DprMultiplies) {
  auto s = box(150, std::nullopt);
  s.dpr = 2;
  auto p = plan_resize(1920, 1080, s);
  EXPECT_EQ(p.out_w, 300);
}

TEST(Geometry, RotatedBoundingBox) {
  int w = 0, h = 0;
  rotated_size(300, 200, 90, w, h);
  EXPECT_EQ(w, 200);
  EXPECT_EQ(h, 300);
  rotated_size(300, 200, -180, w, h);
  EXPECT_EQ(w, 300);
  rotated_size(100, 100, 45, w, h);
  EXPECT_EQ(w, 141);
  EXPECT_EQ(h, 141);
}

TEST(Geometry, PlaceByGravity) {
  int left = 0, top = 0;
  place(ops::Gravity{ops::GravityKind::southeast}, 100, 80, 30, 20, left, top);
  EXPECT_EQ(left, 70);
  EXPECT_EQ(top, 60);
  place(ops::Gravity{ops::GravityKind::center}, 100, 80, 30, 20, left, top);
  EXPECT_EQ(left, 35);
  EXPECT_EQ(top, 30);
  place(ops::Gravity{ops::GravityKind::point, 0.0, 1.0}, 100, 80, 30, 20, left, top);
  EXPECT_EQ(left, 0);
  EXPECT_EQ(top, 60);
}

}  // namespace
}  // namespace progimage::imaging::detail
