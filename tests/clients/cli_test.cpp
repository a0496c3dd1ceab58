// progimage-cli (client/cli) against the real server over loopback: uploads
// of the corpus, a 200-image job followed to its end, the progress bar on a
// pseudo-terminal and its absence in a pipe, --help, exit statuses,
// profiles, signed URLs, bash completion and every other command.
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "corpus_manifest.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

using Env = std::vector<std::pair<std::string, std::string>>;

/// A directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "progimage-cli-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// One run of the CLI: its exit status (-1 when it did not exit), stdout, stderr.
struct CliRun {
  int status = -1;
  std::string out, err;
  std::string describe() const {
    return "exit status " + std::to_string(status) + "\n--- stdout:\n" + tail(out, 2500) + "\n--- stderr:\n" +
           tail(err, 2500);
  }
  /// stdout's lines as JSON documents; a line that does not parse fails the test.
  std::vector<json::value> json_lines() const {
    std::vector<json::value> docs;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      EXPECT_FALSE(ec) << "stdout line is not JSON: " << line;
      if (!ec) docs.push_back(std::move(v));
    }
    return docs;
  }
};

int exit_status(int wait_status) { return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1; }

/// Runs the CLI with stdout and stderr apart, in an environment with no
/// PROGIMAGE_* but `env`, and a configuration directory of its own unless
/// `env` names XDG_CONFIG_HOME.
CliRun run_cli(const std::vector<std::string>& args, Env env = {}, std::chrono::milliseconds timeout = 120s) {
  TempDir dir;
  const fs::path out = dir.path / "stdout", err = dir.path / "stderr";
  const bool has_xdg = std::any_of(env.begin(), env.end(), [](const auto& kv) { return kv.first == "XDG_CONFIG_HOME"; });
  if (!has_xdg) env.emplace_back("XDG_CONFIG_HOME", (dir.path / "xdg").string());
  env.emplace_back("HOME", dir.path.string());
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >'" + out.string() + "' 2>'" + err.string() + "'",
                                   PROGIMAGE_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  auto [status, ignored] = run_command(argv, timeout, env);
  CliRun r;
  r.status = exit_status(status);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

/// The same against a server, named by --server.
CliRun run_cli(const Server& server, std::vector<std::string> args, Env env = {}, std::chrono::milliseconds timeout = 120s) {
  args.insert(args.begin(), {"--server", server.base_url()});
  return run_cli(args, std::move(env), timeout);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Distinct small PNGs (random pixels, each of its own seed) in `dir`.
std::vector<fs::path> make_pngs(const fs::path& dir, int count, int size = 64, std::uint32_t first_seed = 1) {
  fs::create_directories(dir);
  std::vector<fs::path> files;
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img-%04d.png", i);
    files.push_back(dir / name);
    write_file(files.back(), make_image(size, size, first_seed + static_cast<std::uint32_t>(i), ".png"));
  }
  return files;
}

/// The summary line of `upload --json`, or an empty object.
json::object summary_of(const std::vector<json::value>& docs) {
  for (const auto& d : docs)
    if (const auto* s = jfind(d, "summary"); s && s->is_object()) return s->as_object();
  return {};
}

std::int64_t count(const json::object& o, const char* name) { return jint(json::value(o), name); }

// ---------------------------------------------------------------------------

TEST(CliUpload, CorpusFolderStoresEveryValidFileAndReportsEveryBrokenOne) {
  Server server;
  ASSERT_TRUE(server.start());
  TempDir tmp;
  const fs::path root = tmp.path / "corpus";

  // Files the corpus rule (corpus_manifest.hpp) says must be stored, or must
  // be refused; the rest (refusal allowed) stay out so the counts are exact.
  std::map<std::string, bool> must_store;  // path as the CLI names it → stored?
  std::map<std::string, std::string> hash_of;
  for (const auto& row : corpus_manifest()) {
    const auto expect = corpus_expectation(row);
    if (!expect.must_store() && !expect.invalid) continue;
    const fs::path dest = root / row.path;
    fs::create_directories(dest.parent_path());
    fs::copy_file(testdata_dir() / row.path, dest, fs::copy_options::overwrite_existing);
    must_store[dest.string()] = expect.must_store();
    hash_of[dest.string()] = sha256_hex(read_file(dest));
  }
  // The same bytes as a stored file, under another name, sorted last: a duplicate.
  const auto original = std::find_if(must_store.begin(), must_store.end(), [](const auto& kv) { return kv.second; });
  ASSERT_NE(original, must_store.end());
  const fs::path copy = root / "zz-copies" / "copy.bin";
  fs::create_directories(copy.parent_path());
  fs::copy_file(original->first, copy);
  must_store[copy.string()] = true;
  hash_of[copy.string()] = hash_of[original->first];

  const int valid = static_cast<int>(std::count_if(must_store.begin(), must_store.end(), [](auto& kv) { return kv.second; }));
  const int broken = static_cast<int>(must_store.size()) - valid;
  ASSERT_GT(valid, 300);
  ASSERT_GT(broken, 40);

  const CliRun r = run_cli(server, {"upload", root.string(), "--json", "--concurrency", "4", "--tag", "corpus"}, {}, 280s);
  EXPECT_EQ(r.status, 1) << "a broken file must make the exit status 1; " << r.describe();
  const auto docs = r.json_lines();

  std::map<std::string, const json::value*> by_file;
  for (const auto& d : docs)
    if (auto f = jstring(d, "file"); !f.empty()) {
      EXPECT_EQ(by_file.count(f), 0u) << f << " reported twice";
      by_file[f] = &d;
    }
  EXPECT_EQ(by_file.size(), must_store.size()) << "one line per file; " << r.describe();

  // Files of equal bytes share one image: the first to arrive is stored, the others are duplicates of it.
  std::map<std::string, std::vector<std::string>> files_of_hash;
  for (const auto& [file, store] : must_store)
    if (store) files_of_hash[hash_of[file]].push_back(file);
  const int distinct = static_cast<int>(files_of_hash.size());
  std::map<std::string, std::pair<int, std::set<std::string>>> seen;  // hash → stored count, ids
  for (const auto& [file, store] : must_store) {
    SCOPED_TRACE(file);
    auto it = by_file.find(file);
    if (it == by_file.end()) {
      ADD_FAILURE() << "no line for this file";
      continue;
    }
    const json::value& line = *it->second;
    const std::string status = jstring(line, "status");
    if (!store) {
      EXPECT_EQ(status, "failed") << json::serialize(line);
      EXPECT_EQ(jint(line, "error.status") / 100, 4) << "a broken file is refused with a 4xx: " << json::serialize(line);
      EXPECT_FALSE(jstring(line, "error.code").empty());
      EXPECT_FALSE(jstring(line, "error.message").empty());
      continue;
    }
    ASSERT_TRUE(status == "stored" || status == "duplicate") << json::serialize(line);
    const std::string id = jstring(line, "id");
    ASSERT_FALSE(id.empty());
    auto& [stored_count, ids] = seen[hash_of[file]];
    stored_count += status == "stored";
    ids.insert(id);
    EXPECT_EQ(jstring(line, "image.id"), id);
    EXPECT_EQ(jstring(line, "image.sha256"), hash_of[file]);
    auto got = server.http().get("/v1/images/" + id);
    EXPECT_EQ(got.status, 200) << got.describe();
    EXPECT_EQ(sha256_hex(got.body), hash_of[file]) << "the stored original is the file's bytes";
  }
  for (const auto& [hash, group] : files_of_hash) {
    EXPECT_EQ(seen[hash].first, 1) << "one of " << group.size() << " files with these bytes is stored: " << group[0];
    EXPECT_EQ(seen[hash].second.size(), 1u) << "and the others name its image: " << group[0];
  }
  EXPECT_GE(valid - distinct, 1) << "the copy at least is a duplicate";

  const auto summary = summary_of(docs);
  EXPECT_EQ(count(summary, "files"), static_cast<std::int64_t>(must_store.size())) << r.describe();
  EXPECT_EQ(count(summary, "stored"), distinct);
  EXPECT_EQ(count(summary, "duplicates"), valid - distinct);
  EXPECT_EQ(count(summary, "failed"), broken);

  // Again, for people: everything stored is a duplicate now, the broken ones fail again.
  const CliRun again = run_cli(server, {"upload", root.string(), "--concurrency", "4"}, {}, 280s);
  EXPECT_EQ(again.status, 1) << again.describe();
  const std::string expected = std::to_string(must_store.size()) + " files: 0 stored, " + std::to_string(valid) +
                               " duplicates, " + std::to_string(broken) + " failed";
  EXPECT_NE(again.out.find(expected), std::string::npos) << "summary \"" << expected << "\"; " << again.describe();
  EXPECT_NE(again.err.find("failed     " + root.string() + "/"), std::string::npos) << "failures on stderr";
  EXPECT_EQ(again.out.find('\r'), std::string::npos);
  EXPECT_EQ(again.err.find('\r'), std::string::npos);
}

TEST(CliUpload, AMissingFileFailsTheUploadButNotTheOthers) {
  Server server;
  ASSERT_TRUE(server.start());
  TempDir tmp;
  const auto files = make_pngs(tmp.path / "in", 3);
  const CliRun r = run_cli(server, {"upload", files[0].string(), (tmp.path / "nope.png").string(), files[1].string(),
                                 (tmp.path / "in" / "*.png").string(), "--json"});
  EXPECT_EQ(r.status, 1) << r.describe();
  const auto summary = summary_of(r.json_lines());
  EXPECT_EQ(count(summary, "files"), 4) << "three files (globbed once each) and one missing; " << r.describe();
  EXPECT_EQ(count(summary, "stored"), 3);
  EXPECT_EQ(count(summary, "failed"), 1);

  // --name is for one file: a usage error with two.
  const CliRun two = run_cli(server, {"upload", files[0].string(), files[1].string(), "--name", "x.png"});
  EXPECT_EQ(two.status, 2) << two.describe();
  // Tags, description and name reach the server.
  const auto one = make_pngs(tmp.path / "one", 1, 40, 999);
  const CliRun named = run_cli(server, {"upload", one[0].string(), "--name", "cover.png", "--tag", "Red", "--description",
                                     "at the #beach", "--json"});
  ASSERT_EQ(named.status, 0) << named.describe();
  const auto docs = named.json_lines();
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(jstring(docs[0], "image.name"), "cover.png");
  EXPECT_EQ(jstring(docs[0], "image.description"), "at the #beach");
  const auto* tags = jfind(docs[0], "image.tags");
  ASSERT_TRUE(tags && tags->is_array());
  std::set<std::string> tag_set;
  for (const auto& t : tags->as_array()) tag_set.insert(std::string(t.as_string()));
  EXPECT_TRUE(tag_set.count("red") && tag_set.count("beach")) << json::serialize(*tags);
}

TEST(CliUpload, LargeFilesGoOverTheResumableProtocol) {
  Server server;
  ASSERT_TRUE(server.start());
  TempDir tmp;
  make_pngs(tmp.path / "in", 2, 64, 500);
  write_file(tmp.path / "in" / "big.png", make_image(900, 900, 77, ".png"));  // ~2.4 MB of noise
  const CliRun r = run_cli(server, {"upload", (tmp.path / "in").string(), "--resumable-over", "100k", "--json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  const auto docs = r.json_lines();
  EXPECT_EQ(count(summary_of(docs), "stored"), 3) << r.describe();
  for (const auto& d : docs)
    if (jstring(d, "file").find("big.png") != std::string::npos) {
      EXPECT_EQ(jstring(d, "status"), "stored");
      auto got = server.http().get("/v1/images/" + jstring(d, "id"));
      EXPECT_EQ(sha256_hex(got.body), sha256_hex(read_file(tmp.path / "in" / "big.png")));
    }
}

// ---------------------------------------------------------------------------

TEST(CliJobs, SubmitWaitOver200ImagesShowsProgressAndEndsWithTheResults) {
  Server server({.args = {"--workers", "2"}});
  ASSERT_TRUE(server.start());
  TempDir tmp;
  make_pngs(tmp.path / "batch", 200, 64, 1000);
  const CliRun up = run_cli(server, {"upload", (tmp.path / "batch").string(), "--tag", "batch200", "--concurrency", "8"},
                         {}, 280s);
  ASSERT_EQ(up.status, 0) << up.describe();
  ASSERT_NE(up.out.find("200 files: 200 stored, 0 duplicates, 0 failed"), std::string::npos) << up.describe();

  // Enough work per item (an enlarged, blurred PNG) that the job lasts seconds.
  const CliRun r = run_cli(server,
                        {"jobs", "submit", "--tag", "batch200", "--params",
                         "w=500&h=500&fit=fill&enlarge=true&blur=4&format=png", "--wait", "--poll", "0.1"},
                        {}, 280s);
  ASSERT_EQ(r.status, 0) << r.describe();

  // Progress: plain lines on stderr (not a terminal), counts rising to 200.
  std::vector<int> counts;
  const std::regex progress_line(R"(job \S+: (\d+)/200 items)");
  for (std::sregex_iterator it(r.err.begin(), r.err.end(), progress_line), end; it != end; ++it)
    counts.push_back(std::stoi((*it)[1]));
  ASSERT_GE(counts.size(), 2u) << "progress lines while the job ran; " << r.describe();
  EXPECT_TRUE(std::is_sorted(counts.begin(), counts.end())) << r.describe();
  EXPECT_EQ(counts.back(), 200);
  EXPECT_LT(counts.front(), 200) << "a count before the end was shown; " << r.describe();
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no bar in a pipe";

  // The results, one line each, then the job's end.
  const std::regex result_line(R"((?:^|\n)(\d+)  done  \S+  -> /v1/images/\S+)");
  std::set<int> positions;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), result_line), end; it != end; ++it)
    positions.insert(std::stoi((*it)[1]));
  EXPECT_EQ(positions.size(), 200u) << r.describe();
  EXPECT_NE(r.out.find("completed: 200 done, 0 failed, 0 cancelled of 200"), std::string::npos) << r.describe();

  // --json: a line per result, then the job.
  const CliRun j = run_cli(server, {"jobs", "submit", "--tag", "batch200", "--params", "w=20&format=webp", "--wait",
                                 "--json", "--poll", "0.1"}, {}, 280s);
  ASSERT_EQ(j.status, 0) << j.describe();
  const auto docs = j.json_lines();
  ASSERT_EQ(docs.size(), 201u) << j.describe();
  for (std::size_t i = 0; i < 200; ++i) EXPECT_EQ(jstring(docs[i], "status"), "done");
  EXPECT_EQ(jstring(docs[200], "status"), "completed");
  EXPECT_EQ(jint(docs[200], "done"), 200);
  EXPECT_EQ(j.err, "") << "nothing but JSON with --json";

  // status, and a job that fails some items: exit status 1.
  const std::string id = jstring(docs[200], "id");
  const CliRun status = run_cli(server, {"jobs", "status", id});
  EXPECT_EQ(status.status, 0) << status.describe();
  EXPECT_NE(status.out.find("completed: 200 done"), std::string::npos) << status.describe();
  const CliRun failing = run_cli(server, {"jobs", "submit", "--tag", "batch200", "--params", "crop=5000,5000,10,10",
                                       "--wait", "--poll", "0.1"}, {}, 280s);
  EXPECT_EQ(failing.status, 1) << "items that fail make the exit status 1; " << failing.describe();
  // Neither sources nor a selection: a usage error.
  EXPECT_EQ(run_cli(server, {"jobs", "submit", "--params", "w=10"}).status, 2);
}

