#include "app/check.hpp"

#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/backends.hpp"
#include "core/config.hpp"

namespace progimage::app {

namespace {

constexpr const char* kUsage =
    "Usage: progimage check [--data DIR] [--catalog URL] [--storage URL] [--config FILE]\n"
    "Runs the catalog's integrity check and asks the blob store whether it answers.\n"
    "Prints \"ok\" (exit 0) or one problem per line (exit 1); bad settings exit 2.\n"
    "Settings are read as `progimage serve` reads them (flags, PROGIMAGE_* variables, --config).\n";

bool asks_for_help(int argc, const char* const* argv) {
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

/// `report` split into lines, each prefixed with the backend it is about.
void add_lines(std::vector<std::string>& problems, const std::string& prefix, const std::string& report) {
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) problems.push_back(prefix + line);
}

std::vector<std::string> catalog_problems(const std::string& url) {
  std::vector<std::string> problems;
  std::unique_ptr<catalog::Catalog> catalog;
  try {
    catalog = make_catalog(url);
  } catch (const std::invalid_argument&) {
    throw;  // a setting, not the data: reported as such
  } catch (const std::exception& e) {
    problems.push_back("catalog " + url + ": cannot open: " + e.what());
    return problems;
  }
  if (auto report = catalog->integrity_check(); report != "ok") add_lines(problems, "catalog: ", report);
  return problems;
}

std::vector<std::string> storage_problems(const std::string& url, const core::Config& cfg) {
  std::unique_ptr<storage::BlobStore> blobs;
  try {
    blobs = make_blob_store(url, cfg);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    return {"storage " + url + ": cannot open: " + e.what()};
  }
  if (!blobs->healthy()) return {"storage " + url + ": does not answer"};
  return {};
}

}  // namespace

int check(int argc, const char* const* argv) {
  if (asks_for_help(argc, argv)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // The same settings table as `serve`: the same defaults for the catalog and storage URLs.
  std::vector<const char*> args{argv[0]};
  args.insert(args.end(), argv + 2, argv + argc);
  auto loaded = core::load_config(static_cast<int>(args.size()), args.data());
  if (!loaded.config) {
    std::fprintf(stderr, "%s\n", loaded.output.c_str());
    return loaded.exit_code ? loaded.exit_code : 2;
  }
  std::vector<std::string> problems;
  try {
    problems = catalog_problems(loaded.config->catalog_url());
    auto more = storage_problems(loaded.config->storage_url(), *loaded.config);
    problems.insert(problems.end(), more.begin(), more.end());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (problems.empty()) {
    std::puts("ok");
    return 0;
  }
  for (const auto& p : problems) std::puts(p.c_str());
  return 1;
}

}  // namespace progimage::app
