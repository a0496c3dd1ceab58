#pragma once
// Structured logs: every line on stdout is one JSON object with ts, level and
// msg; a message that is itself a JSON object is merged into the line.
#include <string>
#include <string_view>

namespace progimage::app {

void setup_logging(const std::string& level);

}  // namespace progimage::app
