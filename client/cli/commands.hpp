#pragma once
// What every command is given, and the functions that add each command
// group to the command line (one file per group).
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "output.hpp"
#include "progimage/client.hpp"

namespace progimage::cli {

/// Shared by the commands: the global flags, the settings resolved from
/// them, the client, the output. The command chosen on the command line
/// leaves its work in `action`, which main runs once parsing is done.
class Context {
 public:
  Flags flags;
  bool json = false;
  std::function<int()> action;

  /// Resolved on first use (a malformed profile is a usage error then).
  const Settings& settings();
  /// Made on first use from settings().
  progimage::Client& client();
  Output& out() { return out_; }
  /// The settings if they were resolved already (for messages after a failure).
  const Settings* resolved() const { return settings_ ? &*settings_ : nullptr; }

 private:
  std::optional<Settings> settings_;
  std::optional<progimage::Client> client_;
  Output out_;
};

/// Sets `cmd`'s action: `run` is called when `cmd` was the command given.
void on_run(CLI::App* cmd, Context& ctx, std::function<int()> run);

/// `w=300&fit=cover` → Transform; a malformed pair is a usage error.
progimage::Transform parse_params(const std::string& params);

void add_upload_command(CLI::App& app, Context& ctx);  // upload.cpp
void add_image_commands(CLI::App& app, Context& ctx);  // images.cpp: get url transform info search similar rm
void add_job_commands(CLI::App& app, Context& ctx);    // jobs.cpp: jobs submit|status|wait|cancel
void add_admin_commands(CLI::App& app, Context& ctx);  // admin.cpp: links, keys, usage, stats

}  // namespace progimage::cli