// ---------------------------------------------------------------------------

/// Runs the CLI on a pseudo-terminal (script(1)): everything it wrote to the terminal.
CliRun run_on_terminal(const Server& server, const std::vector<std::string>& args) {
  std::string cmd = shell_quote(PROGIMAGE_CLI) + " --server " + shell_quote(server.base_url());
  for (const auto& a : args) cmd += " " + shell_quote(a);
  TempDir dir;
  auto [status, output] =
      run_command({"/usr/bin/script", "-q", "-e", "-c", cmd, "/dev/null"}, 120s,
                  {{"TERM", "xterm"}, {"XDG_CONFIG_HOME", (dir.path / "xdg").string()}, {"HOME", dir.path.string()}});
  CliRun r;
  r.status = exit_status(status);
  r.out = output;
  return r;
}

TEST(CliProgress, BarIsDrawnOnATerminalAndAbsentInAPipe) {
  Server server;
  ASSERT_TRUE(server.start());
  TempDir tmp;
  make_pngs(tmp.path / "tty", 60, 160, 3000);
  make_pngs(tmp.path / "pipe", 60, 160, 4000);

  const CliRun tty = run_on_terminal(server, {"upload", (tmp.path / "tty").string(), "--concurrency", "2"});
  ASSERT_EQ(tty.status, 0) << tty.describe();
  EXPECT_NE(tty.out.find('\r'), std::string::npos) << "redrawn in place; " << tty.describe();
  EXPECT_NE(tty.out.find("\x1b[K"), std::string::npos) << "erase to the end of the line";
  const std::regex bar(R"(\[[=> ]{30}\] \d+/60 files  [0-9.]+)");
  EXPECT_TRUE(std::regex_search(tty.out, bar)) << tty.describe();
  EXPECT_NE(tty.out.find("] 60/60 files"), std::string::npos) << "the bar's last state; " << tty.describe();
  EXPECT_NE(tty.out.find("60 files: 60 stored"), std::string::npos);

  const CliRun pipe = run_cli(server, {"upload", (tmp.path / "pipe").string(), "--concurrency", "2"});
  ASSERT_EQ(pipe.status, 0) << pipe.describe();
  EXPECT_EQ(pipe.err.find('\r'), std::string::npos) << pipe.describe();
  EXPECT_EQ(pipe.err.find("\x1b["), std::string::npos) << pipe.describe();
  EXPECT_EQ(pipe.out.find('\r'), std::string::npos);
  EXPECT_EQ(pipe.out.find("files  "), std::string::npos) << "no bar text";
  const std::regex file_line(R"((?:^|\n)stored     \S+  \S+img-\d{4}\.png  \(png 160x160, )");
  EXPECT_EQ(std::distance(std::sregex_iterator(pipe.out.begin(), pipe.out.end(), file_line), std::sregex_iterator()), 60)
      << "a plain line per file; " << pipe.describe();
  EXPECT_NE(pipe.out.find("60 files: 60 stored, 0 duplicates, 0 failed"), std::string::npos);

  // A "dumb" terminal gets no bar either.
  make_pngs(tmp.path / "dumb", 3, 32, 5000);
  std::string cmd = shell_quote(PROGIMAGE_CLI) + " --server " + shell_quote(server.base_url()) + " upload " +
                    shell_quote((tmp.path / "dumb").string());
  auto [status, out] = run_command({"/usr/bin/script", "-q", "-e", "-c", cmd, "/dev/null"}, 60s, {{"TERM", "dumb"}});
  EXPECT_EQ(exit_status(status), 0) << out;
  EXPECT_EQ(out.find("\x1b[K"), std::string::npos) << out;
}

