#include "core/config.hpp"
#include "core/tenant.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "core/time.hpp"

namespace progimage::core {

std::optional<Role> parse_role(std::string_view s) {
  if (s == "read") return Role::read;
  if (s == "write") return Role::write;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

std::string_view role_name(Role r) {
  switch (r) {
    case Role::read: return "read";
    case Role::write: return "write";
    case Role::admin: return "admin";
  }
  return "read";
}

std::optional<NodeRole> parse_node_role(std::string_view s) {
  if (s == "all") return NodeRole::all;
  if (s == "api") return NodeRole::api;
  if (s == "worker") return NodeRole::worker;
  return std::nullopt;
}

std::string_view node_role_name(NodeRole r) {
  switch (r) {
    case NodeRole::all: return "all";
    case NodeRole::api: return "api";
    case NodeRole::worker: return "worker";
  }
  return "all";
}

std::string Config::catalog_url() const {
  return catalog.empty() ? "sqlite://" + data + "/catalog.db" : catalog;
}

std::string Config::storage_url() const { return storage.empty() ? "file://" + data : storage; }

namespace {

using Values = std::vector<std::string>;

struct Setting {
  const char* name;  // flag without dashes; the TOML key uses '_' for '-'
  const char* env;
  const char* default_text;
  const char* doc;
  bool repeated;
  std::function<void(Config&, const Values&, const Setting&)> apply;
};

[[noreturn]] void bad(const Setting& s, const std::string& value, const std::string& why) {
  throw std::invalid_argument("--" + std::string(s.name) + " " + value + ": " + why);
}

std::int64_t to_int(const Setting& s, const std::string& v, std::int64_t lo, std::int64_t hi) {
  std::int64_t out = 0;
  std::string_view t = v;
  std::int64_t scale = 1;
  // Byte sizes may carry a binary suffix (K, M, G).
  if (!t.empty()) {
    char last = static_cast<char>(t.back() | 0x20);
    if (last == 'k') scale = 1LL << 10;
    else if (last == 'm') scale = 1LL << 20;
    else if (last == 'g') scale = 1LL << 30;
    if (scale != 1) t.remove_suffix(1);
  }
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  if (ec != std::errc() || p != t.data() + t.size()) bad(s, v, "expected a whole number");
  out *= scale;
  if (out < lo || out > hi)
    bad(s, v, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return out;
}

bool to_switch(const Setting& s, const std::string& v) {
  if (v == "on" || v == "true") return true;
  if (v == "off" || v == "false") return false;
  bad(s, v, "expected on or off");
}

std::chrono::milliseconds to_duration(const Setting& s, const std::string& v) {
  auto d = parse_duration(v);
  if (!d || d->count() <= 0) bad(s, v, "expected a duration such as 10s, 500ms or PT10S");
  return *d;
}

/// KEY:ROLE or KEY:ROLE:TENANT, read from the right (a key may hold colons).
ApiKey parse_api_key(const std::string& item) {
  const auto fail = [&item]() -> ApiKey {
    throw std::invalid_argument("--api-key " + item +
                                ": expected KEY:ROLE or KEY:ROLE:TENANT with ROLE read, write or admin and TENANT "
                                "a tenant name or *");
  };
  auto last = item.rfind(':');
  if (last == std::string::npos || last == 0) return fail();
  if (auto role = parse_role(item.substr(last + 1))) return {item.substr(0, last), *role, std::string(kDefaultTenant)};
  auto tenant = item.substr(last + 1);
  auto middle = item.rfind(':', last - 1);
  if (middle == std::string::npos || middle == 0) return fail();
  auto role = parse_role(item.substr(middle + 1, last - middle - 1));
  if (!role || (tenant != kAllTenants && !is_valid_tenant(tenant))) return fail();
  return {item.substr(0, middle), *role, tenant};
}

std::pair<double, double> parse_rate_limit(const Setting& s, const std::string& item) {
  auto colon = item.find(':');
  double per_second = 0, burst = 0;
  try {
    std::size_t used = 0;
    per_second = std::stod(item.substr(0, colon), &used);
    if (used != colon && colon != std::string::npos) throw std::invalid_argument("trailing");
    burst = colon == std::string::npos ? std::max(1.0, per_second) : std::stod(item.substr(colon + 1));
  } catch (const std::exception&) {
    bad(s, item, "expected PER_SECOND:BURST, e.g. 20:40");
  }
  if (!(per_second > 0) || !(burst >= 1) || per_second > 1e9 || burst > 1e9)
    bad(s, item, "the rate must be above 0 and the burst at least 1");
  return {per_second, burst};
}

TenantQuota parse_tenant_quota(const Setting& s, const std::string& item) {
  auto first = item.find(':');
  auto second = first == std::string::npos ? first : item.find(':', first + 1);
  if (second == std::string::npos) bad(s, item, "expected TENANT:BYTES:IMAGES");
  TenantQuota quota{item.substr(0, first), to_int(s, item.substr(first + 1, second - first - 1), 0, 1LL << 60),
                    to_int(s, item.substr(second + 1), 0, 1LL << 60)};
  if (!is_valid_tenant(quota.tenant)) bad(s, item, "the tenant name is 1-63 of a-z, 0-9, - and _");
  return quota;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {"listen", "PROGIMAGE_LISTEN", "127.0.0.1:8080", "address and port to serve HTTP on", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.listen = v.back(); }},
      {"data", "PROGIMAGE_DATA", "./data", "data directory (catalog, blobs, staging)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.data = v.back(); }},
      {"catalog", "PROGIMAGE_CATALOG", "sqlite://DATA/catalog.db", "catalog URL: sqlite://PATH or postgresql://USER@HOST:PORT/DB[?pool_size=N&...] (libpq URI)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.catalog = v.back(); }},
      {"storage", "PROGIMAGE_STORAGE", "file://DATA", "blob storage URL: file://DIR or s3://BUCKET[?endpoint=URL&region=R&path_style=true&prefix=P&multipart_threshold=16M&create_bucket=true] (see src/storage/README.md)",
       false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.storage = v.back(); }},
      {"s3-access-key-id", "AWS_ACCESS_KEY_ID", "(none)", "access key id of s3:// storage", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.s3_access_key_id = v.back(); }},
      {"s3-secret-access-key", "AWS_SECRET_ACCESS_KEY", "(none)", "secret access key of s3:// storage (never logged)",
       false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.s3_secret_access_key = v.back(); }},
      {"s3-session-token", "AWS_SESSION_TOKEN", "(none)",
       "session token of temporary s3:// credentials, sent as x-amz-security-token", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.s3_session_token = v.back(); }},
      {"s3-region", "AWS_REGION", "AWS_DEFAULT_REGION, else us-east-1",
       "region of s3:// storage (region= in the URL wins)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.s3_region = v.back(); }},
      {"role", "PROGIMAGE_ROLE", "all", "node role: all, api or worker", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         auto role = parse_node_role(v.back());
         if (!role) throw std::invalid_argument("--role " + v.back() + ": expected all, api or worker");
         c.node_role = *role;
       }},
      {"workers", "PROGIMAGE_WORKERS", "2", "background job workers in this process", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.workers = static_cast<int>(to_int(s, v.back(), 0, 256)); }},
      {"job-attempts", "PROGIMAGE_JOB_ATTEMPTS", "3", "attempts per job item before it fails for good (variants get 3)",
       false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.job_attempts = static_cast<int>(to_int(s, v.back(), 1, 100));
       }},
      {"job-lease", "PROGIMAGE_JOB_LEASE", "60s",
       "how long a worker owns a claimed job item; a dead worker's items run again after it", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.job_lease = to_duration(s, v.back()); }},
      {"job-backoff", "PROGIMAGE_JOB_BACKOFF", "1s", "delay before a failed job item is retried, doubled per attempt",
       false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.job_backoff = to_duration(s, v.back()); }},
      {"job-output-retention", "PROGIMAGE_JOB_OUTPUT_RETENTION", "24h",
       "how long a job keeps results it does not store as images (remote sources with store: false)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.job_output_retention = to_duration(s, v.back());
       }},
      {"callback-secret", "PROGIMAGE_CALLBACK_SECRET", "(generated once, kept in the catalog)",
       "HMAC-SHA256 key of the X-ProgImage-Signature header on job callbacks", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.callback_secret = v.back(); }},
      {"io-threads", "PROGIMAGE_IO_THREADS", "0", "HTTP I/O threads (0: one per core)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.io_threads = static_cast<int>(to_int(s, v.back(), 0, 256)); }},
      {"processing-threads", "PROGIMAGE_PROCESSING_THREADS", "0", "image processing threads (0: one per core)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.processing_threads = static_cast<int>(to_int(s, v.back(), 0, 256));
       }},
      {"processing-queue", "PROGIMAGE_PROCESSING_QUEUE", "64",
       "image tasks that may wait for a processing thread before requests get 503 overloaded", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.processing_queue = static_cast<int>(to_int(s, v.back(), 0, 1'000'000));
       }},
      {"api-key", "PROGIMAGE_API_KEYS", "(none: open server)",
       "API key as KEY:ROLE[:TENANT] (role read, write or admin; tenant * for an operator key); repeatable", true,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.api_keys.clear();
         for (const auto& item : v) c.api_keys.push_back(parse_api_key(item));
       }},
      {"jwt-secret", "PROGIMAGE_JWT_SECRETS", "(none)",
       "HS256 secret (32 bytes or more) of bearer tokens that applications mint; repeatable", true,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.jwt_secrets = v; }},
      {"jwt-jwks", "PROGIMAGE_JWT_JWKS", "(none)", "JWKS file of the RS256/ES256 public keys of bearer tokens", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.jwt_jwks = v.back(); }},
      {"jwt-issuer", "PROGIMAGE_JWT_ISSUER", "(any)", "the iss that bearer tokens must carry", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.jwt_issuer = v.back(); }},
      {"jwt-audience", "PROGIMAGE_JWT_AUDIENCE", "(none)", "the aud that bearer tokens must carry", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.jwt_audience = v.back(); }},
      {"token-rate-limit", "PROGIMAGE_TOKEN_RATE_LIMIT", "(none)",
       "request rate of each bearer-token subject as PER_SECOND:BURST, e.g. 20:40 (over it: 429)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.token_rate_limit = parse_rate_limit(s, v.back());
       }},
      {"tenant-quota", "PROGIMAGE_TENANT_QUOTAS", "(none)",
       "storage limit of a tenant as TENANT:BYTES:IMAGES (0: no limit; BYTES may say 10G); repeatable", true,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.tenant_quotas.clear();
         for (const auto& item : v) c.tenant_quotas.push_back(parse_tenant_quota(s, item));
       }},
      {"usage-flush", "PROGIMAGE_USAGE_FLUSH", "10s",
       "how often usage counters are written to the catalog (a crash loses at most this much)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.usage_flush = std::max(to_duration(s, v.back()), std::chrono::milliseconds(100));
       }},
      {"signing-secret", "PROGIMAGE_SIGNING_SECRETS", "(none: URLs unsigned)",
       "secret for signed transform URLs; repeat (or comma-separate) to rotate", true,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.signing_secrets = v; }},
      {"fetch-allow", "PROGIMAGE_FETCH_ALLOW", "(none)",
       "CIDR exempt from the remote-address guard, e.g. 127.0.0.0/8; repeatable", true,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.fetch_allow = v; }},
      {"max-upload-bytes", "PROGIMAGE_MAX_UPLOAD_BYTES", "50M", "largest request body accepted", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.max_upload_bytes = to_int(s, v.back(), 1, 1LL << 40); }},
      {"resumable-expiry", "PROGIMAGE_RESUMABLE_EXPIRY", "24h",
       "how long an unfinished resumable (tus) upload is kept before its bytes are removed", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.resumable_expiry = to_duration(s, v.back()); }},
      {"max-pixels", "PROGIMAGE_MAX_PIXELS", "100000000", "largest image accepted or produced, in pixels (all frames)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.max_pixels = to_int(s, v.back(), 1, 1LL << 40); }},
      {"max-frames", "PROGIMAGE_MAX_FRAMES", "256", "most animation frames or pages accepted", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.max_frames = static_cast<int>(to_int(s, v.back(), 1, 100000)); }},
      {"max-output-dimension", "PROGIMAGE_MAX_OUTPUT_DIMENSION", "16384", "largest output width or height", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.max_output_dimension = static_cast<int>(to_int(s, v.back(), 1, 100000));
       }},
      {"transform-timeout", "PROGIMAGE_TRANSFORM_TIMEOUT", "10s", "time limit for one image operation", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.transform_timeout = to_duration(s, v.back()); }},
      {"cache-bytes", "PROGIMAGE_CACHE_BYTES", "1G", "derivative cache budget in bytes (0 turns the cache off)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.cache_bytes = to_int(s, v.back(), 0, 1LL << 50); }},
      {"memory-cache-bytes", "PROGIMAGE_MEMORY_CACHE_BYTES", "128M",
       "memory for recently served derivatives and small originals, half each (0 turns it off)", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.memory_cache_bytes = to_int(s, v.back(), 0, 1LL << 40);
       }},
      {"working-copies", "PROGIMAGE_WORKING_COPIES", "on",
       "on: large images get reduced working copies that smaller renders decode instead; off: renders decode originals",
       false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.working_copies = to_switch(s, v.back()); }},
      {"fetch-max-bytes", "PROGIMAGE_FETCH_MAX_BYTES", "10M", "largest remote image fetched", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.fetch_max_bytes = to_int(s, v.back(), 1, 1LL << 40); }},
      {"fetch-timeout", "PROGIMAGE_FETCH_TIMEOUT", "10s", "total time limit for a remote fetch", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.fetch_timeout = to_duration(s, v.back()); }},
      {"fetch-max-redirects", "PROGIMAGE_FETCH_MAX_REDIRECTS", "3", "redirects followed by a remote fetch", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) {
         c.fetch_max_redirects = static_cast<int>(to_int(s, v.back(), 0, 20));
       }},
      {"request-timeout", "PROGIMAGE_REQUEST_TIMEOUT", "30s", "idle time limit for reading a request", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.request_timeout = to_duration(s, v.back()); }},
      {"shutdown-grace", "PROGIMAGE_SHUTDOWN_GRACE", "10s", "time in-flight requests get to finish on SIGTERM", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.shutdown_grace = to_duration(s, v.back()); }},
      {"log-level", "PROGIMAGE_LOG_LEVEL", "info", "trace, debug, info, warn, error or off", false,
       [](Config& c, const Values& v, [[maybe_unused]] const Setting& s) { c.log_level = v.back(); }},
  };
  return table;
}

