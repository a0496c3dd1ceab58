// Every file of tests/corpus/MANIFEST.tsv through probe_file + verify_decode, each
// in its own child process under alarm(): a libvips crash or hang fails that
// file, not the run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>

#include "test_support.hpp"

namespace progimage::imaging::test {
namespace {

struct Outcome {
  int status = 0;  // 200 accepted, else the HTTP status of the core::Error
  std::string detail;
  bool crashed = false, hung = false;
};

struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child start_child(const std::filesystem::path& file) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    alarm(30);  // survives exec: a hang ends in SIGALRM
    const std::string self = std::filesystem::read_symlink("/proc/self/exe");
    execl(self.c_str(), self.c_str(), "--probe-child", file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

Outcome finish_child(const Child& child) {
  if (child.pid < 0) return {0, "fork failed"};
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(child.out, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(child.out);
  int wstatus = 0;
  waitpid(child.pid, &wstatus, 0);
  Outcome o;
  if (WIFSIGNALED(wstatus)) {
    o.hung = WTERMSIG(wstatus) == SIGALRM;
    o.crashed = !o.hung;
    o.detail = "signal " + std::to_string(WTERMSIG(wstatus));
    return o;
  }
  o.status = std::atoi(out.c_str());
  o.detail = out.substr(0, out.find('\n'));
  return o;
}

// Formats we accept, by the manifest's names (apng is PNG, bigtiff is TIFF).
const std::set<std::string> kAccepted = {"jpeg", "png", "apng", "webp", "gif", "avif",
                                         "heic", "jxl", "tiff", "bigtiff", "svg"};

// Valid files that libvips 8.14 cannot take, each with the reason and the answer we give.
const std::map<std::string, std::pair<int, std::string>> kKnownRefusals = {
    {"vips-formats/ojpeg-strip.tif", {415, "old-style JPEG-in-TIFF: tiff2vips does not support it"}},
    {"vips-formats/ojpeg-tile.tif", {415, "old-style JPEG-in-TIFF: tiff2vips does not support it"}},
    {"vips-formats/subsampled.tif", {415, "YCbCr subsampled TIFF: tiff2vips does not support it"}},
    {"sharp-fixtures/testimgl.jpg", {415, "lossless JPEG (SOF3): libjpeg 62 does not decode it"}},
    {"pillow-formats/avif/star.avifs", {415, "AVIF image sequence: libheif 1.15 finds no still image"}},
    {"pillow-formats/ultrahdr.jpg",
     {415, "Pillow's test copy ends after 8 of 2688 rows of entropy-coded data: libjpeg reports a "
           "premature end, the same as the truncated JPEGs we refuse"}},
    {"sharp-fixtures/giant-image.jpg", {422, "280 Mpx: over the 100 Mpx default limit"}},
};

bool too_many_pixels(const ManifestRow& row) {
  const auto x = row.dimensions.find('x');
  if (x == std::string::npos) return false;
  return std::stoll(row.dimensions.substr(0, x)) * std::stoll(row.dimensions.substr(x + 1)) > 100'000'000;
}

TEST(Corpus, EveryManifestFileGetsTheRightAnswer) {
  const auto rows = manifest();
  ASSERT_GT(rows.size(), 390u);
  // Two children at a time: one per core.
  std::vector<Outcome> outcomes(rows.size());
  for (std::size_t i = 0; i < rows.size(); i += 2) {
    const Child a = start_child(corpus(rows[i].path));
    const Child b = i + 1 < rows.size() ? start_child(corpus(rows[i + 1].path)) : Child{};
    outcomes[i] = finish_child(a);
    if (i + 1 < rows.size()) outcomes[i + 1] = finish_child(b);
  }
  int accepted = 0, refused = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SCOPED_TRACE(row.path + " [" + row.format + ", " + row.expected + "] " + row.note);
    const Outcome& o = outcomes[i];
    EXPECT_FALSE(o.crashed) << "probe/verify crashed: " << o.detail;
    EXPECT_FALSE(o.hung) << "probe/verify hung";
    EXPECT_NE(o.status, 999) << o.detail;
    if (o.crashed || o.hung || o.status == 999) continue;
    const bool invalid = row.expected == "invalid-should-be-rejected";
    if (invalid) {
      EXPECT_GE(o.status, 400) << "accepted an invalid file: " << o.detail;
      EXPECT_LT(o.status, 500) << o.detail;
    } else if (auto known = kKnownRefusals.find(row.path); known != kKnownRefusals.end()) {
      EXPECT_EQ(o.status, known->second.first) << known->second.second << "; got " << o.detail;
    } else if (kAccepted.count(row.format) != 0) {
      if (too_many_pixels(row)) {
        EXPECT_EQ(o.status, 422) << o.detail;
      } else {
        EXPECT_EQ(o.status, 200) << o.detail;
      }
    } else {
      EXPECT_EQ(o.status, 415) << "format " << row.format << " must be refused; got " << o.detail;
    }
    (o.status == 200 ? accepted : refused)++;
  }
  RecordProperty("accepted", accepted);
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace progimage::imaging::test
