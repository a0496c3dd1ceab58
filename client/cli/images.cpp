// Reading and managing images: get, url, transform, info, search, similar, rm.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "commands.hpp"
#include "errors.hpp"
#include "units.hpp"

namespace progimage::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// ---- where bytes go ----

/// The bytes go to a file, or to stdout when no file is named; never to a
/// terminal, and not with --json (its lines are the output then).
void check_destination(const std::string& file, bool json) {
  if (!file.empty() && file != "-") return;
  if (json) throw UsageError("--json needs -o FILE: the image bytes would be mixed with the JSON lines");
  if (::isatty(STDOUT_FILENO))
    throw UsageError("refusing to write image bytes to a terminal: give -o FILE, or redirect stdout (> FILE, | …)");
}

bool to_stdout(const std::string& file) { return file.empty() || file == "-"; }

void write_stdout(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0)
    throw std::runtime_error("writing to stdout failed");
}

/// Writes beside the target and renames, so a failure leaves no half file.
void write_file(const fs::path& file, std::string_view bytes) {
  fs::path tmp = file;
  tmp += ".part";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, file);
}

void report_written(Context& ctx, const std::string& file, const std::string& type, std::int64_t size,
                    const std::string& cache) {
  if (ctx.json) {
    json::object o{{"file", file}, {"content_type", type}, {"size", size}};
    if (!cache.empty()) o["cache"] = cache;
    ctx.out().emit(o);
  } else {
    ctx.out().line("wrote " + file + " (" + (type.empty() ? "" : type + ", ") + human_bytes(size) +
                   (cache.empty() ? "" : ", cache " + cache) + ")");
  }
}

// ---- get ----

constexpr const char* kGetExamples = R"(
Without -o the bytes go to stdout, which must not be a terminal.
--params takes transform parameters as in docs/API.md (w, h, fit, format…).

Examples:
  progimage-cli get 4Jb1mX0cQe9T2vK7pLw8Aa -o original.jpg
  progimage-cli get 4Jb1mX0cQe9T2vK7pLw8Aa --params 'w=300&format=webp' -o thumb.webp
  progimage-cli get 4Jb1mX0cQe9T2vK7pLw8Aa --params 'w=64&fit=cover&h=64' > avatar.jpg)";

struct GetArgs {
  std::string id, output, params;
};

int get(Context& ctx, const GetArgs& a) {
  check_destination(a.output, ctx.json);
  const auto transform = parse_params(a.params);
  if (to_stdout(a.output)) {
    ctx.client().download(a.id, [](std::string_view chunk) {
      write_stdout(chunk);
      return true;
    }, transform);
    return kExitOk;
  }
  const Download d = ctx.client().download(a.id, fs::path(a.output), transform);
  report_written(ctx, a.output, d.content_type, d.size, d.cache);
  return kExitOk;
}

// ---- url ----

constexpr const char* kUrlExamples = R"(
The URL is made here, not asked of the server: signed with the server's
signing secret (--secret, else PROGIMAGE_SIGNING_SECRET, else signing_secret=
in the profile) when there is one. --expires adds exp, inside the signature.

Examples:
  progimage-cli url 4Jb1mX0cQe9T2vK7pLw8Aa --params 'w=300&h=300&fit=cover' --ext webp
  progimage-cli url 4Jb1mX0cQe9T2vK7pLw8Aa --params w=1200 --expires 1h
  progimage-cli url 4Jb1mX0cQe9T2vK7pLw8Aa --params w=640 --relative --secret "$SECRET")";

struct UrlArgs {
  std::string id, params, ext, expires;
  bool relative = false;
};

/// A parameter's value in a URL's query as written, "" when absent.
std::string query_value(const std::string& url, const std::string& name) {
  const auto q = url.find('?');
  if (q == std::string::npos) return {};
  for (std::size_t at = q + 1; at < url.size();) {
    const auto end = std::min(url.find('&', at), url.size());
    const std::string_view pair(url.data() + at, end - at);
    if (pair.substr(0, name.size() + 1) == name + "=") return std::string(pair.substr(name.size() + 1));
    at = end + 1;
  }
  return {};
}