std::string toml_key(const char* name) {
  std::string k = name;
  for (auto& ch : k)
    if (ch == '-') ch = '_';
  return k;
}

Values split_commas(const std::string& s) {
  Values out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::optional<Values> toml_values(const toml::table& t, const Setting& s) {
  const toml::node* n = t.get(toml_key(s.name));
  if (!n) n = t.get(s.name);
  if (!n) return std::nullopt;
  auto scalar = [](const toml::node& node) -> std::string {
    if (auto v = node.value<std::string>()) return *v;
    if (auto v = node.value<std::int64_t>()) return std::to_string(*v);
    if (auto v = node.value<double>()) return std::to_string(*v);
    if (auto v = node.value<bool>()) return *v ? "true" : "false";
    throw std::invalid_argument("unsupported TOML value");
  };
  Values out;
  if (auto arr = n->as_array()) {
    for (const auto& e : *arr) out.push_back(scalar(e));
  } else {
    out.push_back(scalar(*n));
  }
  return out;
}

}  // namespace

ConfigResult load_config(int argc, const char* const* argv) {
  CLI::App app{"ProgImage: programmatic image storage and processing service.\n"
               "Every setting is a flag, a PROGIMAGE_* environment variable or a key in the TOML\n"
               "file given by --config (flags win over the environment, the environment over the file).\n"
               "Other commands: `progimage check` (is a node's data sound?), `progimage migrate` (bring\n"
               "the catalog's schema up to date) and `progimage sign` (signed, expiring transform URLs);\n"
               "each has --help.",
               "progimage serve"};
  app.set_help_flag("-h,--help", "print this help and exit");
  std::string config_file;
  app.add_option("--config", config_file, "TOML file with settings (keys as below, '-' written '_') [env PROGIMAGE_CONFIG]");

  const auto& table = settings();
  std::vector<Values> raw(table.size());
  std::vector<CLI::Option*> opts(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& s = table[i];
    std::string doc = std::string(s.doc) + " [default " + s.default_text + "] [env " + s.env + "]";
    opts[i] = app.add_option(std::string("--") + s.name, raw[i], doc);
    if (s.repeated) opts[i]->delimiter(',');
    opts[i]->type_name(s.repeated ? "VALUE ..." : "VALUE");
  }

  // Accept both `progimage serve ...` and `progimage ...`.
  std::vector<std::string> args;
  for (int i = argc - 1; i >= 1; --i) args.emplace_back(argv[i]);
  if (!args.empty() && args.back() == "serve") args.pop_back();

  ConfigResult result;
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    result.output = app.help();
    return result;
  } catch (const CLI::ParseError& e) {
    result.exit_code = 2;
    result.output = std::string(e.what()) + "\nRun 'progimage serve --help' for the settings.";
    return result;
  }

  if (config_file.empty())
    if (const char* v = std::getenv("PROGIMAGE_CONFIG")) config_file = v;

  Config cfg;
  try {
    toml::table file;
    if (!config_file.empty()) file = toml::parse_file(config_file);
    for (std::size_t i = 0; i < table.size(); ++i) {
      const auto& s = table[i];
      std::optional<Values> values;
      if (opts[i]->count() > 0) {
        values = raw[i];
      } else if (const char* v = std::getenv(s.env); v && *v) {
        values = s.repeated ? split_commas(v) : Values{v};
      } else {
        values = toml_values(file, s);
      }
      if (values && !values->empty()) s.apply(cfg, *values, s);
    }
    for (auto [section, target] : {std::pair{"presets", &cfg.presets}, std::pair{"variants", &cfg.variants}}) {
      if (auto* t = file.get_as<toml::table>(section))
        for (const auto& [k, v] : *t)
          if (auto q = v.value<std::string>()) (*target)[std::string(k.str())] = *q;
    }
  } catch (const toml::parse_error& e) {
    result.exit_code = 2;
    std::ostringstream os;
    os << "config file " << config_file << ": " << e.description() << " at line " << e.source().begin.line;
    result.output = os.str();
    return result;
  } catch (const std::exception& e) {
    result.exit_code = 2;
    result.output = std::string(e.what()) + "\nRun 'progimage serve --help' for the settings.";
    return result;
  }
  if (cfg.s3_region.empty()) {
    const char* fallback = std::getenv("AWS_DEFAULT_REGION");
    cfg.s3_region = fallback && *fallback ? fallback : "us-east-1";
  }
  if (cfg.variants.empty())
    cfg.variants = {{"thumb", "w=100&h=100&fit=cover"}, {"small", "h=240"}, {"medium", "h=720"}};
  result.config = std::move(cfg);
  return result;
}

std::string settings_reference_markdown() {
  std::ostringstream os;
  os << "| flag | environment | default | meaning |\n|---|---|---|---|\n";
  for (const auto& s : settings())
    os << "| `--" << s.name << "` | `" << s.env << "` | " << s.default_text << " | " << s.doc << " |\n";
  return os.str();
}

}  // namespace progimage::core
