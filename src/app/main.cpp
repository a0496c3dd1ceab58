// progimage: the service. `progimage serve --help` lists the settings.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "app/backends.hpp"
#include "app/check.hpp"
#include "app/copy.hpp"
#include "app/sign.hpp"
#include "app/logging.hpp"
#include "app/migrate.hpp"
#include "app/openapi.hpp"
#include "app/periodic.hpp"
#include "core/id.hpp"
#include "app/telemetry.hpp"
#include "app/usage.hpp"
#include "auth/authenticator.hpp"
#include "auth/rate_limiter.hpp"
#include "core/config.hpp"
#include "core/time.hpp"
#include "fetch/fetcher.hpp"
#include "http/api.hpp"
#include "http/processing_pool.hpp"
#include "http/server.hpp"
#include "imaging/imaging.hpp"
#include "jobs/worker_pool.hpp"
#include "ops/parse.hpp"
#include "service/image_service.hpp"
#include "service/job_service.hpp"
#include "service/resumable.hpp"
#include "service/upload_links.hpp"

namespace {

using namespace progimage;

imaging::Limits limits_of(const core::Config& cfg) {
  imaging::Limits limits;
  limits.max_pixels = cfg.max_pixels;
  limits.max_frames = cfg.max_frames;
  limits.max_output_dimension = cfg.max_output_dimension;
  limits.timeout = cfg.transform_timeout;
  return limits;
}

fetch::FetchOptions fetch_options_of(const core::Config& cfg) {
  fetch::FetchOptions options;
  options.max_bytes = cfg.fetch_max_bytes;
  options.total_timeout = cfg.fetch_timeout;
  options.connect_timeout = std::min(cfg.fetch_timeout, std::chrono::milliseconds(5000));
  options.max_redirects = cfg.fetch_max_redirects;
  options.allow_cidrs = cfg.fetch_allow;
  return options;
}

http::ServerOptions server_options_of(const core::Config& cfg) {
  http::ServerOptions opts;
  opts.listen = cfg.listen;
  opts.io_threads = cfg.io_threads;
  opts.max_body_bytes = static_cast<std::uint64_t>(cfg.max_upload_bytes);
  opts.request_timeout = cfg.request_timeout;
  opts.shutdown_grace = cfg.shutdown_grace;
  return opts;
}

auth::TokenOptions token_options_of(const core::Config& cfg) {
  auth::TokenOptions options;
  options.hs256_secrets = cfg.jwt_secrets;
  options.jwks_file = cfg.jwt_jwks;
  options.issuer = cfg.jwt_issuer;
  options.audience = cfg.jwt_audience;
  if (cfg.token_rate_limit) options.rate = auth::RateLimit{cfg.token_rate_limit->first, cfg.token_rate_limit->second};
  return options;
}

/// How often to remove what expires after `lifetime`: every minute, or as
/// often as it expires when that is shorter (tests, previews).
std::chrono::milliseconds sweep_interval(std::chrono::milliseconds lifetime) {
  return std::min<std::chrono::milliseconds>(lifetime, std::chrono::minutes(1));
}

/// How often a node tells the others it is alive; one silent for three beats is gone.
constexpr auto kNodeBeat = std::chrono::seconds(5);

/// Puts this node on the catalog's node list and gives it its part of every
/// rate limit: with N nodes serving the API behind one balancer, each admits 1/N.
void beat(catalog::Catalog& catalog, core::NodeRole role, auth::RateLimiter& limiter) {
  const auto now = core::unix_now();
  const auto silent = 3 * std::chrono::duration_cast<std::chrono::seconds>(kNodeBeat).count();
  const int serving = catalog.beat_node(core::this_node_id(), core::serves_api(role), now, now - silent);
  const double share = 1.0 / std::max(1, serving);
  if (share != limiter.share())
    spdlog::info("{{\"msg\":\"nodes serving the API changed\",\"nodes\":{},\"rate_limit_share\":{:.3f}}}",
                 std::max(1, serving), share);
  limiter.set_share(share);
}

/// How often a node reads the images other nodes stored into its similar-image index.
constexpr auto kSimilarRefresh = std::chrono::seconds(10);

/// Before serving, so that the first similar-image query sees every stored image.
void load_similar_index(service::ImageService& images) {
  const auto started = std::chrono::steady_clock::now();
  images.load_similar_index();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  spdlog::info("{{\"msg\":\"similar-image index loaded\",\"images\":{},\"seconds\":{:.3f}}}",
               images.similar_index_size(), took.count());
}

jobs::WorkerOptions worker_options_of(const core::Config& cfg, service::JobService& jobs) {
  jobs::WorkerOptions options;
  options.threads = cfg.workers;
  options.lease = cfg.job_lease;
  options.backoff = cfg.job_backoff;
  options.callback_secret = jobs.callback_secret(cfg.callback_secret);
  options.output_sweep = sweep_interval(cfg.job_output_retention);
  if (!cfg.signing_secrets.empty()) options.url_signing_secret = cfg.signing_secrets.front();
  return options;
}

service::ResumableOptions resumable_options_of(const core::Config& cfg) {
  service::ResumableOptions options;
  options.dir = std::filesystem::path(cfg.data) / "resumable";
  options.expiry = cfg.resumable_expiry;
  options.max_size = cfg.max_upload_bytes;
  return options;
}


int serve(const core::Config& cfg) {
  std::filesystem::create_directories(cfg.data);
  auto catalog = app::make_catalog(cfg.catalog_url());
  auto blobs = app::make_blob_store(cfg.storage_url(), cfg);
  if (auto swept = blobs->sweep_staging())
    spdlog::info("{{\"msg\":\"removed staging leftovers of an earlier run\",\"files\":{}}}", swept);

  int processing_threads = cfg.processing_threads > 0
                               ? cfg.processing_threads
                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  imaging::startup(1);  // one image per thread: the pool gives the parallelism
  ops::validate_presets(cfg.presets);
  ops::validate_presets(cfg.variants);

  fetch::Fetcher fetcher(fetch_options_of(cfg));
  service::ServiceOptions service_options{limits_of(cfg), cfg.cache_bytes, cfg.memory_cache_bytes, cfg.presets,
                                          cfg.variants, cfg.working_copies};
  service::ImageService images(*catalog, *blobs, fetcher, service_options);
  http::ProcessingPool pool(processing_threads, cfg.processing_queue);
  // Remote fetches wait on the network, not the CPU: their own bounded threads.
  http::ProcessingPool fetch_pool(8, 64);
  service::TenantService tenants(*catalog);
  for (const auto& q : cfg.tenant_quotas) tenants.seed_quota(q.tenant, {q.bytes, q.images});
  auth::Authenticator authenticator(
      cfg.api_keys, token_options_of(cfg), [&tenants](const std::string& hash) { return tenants.principal_of_key(hash); },
      [&tenants] { return tenants.has_keys(); });
  tenants.on_key_created([&authenticator] { authenticator.key_created(); });
  tenants.on_key_revoked([&authenticator](const std::string& id) { authenticator.forget(id); });
  service::UsageMeter usage(*catalog);
  auth::RateLimiter rate_limiter;
  auto server_options = server_options_of(cfg);
  server_options.authenticator = &authenticator;
  server_options.rate_limiter = &rate_limiter;
  http::Server server(server_options);

  const bool run_workers = core::runs_workers(cfg.node_role) && cfg.workers > 0;
  // Workers of this process wake at once; workers elsewhere are woken by the
  // catalog's signals when it has them, and poll otherwise.
  jobs::WorkerPool* local_workers = nullptr;
  std::function<void()> notify_workers = [&local_workers] {
    if (local_workers) local_workers->notify();
  };
  images.on_variants_queued(notify_workers);
  service::JobService job_service(*catalog, *blobs, {cfg.job_attempts, cfg.job_output_retention}, notify_workers);
  jobs::WorkerPool workers(worker_options_of(cfg, job_service), *catalog, images, job_service, fetcher);
  if (run_workers) local_workers = &workers;
  // What other nodes changed, as a shared catalog tells it. Registered after
  // what the handler uses and stopped before it goes.
  catalog->on_signal([&](catalog::Signal signal, const std::string& subject) {
    switch (signal) {
      case catalog::Signal::work_queued: notify_workers(); break;
      case catalog::Signal::image_changed: images.forget_image(subject); break;
      case catalog::Signal::derivatives_purged: images.forget_cached_derivatives(); break;
      case catalog::Signal::key_revoked: authenticator.forget(subject); break;
    }
  });
  struct StopSignals {
    catalog::Catalog& catalog;
    ~StopSignals() { catalog.on_signal(nullptr); }
  } stop_signals{*catalog};

  app::Telemetry telemetry(images, pool, *catalog);
  telemetry.watch_jobs(workers.counters());
  server.on_exchange([&telemetry, &usage](const http::Exchange& e) {
    telemetry.record(e);
    app::record_usage(usage, e);
  });
  service::UploadLinks upload_links(*catalog, images);
  service::ResumableUploads resumable(*catalog, images, upload_links, resumable_options_of(cfg));
  http::ApiContext api{cfg,  images, job_service, tenants, usage, upload_links, resumable, pool, fetch_pool,
                       [&telemetry] { return telemetry.render(); }, std::string(app::kOpenApiJson)};
  http::register_api(server, api, cfg.node_role);
  std::optional<app::Periodic> resumable_sweep, similar_refresh;
  if (core::serves_api(cfg.node_role)) {
    resumable_sweep.emplace("resumable upload sweep", sweep_interval(cfg.resumable_expiry), [&resumable] {
      if (auto n = resumable.sweep(core::unix_now()))
        spdlog::info("{{\"msg\":\"removed expired resumable uploads\",\"files\":{}}}", n);
    });
    load_similar_index(images);
    // A node knows its own uploads at once; other nodes' within the interval.
    similar_refresh.emplace("similar index refresh", kSimilarRefresh, [&images] { images.refresh_similar_index(); });
  }
  app::Periodic usage_flush("usage flush", cfg.usage_flush, [&usage] { usage.flush(); });
  std::optional<app::Periodic> node_beat;
  node_beat.emplace("node heartbeat", kNodeBeat, [&] { beat(*catalog, cfg.node_role, rate_limiter); });
  telemetry.watch_rate_limits(rate_limiter);

  server.start();
  if (run_workers) workers.start();

  for (const auto& skipped : authenticator.tokens().skipped_keys())
    spdlog::warn("{{\"msg\":\"a key of the JWKS file is not used\",\"why\":\"{}\"}}", skipped);
  if (authenticator.open() && core::serves_api(cfg.node_role))
    spdlog::warn("no API keys are configured: the server is open to anyone who can reach {}", cfg.listen);
  spdlog::info("{{\"msg\":\"serving\",\"role\":\"{}\",\"listen\":\"{}:{}\",\"data\":\"{}\",\"catalog\":\"{}\","
               "\"storage\":\"{}\",\"processing_threads\":{},\"processing_queue\":{},\"workers\":{}}}",
               core::node_role_name(cfg.node_role), cfg.listen.substr(0, cfg.listen.rfind(':')), server.port(),
               cfg.data, cfg.catalog_url(), cfg.storage_url(), processing_threads, cfg.processing_queue,
               run_workers ? cfg.workers : 0);

  boost::asio::signal_set signals(server.io(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("{{\"msg\":\"draining before exit\",\"signal\":{}}}", sig);
    server.shutdown();
  });

  server.run();
  try {
    usage.flush();  // what the last requests counted
  } catch (const std::exception& e) {
    spdlog::warn("{{\"msg\":\"the last usage counts could not be written\",\"error\":{}}}",
                 boost::json::serialize(boost::json::string(e.what())));
  }
  node_beat.reset();  // no beat after leaving
  try {
    catalog->remove_node(core::this_node_id());  // the others take over its part of the limits
  } catch (const std::exception& e) {
    spdlog::warn("{{\"msg\":\"this node could not leave the node list\",\"error\":{}}}",
                 boost::json::serialize(boost::json::string(e.what())));
  }
  workers.stop();  // each worker finishes its item and gives back its other leases
  pool.stop();
  fetch_pool.stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "settings-reference") {
    std::fputs(core::settings_reference_markdown().c_str(), stdout);  // for the README
    return 0;
  }
  if (argc >= 2 && std::string_view(argv[1]) == "check") return app::check(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "sign") return app::sign(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "migrate") return app::migrate(argc, argv);
  if (argc >= 2 && std::string_view(argv[1]) == "copy") return app::copy(argc, argv);
  auto loaded = core::load_config(argc, argv);
  if (!loaded.config) {
    std::fputs(loaded.output.c_str(), loaded.exit_code ? stderr : stdout);
    std::fputc('\n', loaded.exit_code ? stderr : stdout);
    return loaded.exit_code;
  }
  app::setup_logging(loaded.config->log_level);
  try {
    return serve(*loaded.config);
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