int url(Context& ctx, const UrlArgs& a) {
  const auto transform = parse_params(a.params);
  progimage::UrlOptions options;
  options.extension = a.ext;
  options.absolute = !a.relative;
  if (!a.expires.empty()) options.expires_in = parse_duration(a.expires);
  const std::string made = ctx.client().url(a.id, transform, options);
  const Setting& secret = ctx.settings().signing_secret;
  if (ctx.json) {
    json::object o{{"url", made}, {"signed", !secret.empty()}};
    if (auto exp = query_value(made, "exp"); !exp.empty()) o["exp"] = std::stoll(exp);
    ctx.out().emit(o);
  } else {
    ctx.out().line(made);
  }
  if (secret.empty() && !transform.empty())
    ctx.out().note("note: not signed (no signing secret: --secret, PROGIMAGE_SIGNING_SECRET or signing_secret= in "
                   "the profile); a server that signs URLs refuses it");
  return kExitOk;
}

// ---- transform ----

constexpr const char* kTransformExamples = R"(
The server transforms the file and sends the result back; nothing is stored.

Examples:
  progimage-cli transform photo.heic --params 'w=1200&format=jpeg&q=85' -o photo.jpg
  progimage-cli transform logo.png --params 'w=64&format=webp' > logo-64.webp)";

struct TransformArgs {
  std::string file, params, output;
};

int transform(Context& ctx, const TransformArgs& a) {
  check_destination(a.output, ctx.json);
  const auto t = parse_params(a.params);
  if (t.empty()) throw UsageError("--params is empty: say what to do (w=300, format=webp, …)");
  const std::string bytes = ctx.client().transform_file(a.file, t);
  if (to_stdout(a.output)) {
    write_stdout(bytes);
    return kExitOk;
  }
  write_file(a.output, bytes);
  report_written(ctx, a.output, "", static_cast<std::int64_t>(bytes.size()), "");
  return kExitOk;
}

// ---- info ----

constexpr const char* kInfoExamples = R"(
Examples:
  progimage-cli info 4Jb1mX0cQe9T2vK7pLw8Aa
  progimage-cli info 4Jb1mX0cQe9T2vK7pLw8Aa --json | jq .exif)";

int info(Context& ctx, const std::string& id) {
  const ImageInfo i = ctx.client().info(id);
  if (ctx.json) {
    ctx.out().emit(to_json(i));
    return kExitOk;
  }
  const Image& m = i.image;
  auto row = [&](const char* name, const std::string& value) {
    if (!value.empty()) ctx.out().line(std::string(name) + std::string(13 - std::strlen(name), ' ') + value);
  };
  std::string tags;
  for (const auto& t : m.tags) tags += (tags.empty() ? "" : ", ") + t;
  std::string variants;
  for (const auto& [name, state] : m.variants) variants += (variants.empty() ? "" : ", ") + name + " " + state;
  std::string camera = m.camera_make.value_or("");
  if (m.camera_model) camera += (camera.empty() ? "" : " ") + *m.camera_model;
  row("id", m.id);
  row("name", m.name);
  row("format", m.format + " " + std::to_string(m.width) + "x" + std::to_string(m.height) +
                    (m.frames > 1 ? ", " + std::to_string(m.frames) + " frames" : "") +
                    (i.pages > 1 ? ", " + std::to_string(i.pages) + " pages" : "") + (m.has_alpha ? ", alpha" : ""));
  row("size", human_bytes(m.size) + " (" + std::to_string(m.size) + " bytes)");
  row("sha256", m.sha256);
  row("created", m.created_at);
  row("description", m.description);
  row("tags", tags);
  row("camera", camera);
  if (m.focus) row("focus", std::to_string(m.focus->x) + ", " + std::to_string(m.focus->y));
  row("variants", variants);
  row("icc", i.icc.value_or(""));
  row("phash", i.phash.value_or(""));
  row("colour", i.dominant_color.value_or(""));
  row("blurhash", i.blurhash.value_or(""));
  if (!i.exif_json.empty() && i.exif_json != "null") row("exif", i.exif_json);
  return kExitOk;
}

