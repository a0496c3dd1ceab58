#pragma once
// tests/corpus/MANIFEST.tsv and what the server must do with each file: the
// one rule the corpus contract test and the clients' tests both apply.
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace progimage::contract {

struct ManifestRow {
  std::string path, format, dimensions, expected, note;
};

inline std::vector<ManifestRow> corpus_manifest() {
  std::ifstream in(testdata_dir() / "MANIFEST.tsv");
  std::vector<ManifestRow> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    ManifestRow r;
    std::string* cols[] = {&r.path, &r.format, &r.dimensions, &r.expected, &r.note};
    std::size_t start = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      auto tab = line.find('\t', start);
      *cols[i] = line.substr(start, i == 4 ? std::string::npos : tab - start);
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(r);
  }
  return rows;
}

/// What an upload of the file must give.
struct CorpusExpectation {
  bool invalid = false;             ///< refused with a 4xx
  bool accepted_format = false;     ///< a format the service accepts (API.md / issue point 3)
  bool over_pixels = false;         ///< over the default 100 Mpx: 422 image_too_large
  bool may_be_unsupported = false;  ///< legal, but libvips 8.14 may not decode it: 415 is honest too
  /// Valid, of an accepted format, within the limits and decodable: it must be stored.
  bool must_store() const { return !invalid && accepted_format && !over_pixels && !may_be_unsupported; }
};

inline CorpusExpectation corpus_expectation(const ManifestRow& row) {
  // Formats the service accepts, as MANIFEST names them.
  static const std::set<std::string> kAccepted = {"jpeg", "png",  "apng",     "webp", "gif", "avif", "avif-sequence",
                                                  "heic", "jxl",  "tiff",     "bigtiff", "svg", "svgz"};
  constexpr std::int64_t kDefaultMaxPixels = 100'000'000;
  auto pixels = [](const std::string& dims) -> std::int64_t {
    auto x = dims.find('x');
    if (x == std::string::npos) return 0;
    return std::stoll(dims.substr(0, x)) * std::stoll(dims.substr(x + 1));
  };
  CorpusExpectation e;
  e.invalid = row.expected == "invalid-should-be-rejected";
  e.accepted_format = kAccepted.count(row.format) > 0;
  // Files libvips 8.14 cannot decode although they are legal: a clean 415 is an honest answer.
  // pillow-formats/ultrahdr.jpg is listed as an edge case but is Pillow's
  // metadata-only cut: its primary JPEG ends at the start-of-scan header with
  // zero bytes of image data (the MPF table promises 512,743), so refusing it
  // as truncated follows the rule for truncated files.
  const bool truncated_fixture = row.path == "pillow-formats/ultrahdr.jpg";
  e.may_be_unsupported = truncated_fixture || row.note.find("decode fails") != std::string::npos ||
                         row.note.find("unsupported") != std::string::npos || row.format == "svgz" ||
                         row.format == "avif-sequence";
  e.over_pixels = pixels(row.dimensions) > kDefaultMaxPixels;
  return e;
}

}  // namespace progimage::contract
