// libvips starts once for the whole test binary, as in the server. With
// `--probe-child FILE` the binary instead probes and verifies one file and
// prints the outcome: the corpus test runs each file in such a child.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>

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

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--probe-child") == 0) return probe_child(argv[2]);
  ::testing::InitGoogleTest(&argc, argv);
  spdlog::set_level(spdlog::level::err);  // decoder warnings are expected here
  progimage::imaging::startup(2);
  return RUN_ALL_TESTS();
}