TEST(CliProgress, JobsWaitDrawsABarOfItemsOnATerminal) {
  Server server({.args = {"--workers", "1"}});
  ASSERT_TRUE(server.start());
  TempDir tmp;
  make_pngs(tmp.path / "job", 40, 64, 6000);
  const CliRun up = run_cli(server, {"upload", (tmp.path / "job").string(), "--tag", "bar40"});
  ASSERT_EQ(up.status, 0) << up.describe();
  // Enough work per item that the job is still running when the wait begins.
  const CliRun submitted = run_cli(
      server, {"jobs", "submit", "--tag", "bar40", "--params", "w=600&h=600&fit=fill&enlarge=true&blur=4&format=png",
               "--json"});
  ASSERT_EQ(submitted.status, 0) << submitted.describe();
  const auto docs = submitted.json_lines();
  ASSERT_FALSE(docs.empty()) << submitted.describe();
  const std::string id(docs.front().at("id").as_string());

  const CliRun waited = run_on_terminal(server, {"jobs", "wait", id, "--poll", "0.1"});
  ASSERT_EQ(waited.status, 0) << waited.describe();
  EXPECT_NE(waited.out.find('\r'), std::string::npos) << "redrawn in place; " << waited.describe();
  const std::regex bar(R"(\[[=> ]{30}\] \d+/40 items)");
  EXPECT_TRUE(std::regex_search(waited.out, bar)) << waited.describe();
  EXPECT_NE(waited.out.find("] 40/40 items"), std::string::npos) << "the bar's last state; " << waited.describe();
  std::vector<int> shown;
  const std::regex count(R"(\] (\d+)/40 items)");
  for (std::sregex_iterator it(waited.out.begin(), waited.out.end(), count), end; it != end; ++it)
    shown.push_back(std::stoi((*it)[1]));
  ASSERT_FALSE(shown.empty());
  EXPECT_LT(shown.front(), 40) << "drawn while the job ran; " << waited.describe();
  EXPECT_TRUE(std::is_sorted(shown.begin(), shown.end())) << waited.describe();
}

