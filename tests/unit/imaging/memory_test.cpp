// Memory: checking an upload (probe, verify_decode, analyze) and a plain
// format conversion stream the pixels instead of holding the decoded image.
// Each measurement runs in a fresh process (this binary with --memory-child,
// see test_main.cpp) so the peak RSS of earlier tests cannot hide it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

constexpr int kWidth = 5000, kHeight = 3000;
constexpr long kDecodedKiB = long{kWidth} * kHeight * 3 / 1024;  // ~44 MiB of RGB

// A 5000x3000 PNG of random pixels (about 40 MB), made once for the suite.
const std::filesystem::path& big_png() {
  static const std::filesystem::path path = [] {
    auto p = std::filesystem::temp_directory_path() /
             ("progimage-memtest-" + std::to_string(getpid()) + ".png");
    std::vector<vips::VImage> bands;
    for (int b = 0; b < 3; ++b) {
      bands.push_back(vips::VImage::gaussnoise(kWidth, kHeight, vips::VImage::option()
                                                                  ->set("mean", 128.0)
                                                                  ->set("sigma", 80.0)
                                                                  ->set("seed", b + 1)));
    }
    vips::VImage::bandjoin(bands)
        .cast(VIPS_FORMAT_UCHAR)
        .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
        .pngsave(p.c_str(), vips::VImage::option()->set("compression", 1));
    static const std::string* const doomed = new std::string(p);  // outlives static destructors
    std::atexit([] { std::filesystem::remove(*doomed); });
    return p;
  }();
  return path;
}

struct Measured {
  long growth_kib = -1;  // VmHWM growth of the child
  long output_kib = 0;   // size of the rendered bytes (kept in memory by design)
  std::string detail;
};

Measured measure(const std::string& mode, const std::filesystem::path& file) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, 0, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    alarm(120);
    const std::string self = std::filesystem::read_symlink("/proc/self/exe");
    execl(self.c_str(), self.c_str(), "--memory-child", mode.c_str(), file.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  Measured m;
  m.detail = out;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return m;
  char* end = nullptr;
  m.growth_kib = std::strtol(out.c_str(), &end, 10);
  m.output_kib = std::strtol(end, nullptr, 10);
  return m;
}

TEST(Memory, UploadChecksStreamALargePng) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator and shadow memory make RSS meaningless";
#endif

  const auto& png = big_png();
  ASSERT_GT(std::filesystem::file_size(png), 30u << 20);
  const Measured m = measure("ingest", png);
  ASSERT_GE(m.growth_kib, 0) << m.detail;
  RecordProperty("peak_growth_kib", std::to_string(m.growth_kib));
  std::printf("[ memory ] probe+verify+analyze: peak grew %ld KiB (decoded %ld KiB)\n", m.growth_kib, kDecodedKiB);
  // Holding the decoded image would cost ~44 MiB; streaming costs a few MiB
  // of scanline buffers per thread.
  EXPECT_LT(m.growth_kib, 25 * 1024) << "decoded size " << kDecodedKiB << " KiB";
}

TEST(Memory, PlainConversionStreams) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator and shadow memory make RSS meaningless";
#endif

  const auto& png = big_png();
  // JPEG and TIFF savers take the image strip by strip; the encoded output is
  // held in memory (the API returns bytes), twice while it is copied out of
  // libvips' buffer. WebP, AVIF/HEIC, JXL and GIF encoders need the whole
  // frame in memory (libvips 8.14 savers), so they are not measured here.
  for (const char* format : {"jpeg", "tiff"}) {
    SCOPED_TRACE(format);
    const Measured m = measure(format, png);
    ASSERT_GE(m.growth_kib, 0) << m.detail;
    RecordProperty(std::string("peak_growth_kib_") + format, std::to_string(m.growth_kib));
    std::printf("[ memory ] %s: peak grew %ld KiB, output %ld KiB\n", format, m.growth_kib, m.output_kib);
    EXPECT_LT(m.growth_kib - 2 * m.output_kib, 25 * 1024) << "decoded size " << kDecodedKiB << " KiB";
  }
}

}  // namespace
}  // namespace progimage::imaging::test
