// URL signatures as the server checks them (src/ops/README.md, "URL signatures").
#include <algorithm>

#include "encode.hpp"
#include "progimage/client.hpp"

namespace progimage {

std::string sign_url(std::string_view secret, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> sorted;
  sorted.reserve(params.size());
  for (const auto& kv : params)
    if (kv.first != "sig") sorted.push_back(kv);
  std::sort(sorted.begin(), sorted.end());  // by key, then value; bytewise
  std::string message(path);
  message += '?';
  message += detail::query_string(sorted);
  return detail::base64url_nopad(detail::hmac_sha256(secret, message));
}

}  // namespace progimage
