// Resize arithmetic: fit modes, dpr, enlarge, and rotation bounding boxes.
#include "imaging/geometry.hpp"

#include <algorithm>
#include <cmath>

namespace progimage::imaging::detail {

namespace {
int scaled(int size, double s) { return std::max(1, static_cast<int>(std::lround(size * s))); }
}  // namespace

ResizePlan plan_resize(int in_w, int in_h, const ops::TransformSpec& spec) {
  ResizePlan p;
  p.scaled_w = p.out_w = in_w;
  p.scaled_h = p.out_h = in_h;
  if (!spec.width && !spec.height) return p;
  p.resize = true;
  const double dpr = spec.dpr > 0 ? spec.dpr : 1.0;
  const int tw = spec.width ? std::max(1, static_cast<int>(std::lround(*spec.width * dpr))) : 0;
  const int th = spec.height ? std::max(1, static_cast<int>(std::lround(*spec.height * dpr))) : 0;
  const double sx = tw ? double(tw) / in_w : 0;
  const double sy = th ? double(th) / in_h : 0;

  if (!tw || !th) {
    // One side given: the other follows the aspect ratio whatever fit says.
    double s = tw ? sx : sy;
    if (!spec.enlarge) s = std::min(s, 1.0);
    p.scaled_w = (tw && s == sx) ? tw : scaled(in_w, s);
    p.scaled_h = (th && s == sy) ? th : scaled(in_h, s);
    p.out_w = p.scaled_w;
    p.out_h = p.scaled_h;
    return p;
  }
  switch (spec.fit) {
    case ops::Fit::fill: {
      double fx = spec.enlarge ? sx : std::min(sx, 1.0);
      double fy = spec.enlarge ? sy : std::min(sy, 1.0);
      p.scaled_w = fx == sx ? tw : scaled(in_w, fx);
      p.scaled_h = fy == sy ? th : scaled(in_h, fy);
      p.out_w = p.scaled_w;
      p.out_h = p.scaled_h;
      return p;
    }
    case ops::Fit::inside:
    case ops::Fit::contain:
    case ops::Fit::outside:
    case ops::Fit::cover: {
      const bool larger = spec.fit == ops::Fit::outside || spec.fit == ops::Fit::cover;
      const bool by_x = larger ? sx >= sy : sx <= sy;
      double s = by_x ? sx : sy;
      if (!spec.enlarge) s = std::min(s, 1.0);
      // The deciding side lands exactly on the target; the other is rounded.
      p.scaled_w = (by_x && s == sx) ? tw : scaled(in_w, s);
      p.scaled_h = (!by_x && s == sy) ? th : scaled(in_h, s);
      p.out_w = p.scaled_w;
      p.out_h = p.scaled_h;
      if (spec.fit == ops::Fit::cover) {
        p.out_w = std::min(tw, p.scaled_w);
        p.out_h = std::min(th, p.scaled_h);
        p.crop = p.out_w != p.scaled_w || p.out_h != p.scaled_h;
      } else if (spec.fit == ops::Fit::contain) {
        p.out_w = tw;
        p.out_h = th;
        p.pad = p.out_w != p.scaled_w || p.out_h != p.scaled_h;
      }
      return p;
    }
  }
  return p;
}

std::optional<ops::Rect> clip_rect(const ops::Rect& r, int w, int h) {
  const int x0 = std::clamp(r.x, 0, w), y0 = std::clamp(r.y, 0, h);
  const int x1 = std::clamp(r.x + r.w, 0, w), y1 = std::clamp(r.y + r.h, 0, h);
  if (x1 <= x0 || y1 <= y0) return std::nullopt;
  return ops::Rect{x0, y0, x1 - x0, y1 - y0};
}

void rotated_size(int w, int h, int degrees, int& out_w, int& out_h) {
  const int d = ((degrees % 360) + 360) % 360;
  if (d == 0 || d == 180) {
    out_w = w;
    out_h = h;
  } else if (d == 90 || d == 270) {
    out_w = h;
    out_h = w;
  } else {
    const double r = d * M_PI / 180.0;
    const double c = std::abs(std::cos(r)), s = std::abs(std::sin(r));
    // libvips rounds the rotated bounding box to the nearest pixel.
    out_w = static_cast<int>(std::lround(w * c + h * s));
    out_h = static_cast<int>(std::lround(w * s + h * c));
  }
}

void place(const ops::Gravity& g, int w, int h, int cw, int ch, int& left, int& top) {
  const int free_x = std::max(0, w - cw), free_y = std::max(0, h - ch);
  double fx = 0.5, fy = 0.5;
  using K = ops::GravityKind;
  switch (g.kind) {
    case K::north: fy = 0; break;
    case K::south: fy = 1; break;
    case K::east: fx = 1; break;
    case K::west: fx = 0; break;
    case K::northeast: fx = 1; fy = 0; break;
    case K::northwest: fx = 0; fy = 0; break;
    case K::southeast: fx = 1; fy = 1; break;
    case K::southwest: fx = 0; fy = 1; break;
    case K::point:
    case K::focus: {
      // Centre the window on the point, then keep it inside the image.
      left = std::clamp(static_cast<int>(std::lround(g.x * w - cw / 2.0)), 0, free_x);
      top = std::clamp(static_cast<int>(std::lround(g.y * h - ch / 2.0)), 0, free_y);
      return;
    }
    default: break;
  }
  left = static_cast<int>(std::lround(free_x * fx));
  top = static_cast<int>(std::lround(free_y * fy));
}

}  // namespace progimage::imaging::detail
