#include "service/render_plan.hpp"

#include <cstdlib>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/hash.hpp"
#include "core/text.hpp"
#include "ops/canonical.hpp"

namespace progimage::service {

using core::Error;
using core::ErrorCode;

namespace {

std::string output_format(const core::ImageRecord& image, const ops::TransformSpec& spec,
                          std::string_view extension, std::string_view accept, bool& vary) {
  std::string format;
  if (!extension.empty()) {
    auto f = core::output_format_for_extension(extension);
    if (!f)
      throw Error(ErrorCode::bad_parameter,
                  "unknown extension ." + std::string(extension) + "; use " + core::output_extensions_text());
    format = *f;
  }
  vary = spec.format == "auto";
  if (vary) {
    if (format.empty()) format = negotiate_format(accept, image.has_alpha);
  } else if (!spec.format.empty()) {
    format = spec.format;
  }
  if (format.empty()) format = core::is_output_format(image.format) ? image.format : "png";
  return format;
}

/// The stored facts beyond the bytes that this spec makes the render read.
std::string stored_inputs(const core::ImageRecord& image, const ops::TransformSpec& spec) {
  const auto g = spec.gravity.kind;
  if (g != ops::GravityKind::focus && g != ops::GravityKind::smart) return {};
  if (!image.focus) return "focus=none";
  return "focus=" + ops::format_number(image.focus->x) + "," + ops::format_number(image.focus->y);
}

/// True when the Accept header names `mime` itself with a q-value above 0.
/// Wildcards do not count: */* does not promise that a client decodes AVIF.
bool accepts_explicitly(std::string_view accept, std::string_view mime) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  while (!accept.empty()) {
    auto comma = accept.find(',');
    auto range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    auto semi = range.find(';');
    if (!core::iequals(trim(range.substr(0, semi)), mime)) continue;
    double q = 1;
    while (semi != std::string_view::npos) {
      range.remove_prefix(semi + 1);
      semi = range.find(';');
      auto param = trim(range.substr(0, semi));
      if (param.size() > 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
        q = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
    }
    if (q > 0) return true;
  }
  return false;
}

}  // namespace

RenderPlan plan_render(const core::ImageRecord& image, ops::TransformSpec spec, std::string_view extension,
                       std::string_view accept) {
  RenderPlan plan;
  plan.format = output_format(image, spec, extension, accept, plan.vary_accept);
  plan.original = ops::is_identity(spec) && plan.format == image.format && !plan.vary_accept;
  spec.format = plan.format;
  spec.fallback.clear();
  plan.canonical = ops::canonical(spec);
  plan.key = derivative_key(image, plan.canonical, plan.format, spec);
  plan.spec = std::move(spec);
  return plan;
}

std::string negotiate_format(std::string_view accept, bool has_alpha) {
  if (accepts_explicitly(accept, "image/avif")) return "avif";
  if (accepts_explicitly(accept, "image/webp")) return "webp";
  return has_alpha ? "png" : "jpeg";
}

std::string derivative_key(const core::ImageRecord& image, const std::string& canonical, const std::string& format,
                           const ops::TransformSpec& spec) {
  // The tenant too: a hit must never tell one tenant that another rendered
  // the same bytes the same way.
  std::string text = image.sha256 + "\n" + canonical + "\n" + format + "\n" + image.tenant;
  if (auto inputs = stored_inputs(image, spec); !inputs.empty()) text += "\n" + inputs;
  return core::sha256_hex(text);
}

}  // namespace progimage::service
