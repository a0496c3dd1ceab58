#include "fetch/url.hpp"

#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/curl.hpp"

namespace progimage::fetch {

namespace {

using core::Error;
using core::ErrorCode;

std::optional<std::string> get_part(CURLU* url, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, 0) != CURLUE_OK) return std::nullopt;
  core::curl::CurlString owned(raw);
  return std::string(raw);
}

core::curl::Url parse(std::string_view text) {
  core::curl::ensure_curl_initialised();
  core::curl::Url url(curl_url());
  if (!url) throw std::bad_alloc();
  // No flags: no scheme guessing, unknown schemes and spaces refused.
  if (text.find('\0') != std::string_view::npos ||
      curl_url_set(url.get(), CURLUPART_URL, std::string(text).c_str(), 0) != CURLUE_OK)
    return nullptr;
  return url;
}

}  // namespace

RemoteUrl parse_remote_url(std::string_view text) {
  if (text.size() > kMaxUrlLength)
    throw Error(ErrorCode::bad_parameter, "the URL is longer than " + std::to_string(kMaxUrlLength) + " characters");
  auto url = parse(text);
  if (!url) throw Error(ErrorCode::bad_parameter, "the URL is not a valid absolute http or https URL");
  RemoteUrl out;
  out.scheme = get_part(url.get(), CURLUPART_SCHEME).value_or("");
  if (out.scheme != "http" && out.scheme != "https")
    throw Error(ErrorCode::bad_parameter, "URL scheme '" + out.scheme + "' is not allowed (only http and https)");
  // libcurl forgives "http:/host" and "http:///host"; browsers and RFC 3986 do not agree on
  // what those mean, so insist on exactly two slashes.
  const auto rest = text.substr(out.scheme.size());
  if (!rest.starts_with("://") || rest.size() == 3 || rest[3] == '/' || rest[3] == '\\')
    throw Error(ErrorCode::bad_parameter, "the URL must have the form " + out.scheme + "://host/...");
  out.host = get_part(url.get(), CURLUPART_HOST).value_or("");
  if (out.host.empty()) throw Error(ErrorCode::bad_parameter, "the URL has no host");
  auto full = get_part(url.get(), CURLUPART_URL);
  if (!full) throw Error(ErrorCode::bad_parameter, "the URL is not a valid absolute http or https URL");
  out.url = std::move(*full);
  return out;
}

std::string redact_url(std::string_view text) {
  auto url = parse(text);
  if (!url) return "(unparseable URL)";
  curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_OPTIONS, nullptr, 0);
  return get_part(url.get(), CURLUPART_URL).value_or("(unparseable URL)");
}

std::string file_name_from_url(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  auto slash = url.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(url.substr(slash + 1));
}

}  // namespace progimage::fetch
