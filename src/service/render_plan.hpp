#pragma once
// One plan per render, made in one place: which spec, which output format,
// which canonical form and which derivative key. The read path, POST
// /v1/transform, /explain, variants and job workers all render from a plan,
// so that equal requests share one cached derivative whichever path made it.
// Pure code: no I/O.
#include <string>
#include <string_view>

#include "core/image.hpp"
#include "ops/spec.hpp"

namespace progimage::service {

struct RenderPlan {
  ops::TransformSpec spec;   // presets expanded, format concrete, fallback cleared
  std::string format;        // concrete output format ("jpeg", never "auto")
  std::string canonical;     // ops::canonical(spec): the derivative's parameters
  std::string key;           // derivative cache key (hex)
  bool vary_accept = false;  // format=auto chose by the Accept header: answer with Vary: Accept
  bool original = false;     // nothing to change: the original bytes are the answer
};

/// Plans `spec` (parsed, presets expanded) for `image`. `extension` is the
/// URL's extension ("" for none); `accept` is the Accept header, used when
/// the spec says format=auto. An explicit `format=` wins over the extension.
/// Without either, the output keeps the source's format when it can be
/// written, else PNG. Throws core::Error(bad_parameter) for an unknown
/// extension.
RenderPlan plan_render(const core::ImageRecord& image, ops::TransformSpec spec, std::string_view extension = {},
                       std::string_view accept = {});

/// The format=auto choice: AVIF, then WebP when the Accept header admits
/// them (q=0 refuses), else PNG for sources with alpha and JPEG without.
std::string negotiate_format(std::string_view accept, bool has_alpha);

/// The cache key of a render: the source bytes, the canonical parameters,
/// the output format, the image's tenant (no tenant ever hits another's
/// render), and the stored inputs the render reads (the focal point, for
/// gravity=focus and gravity=smart), so that changing one of them never
/// serves an earlier render.
std::string derivative_key(const core::ImageRecord& image, const std::string& canonical, const std::string& format,
                           const ops::TransformSpec& spec);

}  // namespace progimage::service
