#pragma once
// All settings of the service, read from one table by flags, PROGIMAGE_*
// environment variables and a TOML file (flags win over the environment,
// the environment over the file).
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace progimage::core {

enum class Role { read, write, admin };
std::optional<Role> parse_role(std::string_view s);
std::string_view role_name(Role r);

/// What a node does: `all` serves the API and runs workers; `api` serves the
/// API only; `worker` runs workers and answers only health and metrics.
enum class NodeRole { all, api, worker };
std::optional<NodeRole> parse_node_role(std::string_view s);
std::string_view node_role_name(NodeRole r);
/// Whether a node of this role serves the /v1 API or runs job workers.
constexpr bool serves_api(NodeRole r) noexcept { return r != NodeRole::worker; }
constexpr bool runs_workers(NodeRole r) noexcept { return r != NodeRole::api; }

/// A key of the configuration (`--api-key KEY:ROLE[:TENANT]`), for bootstrap.
struct ApiKey {
  std::string key;
  Role role;
  std::string tenant = "default";  // "*": an operator key that sees every tenant
};

/// A tenant's storage limits (`--tenant-quota TENANT:BYTES:IMAGES`); 0 is no limit.
struct TenantQuota {
  std::string tenant;
  std::int64_t bytes = 0;
  std::int64_t images = 0;
};

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string data = "./data";
  std::string catalog;  // empty: sqlite://<data>/catalog.db
  std::string storage;  // empty: file://<data>
  // Credentials and region of an s3:// storage (the AWS variables by default).
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_session_token;
  std::string s3_region;  // empty after loading only when set so; load_config() falls back to AWS_DEFAULT_REGION, us-east-1
  NodeRole node_role = NodeRole::all;
  int workers = 2;
  int job_attempts = 3;                       // attempts per job item before it fails for good
  std::chrono::milliseconds job_lease{60'000};   // how long a worker owns a claimed item
  std::chrono::milliseconds job_backoff{1'000};  // first retry delay, doubled per attempt
  std::chrono::milliseconds job_output_retention{24 * 3600'000};  // kept results of store: false URL jobs
  std::string callback_secret;  // empty: one generated at first start and kept in the catalog
  int io_threads = 0;          // 0: one per core
  int processing_threads = 0;  // 0: one per core
  int processing_queue = 64;   // waiting image tasks before 503
  std::vector<ApiKey> api_keys;
  std::vector<std::string> jwt_secrets;  // HS256
  std::string jwt_jwks;                  // file of RS256/ES256 public keys
  std::string jwt_issuer;
  std::string jwt_audience;
  std::optional<std::pair<double, double>> token_rate_limit;  // per second, burst: each token subject
  std::vector<TenantQuota> tenant_quotas;
  std::chrono::milliseconds usage_flush{10'000};  // how often usage counters reach the catalog
  std::vector<std::string> signing_secrets;
  std::vector<std::string> fetch_allow;  // CIDRs exempt from the address guard
  std::int64_t max_upload_bytes = 50LL * 1024 * 1024;
  std::chrono::milliseconds resumable_expiry{24 * 3600'000};  // unfinished resumable uploads are removed after it
  std::int64_t max_pixels = 100'000'000;
  int max_frames = 256;
  int max_output_dimension = 16384;
  std::chrono::milliseconds transform_timeout{10'000};
  std::int64_t cache_bytes = 1LL << 30;
  std::int64_t memory_cache_bytes = 128LL << 20;
  bool working_copies = true;
  std::int64_t fetch_max_bytes = 10LL * 1024 * 1024;
  std::chrono::milliseconds fetch_timeout{10'000};
  int fetch_max_redirects = 3;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  std::string log_level = "info";
  std::map<std::string, std::string> presets;   // name -> transform query
  std::map<std::string, std::string> variants;  // name -> transform query

  std::string catalog_url() const;
  std::string storage_url() const;
};

/// What load_config() produced: a config, or a message and exit code for main().
struct ConfigResult {
  std::optional<Config> config;
  int exit_code = 0;
  std::string output;  // help text or error
};

/// Parses `progimage serve` arguments (argv[0] is the program, argv[1] may be "serve").
ConfigResult load_config(int argc, const char* const* argv);

/// The settings reference as Markdown (for the README): name, flag, variable, default, doc.
std::string settings_reference_markdown();

}  // namespace progimage::core
