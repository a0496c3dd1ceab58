// libFuzzer target for the transform parameter grammar: any input either
// fails with core::Error or parses to a spec whose canonical form reads back
// as the same spec. The same bytes go through the query and the JSON spelling.
#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "ops/canonical.hpp"
#include "ops/explain.hpp"
#include "ops/parse.hpp"
#include "ops/sign.hpp"

using namespace progimage;

namespace {

const ops::Presets kPresets = {
    {"thumb", "w=100&h=100&fit=cover"},
    {"wm", "watermark=abc&wm_opacity=0.3&wm_gravity=fp:0.1:0.2"},
};

[[noreturn]] void die(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "ops_fuzz: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_round_trip(ops::TransformSpec spec) {
  spec.fallback.clear();  // not part of the canonical form
  std::string c = ops::canonical(spec);
  try {
    ops::TransformSpec back = ops::parse_query(ops::split_query(c));
    if (!(back == spec)) die("canonical form reads back as another spec", c);
    if (ops::canonical(back) != c) die("canonical form is not a fixed point", c);
  } catch (const core::Error& e) {
    die("canonical form is rejected", std::string(c) + " -> " + e.what());
  }
  (void)ops::explain_steps(spec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::optional<ops::TransformSpec> spec;
  try {
    ops::QueryParams params = ops::split_query(input);
    (void)ops::verify_signature({"secret"}, "/v1/images/abc", params);
    spec = ops::parse_query(params, kPresets);
  } catch (const core::Error&) {
  }
  if (spec) check_round_trip(*spec);

  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(input, ec);
  if (!ec && json.is_object()) {
    spec.reset();
    try {
      spec = ops::parse_json(json.as_object(), kPresets);
    } catch (const core::Error&) {
    }
    if (spec) check_round_trip(*spec);
  }
  return 0;
}
