#include "app/sign.hpp"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "ops/sign.hpp"

namespace progimage::app {

namespace {

constexpr const char* kExamples = R"(
Examples:
  progimage sign --secret "$SECRET" '/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp?w=300&h=200&fit=cover'
  progimage sign --expires 1h 'https://img.example.com/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa?w=640&format=auto'
  progimage sign --expires-at 2027-01-01T00:00:00Z --json '/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.avif?w=64'

The secret is the server's --signing-secret: from --secret, else from
PROGIMAGE_SIGNING_SECRETS or the --config file as `progimage serve` reads it
(the first one while secrets rotate). An expiry puts `exp` (Unix seconds)
inside the signature: after it the server answers 403 url_expired.)";

struct Request {
  std::string url, secret, config, expires, expires_at;
  bool json = false;
};

/// The signing secret of the server's settings (environment or TOML file).
std::string configured_secret(const std::string& config_file) {
  std::vector<const char*> args{"progimage"};
  if (!config_file.empty()) args.insert(args.end(), {"--config", config_file.c_str()});
  auto loaded = core::load_config(static_cast<int>(args.size()), args.data());
  if (!loaded.config) throw std::invalid_argument(loaded.output);
  if (loaded.config->signing_secrets.empty() || loaded.config->signing_secrets.front().empty())
    throw std::invalid_argument(
        "no signing secret: pass --secret, or set PROGIMAGE_SIGNING_SECRETS or signing_secret in --config");
  return loaded.config->signing_secrets.front();
}

std::optional<std::int64_t> expiry_of(const Request& r) {
  if (!r.expires.empty()) {
    const auto d = core::parse_duration(r.expires);
    if (!d || d->count() <= 0)
      throw std::invalid_argument("--expires " + r.expires + ": give a duration such as 30m, 1h, 7d or PT1H");
    return core::unix_now() + (d->count() + 999) / 1000;
  }
  if (!r.expires_at.empty()) {
    if (auto t = core::parse_rfc3339(r.expires_at)) return *t;
    try {
      std::size_t used = 0;
      const long long seconds = std::stoll(r.expires_at, &used);
      if (used == r.expires_at.size() && seconds > 0) return seconds;
    } catch (const std::exception&) {
    }
    throw std::invalid_argument("--expires-at " + r.expires_at +
                                ": give an RFC 3339 time (2027-01-01T00:00:00Z) or Unix seconds");
  }
  return std::nullopt;
}

struct Signed {
  std::string url;
  std::optional<std::int64_t> expires;
};

Signed sign_request(const Request& r) {
  const auto parsed = boost::urls::parse_uri_reference(r.url);
  if (!parsed || parsed->encoded_path().empty() || !parsed->encoded_path().starts_with("/"))
    throw std::invalid_argument(r.url + ": give a path with its query (/v1/images/ID.webp?w=300) or a full URL");
  if (parsed->has_fragment()) throw std::invalid_argument(r.url + ": a URL to sign has no #fragment");
  const std::string raw_query = parsed->has_query() ? std::string(parsed->encoded_query()) : std::string();
  const auto expires = expiry_of(r);
  for (const auto& [key, value] : ops::split_query(raw_query)) {
    if (key == "sig") throw std::invalid_argument(r.url + ": already signed (it has sig); sign the URL without it");
    if (key == "exp" && expires) throw std::invalid_argument(r.url + ": it has exp already; drop it or --expires");
  }
  const std::string secret = r.secret.empty() ? configured_secret(r.config) : r.secret;
  return {std::string(parsed->encoded_origin()) + std::string(parsed->encoded_path()) + "?" +
              ops::signed_query(secret, parsed->path(), raw_query, expires),
          expires};
}

void print(const Signed& s, bool as_json) {
  if (!as_json) {
    std::printf("%s\n", s.url.c_str());
    return;
  }
  boost::json::object out{{"url", s.url}, {"exp", nullptr}, {"expires_at", nullptr}};
  if (s.expires) {
    out["exp"] = *s.expires;
    out["expires_at"] = core::format_rfc3339(*s.expires);
  }
  std::printf("%s\n", boost::json::serialize(out).c_str());
}

}  // namespace

int sign(int argc, const char* const* argv) {
  CLI::App app{"Signs a transform URL as the server checks it, optionally with an expiry.", "progimage sign"};
  app.set_help_flag("-h,--help", "print this help and exit");
  app.footer(kExamples);
  Request r;
  app.add_option("url", r.url, "path with its query, or a full URL")->required();
  app.add_option("--secret", r.secret, "URL signing secret (default: the server's, see below)");
  app.add_option("--config", r.config, "TOML settings file to read the secret from [env PROGIMAGE_CONFIG]");
  auto* in = app.add_option("--expires", r.expires, "valid for this long from now: 30m, 1h, 7d, PT1H");
  app.add_option("--expires-at", r.expires_at, "valid until this RFC 3339 time or Unix second")->excludes(in);
  app.add_flag("--json", r.json, "print {\"url\", \"exp\", \"expires_at\"} as JSON");
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    print(sign_request(r), r.json);
    return 0;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "progimage sign: %s\n", e.what());
  } catch (const core::Error& e) {
    std::fprintf(stderr, "progimage sign: %s: %s\n", r.url.c_str(), e.what());
  }
  std::fprintf(stderr, "Run 'progimage sign --help' for examples.\n");
  return 2;
}

}  // namespace progimage::app
