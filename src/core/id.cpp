#include "core/id.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <string_view>

namespace progimage::core {

std::string new_id() {
  static constexpr char abc[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  out.reserve(22);
  unsigned char buf[32];
  while (out.size() < 22) {
    if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
    for (unsigned char c : buf) {
      if (c >= 248) continue;  // reject to keep the 62 symbols uniform
      out.push_back(abc[c % 62]);
      if (out.size() == 22) break;
    }
  }
  return out;
}

bool looks_like_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace progimage::core
