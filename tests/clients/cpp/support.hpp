#pragma once
// What the C++ SDK's live tests share: a Client for a harness server, corpus
// files, and the storm proxy (tests/clients/storm_proxy.py) started by pid.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "../../contract/harness.hpp"
#include "progimage/progimage.hpp"

namespace progimage::clients_test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using contract::Server;

inline ClientOptions options_for(const std::string& base_url) {
  ClientOptions o;
  o.base_url = base_url;
  o.retry.base_delay = 50ms;
  return o;
}

inline fs::path corpus(const std::string& relative) { return contract::testdata_dir() / relative; }

/// Valid JPEG and PNG files of the corpus (MANIFEST.tsv), smallest first.
inline std::vector<fs::path> valid_corpus_images(std::size_t count, std::uintmax_t max_bytes = 400'000) {
  std::ifstream manifest(corpus("MANIFEST.tsv"));
  std::vector<fs::path> out;
  std::string line;
  std::getline(manifest, line);  // header
  while (std::getline(manifest, line)) {
    auto tab1 = line.find('\t'), tab2 = line.find('\t', tab1 + 1), tab3 = line.find('\t', tab2 + 1);
    const std::string path = line.substr(0, tab1), format = line.substr(tab1 + 1, tab2 - tab1 - 1);
    const std::string expected = line.substr(tab3 + 1, line.find('\t', tab3 + 1) - tab3 - 1);
    if (expected != "valid" || (format != "jpeg" && format != "png")) continue;
    std::error_code ec;
    auto size = fs::file_size(corpus(path), ec);
    if (!ec && size <= max_bytes) out.push_back(corpus(path));
  }
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) { return fs::file_size(a) < fs::file_size(b); });
  if (out.size() > count) out.resize(count);
  return out;
}

/// A directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "progimage-sdk-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// A program's path from PATH (spawn_child execs a path, not a name).
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    auto colon = dirs.find(':');
    fs::path candidate = fs::path(dirs.substr(0, colon)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
  }
  return name;
}

/// The storm proxy in front of a server, stopped by its pid.
class StormProxy {
 public:
  explicit StormProxy(const std::string& upstream) {
    const char* script = std::getenv("PROGIMAGE_STORM_PROXY");  // else the build's own copy
    const fs::path port_file = dir_.path / "port";
    pid_ = contract::spawn_child({find_program("python3"), script ? script : PROGIMAGE_STORM_PROXY_SCRIPT, "--upstream", upstream,
                                  "--port-file", port_file.string()},
                                 dir_.path / "proxy.log");
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(25ms);
    if (fs::exists(port_file)) base_url_ = "http://127.0.0.1:" + contract::read_file(port_file);
  }
  ~StormProxy() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      contract::wait_child(pid_, 5s);
    }
  }
  bool ok() const { return !base_url_.empty(); }
  const std::string& base_url() const { return base_url_; }
  void storm(const std::string& spec_json) const {
    auto r = contract::Http(base_url_).request("POST", "/__storm", spec_json);
    EXPECT_EQ(r.status, 204) << r.describe();
  }
  void reset() const { contract::Http(base_url_).request("POST", "/__reset"); }
  /// The requests seen since the last reset.
  std::vector<boost::json::object> log() const {
    std::vector<boost::json::object> out;
    const std::string text = contract::Http(base_url_).get("/__log").body;
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find('\n', start);
      out.push_back(boost::json::parse(text.substr(start, end - start)).as_object());
      start = end == std::string::npos ? text.size() : end + 1;
    }
    return out;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  std::string base_url_;
};

inline std::string answer_of(const boost::json::object& entry) {
  const auto& a = entry.at("answer");
  return a.is_string() ? std::string(a.get_string()) : std::to_string(a.to_number<int>());
}

}  // namespace progimage::clients_test
