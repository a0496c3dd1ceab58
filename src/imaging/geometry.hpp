#pragma once
// Output geometry of the resize step, shared by render() and explain() so the
// dry run predicts exactly what the pipeline produces. Pure code.
#include <optional>

#include "ops/spec.hpp"

namespace progimage::imaging::detail {

struct ResizePlan {
  bool resize = false;  // false: no w/h given, sizes unchanged
  int scaled_w = 0, scaled_h = 0;  // after scaling
  int out_w = 0, out_h = 0;        // after the cover crop or the contain padding
  bool crop = false, pad = false;
};

/// The resize step for an input of in_w x in_h (after orientation, crop, trim).
ResizePlan plan_resize(int in_w, int in_h, const ops::TransformSpec& spec);

/// The part of `r` inside a w x h image; nullopt when nothing of it is.
std::optional<ops::Rect> clip_rect(const ops::Rect& r, int w, int h);

/// Size of a w x h image rotated by `degrees` clockwise (bounding box for non-right angles).
void rotated_size(int w, int h, int degrees, int& out_w, int& out_h);

/// A rectangle of size (cw, ch) placed in (w, h) by a gravity: its top-left corner.
void place(const ops::Gravity& g, int w, int h, int cw, int ch, int& left, int& top);

}  // namespace progimage::imaging::detail
