#pragma once
// JSON text for responses, logs and stored metadata.
#include <boost/json/value.hpp>

#include <string>

namespace progimage::core {

/// The value as compact JSON text, with numbers written the way people and
/// most JSON libraries write them: 24, 0.25, 43.467448, 1e+21. Boost.JSON 1.81's
/// own serializer writes every double in exponent form (2.4E1, 2.5E-1), which is
/// valid JSON but reads badly in an API. Non-finite doubles become null.
std::string json_text(const boost::json::value& v);

}  // namespace progimage::core
