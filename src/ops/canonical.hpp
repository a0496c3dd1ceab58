#pragma once
// The canonical query string of a spec (the derivative cache key) and the
// canonical spelling of each value.
#include <string>

#include "ops/parse.hpp"
#include "ops/spec.hpp"

namespace progimage::ops {

/// Non-default parameters only, sorted by key, values in canonical spelling,
/// e.g. "fit=cover&format=webp&h=300&w=300". Needs no percent-encoding.
/// `fallback` and `sig` are left out (they do not change the pixels), so
/// parse_query(split_query(canonical(s))) == s for every parsed s whose
/// fallback is empty. The identity spec gives "".
std::string canonical(const TransformSpec& spec);
/// The same as pairs, sorted by key.
QueryParams canonical_params(const TransformSpec& spec);

/// True when only `format` (and `fallback`) differ from the defaults: the
/// output is the source re-encoded. Encoder options such as q or strip=false
/// make it false, since they change the bytes.
bool is_identity(const TransformSpec& spec);

/// Shortest decimal that reads back as the same double, never in exponent
/// form and without trailing zeros: 2 -> "2", 1.5 -> "1.5", -0 -> "0".
std::string format_number(double value);

// Canonical spellings, as used in canonical() and explain_steps().
std::string to_string(Fit fit);
std::string to_string(Flip flip);            // "" for none
std::string to_string(const Gravity& g);     // "center", ..., "fp:0.3:0.7"
std::string to_string(const Color& c);       // "rrggbb" or "rrggbbaa" (alpha < 255), lower case
std::string to_string(const Mask& m);        // "" for none, "circle", "rounded:12", "image:ID"
std::string to_string(const Rect& r);        // "x,y,w,h"

}  // namespace progimage::ops