// ---------------------------------------------------------------------------

TEST(CliHelp, EveryCommandHasExamplesAndUsageErrorsExitWith2) {
  const std::vector<std::vector<std::string>> commands = {
      {},          {"upload"},          {"get"},           {"url"},          {"transform"},   {"info"},
      {"search"},  {"similar"},         {"rm"},            {"jobs"},         {"jobs", "submit"}, {"jobs", "status"},
      {"jobs", "wait"}, {"jobs", "cancel"}, {"links"},     {"links", "create"}, {"links", "list"}, {"links", "revoke"},
      {"keys"},    {"keys", "create"},  {"keys", "list"},  {"keys", "revoke"}, {"usage"},      {"stats"}};
  for (auto args : commands) {
    std::string name = "progimage-cli";
    for (const auto& a : args) name += " " + a;
    SCOPED_TRACE(name);
    args.push_back("--help");
    const CliRun r = run_cli(args);
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << r.describe();
    const bool example = r.out.find("\n  " + name + " ") != std::string::npos ||
                         r.out.find("\n  " + name + "\n") != std::string::npos;
    EXPECT_TRUE(example) << "an example of this very command; " << r.describe();
  }
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"frobnicate"},
                                                                {"upload"},
                                                                {"search", "--limit", "many"},
                                                                {"jobs"},
                                                                {"keys", "create", "--role", "root"},
                                                                {"get", "ID", "--params"},
                                                                {"url", "ID", "--expires", "soon"},
                                                                {"upload", "a.png", "--no-such-flag"}}) {
    const CliRun r = run_cli(args);
    std::string name;
    for (const auto& a : args) name += a + " ";
    EXPECT_EQ(r.status, 2) << name << r.describe();
    EXPECT_FALSE(r.err.empty()) << name << ": says why on stderr";
  }
  // Image bytes are never written to a terminal.
  TempDir dir;
  auto [status, out] = run_command(
      {"/usr/bin/script", "-q", "-e", "-c", shell_quote(PROGIMAGE_CLI) + " get SOMEID", "/dev/null"}, 30s,
      {{"XDG_CONFIG_HOME", (dir.path / "xdg").string()}});
  EXPECT_EQ(exit_status(status), 2) << out;
  EXPECT_NE(out.find("refusing to write image bytes to a terminal"), std::string::npos) << out;
}

