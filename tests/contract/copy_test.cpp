// progimage copy (issue 12 point 7, "outgrowing one machine"): an
// installation filled through the HTTP API on SQLite and files is copied to
// PostgreSQL and S3 (the tests' server and S3 peer, fixture "backends"), and
// a server on the copy answers as the first did: the same images and bytes,
// tags, keys that still authenticate, a link that still takes uploads, jobs
// (their results, a kept output), variants, derivatives and similar images.
// Then back to SQLite; a copy killed midway (SIGKILL) and run again; a
// damaged blob in the target that verification names; a target holding
// other data; the progress display.
#include <sys/wait.h>

#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <map>
#include <set>
#include <thread>

#include "jobs_support.hpp"

namespace progimage::contract {
namespace {

namespace json = boost::json;

const std::string kOperator = "copy-operator-key-0123456789";

Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }
Headers json_as(const std::string& key) {
  return {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}};
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

/// A new database on the tests' PostgreSQL server; its URI.
std::string new_postgres_database() {
  const char* file = std::getenv("PROGIMAGE_TEST_POSTGRES_URL_FILE");
  const std::string admin = trimmed(file ? read_file(file) : std::string());
  if (admin.empty()) {
    ADD_FAILURE() << "no PostgreSQL server for the tests: run them with ctest (fixture backends)";
    return "postgresql://no-test-postgres-server/none";
  }
  const std::string name = "copy" + std::to_string(::getpid()) + "x" + std::to_string(free_port());
  auto [status, out] = run_command({"/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c",
                                    "CREATE DATABASE " + name},
                                   30s);
  EXPECT_EQ(status, 0) << out;
  return admin.substr(0, admin.rfind('/') + 1) + name;
}

/// The tests' S3 peer (fixture "backends").
std::string s3_endpoint() { return trimmed(read_file(PROGIMAGE_S3_ENDPOINT_FILE)); }

const std::vector<std::pair<std::string, std::string>> kS3Keys = {{"AWS_ACCESS_KEY_ID", "S3RVER"},
                                                                  {"AWS_SECRET_ACCESS_KEY", "S3RVER"}};

struct Backends {
  std::string catalog, storage;
};

Backends sqlite_and_files(const fs::path& dir) {
  return {"sqlite://" + (dir / "catalog.db").string(), "file://" + (dir / "blobs").string()};
}

struct CopyRun {
  int status = -1;  // wait status
  std::string output;
  json::value summary;  // the last {"event": "summary"} line, with --json
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  bool killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }
  std::string summary_status() const { return summary.is_null() ? "" : jstring(summary, "status"); }
  std::int64_t table(const std::string& name, const std::string& field) const {
    return jint(summary, "tables." + name + "." + field);
  }
  std::int64_t blobs(const std::string& kind, const std::string& field) const {
    return jint(summary, "blobs." + kind + "." + field);
  }
};

CopyRun run_copy(const Backends& from, const Backends& to, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {server_binary(), "copy",          "--from-catalog", from.catalog,
                                   "--from-storage", from.storage,   "--to-catalog",   to.catalog,
                                   "--to-storage",   to.storage};
  argv.insert(argv.end(), extra.begin(), extra.end());
  CopyRun run;
  std::tie(run.status, run.output) = run_command(argv, 300s, kS3Keys);
  std::istringstream lines(run.output);
  for (std::string line; std::getline(lines, line);)
    if (line.starts_with("{\"event\":\"summary\"")) run.summary = json::parse(line);
  return run;
}

/// A server on the given backends, with the operator key.
std::unique_ptr<Server> server_on(const Backends& b, std::vector<std::string> extra = {}) {
  ServerOptions options;
  options.args = {"--catalog", b.catalog, "--storage", b.storage, "--api-key", kOperator + ":admin:*",
                  "--workers", "1",       "--usage-flush", "1s"};
  options.args.insert(options.args.end(), extra.begin(), extra.end());
  options.env = kS3Keys;
  auto s = std::make_unique<Server>(options);
  EXPECT_TRUE(s->start()) << tail(s->stderr_text());
  return s;
}

json::value get_json(const Http& http, const std::string& path, const std::string& key) {
  auto r = http.get(path, bearer(key));
  EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
  auto j = r.json();
  return j ? *j : json::value();
}

