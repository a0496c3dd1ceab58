// Fuzzes the Upload-Metadata parser of the tus framing. A header must parse
// or give a reason, never crash; what parses must format back into a header
// that parses to the same pairs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/tus.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace progimage::http::tus;
  std::string_view header(reinterpret_cast<const char*>(data), size);
  auto first = parse_metadata(header);
  if (!first.error.empty()) {
    check(first.pairs.empty() || first.pairs.size() < size);
    return 0;
  }
  for (const auto& p : first.pairs) check(!p.key.empty() && p.key.find_first_of(" ,") == std::string::npos);
  auto again = parse_metadata(format_metadata(first.pairs));
  check(again.error.empty());
  check(again.pairs == first.pairs);
  return 0;
}