// ---- search ----

constexpr const char* kSearchExamples = R"(
Newest first; every page is fetched (the cursors followed) up to --limit.
Tags are OR-ed. Dates are YYYY-MM-DD or RFC 3339 on the upload time.

Examples:
  progimage-cli search --tag beach --tag sunset --from 2026-06-01
  progimage-cli search --q 'sunset' --format jpeg --limit 20
  progimage-cli search --camera 'iPhone 8 Plus' --json | jq -r .id)";

struct SearchArgs {
  SearchQuery query;
  int limit = 0;
};

int search(Context& ctx, SearchArgs a) {
  if (a.limit > 0) a.query.page_size = std::min(a.limit, 1000);
  else a.query.page_size = 1000;
  int shown = 0;
  for (const Image& image : ctx.client().search(a.query)) {
    if (ctx.json) ctx.out().emit(to_json(image));
    else ctx.out().line(image_line(image));
    if (++shown == a.limit) break;
  }
  if (!ctx.json && shown == 0) ctx.out().note("no images match");
  return kExitOk;
}

// ---- similar ----

constexpr const char* kSimilarExamples = R"(
An argument that is a file is sent (and not stored); anything else is an
image id. Matches come nearest first, with their Hamming distance (0–32).

Examples:
  progimage-cli similar 4Jb1mX0cQe9T2vK7pLw8Aa
  progimage-cli similar candidate.jpg --max-distance 6 --limit 5)";

struct SimilarArgs {
  std::string target;
  SimilarOptions options;
};

std::string read_whole(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int similar(Context& ctx, const SimilarArgs& a) {
  std::error_code ec;
  const bool is_file = fs::is_regular_file(a.target, ec);
  const auto matches = is_file ? ctx.client().similar_to(read_whole(a.target), a.options)
                               : ctx.client().similar(a.target, a.options);
  for (const auto& m : matches) {
    if (ctx.json) ctx.out().emit(json::object{{"distance", m.distance}, {"image", to_json(m.image)}});
    else ctx.out().line(std::to_string(m.distance) + "  " + image_line(m.image));
  }
  if (!ctx.json && matches.empty()) ctx.out().note("no similar images");
  return kExitOk;
}

// ---- rm ----

constexpr const char* kRmExamples = R"(
Each id is deleted on its own; one that fails does not stop the others
(exit status 1 then).

Examples:
  progimage-cli rm 4Jb1mX0cQe9T2vK7pLw8Aa
  progimage-cli search --tag scratch --json | jq -r .id | xargs progimage-cli rm)";

int rm(Context& ctx, const std::vector<std::string>& ids) {
  int failed = 0;
  std::optional<progimage::Error> first;
  for (const auto& id : ids) {
    try {
      ctx.client().remove(id);
      if (ctx.json) ctx.out().emit(json::object{{"id", id}, {"deleted", true}});
      else ctx.out().line("deleted " + id);
    } catch (const progimage::Error& e) {
      ++failed;
      if (!first) first = e;
      if (ctx.json) ctx.out().emit(json::object{{"id", id}, {"deleted", false}, {"error", error_json(e)}});
      else ctx.out().note("failed  " + id + "  " + describe(e));
    }
  }
  if (first && !ctx.json)
    if (auto hint = advice(*first, ctx.settings()); !hint.empty()) ctx.out().note("hint: " + hint);
  return failed ? kExitFailed : kExitOk;
}

}  // namespace