json::value post_json(const Http& http, const std::string& path, const json::value& body, const std::string& key,
                      long expected) {
  auto r = http.request("POST", path, json::serialize(body), json_as(key));
  EXPECT_EQ(r.status, expected) << path << ": " << r.describe();
  auto j = r.json();
  return j ? *j : json::value();
}

/// Polls `done` every 100 ms for up to `limit`.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

/// What a filled installation holds, as its API showed it before the copy.
struct Installation {
  std::string alpha_key, beta_key;  // managed keys (secrets)
  std::string link_token;           // an upload link of beta's
  std::map<std::string, std::string> bytes;  // image id -> original bytes
  std::string beach, lookalike, job_id;
  std::string kept_job, kept_bytes;  // a job that kept its result (a remote source, store: false)
  json::value listing;       // GET /v1/images as the operator
  json::value job_results;   // GET /v1/jobs/{id} results
  json::value similar;       // GET /v1/images/{beach}/similar
  json::value derivatives;   // GET /v1/images/{beach}/derivatives
  json::value tags;          // GET /v1/tags as alpha
};

std::string upload(const Http& http, const std::string& key, const std::string& bytes, const std::string& query,
                   Installation& inst) {
  auto up = upload_raw(http, bytes, query, "application/octet-stream", bearer(key));
  EXPECT_EQ(up.response.status, 201) << up.response.describe();
  if (!up.id.empty()) inst.bytes[up.id] = bytes;
  return up.id;
}

/// Fills a server through the API: two tenants with managed keys, tagged
/// images (one a look-alike of another, one the same bytes in both tenants),
/// an upload link used once, a finished job, variants and a derivative.
Installation fill(Server& server) {
  Installation inst;
  auto http = server.http();
  inst.alpha_key = jstring(post_json(http, "/v1/keys", {{"role", "write"}, {"tenant", "alpha"}}, kOperator, 201), "key");
  inst.beta_key = jstring(post_json(http, "/v1/keys", {{"role", "admin"}, {"tenant", "beta"}}, kOperator, 201), "key");
  auto quota = http.request("PUT", "/v1/tenants/alpha/quota", R"({"images": 100})", json_as(kOperator));
  EXPECT_EQ(quota.status, 200) << quota.describe();

  const std::string beach = make_image(320, 240, 11, ".png");
  inst.beach = upload(http, inst.alpha_key, beach, "name=beach.png&description=sunset%20at%20the%20sea&tags=beach,sunset", inst);
  inst.lookalike = upload(http, inst.alpha_key, reencode(beach, 0.8, ".jpg[Q=80]"), "name=copy.jpg&tags=beach", inst);
  upload(http, inst.alpha_key, make_image(200, 200, 12, ".webp"), "name=city.webp&tags=city", inst);
  const std::string shared = make_image(150, 100, 13, ".png");
  upload(http, inst.alpha_key, shared, "name=shared.png", inst);
  upload(http, inst.beta_key, shared, "name=shared-too.png&tags=beta", inst);  // one blob, two tenants

  auto link = post_json(http, "/v1/upload-links", {{"expires_in", "PT1H"}, {"max_uploads", 3}, {"tags", {"from-link"}}},
                        inst.beta_key, 201);
  inst.link_token = jstring(link, "url").substr(std::string("/v1/uploads/").size());
  auto linked = http.request("POST", "/v1/uploads/" + inst.link_token, make_image(90, 90, 15, ".png"));
  EXPECT_EQ(linked.status, 201) << linked.describe();

  auto job = post_json(http, "/v1/jobs", {{"sources", {inst.beach, inst.lookalike}}, {"params", "w=40"}, {"format", "webp"}},
                       inst.alpha_key, 202);
  inst.job_id = jstring(job, "id");
  EXPECT_TRUE(eventually([&] {
    auto j = get_json(http, "/v1/jobs/" + inst.job_id, inst.alpha_key);
    return jstring(j, "status") == "completed";
  })) << "the job did not complete";
  EXPECT_TRUE(eventually([&] {
    return http.get("/v1/images/" + inst.beach + "/variants/thumb", bearer(inst.alpha_key)).status == 200;
  })) << "the thumb variant was not made";
  EXPECT_EQ(http.get("/v1/images/" + inst.beach + ".webp?w=64", bearer(inst.alpha_key)).status, 200);

  // A remote source without store: its result is a kept output, bytes of its own in the store.
  const std::string remote = make_image(120, 80, 17, ".png");
  jobs::LoopbackServer origin("127.0.0.1", [&](int fd, const jobs::LoopbackRequest&, const std::atomic<bool>&) {
    jobs::answer(fd, 200, remote, "image/png");
  });
  json::array url_sources{json::object{{"url", origin.base_url() + "/remote.png"}}};
  inst.kept_job = jstring(
      post_json(http, "/v1/jobs", {{"sources", url_sources}, {"params", "w=30"}, {"format", "png"}}, inst.alpha_key, 202),
      "id");
  EXPECT_TRUE(eventually([&] {
    return jstring(get_json(http, "/v1/jobs/" + inst.kept_job, inst.alpha_key), "status") == "completed";
  })) << "the job with a remote source did not complete";
  auto kept = http.get("/v1/jobs/" + inst.kept_job + "/results/0", bearer(inst.alpha_key));
  EXPECT_EQ(kept.status, 200) << kept.describe();
  inst.kept_bytes = kept.body;

  // Every variant made, so that nothing changes on its own once copied.
  EXPECT_TRUE(eventually([&] {
    auto listing = get_json(http, "/v1/images?limit=1000", kOperator);
    for (const auto& image : listing.at("images").as_array())
      for (const auto& [name, status] : image.at("variants").as_object())
        if (status != "ready") return false;
    return true;
  })) << "variants are still pending";
  inst.listing = get_json(http, "/v1/images?limit=1000", kOperator);
  inst.job_results = *jfind(get_json(http, "/v1/jobs/" + inst.job_id, inst.alpha_key), "results");
  inst.similar = get_json(http, "/v1/images/" + inst.beach + "/similar", inst.alpha_key);
  inst.derivatives = get_json(http, "/v1/images/" + inst.beach + "/derivatives", inst.alpha_key);
  inst.tags = get_json(http, "/v1/tags", inst.alpha_key);
  return inst;
}

