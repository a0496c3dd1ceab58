#pragma once
// Parsing transform parameters (API.md "Transform parameters") into a
// TransformSpec. Pure code: no I/O, no clock, no global state.
#include <boost/json/object.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/spec.hpp"

namespace progimage::ops {

/// Decoded query pairs in URL order.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
/// Named presets from the configuration: name -> query string ("w=100&h=100&fit=cover").
using Presets = std::map<std::string, std::string>;

/// Splits a raw (still percent-encoded) query string, without the leading '?',
/// into decoded pairs in order. '+' decodes to a space; a parameter without
/// '=' has an empty value; empty components ("a=1&&b=2", a leading or
/// trailing '&', a bare "?") are not parameters. Every query the server reads
/// (URLs, job and variant parameter strings) is split here, so a signature
/// covers exactly what is parsed. Throws core::Error(bad_parameter) on
/// malformed percent-encoding or characters a query may not contain.
QueryParams split_query(std::string_view raw_query);

/// Parses decoded query pairs. `sig` is ignored (see verify_signature);
/// `preset=NAME` expands presets.at(NAME) first and explicit parameters
/// override it. Throws core::Error(bad_parameter) naming the parameter and
/// what it accepts for anything unknown, invalid or repeated.
TransformSpec parse_query(const QueryParams& params, const Presets& presets = {});

/// The JSON spelling of the same parameters: {"w": 300, "fit": "cover",
/// "grayscale": true}. Numbers may be JSON numbers or strings, booleans JSON
/// booleans or strings; `crop` may also be an array [x, y, w, h]. Produces the
/// same spec as the equivalent query. Throws like parse_query.
TransformSpec parse_json(const boost::json::object& params, const Presets& presets = {});

/// True for every parameter name parse_query understands (aliases, `preset`,
/// `sig` and `fallback` included), so a handler can tell its own query
/// parameters (e.g. `url`) from transform ones.
bool is_transform_parameter(std::string_view name) noexcept;

/// Parses every preset once so a bad configuration fails at start rather than
/// per request. Throws core::Error(bad_parameter) naming the preset.
void validate_presets(const Presets& presets);

}  // namespace progimage::ops
