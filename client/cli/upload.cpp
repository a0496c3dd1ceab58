// upload FILE|DIR|GLOB…: many files at once over Client::upload_many, the
// large ones over the resumable protocol, with progress and a summary.
#include <glob.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "commands.hpp"
#include "errors.hpp"
#include "progress.hpp"
#include "units.hpp"

namespace progimage::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr const char* kExamples = R"(
Directories are walked recursively (names starting with '.' are skipped);
a GLOB is expanded here when the shell left it alone ('photos/*.jpg').
Each file ends as stored, duplicate (the same bytes were stored already:
the existing image is given) or failed with the server's reason. On a
terminal a bar shows files, bytes and the time left; otherwise one line per
file; then the summary. Exit status 1 when any file failed.

Examples:
  progimage-cli upload photo.jpg --name cover.jpg --description 'the #beach at dusk'
  progimage-cli upload photos/ --tag holiday --tag 2026 --concurrency 8
  progimage-cli upload 'scans/*.tif' --resumable-over 20M
  progimage-cli upload photos/ --json | jq -r 'select(.status=="failed") | .file')";

struct UploadArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> tags;
  std::string description, name, resumable_over;
  int concurrency = 4;
};

/// A file to send.
struct Input {
  fs::path path;
  std::string shown;  ///< as the user named it (or below the directory they named)
  std::int64_t size = 0;
};

/// What the command line named, as files: found ones and what could not be read.
struct Inputs {
  std::vector<Input> files;
  std::vector<std::pair<std::string, std::string>> missing;  ///< name, why
};

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 1 && name[0] == '.' && name != "..";
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

void add_path(Inputs& in, std::set<fs::path>& seen, const fs::path& path, const std::string& shown) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    in.missing.emplace_back(shown, "no such file or directory");
    return;
  }
  auto add_file = [&](const fs::path& file, std::string name) {
    std::error_code e;
    const auto canonical = fs::weakly_canonical(file, e);
    if (!seen.insert(e ? file : canonical).second) return;  // named twice
    const auto size = fs::file_size(file, e);
    if (e) in.missing.emplace_back(std::move(name), e.message());
    else in.files.push_back({file, std::move(name), static_cast<std::int64_t>(size)});
  };
  if (fs::is_regular_file(status)) return add_file(path, shown);
  if (!fs::is_directory(status)) {
    in.missing.emplace_back(shown, "not a regular file or a directory");
    return;
  }
  std::vector<fs::path> found;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) found.push_back(it->path());
  }
  if (ec) in.missing.emplace_back(shown, ec.message());
  std::sort(found.begin(), found.end());
  for (const auto& file : found) add_file(file, file.string());
}