std::vector<std::string> ids_of(const json::value& page, const char* member = "images") {
  std::vector<std::string> ids;
  if (const auto* list = jfind(page, member); list && list->is_array())
    for (const auto& i : list->as_array()) ids.push_back(jstring(i, "id").empty() ? jstring(i, "image.id") : jstring(i, "id"));
  return ids;
}

/// The derivatives of a GET .../derivatives answer without their last use (serving one touches it).
std::vector<std::string> made(const json::value& answer) {
  std::vector<std::string> out;
  for (const auto& d : answer.at("derivatives").as_array())
    out.push_back(jstring(d, "params") + " " + jstring(d, "format") + " " + std::to_string(jint(d, "size")));
  std::sort(out.begin(), out.end());
  return out;
}

/// Checks through the API of a server on a copy that it holds `inst` as it was.
void expect_same_installation(Server& server, const Installation& inst) {
  auto http = server.http();
  auto listing = get_json(http, "/v1/images?limit=1000", kOperator);
  EXPECT_EQ(listing, inst.listing) << "the image objects differ";
  for (const auto& [id, bytes] : inst.bytes) {
    auto r = http.get("/v1/images/" + id, bearer(kOperator));
    EXPECT_EQ(r.status, 200) << id;
    EXPECT_TRUE(r.body == bytes) << "the original of " << id << " differs";
  }
  // Managed keys authenticate with their old secrets, each in its own tenant.
  auto alpha = get_json(http, "/v1/images?tag=beach", inst.alpha_key);
  EXPECT_EQ(ids_of(alpha).size(), 2u);
  auto beta = get_json(http, "/v1/images", inst.beta_key);
  EXPECT_EQ(ids_of(beta).size(), 2u);  // its upload and the linked one
  EXPECT_EQ(get_json(http, "/v1/images?q=sunset", inst.alpha_key).at("images").as_array().size(), 1u);
  EXPECT_EQ(get_json(http, "/v1/tags", inst.alpha_key), inst.tags);
  EXPECT_EQ(http.get("/v1/images", bearer("not-a-key")).status, 401);

  auto job = get_json(http, "/v1/jobs/" + inst.job_id, inst.alpha_key);
  EXPECT_EQ(jstring(job, "status"), "completed");
  EXPECT_EQ(*jfind(job, "results"), inst.job_results);
  EXPECT_EQ(get_json(http, "/v1/images/" + inst.beach + "/similar", inst.alpha_key), inst.similar)
      << "the similar-image index of the copy is not the same";
  EXPECT_EQ(ids_of(inst.similar), std::vector<std::string>{inst.lookalike});
  EXPECT_EQ(made(get_json(http, "/v1/images/" + inst.beach + "/derivatives", inst.alpha_key)), made(inst.derivatives));
  auto thumb = http.get("/v1/images/" + inst.beach + "/variants/thumb", bearer(inst.alpha_key));
  EXPECT_EQ(thumb.status, 200) << thumb.describe();
  EXPECT_EQ(thumb.header("X-Cache"), "hit") << "the variant's derivative was not copied";

  auto kept = http.get("/v1/jobs/" + inst.kept_job + "/results/0", bearer(inst.alpha_key));
  EXPECT_EQ(kept.status, 200) << kept.describe();
  EXPECT_TRUE(kept.body == inst.kept_bytes) << "the kept output differs";

  auto quota = get_json(http, "/v1/tenants/alpha/quota", kOperator);
  EXPECT_EQ(jint(quota, "images"), 100);
}

