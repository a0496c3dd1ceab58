#include "config.hpp"

#include <toml++/toml.h>

#include <cstdlib>
#include <sstream>

#include "errors.hpp"

namespace progimage::cli {

namespace {

namespace fs = std::filesystem;

/// Every setting once: its flag, variable, profile key and default.
struct Row {
  std::string Flags::*flag;
  Setting Settings::*setting;
  const char* flag_name;
  const char* env;
  const char* profile_key;
  const char* fallback;
};
constexpr Row kRows[] = {
    {&Flags::server, &Settings::server, "--server", "PROGIMAGE_URL", "server", kDefaultServer},
    {&Flags::key, &Settings::key, "--key", "PROGIMAGE_KEY", "key", ""},
    {&Flags::tenant, &Settings::tenant, "--tenant", "PROGIMAGE_TENANT", "tenant", ""},
    {&Flags::signing_secret, &Settings::signing_secret, "--secret", "PROGIMAGE_SIGNING_SECRET", "signing_secret", ""},
};

/// "~/.config/…" for messages when the file is under $HOME.
std::string shown(const fs::path& file, const Getenv& getenv) {
  const auto home = getenv("HOME");
  const std::string path = file.string();
  if (home && path.rfind(*home + "/", 0) == 0) return "~" + path.substr(home->size());
  return path;
}

/// The profile's table, or nullptr when the file or the profile is absent.
/// Throws UsageError for a file that does not parse or a malformed profile.
std::optional<toml::table> load_profile(const fs::path& file, const std::string& profile, const std::string& where) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  toml::table doc;
  try {
    doc = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << where << ": " << e.description() << " (line " << e.source().begin.line << ")";
    throw UsageError(msg.str());
  }
  const toml::node* node = doc.get(profile);
  if (!node) return std::nullopt;
  const toml::table* table = node->as_table();
  if (!table) throw UsageError(where + ": [" + profile + "] must be a table of settings");
  for (const auto& [key, value] : *table) {
    bool known = false;
    for (const Row& row : kRows) known = known || key.str() == row.profile_key;
    if (!known)
      throw UsageError(where + ": [" + profile + "] has an unknown key '" + std::string(key.str()) +
                       "' (known: server, key, signing_secret, tenant)");
    if (!value.is_string())
      throw UsageError(where + ": [" + profile + "] " + std::string(key.str()) + " must be a string in quotes");
  }
  return *table;
}

}  // namespace

std::optional<std::string> process_getenv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

fs::path config_file_path(const Getenv& getenv) {
  if (auto xdg = getenv("XDG_CONFIG_HOME")) return fs::path(*xdg) / "progimage" / "config.toml";
  if (auto home = getenv("HOME")) return fs::path(*home) / ".config" / "progimage" / "config.toml";
  return fs::path(".config") / "progimage" / "config.toml";
}

Settings resolve_settings(const Flags& flags, const Getenv& getenv) {
  Settings s;
  s.config_file = config_file_path(getenv);
  const std::string file_shown = shown(s.config_file, getenv);

  bool named = true;
  if (!flags.profile.empty()) s.profile = flags.profile;
  else if (auto env = getenv("PROGIMAGE_PROFILE")) s.profile = *env;
  else s.profile = "default", named = false;

  const auto profile = load_profile(s.config_file, s.profile, file_shown);
  if (!profile && named)
    throw UsageError("profile '" + s.profile + "' is not in " + file_shown + " (add a [" + s.profile +
                     "] table with server = \"…\" and key = \"…\", or drop --profile / PROGIMAGE_PROFILE)");

  for (const Row& row : kRows) {
    Setting& out = s.*row.setting;
    if (const std::string& flag = flags.*row.flag; !flag.empty()) {
      out = {flag, row.flag_name};
    } else if (auto env = getenv(row.env)) {
      out = {*env, row.env};
    } else if (auto v = profile ? profile->get_as<std::string>(row.profile_key) : nullptr; v && !v->get().empty()) {
      out = {v->get(), std::string(row.profile_key) + "= in [" + s.profile + "] of " + file_shown};
    } else {
      out = {row.fallback, "default"};
    }
  }
  return s;
}

}  // namespace progimage::cli