// ---------------------------------------------------------------------------

void write_profile(const fs::path& xdg, const std::string& text) {
  fs::create_directories(xdg / "progimage");
  write_file(xdg / "progimage" / "config.toml", text);
}

TEST(CliConfig, ProfileIsUsedAndFlagsAndEnvironmentOverrideIt) {
  Server server({.args = {"--api-key", "cli-test-key-1:admin"}});
  ASSERT_TRUE(server.start());
  TempDir tmp;
  const fs::path xdg = tmp.path / "xdg";
  const std::string closed = "http://127.0.0.1:" + std::to_string(free_port());
  write_profile(xdg, "[default]\nserver = \"" + server.base_url() + "\"\nkey = \"cli-test-key-1\"\n\n"
                     "[broken]\nserver = \"" + closed + "\"\nkey = \"wrong\"\n");
  const Env env = {{"XDG_CONFIG_HOME", xdg.string()}};

  // The default profile gives server and key.
  const CliRun ok = run_cli({"search", "--json"}, env);
  EXPECT_EQ(ok.status, 0) << ok.describe();

  // A named profile, by flag or by environment; flags win over it.
  const CliRun broken = run_cli({"--profile", "broken", "stats"}, env);
  EXPECT_EQ(broken.status, 1) << broken.describe();
  EXPECT_NE(broken.err.find("Set --server, PROGIMAGE_URL, or server= in your profile"), std::string::npos)
      << broken.describe();
  Env by_env = env;
  by_env.emplace_back("PROGIMAGE_PROFILE", "broken");
  EXPECT_EQ(run_cli({"stats"}, by_env).status, 1);
  const CliRun fixed = run_cli({"--profile", "broken", "--server", server.base_url(), "--key", "cli-test-key-1", "stats"}, env);
  EXPECT_EQ(fixed.status, 0) << "flags override the profile; " << fixed.describe();
  const CliRun after = run_cli({"stats", "--profile", "broken", "--server", server.base_url(), "--key", "cli-test-key-1"}, env);
  EXPECT_EQ(after.status, 0) << "global flags after the command too; " << after.describe();

  // The environment overrides the profile; a flag overrides the environment.
  Env bad_key = env;
  bad_key.emplace_back("PROGIMAGE_KEY", "not-a-key");
  const CliRun refused = run_cli({"stats"}, bad_key);
  EXPECT_EQ(refused.status, 1) << refused.describe();
  EXPECT_NE(refused.err.find("set PROGIMAGE_KEY or --key, or add key= to your profile"), std::string::npos)
      << refused.describe();
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.describe();
  EXPECT_EQ(run_cli({"--key", "cli-test-key-1", "stats"}, bad_key).status, 0);

  // --json failures are a JSON line too.
  const CliRun json_fail = run_cli({"stats", "--json"}, bad_key);
  EXPECT_EQ(json_fail.status, 1);
  const auto docs = json_fail.json_lines();
  ASSERT_EQ(docs.size(), 1u) << json_fail.describe();
  EXPECT_EQ(jstring(docs[0], "error.code"), "unauthorized");

  // No key at all: the hint says where one goes.
  const CliRun none = run_cli(server, {"stats"});
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.err.find("set PROGIMAGE_KEY or --key, or add key= to your profile"), std::string::npos)
      << none.describe();

  // A profile that is not there, a file that does not parse, an unknown key: usage errors.
  EXPECT_EQ(run_cli({"--profile", "nope", "stats"}, env).status, 2);
  const fs::path bad = tmp.path / "bad";
  write_profile(bad, "[default]\nserver = \n");
  EXPECT_EQ(run_cli({"stats"}, {{"XDG_CONFIG_HOME", bad.string()}}).status, 2);
  write_profile(bad, "[default]\nsever = \"http://x\"\n");
  const CliRun typo = run_cli({"stats"}, {{"XDG_CONFIG_HOME", bad.string()}});
  EXPECT_EQ(typo.status, 2);
  EXPECT_NE(typo.err.find("sever"), std::string::npos) << typo.describe();
}