/// The upload link still takes uploads, counting the one it took before.
void expect_link_works(Server& server, const Installation& inst) {
  auto http = server.http();
  auto linked = http.request("POST", "/v1/uploads/" + inst.link_token, make_image(90, 90, 16, ".png"));
  EXPECT_EQ(linked.status, 201) << linked.describe();
  auto links = get_json(http, "/v1/upload-links", inst.beta_key);
  ASSERT_EQ(links.at("links").as_array().size(), 1u);
  EXPECT_EQ(jint(links.at("links").as_array()[0], "uses"), 2);
}

void expect_verified(const CopyRun& run) {
  EXPECT_EQ(run.exit_code(), 0) << tail(run.output);
  EXPECT_EQ(run.summary_status(), "copied") << tail(run.output);
  EXPECT_EQ(jfind(run.summary, "problems")->as_array().size(), 0u) << json::serialize(run.summary);
}

TEST(CopyTest, SqliteAndFilesToPostgresAndS3AndBack) {
  auto source_dir = fs::temp_directory_path() / ("progimage-copy-src-" + std::to_string(free_port()));
  const Backends source = sqlite_and_files(source_dir);
  Installation inst;
  {
    auto server = server_on(source, {"--fetch-allow", "127.0.0.0/8"});
    inst = fill(*server);
    EXPECT_EQ(server->stop(), 0);
  }
  ASSERT_EQ(inst.bytes.size(), 5u);
  // As rows stored before SQLite's catalog had a phash column: the hash in
  // their metadata only. PostgreSQL's similar-image index reads the column.
  auto [forgot, why] = run_command({"/usr/bin/sqlite3", (source_dir / "catalog.db").string(),
                                    "UPDATE images SET phash = NULL"},
                                   30s);
  ASSERT_EQ(forgot, 0) << why;
  const Backends cluster{new_postgres_database(),
                         "s3://copy" + std::to_string(free_port()) + "?endpoint=" + s3_endpoint() + "&create_bucket=true"};

  // A dry run into the new database counts everything and writes nothing.
  auto dry = run_copy(source, cluster, {"--dry-run", "--json", "--derivatives"});
  EXPECT_EQ(dry.exit_code(), 0) << dry.output;
  EXPECT_EQ(dry.summary_status(), "dry_run");
  EXPECT_EQ(dry.table("images", "copied"), 6);
  EXPECT_EQ(dry.blobs("originals", "copied"), 5);

  auto run = run_copy(source, cluster, {"--json", "--derivatives"});
  expect_verified(run);
  EXPECT_EQ(run.table("images", "source"), 6);  // five uploads and the linked one
  EXPECT_EQ(run.table("images", "target"), 6);
  EXPECT_EQ(run.table("api_keys", "copied"), 2);
  EXPECT_EQ(run.table("upload_links", "copied"), 1);
  EXPECT_GT(run.table("usage", "source"), 0);
  EXPECT_EQ(run.table("usage", "target"), run.table("usage", "source"));
  EXPECT_EQ(run.table("job_items", "target"), run.table("job_items", "source"));
  EXPECT_EQ(run.blobs("originals", "count"), 5);  // the shared bytes once
  EXPECT_EQ(run.blobs("originals", "verified"), 5);
  EXPECT_GE(run.blobs("derivatives", "verified"), 5);  // variants, the job's results, the webp
  EXPECT_EQ(run.blobs("outputs", "verified"), 1);
  EXPECT_NE(run.output.find("{\"event\":\"phase\",\"phase\":\"copying blobs\""), std::string::npos) << run.output;

  {
    auto server = server_on(cluster);
    expect_same_installation(*server, inst);
    EXPECT_EQ(server->stop(), 0);
  }

  // Back to one machine (PostgreSQL and S3 to SQLite and files), then again: nothing to do.
  auto back_dir = fs::temp_directory_path() / ("progimage-copy-back-" + std::to_string(free_port()));
  const Backends back = sqlite_and_files(back_dir);
  expect_verified(run_copy(cluster, back, {"--json", "--derivatives"}));
  auto again = run_copy(cluster, back, {"--derivatives"});
  EXPECT_EQ(again.exit_code(), 0) << again.output;
  EXPECT_NE(again.output.find("nothing to copy"), std::string::npos) << again.output;
  {
    auto server = server_on(back);
    expect_same_installation(*server, inst);
    expect_link_works(*server, inst);
  }
  std::error_code ec;
  fs::remove_all(source_dir, ec);
  fs::remove_all(back_dir, ec);
}

