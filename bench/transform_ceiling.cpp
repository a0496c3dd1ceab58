// The in-process ceiling for cold transforms: progimage's own imaging::render
// (the server's library and pipeline) on every core, without HTTP, cache or
// storage. Prints images/s.
//   transform_ceiling FILE "w=300&format=webp" [iterations, default 200] [threads, default all cores]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "imaging/imaging.hpp"
#include "ops/parse.hpp"

namespace imaging = progimage::imaging;
namespace ops = progimage::ops;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FILE QUERY [iterations] [threads]\n", argv[0]);
    return 2;
  }
  const std::string file = argv[1];
  const int iterations = argc > 3 ? std::atoi(argv[3]) : 200;
  const unsigned threads = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4]))
                                    : std::max(1u, std::thread::hardware_concurrency());
  try {
    // As the server does: one libvips worker per image, parallelism across requests.
    imaging::startup(1);
    imaging::Limits limits;
    auto spec = ops::parse_query(ops::split_query(argv[2]), {});
    std::string format = spec.format.empty() ? "jpeg" : spec.format;
    spec.format = format;
    imaging::Source source;
    source.path = file;
    source.probe = imaging::probe_file(file, limits);
    auto resolve = [](const std::string&) -> std::optional<imaging::Source> { return std::nullopt; };

    auto once = imaging::render(source, spec, format, resolve, limits);  // warm up, and show what is made
    std::fprintf(stderr, "%s -> %s %dx%d, %zu bytes\n", file.c_str(), once.format.c_str(), once.width, once.height,
                 once.bytes.size());

    std::atomic<int> next{0};
    std::atomic<std::size_t> bytes{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        while (next.fetch_add(1) < iterations) {
          auto out = imaging::render(source, spec, format, resolve, limits);
          bytes += out.bytes.size();
        }
        imaging::thread_shutdown();
      });
    for (auto& t : pool) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%.1f images/s (%d iterations, %u threads, %.2f s)\n", iterations / secs, iterations, threads, secs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transform_ceiling: %s\n", e.what());
    return 1;
  }
  return 0;
}