// ---------------------------------------------------------------------------

TEST(CliUrl, SignedUrlIsAcceptedAndRefusedAfterOneChangedCharacter) {
  const std::string secret = "cli-url-signing-secret";
  Server server({.args = {"--signing-secret", secret}});
  ASSERT_TRUE(server.start());
  TempDir tmp;
  const auto files = make_pngs(tmp.path / "u", 1, 120, 42);
  const CliRun up = run_cli(server, {"upload", files[0].string(), "--json"});
  ASSERT_EQ(up.status, 0) << up.describe();
  const std::string id = jstring(up.json_lines().at(0), "id");

  const CliRun r = run_cli(server, {"url", id, "--params", "w=60&fit=cover&h=40", "--ext", "webp", "--secret", secret,
                                 "--relative"});
  ASSERT_EQ(r.status, 0) << r.describe();
  const std::string path = r.out.substr(0, r.out.find('\n'));
  ASSERT_NE(path.find("sig="), std::string::npos) << path;
  auto ok = server.http().get(path);
  ASSERT_EQ(ok.status, 200) << path << "\n" << ok.describe();
  const auto d = decode(ok.body);
  EXPECT_EQ(d.loader, "webpload");
  EXPECT_EQ(d.width, 60);
  EXPECT_EQ(d.height, 40);

  // One character changed, in the signature or in a parameter: refused.
  std::string bad_sig = path;
  char& first = bad_sig[bad_sig.find("sig=") + 4];
  first = first == 'A' ? 'B' : 'A';
  EXPECT_TRUE(is_error(server.http().get(bad_sig), 403, "bad_signature")) << bad_sig;
  std::string bad_param = path;
  bad_param.replace(bad_param.find("w=60"), 4, "w=61");
  EXPECT_TRUE(is_error(server.http().get(bad_param), 403, "bad_signature")) << bad_param;

  // An absolute URL with an expiry, the secret from the profile.
  const fs::path xdg = tmp.path / "xdg";
  write_profile(xdg, "[default]\nsigning_secret = \"" + secret + "\"\n");
  const CliRun exp = run_cli(server, {"url", id, "--params", "w=30", "--expires", "1h", "--json"},
                          {{"XDG_CONFIG_HOME", xdg.string()}});
  ASSERT_EQ(exp.status, 0) << exp.describe();
  const auto doc = exp.json_lines().at(0);
  const std::string url = jstring(doc, "url");
  ASSERT_EQ(url.rfind(server.base_url(), 0), 0u) << url;
  EXPECT_NE(url.find("exp="), std::string::npos);
  EXPECT_GT(jint(doc, "exp"), static_cast<std::int64_t>(std::time(nullptr)) + 3500);
  EXPECT_EQ(server.http().get(url.substr(server.base_url().size())).status, 200) << url;

  // Without a secret the URL is unsigned (and refused by this server), and the CLI says so.
  const CliRun unsigned_url = run_cli(server, {"url", id, "--params", "w=30", "--relative"});
  EXPECT_EQ(unsigned_url.status, 0);
  EXPECT_NE(unsigned_url.err.find("not signed"), std::string::npos) << unsigned_url.describe();
  EXPECT_TRUE(is_error(server.http().get(unsigned_url.out.substr(0, unsigned_url.out.find('\n'))), 403,
                       "bad_signature"));
}

// ---------------------------------------------------------------------------

std::string complete(const std::vector<std::string>& words) {
  std::string array;
  for (const auto& w : words) array += shell_quote(w) + " ";
  const std::string script = "source " + shell_quote(PROGIMAGE_CLI_COMPLETION) + "; COMP_WORDS=(" + array +
                             "); COMP_CWORD=" + std::to_string(words.size() - 1) +
                             "; _progimage_cli; echo \"${COMPREPLY[*]}\"";
  auto [status, out] = run_command({"/bin/bash", "-c", script}, 20s);
  EXPECT_EQ(exit_status(status), 0) << out;
  return out.substr(0, out.find('\n'));
}