/// A small installation on SQLite and files, for the tests below.
class SmallCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("progimage-copy-" + std::to_string(::getpid()) + "-" + std::to_string(free_port()));
    source_ = sqlite_and_files(dir_ / "source");
    target_ = sqlite_and_files(dir_ / "target");
    auto server = server_on(source_, {"--workers", "0"});
    auto http = server->http();
    for (int i = 0; i < 6; ++i) {
      auto up = upload_raw(http, make_image(64 + i, 48, 100 + i, ".png"), "tags=t" + std::to_string(i % 2),
                           "application/octet-stream", bearer(kOperator));
      ASSERT_EQ(up.response.status, 201) << up.response.describe();
      ids_.insert(up.id);
    }
    EXPECT_EQ(server->stop(), 0);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::set<std::string> target_ids() {
    auto server = server_on(target_, {"--workers", "0"});
    auto ids = ids_of(get_json(server->http(), "/v1/images?limit=1000", kOperator));
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "an image is listed twice";
    return {ids.begin(), ids.end()};
  }

  fs::path dir_;
  Backends source_, target_;
  std::set<std::string> ids_;
};

TEST_F(SmallCopyTest, AKilledCopyGoesOnWhenRunAgainAndCopiesNothingTwice) {
  // Killed (SIGKILL, as kill -9) among the blobs, then among the rows, one row per transaction.
  auto first = run_copy(source_, target_, {"--batch", "1", "--kill-after-items", "3"});
  EXPECT_TRUE(first.killed()) << first.status << "\n" << first.output;
  auto second = run_copy(source_, target_, {"--batch", "1", "--kill-after-items", "12"});
  EXPECT_TRUE(second.killed()) << second.status << "\n" << second.output;

  auto dry = run_copy(source_, target_, {"--dry-run", "--json"});
  EXPECT_EQ(dry.exit_code(), 0) << dry.output;
  EXPECT_EQ(dry.summary_status(), "dry_run");
  EXPECT_EQ(dry.blobs("originals", "copied"), 0) << "the six blobs were copied before the rows";
  const auto images_left = dry.table("images", "copied");
  EXPECT_GT(dry.table("images", "target_before") + dry.table("image_tags", "target_before"), 0) << dry.output;

  auto rest = run_copy(source_, target_, {"--json"});
  expect_verified(rest);
  EXPECT_EQ(rest.table("images", "copied"), images_left);
  EXPECT_EQ(rest.table("images", "target"), 6);
  EXPECT_EQ(rest.table("image_tags", "target"), 6);
  EXPECT_EQ(rest.blobs("originals", "copied"), 0);
  EXPECT_EQ(rest.blobs("originals", "verified"), 6);

  auto again = run_copy(source_, target_, {"--json"});
  EXPECT_EQ(again.exit_code(), 0) << again.output;
  EXPECT_EQ(again.summary_status(), "already_copied") << again.output;
  EXPECT_EQ(target_ids(), ids_);
}

