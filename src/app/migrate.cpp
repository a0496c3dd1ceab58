#include "app/migrate.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "app/backends.hpp"
#include "core/config.hpp"

namespace progimage::app {

namespace {

constexpr const char* kUsage =
    "Usage: progimage migrate [--catalog URL] [--config FILE] [--json]\n"
    "Applies the schema migrations the catalog lacks, then exits; the server does the\n"
    "same at start, so this is for migrating once before starting or upgrading nodes.\n"
    "Concurrent runs and starting nodes wait for each other (an advisory lock on\n"
    "PostgreSQL, the write lock on SQLite); a catalog written by a newer program is\n"
    "refused. Settings are read as `progimage serve` reads them.\n"
    "\n"
    "Examples:\n"
    "  progimage migrate --catalog postgresql://progimage@db.internal:5432/progimage\n"
    "  PROGIMAGE_CATALOG=sqlite:///var/lib/progimage/catalog.db progimage migrate --json\n"
    "\n"
    "Prints the schema version before and after; exit 0 when the schema is current,\n"
    "1 when the catalog cannot be opened or migrated, 2 for bad settings.\n";

std::string versions_text(const std::vector<int>& versions) {
  std::string out;
  for (int v : versions) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out;
}

}  // namespace

int migrate(int argc, const char* const* argv) {
  bool json = false;
  std::vector<const char*> args{argv[0]};
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--json") json = true;
    else args.push_back(argv[i]);
  }
  auto loaded = core::load_config(static_cast<int>(args.size()), args.data());
  if (!loaded.config) {
    std::fprintf(stderr, "%s\n", loaded.output.c_str());
    return loaded.exit_code ? loaded.exit_code : 2;
  }
  const std::string url = loaded.config->catalog_url();
  try {
    auto catalog = make_catalog(url, false);
    const int before = catalog->schema_version();
    const auto applied = catalog->migrate();
    const int after = catalog->schema_version();
    if (json) {
      boost::json::array list;
      for (int v : applied) list.push_back(v);
      boost::json::object out{{"catalog", url}, {"version_before", before}, {"version", after}, {"applied", list}};
      std::printf("%s\n", boost::json::serialize(out).c_str());
    } else if (applied.empty()) {
      std::printf("catalog %s: schema version %d is current\n", url.c_str(), after);
    } else {
      std::printf("catalog %s: schema version %d -> %d (applied %s)\n", url.c_str(), before, after,
                  versions_text(applied).c_str());
    }
    return 0;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "catalog %s: %s\n", url.c_str(), e.what());
    return 1;
  }
}

}  // namespace progimage::app
