#pragma once
// Where the server, the key and the signing secret come from: a flag, else
// the environment, else the profile in the configuration file, else the
// default (README.md, "Configuration").
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace progimage::cli {

/// The global flags as given; "" when absent.
struct Flags {
  std::string server, key, profile, tenant, signing_secret;
};

/// A resolved value and where it came from ("--key", "PROGIMAGE_KEY",
/// "profile default in ~/.config/progimage/config.toml", "default").
struct Setting {
  std::string value;
  std::string source;
  bool empty() const { return value.empty(); }
};

struct Settings {
  Setting server, key, tenant, signing_secret;
  std::string profile;  ///< the profile used ("default" unless one was named)
  std::filesystem::path config_file;
};

/// Reads an environment variable; nullopt when unset or empty.
using Getenv = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_getenv(const char* name);

/// `$XDG_CONFIG_HOME/progimage/config.toml`, else `$HOME/.config/progimage/config.toml`.
std::filesystem::path config_file_path(const Getenv& getenv = process_getenv);

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

/// Flag > environment > profile > default. Throws UsageError when the file
/// does not parse, holds an unknown key or a value that is not a string, or
/// when a profile named by --profile or PROGIMAGE_PROFILE is not in it.
Settings resolve_settings(const Flags& flags, const Getenv& getenv = process_getenv);

}  // namespace progimage::cli
