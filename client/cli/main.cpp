// progimage-cli: the ProgImage API from the shell, on the C++ SDK (README.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <stdexcept>

#include "commands.hpp"
#include "errors.hpp"

namespace progimage::cli {

namespace {

constexpr const char* kVersion = "progimage-cli 0.1.0";

constexpr const char* kFooter = R"(
Server and key: --server and --key, else PROGIMAGE_URL and PROGIMAGE_KEY,
else the profile (--profile NAME or PROGIMAGE_PROFILE, default "default") in
$XDG_CONFIG_HOME/progimage/config.toml (~/.config/progimage/config.toml):

  [default]
  server = "https://images.example.com"
  key = "pik_..."
  signing_secret = "..."     # for `url`
  [staging]
  server = "https://images.staging.example.com"

Examples:
  progimage-cli upload photos/ --tag holiday
  progimage-cli search --tag holiday --json | jq -r .id
  progimage-cli get 4Jb1mX0cQe9T2vK7pLw8Aa --params 'w=300&format=webp' -o thumb.webp
  progimage-cli --profile staging stats

Run 'progimage-cli COMMAND --help' for a command's options and examples.
Exit status: 0 all succeeded, 1 something failed, 2 a usage error.)";

void add_global_options(CLI::App& app, Context& ctx) {
  app.add_option("--server", ctx.flags.server, "base URL of the server [env PROGIMAGE_URL]");
  app.add_option("--key", ctx.flags.key, "API key or bearer token [env PROGIMAGE_KEY]");
  app.add_option("--profile", ctx.flags.profile, "profile of config.toml to use [env PROGIMAGE_PROFILE]");
  app.add_option("--tenant", ctx.flags.tenant, "operators: act as this tenant [env PROGIMAGE_TENANT]");
  app.add_flag("--json", ctx.json, "one JSON document per line on stdout");
}

}  // namespace

const Settings& Context::settings() {
  if (!settings_) settings_ = resolve_settings(flags);
  return *settings_;
}

progimage::Client& Context::client() {
  if (!client_) {
    const Settings& s = settings();
    progimage::ClientOptions options;
    options.base_url = s.server.value;
    options.key = s.key.value;
    options.tenant = s.tenant.value;
    options.signing_secret = s.signing_secret.value;
    options.user_agent = kVersion;
    client_.emplace(std::move(options));
  }
  return *client_;
}

void on_run(CLI::App* cmd, Context& ctx, std::function<int()> run) {
  cmd->callback([&ctx, run = std::move(run)] { ctx.action = run; });
}

progimage::Transform parse_params(const std::string& params) {
  try {
    return progimage::Transform::parse(params);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--params '" + params + "': " + e.what());
  }
}

int run(int argc, char** argv) {
  Context ctx;
  CLI::App app{"The ProgImage image service from the shell: upload, fetch, transform, search, jobs, keys.",
               "progimage-cli"};
  app.set_help_flag("-h,--help", "print this help (with examples) and exit");
  app.set_version_flag("--version", kVersion);
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global flags after the command too
  add_global_options(app, ctx);
  add_upload_command(app, ctx);
  add_image_commands(app, ctx);
  add_job_commands(app, ctx);
  add_admin_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  ctx.out().set_json(ctx.json);
  if (!ctx.action) return kExitUsage;  // a group without its subcommand; CLI11 said so
  try {
    return ctx.action();
  } catch (...) {
    return report_failure(std::current_exception(), ctx.out(), ctx.resolved());
  }
}

}  // namespace progimage::cli

int main(int argc, char** argv) { return progimage::cli::run(argc, argv); }
