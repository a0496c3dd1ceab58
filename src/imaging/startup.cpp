// libvips start-up: one init per process, no operation cache, a loader
// allow-list, and its log routed into ours.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "imaging/detail.hpp"
// After vips8 (which it needs); libvips does not include it itself.
#include <vips/vector.h>

namespace progimage::imaging {
namespace {

// Loader base classes we accept. Blocking "VipsForeignLoad" blocks every
// loader (and only loaders: savers derive from VipsForeignSave).
constexpr const char* kAllowedLoaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng",  "VipsForeignLoadWebp",
    "VipsForeignLoadNsgif", "VipsForeignLoadHeif", "VipsForeignLoadJxl",
    "VipsForeignLoadTiff", "VipsForeignLoadSvg",
};

void on_vips_log(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  // libvips reports recoverable decoder trouble as warnings; they belong in our log, not stderr.
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
    spdlog::error("{}: {}", domain ? domain : "vips", message ? message : "");
  } else if (level & G_LOG_LEVEL_WARNING) {
    spdlog::warn("{}: {}", domain ? domain : "vips", message ? message : "");
  } else {
    spdlog::debug("{}: {}", domain ? domain : "vips", message ? message : "");
  }
}

}  // namespace

void startup(int concurrency) {
  static std::once_flag once;
  std::call_once(once, [concurrency] {
    // Every image allocates and frees decode buffers of a few hundred KB to a
    // few MB. With glibc's defaults those are mmapped and unmapped each time,
    // and page faults plus zeroing took ~20% of a 1080p thumbnail (perf,
    // bench/RESULTS.md). Keeping them in the heap is worth that much speed
    // for a few MB of RSS; buffers over 2 MB still get their own mapping.
    mallopt(M_MMAP_THRESHOLD, 2 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
    if (VIPS_INIT("progimage") != 0) {
      throw core::Error(core::ErrorCode::internal, "libvips failed to start");
    }
    for (const char* domain : {"VIPS", "GLib-GObject"}) {
      g_log_set_handler(domain,
                        static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL |
                                                    G_LOG_FLAG_RECURSION),
                        on_vips_log, nullptr);
    }
    // liborc 0.4.33 (Debian 12) frees compiled programs without a lock, and
    // libvips compiles programs per operation (resize, blur): concurrent
    // renders raced on orc's code memory and corrupted the heap (a glibc
    // abort under a 2-worker bulk job; ThreadSanitizer shows the race, and it
    // is gone with vector paths off). The plain C paths cost at most a few
    // percent, within the noise of bench/RESULTS.md.
    vips_vector_set_enabled(FALSE);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* name : kAllowedLoaders) vips_operation_block_set(name, FALSE);
    spdlog::info("libvips {} started, {} threads per image", vips_version_string(), concurrency);
  });
  // Concurrency may be changed by a later call (tests use 1).
  vips_concurrency_set(concurrency > 0 ? concurrency : 1);
}

void thread_shutdown() { vips_thread_shutdown(); }

void release_memory() { malloc_trim(0); }

}  // namespace progimage::imaging
