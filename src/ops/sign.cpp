#include "ops/sign.hpp"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>

#include "core/hash.hpp"

namespace progimage::ops {

std::string signing_query(const QueryParams& params) {
  QueryParams sorted;
  sorted.reserve(params.size());
  for (const auto& kv : params)
    if (kv.first != "sig") sorted.push_back(kv);
  std::sort(sorted.begin(), sorted.end());  // by key, then value; bytewise
  std::string out;
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += '&';
    out += boost::urls::encode(k, boost::urls::unreserved_chars);
    out += '=';
    out += boost::urls::encode(v, boost::urls::unreserved_chars);
  }
  return out;
}

std::string signing_message(std::string_view path, const QueryParams& params) {
  std::string msg(path);
  msg += '?';
  msg += signing_query(params);
  return msg;
}

std::string sign_url(std::string_view secret, std::string_view path, const QueryParams& params) {
  return core::base64_encode(core::hmac_sha256(secret, signing_message(path, params)), true, false);
}

std::string signed_query(std::string_view secret, std::string_view path, std::string raw_query,
                         std::optional<std::int64_t> expires) {
  if (expires) raw_query += (raw_query.empty() ? "exp=" : "&exp=") + std::to_string(*expires);
  const std::string sig = sign_url(secret, path, split_query(raw_query));
  return raw_query + (raw_query.empty() ? "sig=" : "&sig=") + sig;
}

bool verify_signature(const std::vector<std::string>& secrets, std::string_view path,
                      const QueryParams& params) {
  const std::string* sig = nullptr;
  for (const auto& [k, v] : params) {
    if (k != "sig") continue;
    if (sig) return false;  // two signatures: refuse rather than pick one
    sig = &v;
  }
  if (!sig) return false;
  std::string msg = signing_message(path, params);
  bool ok = false;
  // Every secret is tried, so timing does not tell which one matched.
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;  // an empty key would let anyone sign
    std::string expected = core::base64_encode(core::hmac_sha256(secret, msg), true, false);
    ok |= core::secure_equals(expected, *sig);
  }
  return ok;
}

}  // namespace progimage::ops
