// libvips starts once for the whole test binary, as in the server. With
// `--probe-child FILE` the binary instead probes and verifies one file and
// prints the outcome: the corpus test runs each file in such a child.
// `--memory-child MODE FILE` runs the upload checks (MODE "ingest") or a plain
// conversion (MODE = an output format) on FILE and prints how much its peak
// RSS grew: the memory test runs it in a fresh process.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "imaging/imaging.hpp"

namespace {

int probe_child(const char* path) {
  using namespace progimage;
  spdlog::set_level(spdlog::level::off);
  imaging::startup(1);
  try {
    const imaging::Limits limits;
    const auto probe = imaging::probe_file(path, limits);
    imaging::verify_decode(path, probe, limits);
    std::printf("200 %s %d %d %d\n", probe.format.c_str(), probe.width, probe.height, probe.frames);
  } catch (const core::Error& e) {
    std::printf("%u %s\n", e.status(), std::string(core::code_name(e.code())).c_str());
  } catch (const std::exception& e) {
    std::printf("999 escaped %s\n", e.what());
  }
  std::fflush(stdout);
  return 0;
}

// VmHWM (peak resident set) of this process, in KiB.
long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int memory_child(const char* mode, const char* path) {
  using namespace progimage;
  spdlog::set_level(spdlog::level::off);
  imaging::startup(2);
  const long before = peak_rss_kib();
  std::size_t out_bytes = 0;
  try {
    // Memory is measured here, not speed: a loaded CI machine must not hit
    // the service's 10 s deadline on a 5000x3000 TIFF (the parent's alarm
    // still ends a stuck child at 120 s).
    imaging::Limits limits;
    limits.timeout = std::chrono::seconds(100);
    const auto probe = imaging::probe_file(path, limits);
    if (std::strcmp(mode, "ingest") == 0) {
      imaging::verify_decode(path, probe, limits);
      (void)imaging::analyze(path, probe, limits);
    } else {
      const imaging::Source src{path, probe, std::nullopt};
      out_bytes = imaging::render(src, ops::TransformSpec{}, mode, {}, limits).bytes.size();
    }
  } catch (const std::exception& e) {
    std::printf("error %s\n", e.what());
    return 1;
  }
  // growth of the peak, the output's size (both KiB)
  std::printf("%ld %zu\n", peak_rss_kib() - before, out_bytes / 1024);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--probe-child") == 0) return probe_child(argv[2]);
  if (argc == 4 && std::strcmp(argv[1], "--memory-child") == 0) return memory_child(argv[2], argv[3]);
  ::testing::InitGoogleTest(&argc, argv);
  spdlog::set_level(spdlog::level::err);  // decoder warnings are expected here
  // One libvips thread per image, as the server runs it (app/main.cpp): with two, a
  // damaged GIF frame sometimes surfaces differently (see the closing note).
  progimage::imaging::startup(1);
  return RUN_ALL_TESTS();
}
