#pragma once
// Shared helpers for the imaging tests: the corpus, decoding outputs.
#include <vips/vips8>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "imaging/imaging.hpp"
#include "ops/spec.hpp"

namespace progimage::imaging::test {

inline std::filesystem::path testdata() { return PROGIMAGE_TESTDATA; }
inline std::filesystem::path corpus(const std::string& rel) { return testdata() / rel; }

struct ManifestRow {
  std::string path, format, dimensions, expected, note;
};

inline std::vector<ManifestRow> manifest() {
  std::ifstream in(testdata() / "MANIFEST.tsv");
  std::vector<ManifestRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::size_t at = 0;
    for (;;) {
      const auto tab = line.find('\t', at);
      cols.push_back(line.substr(at, tab == std::string::npos ? std::string::npos : tab - at));
      if (tab == std::string::npos) break;
      at = tab + 1;
    }
    cols.resize(5);
    rows.push_back({cols[0], cols[1], cols[2], cols[3], cols[4]});
  }
  return rows;
}

inline Source source_of(const std::string& rel, const Limits& limits = {}) {
  Source s;
  s.path = corpus(rel);
  s.probe = probe_file(s.path, limits);
  return s;
}

/// Decodes rendered bytes with libvips (all pages), as a client would.
inline vips::VImage decode(const std::string& bytes, bool all_pages = false) {
  auto opts = vips::VImage::option()->set("access", VIPS_ACCESS_RANDOM);
  return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), all_pages ? "[n=-1]" : "", opts)
      .copy_memory();
}

inline std::string loader_of(const vips::VImage& img) {
  return img.get_typeof("vips-loader") ? img.get_string("vips-loader") : "";
}

}  // namespace progimage::imaging::test