TEST_F(SmallCopyTest, ADamagedBlobInTheTargetFailsVerificationByName) {
  expect_verified(run_copy(source_, target_, {"--json"}));
  const std::string damaged = *ids_.begin();
  auto server = server_on(source_, {"--workers", "0"});
  const auto sha = jstring(get_json(server->http(), "/v1/images/" + damaged + "/info", kOperator), "sha256");
  server.reset();
  auto files = files_with_content(dir_ / "target" / "blobs", sha);
  ASSERT_EQ(files.size(), 1u);
  std::string bytes = read_file(files[0]);
  bytes[bytes.size() / 2] ^= 0x5a;  // same size: only its hash tells
  fs::permissions(files[0], fs::perms::owner_write, fs::perm_options::add);
  write_file(files[0], bytes);

  auto run = run_copy(source_, target_, {"--json"});
  EXPECT_EQ(run.exit_code(), 1) << run.output;
  EXPECT_EQ(run.summary_status(), "failed");
  const auto problems = json::serialize(*jfind(run.summary, "problems"));
  EXPECT_NE(problems.find("originals/" + sha), std::string::npos) << problems;
  EXPECT_NE(problems.find("SHA-256"), std::string::npos) << problems;
  auto text = run_copy(source_, target_);
  EXPECT_EQ(text.exit_code(), 1);
  EXPECT_NE(text.output.find("verification failed"), std::string::npos) << text.output;
}

TEST_F(SmallCopyTest, ATargetWithOtherDataIsRefusedBeforeAnythingIsWritten) {
  {
    auto other = server_on(target_, {"--workers", "0"});
    auto up = upload_raw(other->http(), make_image(50, 50, 999, ".png"), {}, "application/octet-stream", bearer(kOperator));
    ASSERT_EQ(up.response.status, 201);
  }
  auto run = run_copy(source_, target_);
  EXPECT_EQ(run.exit_code(), 3) << run.output;
  EXPECT_NE(run.output.find("target catalog holds"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("in the target only"), std::string::npos) << run.output;
  EXPECT_EQ(target_ids().size(), 1u);

  auto nowhere = run_copy(source_, {"mysql://db/x", target_.storage});
  EXPECT_EQ(nowhere.exit_code(), 2) << nowhere.output;  // no backend takes that scheme
  EXPECT_NE(nowhere.output.find("sqlite://PATH"), std::string::npos) << nowhere.output;
  auto unreachable = run_copy({"postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", source_.storage},
                              sqlite_and_files(dir_ / "fresh"));
  EXPECT_EQ(unreachable.exit_code(), 4) << unreachable.output;
  EXPECT_NE(unreachable.output.find("--from-catalog"), std::string::npos) << unreachable.output;
  auto missing = run_copy(sqlite_and_files(dir_ / "no-such-source"), sqlite_and_files(dir_ / "fresh"));
  EXPECT_EQ(missing.exit_code(), 4) << missing.output;
  EXPECT_NE(missing.output.find("no such file"), std::string::npos) << missing.output;
}

TEST_F(SmallCopyTest, ProgressIsABarOnATerminalAndLinesOtherwise) {
  auto lines = run_copy(source_, target_, {"--batch", "2"});
  EXPECT_EQ(lines.exit_code(), 0) << lines.output;
  EXPECT_NE(lines.output.find("copying blobs: 6 items"), std::string::npos) << lines.output;
  EXPECT_NE(lines.output.find("done in"), std::string::npos) << lines.output;
  EXPECT_EQ(lines.output.find('\r'), std::string::npos) << "no bar redraws in a log";

  // Under script(1), stderr is a terminal.
  const Backends again = sqlite_and_files(dir_ / "target2");
  std::string command = server_binary() + " copy --from-catalog " + source_.catalog + " --from-storage " +
                        source_.storage + " --to-catalog " + again.catalog + " --to-storage " + again.storage;
  auto [status, out] = run_command({"/usr/bin/script", "-qec", command, "/dev/null"}, 120s);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("\rcopying blobs"), std::string::npos) << out;
  EXPECT_NE(out.find("[########################] 100%"), std::string::npos) << out;
  EXPECT_NE(out.find("copied and verified"), std::string::npos) << out;

  auto help = run_command({server_binary(), "copy", "--help"}, 10s);
  EXPECT_EQ(help.first, 0);
  EXPECT_NE(help.second.find("Examples:"), std::string::npos) << help.second;
  EXPECT_EQ(help.second.find("kill-after"), std::string::npos) << "the test hook is not advertised";
}

}  // namespace
}  // namespace progimage::contract