TEST(CliCompletion, OffersCommandsSubcommandsFlagsAndFiles) {
  EXPECT_EQ(complete({"progimage-cli", "jo"}), "jobs");
  EXPECT_EQ(complete({"progimage-cli", "jobs", "s"}), "submit status");
  EXPECT_EQ(complete({"progimage-cli", "--server", "http://x", "keys", "cr"}), "create");
  EXPECT_EQ(complete({"progimage-cli", "jobs", "submit", "--st"}), "--store");
  EXPECT_EQ(complete({"progimage-cli", "upload", "--conc"}), "--concurrency");
  EXPECT_EQ(complete({"progimage-cli", "keys", "create", "--role", "w"}), "write");
  const std::string files = complete({"progimage-cli", "upload", std::string(PROGIMAGE_CLI_COMPLETION).substr(0, 
                                      std::string(PROGIMAGE_CLI_COMPLETION).size() - 4)});
  EXPECT_EQ(files, PROGIMAGE_CLI_COMPLETION) << "file names for upload";
  // Every command of --help is offered.
  const std::string all = complete({"progimage-cli", ""});
  for (const char* c : {"upload", "get", "url", "transform", "info", "search", "similar", "rm", "jobs", "links", "keys",
                        "usage", "stats"})
    EXPECT_NE((" " + all + " ").find(std::string(" ") + c + " "), std::string::npos) << c << " in: " << all;
}

// ---------------------------------------------------------------------------

