#include "core/id.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include "core/hash.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string_view>

namespace progimage::core {

const std::string& this_node_id() {
  static const std::string id = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "node");
    return std::string(host) + ":" + std::to_string(::getpid()) + ":" + new_id().substr(0, 8);
  }();
  return id;
}

std::string new_secret() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) throw std::runtime_error("RAND_bytes failed");
  return base64_encode(std::string_view(reinterpret_cast<const char*>(buf), sizeof buf), true, false);
}

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

std::string new_request_id() {
  static constexpr char abc[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local const std::string prefix = new_id().substr(0, 12);
  thread_local std::uint64_t counter = 0;
  std::string out = prefix;
  out.resize(22);
  std::uint64_t n = counter++;
  for (std::size_t i = 21; i >= 12; --i, n /= 62) out[i] = abc[n % 62];  // 62^10 requests per thread
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