Inputs collect(const std::vector<std::string>& args) {
  Inputs in;
  std::set<fs::path> seen;
  for (const auto& arg : args) {
    std::error_code ec;
    if (fs::exists(arg, ec) || !has_glob(arg)) {
      add_path(in, seen, arg, arg);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(arg.c_str(), GLOB_NOSORT | GLOB_BRACE | GLOB_TILDE, nullptr, &g);
    if (rc == 0) {
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      std::sort(matches.begin(), matches.end());
      for (const auto& m : matches) add_path(in, seen, m, m);
    } else {
      in.missing.emplace_back(arg, "no file matches");
    }
    ::globfree(&g);
  }
  return in;
}

/// The tally and the reports of one upload command.
class Tally {
 public:
  Tally(Output& out, Progress& progress) : out_(out), progress_(progress) {}

  void stored(const std::string& file, const Image& image) {
    ++(image.duplicate ? duplicates_ : stored_);
    bytes_ += image.size;
    if (out_.json()) {
      out_.emit(json::object{{"file", file},
                             {"status", image.duplicate ? "duplicate" : "stored"},
                             {"id", image.id},
                             {"image", to_json(image)}});
    } else if (image.duplicate) {
      out_.line("duplicate  " + image.id + "  " + file + "  (these bytes were stored already)");
    } else {
      out_.line("stored     " + image.id + "  " + file + "  (" + image.format + " " + std::to_string(image.width) +
                "x" + std::to_string(image.height) + ", " + human_bytes(image.size) + ")");
    }
  }

  void failed(const std::string& file, const progimage::Error& error) {
    ++failed_;
    if (!first_error_) first_error_ = error;
    if (out_.json()) out_.emit(json::object{{"file", file}, {"status", "failed"}, {"error", error_json(error)}});
    else out_.note("failed     " + file + "  " + describe(error));
  }

  void failed(const std::string& file, const std::string& why) {
    ++failed_;
    if (out_.json())
      out_.emit(json::object{{"file", file}, {"status", "failed"}, {"error", {{"code", "file"}, {"message", why}}}});
    else out_.note("failed     " + file + "  " + why);
  }

  int summary(std::chrono::steady_clock::duration took, const Settings& settings) {
    progress_.finish();
    const double seconds = std::chrono::duration<double>(took).count();
    const int files = stored_ + duplicates_ + failed_;
    if (out_.json()) {
      out_.emit(json::object{{"summary",
                              {{"files", files},
                               {"stored", stored_},
                               {"duplicates", duplicates_},
                               {"failed", failed_},
                               {"bytes", bytes_},
                               {"seconds", std::round(seconds * 1000) / 1000}}}});
    } else {
      char rate[64] = "";
      if (seconds > 0) std::snprintf(rate, sizeof rate, ", %.1f files/s", files / seconds);
      out_.line(std::to_string(files) + " files: " + std::to_string(stored_) + " stored, " +
                std::to_string(duplicates_) + " duplicates, " + std::to_string(failed_) + " failed  (" +
                human_bytes(bytes_) + " in " + human_duration(seconds) + rate + ")");
      if (first_error_)
        if (auto hint = advice(*first_error_, settings); !hint.empty()) out_.note("hint: " + hint);
    }
    return failed_ > 0 ? kExitFailed : kExitOk;
  }

 private:
  Output& out_;
  Progress& progress_;
  int stored_ = 0, duplicates_ = 0, failed_ = 0;
  std::int64_t bytes_ = 0;
  std::optional<progimage::Error> first_error_;
};

UploadOptions upload_options(const UploadArgs& a) {
  UploadOptions o;
  o.name = a.name;
  o.description = a.description;
  o.tags = a.tags;
  return o;
}

int upload(Context& ctx, const UploadArgs& a) {
  const std::int64_t resumable_over = a.resumable_over.empty() ? -1 : parse_size(a.resumable_over);
  Inputs in = collect(a.inputs);
  if (!a.name.empty() && in.files.size() + in.missing.size() != 1)
    throw UsageError("--name is for a single file; " + std::to_string(in.files.size() + in.missing.size()) +
                     " were named");
  if (in.files.empty() && in.missing.empty()) throw UsageError("no files to upload");

  std::vector<Input> batch, large;
  std::int64_t total_bytes = 0;
  for (auto& f : in.files) {
    total_bytes += f.size;
    (resumable_over >= 0 && f.size > resumable_over ? large : batch).push_back(std::move(f));
  }

  Output& out = ctx.out();
  Progress progress(Progress::choose(ctx.json, Progress::Mode::none), "files");
  progress.set_total(static_cast<std::int64_t>(batch.size() + large.size()), total_bytes);
  const AttachedProgress attached(out, progress);
  Tally tally(out, progress);
  const auto started = std::chrono::steady_clock::now();
  auto& client = ctx.client();

  for (const auto& [name, why] : in.missing) tally.failed(name, why);

  const UploadOptions options = upload_options(a);
  if (!batch.empty()) {
    std::vector<UploadItem> items;
    items.reserve(batch.size());
    for (const auto& f : batch) items.push_back({f.path, {}, options});
    BatchOptions bo;
    bo.concurrency = a.concurrency;
    // Items count as they end (on_item); bytes as they are sent (on_progress).
    std::int64_t ended = 0, sent = 0;
    bo.on_progress = [&](const progimage::Progress& p) { progress.update(ended, sent = p.bytes_done); };
    bo.on_item = [&](std::size_t i, const UploadOutcome& o) {
      if (o.image) tally.stored(batch[i].shown, *o.image);
      else if (o.error) tally.failed(batch[i].shown, *o.error);
      else tally.failed(batch[i].shown, "no answer");
      progress.update(++ended, sent);
    };
    client.upload_many(items, bo);
  }

  std::int64_t items_before = static_cast<std::int64_t>(batch.size()), bytes_before = 0;
  for (const auto& f : batch) bytes_before += f.size;
  progress.update(items_before, bytes_before);
  for (const auto& f : large) {
    ResumableOptions ro;
    ro.on_progress = [&](const progimage::Progress& p) { progress.update(items_before, bytes_before + p.bytes_done); };
    try {
      tally.stored(f.shown, client.upload_resumable(f.path, options, ro));
    } catch (const progimage::Error& e) {
      tally.failed(f.shown, e);
    } catch (const std::filesystem::filesystem_error& e) {  // gone or unreadable since it was listed
      tally.failed(f.shown, e.what());
    }
    progress.update(++items_before, bytes_before += f.size);
  }

  return tally.summary(std::chrono::steady_clock::now() - started, ctx.settings());
}

}  // namespace

void add_upload_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<UploadArgs>();
  auto* cmd = app.add_subcommand("upload", "upload files, directories (recursively) or globs");
  cmd->footer(kExamples);
  cmd->add_option("files", a->inputs, "FILE, DIR or GLOB")->required();
  cmd->add_option("-t,--tag", a->tags, "a tag for every image (repeatable)");
  cmd->add_option("-d,--description", a->description, "a description for every image (#hashtags become tags)");
  cmd->add_option("-n,--name", a->name, "the stored file name (a single file only)");
  cmd->add_option("-c,--concurrency", a->concurrency, "uploads in flight at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--resumable-over", a->resumable_over,
                  "send files over this size (100M, 1.5GB) by the resumable protocol, one at a time");
  on_run(cmd, ctx, [&ctx, a] { return upload(ctx, *a); });
}

}  // namespace progimage::cli