void add_image_commands(CLI::App& app, Context& ctx) {
  {
    auto a = std::make_shared<GetArgs>();
    auto* cmd = app.add_subcommand("get", "download an original, or a derivative with --params");
    cmd->footer(kGetExamples);
    cmd->add_option("id", a->id, "image id")->required();
    cmd->add_option("-o,--output", a->output, "file to write (default: stdout, not a terminal)");
    cmd->add_option("-p,--params", a->params, "transform parameters, e.g. 'w=300&format=webp'");
    on_run(cmd, ctx, [&ctx, a] { return get(ctx, *a); });
  }
  {
    auto a = std::make_shared<UrlArgs>();
    auto* cmd = app.add_subcommand("url", "make a (signed) URL of an image or a derivative");
    cmd->footer(kUrlExamples);
    cmd->add_option("id", a->id, "image id")->required();
    cmd->add_option("-p,--params", a->params, "transform parameters, e.g. 'w=300&fit=cover'");
    cmd->add_option("--ext", a->ext, "an extension for the path: webp, png, avif…");
    cmd->add_option("--expires", a->expires, "valid for this long from now: 30m, 1h, 7d");
    cmd->add_option("--secret", ctx.flags.signing_secret, "URL signing secret [env PROGIMAGE_SIGNING_SECRET]");
    cmd->add_flag("--relative", a->relative, "the path and query only, without the server's address");
    on_run(cmd, ctx, [&ctx, a] { return url(ctx, *a); });
  }
  {
    auto a = std::make_shared<TransformArgs>();
    auto* cmd = app.add_subcommand("transform", "transform a local file on the server, storing nothing");
    cmd->footer(kTransformExamples);
    cmd->add_option("file", a->file, "image file")->required()->check(CLI::ExistingFile);
    cmd->add_option("-p,--params", a->params, "transform parameters, e.g. 'w=300&format=webp'")->required();
    cmd->add_option("-o,--output", a->output, "file to write (default: stdout, not a terminal)");
    on_run(cmd, ctx, [&ctx, a] { return transform(ctx, *a); });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("info", "an image's metadata: size, format, EXIF, hashes, variants");
    cmd->footer(kInfoExamples);
    cmd->add_option("id", *id, "image id")->required();
    on_run(cmd, ctx, [&ctx, id] { return info(ctx, *id); });
  }
  {
    auto a = std::make_shared<SearchArgs>();
    auto* cmd = app.add_subcommand("search", "list and search images, newest first");
    cmd->footer(kSearchExamples);
    cmd->add_option("-q,--q", a->query.q, "full text over name and description");
    cmd->add_option("-t,--tag", a->query.tags, "a tag (repeatable; any of them matches)");
    cmd->add_option("--format", a->query.format, "jpeg, png, webp…");
    cmd->add_option("--camera", a->query.camera, "camera model (any case)");
    cmd->add_option("--from", a->query.from, "uploaded on or after (YYYY-MM-DD or RFC 3339)");
    cmd->add_option("--to", a->query.to, "uploaded on or before (a bare date covers the day)");
    cmd->add_option("-l,--limit", a->limit, "at most this many images (default: all)")->check(CLI::NonNegativeNumber);
    on_run(cmd, ctx, [&ctx, a] { return search(ctx, *a); });
  }
  {
    auto a = std::make_shared<SimilarArgs>();
    auto* cmd = app.add_subcommand("similar", "images that look like a stored image or a local file");
    cmd->footer(kSimilarExamples);
    cmd->add_option("target", a->target, "image id or file")->required();
    cmd->add_option("--max-distance", a->options.max_distance, "largest Hamming distance, 0-32")
        ->check(CLI::Range(0, 32))
        ->capture_default_str();
    cmd->add_option("-l,--limit", a->options.limit, "at most this many, 1-100")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    on_run(cmd, ctx, [&ctx, a] { return similar(ctx, *a); });
  }
  {
    auto ids = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("rm", "delete images");
    cmd->footer(kRmExamples);
    cmd->add_option("ids", *ids, "image ids")->required();
    on_run(cmd, ctx, [&ctx, ids] { return rm(ctx, *ids); });
  }
}

}  // namespace progimage::cli