TEST(CliCommands, EveryOtherCommandAgainstTheServer) {
  Server server;
  ASSERT_TRUE(server.start());
  TempDir tmp;
  const auto files = make_pngs(tmp.path / "c", 3, 96, 7000);
  const CliRun up = run_cli(server, {"upload", (tmp.path / "c").string(), "--tag", "cmd", "--json"});
  ASSERT_EQ(up.status, 0) << up.describe();
  std::map<std::string, std::string> id_of;  // file → image id (lines come in completion order)
  for (const auto& d : up.json_lines())
    if (auto id = jstring(d, "id"); !id.empty()) id_of[jstring(d, "file")] = id;
  ASSERT_EQ(id_of.size(), 3u) << up.describe();
  std::vector<std::string> ids;
  for (const auto& f : files) ids.push_back(id_of[f.string()]);

  // info
  const CliRun info = run_cli(server, {"info", ids[0]});
  EXPECT_EQ(info.status, 0) << info.describe();
  EXPECT_NE(info.out.find("png 96x96"), std::string::npos) << info.describe();
  EXPECT_NE(info.out.find("phash"), std::string::npos);
  const CliRun info_json = run_cli(server, {"info", ids[0], "--json"});
  EXPECT_EQ(jstring(info_json.json_lines().at(0), "id"), ids[0]);
  const CliRun missing = run_cli(server, {"info", "nosuchimageid000000000"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("not_found"), std::string::npos) << missing.describe();

  // get: to a file, as a derivative, to a pipe; never with --json to stdout
  const CliRun get = run_cli(server, {"get", ids[0], "-o", (tmp.path / "orig.png").string()});
  EXPECT_EQ(get.status, 0) << get.describe();
  EXPECT_EQ(sha256_hex(read_file(tmp.path / "orig.png")), sha256_hex(read_file(tmp.path / "c" / "img-0000.png")));
  const CliRun thumb = run_cli(server, {"get", ids[0], "--params", "w=24&format=webp", "-o", (tmp.path / "t.webp").string(),
                                     "--json"});
  EXPECT_EQ(thumb.status, 0) << thumb.describe();
  EXPECT_EQ(decode(read_file(tmp.path / "t.webp")).width, 24);
  EXPECT_EQ(jstring(thumb.json_lines().at(0), "content_type"), "image/webp");
  const CliRun piped = run_cli(server, {"get", ids[1], "--params", "w=10&format=jpeg"});
  EXPECT_EQ(piped.status, 0) << piped.describe();
  EXPECT_EQ(decode(piped.out).loader, "jpegload");
  EXPECT_EQ(run_cli(server, {"get", ids[1], "--json"}).status, 2);

  // transform: nothing stored
  const CliRun tr = run_cli(server, {"transform", files[2].string(), "--params", "w=12&format=png", "-o",
                                  (tmp.path / "small.png").string()});
  EXPECT_EQ(tr.status, 0) << tr.describe();
  EXPECT_EQ(decode(read_file(tmp.path / "small.png")).width, 12);

  // search: one line per image, following cursors (--limit caps)
  const CliRun search = run_cli(server, {"search", "--tag", "cmd", "--json"});
  EXPECT_EQ(search.status, 0) << search.describe();
  std::set<std::string> found;
  for (const auto& d : search.json_lines()) found.insert(jstring(d, "id"));
  EXPECT_EQ(found, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(run_cli(server, {"search", "--limit", "2", "--json"}).json_lines().size(), 2u);
  const CliRun none = run_cli(server, {"search", "--tag", "nothing-has-this"});
  EXPECT_EQ(none.status, 0);
  EXPECT_EQ(none.out, "");

  // similar: by id and by file
  EXPECT_EQ(run_cli(server, {"similar", ids[0], "--json"}).status, 0);
  const CliRun sim = run_cli(server, {"similar", files[0].string(), "--json", "--max-distance", "0"});
  EXPECT_EQ(sim.status, 0) << sim.describe();
  const auto matches = sim.json_lines();
  ASSERT_FALSE(matches.empty()) << "the file itself is stored: distance 0; " << sim.describe();
  EXPECT_EQ(jstring(matches[0], "image.id"), ids[0]);
  EXPECT_EQ(jint(matches[0], "distance"), 0);

  // links and keys
  const CliRun link = run_cli(server, {"links", "create", "--expires-in", "2h", "--max-uploads", "2", "--tag", "web", "--json"});
  ASSERT_EQ(link.status, 0) << link.describe();
  const auto link_doc = link.json_lines().at(0);
  const std::string link_id = jstring(link_doc, "id");
  EXPECT_EQ(jint(link_doc, "max_uploads"), 2);
  EXPECT_EQ(jstring(link_doc, "upload_url").rfind(server.base_url() + "/v1/uploads/", 0), 0u);
  const CliRun links = run_cli(server, {"links", "list"});
  EXPECT_NE(links.out.find(link_id), std::string::npos) << links.describe();
  EXPECT_EQ(run_cli(server, {"links", "revoke", link_id}).status, 0);
  const CliRun revoked = run_cli(server, {"links", "list", "--json"});
  EXPECT_EQ(jstring(revoked.json_lines().at(0), "status"), "revoked") << revoked.describe();

  const CliRun key = run_cli(server, {"keys", "create", "--role", "read", "--name", "cli test", "--rate", "5:20", "--json"});
  ASSERT_EQ(key.status, 0) << key.describe();
  const auto key_doc = key.json_lines().at(0);
  const std::string secret = jstring(key_doc, "key");
  EXPECT_EQ(secret.rfind("pik_", 0), 0u) << key.describe();
  // The server is closed now; the new key reads, and cannot delete.
  EXPECT_EQ(run_cli(server, {"search", "--limit", "1"}).status, 1);
  EXPECT_EQ(run_cli(server, {"--key", secret, "search", "--limit", "1"}).status, 0);
  const CliRun forbidden = run_cli(server, {"--key", secret, "rm", ids[2]});
  EXPECT_EQ(forbidden.status, 1);
  EXPECT_NE(forbidden.err.find("role"), std::string::npos) << forbidden.describe();
  const CliRun admin = run_cli(server, {"keys", "create", "--role", "admin", "--json"});
  EXPECT_EQ(admin.status, 1) << "closed: making a key needs an admin key now";
  const CliRun keys = run_cli(server, {"--key", secret, "keys", "list"});
  EXPECT_EQ(keys.status, 1) << "a read key may not list keys";

  // rm, usage, stats on a server with an admin key
  Server admin_server({.args = {"--api-key", "cli-admin:admin", "--usage-flush", "100ms"}});
  ASSERT_TRUE(admin_server.start());
  const Env admin_env = {{"PROGIMAGE_KEY", "cli-admin"}};
  const CliRun up2 = run_cli(admin_server, {"upload", (tmp.path / "c").string(), "--json"}, admin_env);
  ASSERT_EQ(up2.status, 0) << up2.describe();
  std::vector<std::string> ids2;
  for (const auto& d : up2.json_lines())
    if (auto id = jstring(d, "id"); !id.empty()) ids2.push_back(id);
  ASSERT_EQ(ids2.size(), 3u);
  const CliRun rm = run_cli(admin_server, {"rm", ids2[0], "nosuchimageid000000000", ids2[1]}, admin_env);
  EXPECT_EQ(rm.status, 1) << "one unknown id fails the command; " << rm.describe();
  EXPECT_NE(rm.out.find("deleted " + ids2[0]), std::string::npos);
  EXPECT_NE(rm.out.find("deleted " + ids2[1]), std::string::npos) << "the others are still deleted";
  EXPECT_EQ(admin_server.http().with_headers({{"Authorization", "Bearer cli-admin"}}).get("/v1/images/" + ids2[1]).status,
            404);
  const CliRun stats = run_cli(admin_server, {"stats", "--json"}, admin_env);
  ASSERT_EQ(stats.status, 0) << stats.describe();
  EXPECT_EQ(jint(stats.json_lines().at(0), "images"), 1);
  const CliRun stats_text = run_cli(admin_server, {"stats"}, admin_env);
  EXPECT_NE(stats_text.out.find("images           1"), std::string::npos) << stats_text.describe();
  const CliRun usage = run_cli(admin_server, {"usage", "--json"}, admin_env);
  ASSERT_EQ(usage.status, 0) << usage.describe();
  EXPECT_NE(jfind(usage.json_lines().at(0), "tenants"), nullptr) << usage.describe();
  const CliRun usage_text = run_cli(admin_server, {"usage"}, admin_env);
  EXPECT_NE(usage_text.out.find("requests"), std::string::npos) << usage_text.describe();
  const CliRun key2 = run_cli(admin_server, {"keys", "create", "--role", "write", "--json"}, admin_env);
  ASSERT_EQ(key2.status, 0) << key2.describe();
  const std::string key2_id = jstring(key2.json_lines().at(0), "id");
  EXPECT_NE(run_cli(admin_server, {"keys", "list"}, admin_env).out.find(key2_id), std::string::npos);
  EXPECT_EQ(run_cli(admin_server, {"keys", "revoke", key2_id}, admin_env).status, 0);
  EXPECT_EQ(run_cli(admin_server, {"keys", "revoke", key2_id}, admin_env).status, 1) << "revoked already";
}

}  // namespace
}  // namespace progimage::contract
