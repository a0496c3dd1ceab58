// The in-process ceiling for cold transforms: progimage's own imaging::render
// (the server's library and pipeline) on every core, without HTTP, cache or
// storage. Prints images/s.
//   transform_ceiling FILE "w=300&format=webp" [iterations, default 200] [threads, default all cores]
// With CEILING_WORKING_COPIES=1 it first makes FILE's working copies, as the
// server does after an upload, and renders from the one the server would pick
// (the ceiling for a stored image whose copies exist).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
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
    std::vector<std::string> copy_files;
    const char* with_copies = std::getenv("CEILING_WORKING_COPIES");
    if (with_copies != nullptr && std::string(with_copies) == "1") {
      std::vector<imaging::WorkingCopy> copies;
      for (int level : imaging::working_copy_levels(source.probe)) {
        auto made = imaging::make_working_copy(source, level, limits);
        copy_files.push_back(file + ".working-" + std::to_string(level) + "." + made.copy.format);
        std::FILE* out = std::fopen(copy_files.back().c_str(), "wb");
        if (out == nullptr) throw std::runtime_error("cannot write " + copy_files.back());
        std::fwrite(made.bytes.data(), 1, made.bytes.size(), out);
        std::fclose(out);
        made.copy.path = copy_files.back();
        copies.push_back(made.copy);
      }
      if (auto pick = imaging::pick_working_copy(source, copies, spec, format)) {
        source.working_copy = copies[*pick];
        std::fprintf(stderr, "rendering from the working copy of level %d (%dx%d %s)\n", copies[*pick].level,
                     copies[*pick].width, copies[*pick].height, copies[*pick].format.c_str());
      } else {
        std::fprintf(stderr, "no working copy serves this render: from the original\n");
      }
    }

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
    for (const auto& f : copy_files) std::remove(f.c_str());
    std::printf("%.1f images/s (%d iterations, %u threads, %.2f s)\n", iterations / secs, iterations, threads, secs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transform_ceiling: %s\n", e.what());
    return 1;
  }
  return 0;
}
