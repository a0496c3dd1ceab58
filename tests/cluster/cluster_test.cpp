// The cluster test (issue 12, points 5 and 6): three ProgImage nodes on
// 127.0.0.2-4 over one PostgreSQL catalog and one S3 bucket, behind Debian's
// nginx configured by deploy/nginx/progimage.conf. One suite, one cluster:
// the tests run in order and later ones kill and restart nodes.
//
//   node A  127.0.0.2  --role all     (API + 1 worker; first in nginx, resumable primary)
//   node B  127.0.0.3  --role api     (API only; second in nginx, resumable backup)
//   node W  127.0.0.4  --role worker  (2 workers; serves /healthz, /readyz, /metrics only)
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "../contract/jobs_support.hpp"
#include "harness.hpp"
#include "nginx.hpp"

namespace progimage::cluster {
namespace {

using namespace contract;
using contract::jobs::all_results;
using contract::jobs::finished;
using contract::jobs::get_job;
using contract::jobs::submit;
using contract::jobs::wait_finished;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kOperatorKey = "cluster-operator-key-0123456789";  // admin of every tenant
constexpr const char* kEdgeKey = "cluster-edge-key-0123456789";          // nginx's edge site reads with it
/// Short, so that a killed worker's items run again within the test.
constexpr const char* kJobLease = "2s";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// `/usr/bin/psql` on the cluster's catalog: the unaligned rows, "" on error (with a test failure).
std::string psql(const std::string& url, const std::string& sql) {
  auto [status, out] = run_command({"/usr/bin/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql}, 30s);
  EXPECT_EQ(status, 0) << sql << ": " << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return status == 0 ? out : std::string();
}

/// The counter's value on a node's /metrics (0 when absent, -1 when unreachable).
double metric(const Server& node, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  auto r = node.http().get("/metrics", {}, 5s);
  if (r.status != 200) return -1;
  return metric_sum(parse_metrics(r.body), name, labels);
}

/// The "serving" line's field, as text (role, workers...).
std::string serving_field(const Server& node, const std::string& field) {
  static const std::regex serving(R"re(\{[^\n]*"msg":"serving"[^\n]*)re");
  const std::string log = node.stdout_text();
  std::smatch line;
  std::string last;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), serving); it != std::sregex_iterator(); ++it)
    last = it->str();
  auto v = json::parse(last);
  const auto* f = jfind(v, field);
  if (!f) return {};
  return f->is_string() ? std::string(f->as_string()) : json::serialize(*f);
}

class Cluster {
 public:
  Cluster()
      : database_url_(test_postgres_base() + "/cluster" + std::to_string(::getpid())),
        storage_url_("s3://cluster" + std::to_string(::getpid()) + "?endpoint=" + test_s3_endpoint() +
                     "&create_bucket=true") {
    if (auto error = create_postgres_database(database_url_); !error.empty()) throw std::runtime_error(error);
    a_ = std::make_unique<Server>(node("127.0.0.2", "all", 1));
    b_ = std::make_unique<Server>(node("127.0.0.3", "api", 2));
    w_ = std::make_unique<Server>(node("127.0.0.4", "worker", 2));
    // One at a time: each brings the schema up under the advisory lock, the first makes it.
    for (Server* s : {a_.get(), b_.get(), w_.get()})
      if (!s->start()) throw std::runtime_error("a node did not start:\n" + tail(s->stdout_text()));
    nginx_ = std::make_unique<Nginx>(NginxOptions{address(*a_), address(*b_), kEdgeKey});
  }
  ~Cluster() {
    nginx_.reset();
    a_.reset();
    b_.reset();
    w_.reset();
    // The database goes with the fixture's server; dropped now so that runs do not pile up.
    run_command({"/usr/bin/psql", "-X", "-q", test_postgres_base() + "/postgres", "-c",
                 "DROP DATABASE IF EXISTS \"" + database_url_.substr(database_url_.rfind('/') + 1) + "\" WITH (FORCE)"},
                30s);
  }

  Server& a() { return *a_; }
  Server& b() { return *b_; }
  Server& w() { return *w_; }
  Nginx& nginx() { return *nginx_; }
  const std::string& database_url() const { return database_url_; }
  static std::string address(const Server& s) { return s.host() + ":" + std::to_string(s.port()); }

  /// Clients that speak as the operator: through nginx, or to one node.
  Http front() const { return Http(nginx_->base_url()).with_headers(operator_key()); }
  static Http to(const Server& s) { return s.http().with_headers(operator_key()); }
  static Headers operator_key() { return {{"X-Api-Key", kOperatorKey}}; }

 private:
  ServerOptions node(const std::string& host, const std::string& role, int workers) const {
    ServerOptions o;
    o.host = host;
    o.catalog_url = database_url_;
    o.storage_url = storage_url_;
    o.ready_timeout = 60s;
    o.args = {"--role", role, "--workers", std::to_string(workers), "--processing-threads", "2",
              "--api-key", std::string(kOperatorKey) + ":admin:*", "--api-key", std::string(kEdgeKey) + ":read:*",
              "--job-lease", kJobLease, "--job-backoff", "200ms"};
    return o;
  }

  std::string database_url_;
  std::string storage_url_;
  std::unique_ptr<Server> a_, b_, w_;
  std::unique_ptr<Nginx> nginx_;
};

class ClusterTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    try {
      cluster_ = std::make_unique<Cluster>();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { cluster_.reset(); }

 protected:
  void SetUp() override { ASSERT_TRUE(cluster_) << "the cluster did not come up: " << setup_error_; }

  static Cluster& cluster() { return *cluster_; }
  static Server& a() { return cluster_->a(); }
  static Server& b() { return cluster_->b(); }
  static Server& w() { return cluster_->w(); }
  static Http front() { return cluster_->front(); }
  static Http to(const Server& s) { return Cluster::to(s); }
  /// Every node that serves the API, and nginx in front of them.
  static std::vector<std::pair<std::string, Http>> readers() {
    return {{"node A", to(a())}, {"node B", to(b())}, {"nginx", front()}};
  }

  /// Uploads a small PNG through `http`; the id, or "" with a test failure.
  static std::string upload(const Http& http, const std::string& bytes, const std::string& query = {}) {
    auto up = upload_raw(http, bytes, query);
    EXPECT_EQ(up.response.status, 201) << http.base_url() << ": " << up.response.describe();
    return up.id;
  }

  static inline std::unique_ptr<Cluster> cluster_;
  static inline std::string setup_error_;
};

TEST_F(ClusterTest, RolesDoWhatTheySay) {
  EXPECT_EQ(serving_field(a(), "role"), "all");
  EXPECT_EQ(serving_field(b(), "role"), "api");
  EXPECT_EQ(serving_field(w(), "role"), "worker");
  EXPECT_EQ(serving_field(b(), "workers"), "0") << "an api node runs no workers";
  EXPECT_EQ(serving_field(w(), "workers"), "2");
  for (Server* s : {&a(), &b(), &w()}) {
    EXPECT_EQ(s->http().get("/readyz").status, 200) << s->host();
    EXPECT_EQ(s->http().get("/metrics").status, 200) << s->host();
  }
  // A worker node serves no API, with or without a credential.
  EXPECT_EQ(to(w()).get("/v1/images").status, 404);
  EXPECT_EQ(upload_raw(to(w()), make_image(40, 30, 1)).response.status, 404);
  EXPECT_EQ(to(a()).get("/v1/images").status, 200);
  EXPECT_EQ(to(b()).get("/v1/images").status, 200);
  EXPECT_EQ(front().get("/v1/images").status, 200);
  EXPECT_EQ(Http(cluster().nginx().base_url()).get("/metrics").status, 404) << "nginx hides /metrics";
}

TEST_F(ClusterTest, UploadsThroughAnyNodeAreVisibleOnAll) {
  struct Stored {
    std::string via, id, bytes, tag;
  };
  std::vector<Stored> stored;
  std::uint32_t seed = 100;
  for (auto& [name, http] : readers()) {
    const std::string tag = "through" + std::to_string(seed);
    const std::string bytes = make_image(120, 80, seed++, ".png");
    const std::string id = upload(http, bytes, "tags=" + tag + "&description=sent%20via%20" + url_encode(name));
    ASSERT_FALSE(id.empty());
    stored.push_back({name, id, bytes, tag});
  }
  for (const auto& s : stored) {
    for (auto& [name, http] : readers()) {
      SCOPED_TRACE(s.via + " -> read on " + name);
      auto original = http.get("/v1/images/" + s.id);
      ASSERT_EQ(original.status, 200) << original.describe();
      EXPECT_EQ(sha256_hex(original.body), sha256_hex(s.bytes)) << "the original's bytes";
      auto info = http.get("/v1/images/" + s.id + "/info");
      ASSERT_EQ(info.status, 200) << info.describe();
      EXPECT_EQ(jint(*info.json(), "width"), 120);
      EXPECT_EQ(jstring(*info.json(), "sha256"), sha256_hex(s.bytes));
      auto by_tag = http.get("/v1/images?tag=" + s.tag);
      ASSERT_EQ(by_tag.status, 200) << by_tag.describe();
      const json::value page = *by_tag.json();
      const auto& found = jfind(page, "images")->as_array();
      ASSERT_EQ(found.size(), 1u) << by_tag.body;
      EXPECT_EQ(jstring(found[0], "id"), s.id);
      auto by_text = http.get("/v1/images?q=" + url_encode(s.via.substr(s.via.find(' ') + 1)));
      ASSERT_EQ(by_text.status, 200) << by_text.describe();
      EXPECT_NE(by_text.body.find(s.id), std::string::npos) << "full-text search finds it: " << by_text.body;
    }
  }
}

TEST_F(ClusterTest, ARenderMadeOnOneNodeIsACacheHitOnAnother) {
  const std::string id = upload(to(a()), make_image(200, 150, 7, ".jpg"));
  ASSERT_FALSE(id.empty());
  const std::string path = "/v1/images/" + id + ".webp?w=37";
  const double hits_before = metric(b(), "progimage_derivative_cache_total", {{"result", "hit"}});
  auto made = to(a()).get(path);
  ASSERT_EQ(made.status, 200) << made.describe();
  EXPECT_EQ(made.header("X-Cache"), "miss") << "rendered on node A";
  auto on_b = to(b()).get(path);
  ASSERT_EQ(on_b.status, 200) << on_b.describe();
  EXPECT_EQ(on_b.header("X-Cache"), "hit") << "node B finds node A's render in the shared index and bucket";
  EXPECT_EQ(on_b.body, made.body);
  EXPECT_EQ(on_b.header("ETag"), made.header("ETag"));
  EXPECT_EQ(metric(b(), "progimage_derivative_cache_total", {{"result", "hit"}}), hits_before + 1);
  EXPECT_EQ(metric(b(), "progimage_derivative_renders_total"), 0) << "node B has rendered nothing";
  auto via_nginx = front().get(path);
  EXPECT_EQ(via_nginx.header("X-Cache"), "hit");
  EXPECT_EQ(via_nginx.body, made.body);
}

TEST_F(ClusterTest, ADeleteThroughAIsA404OnBAtOnce) {
  // Node B has just read the image (its record and small original are in
  // its memory) when node A deletes it; B's very next answer must be 404.
  // Half the rounds take A's quickest path, where the DELETE answers right
  // after the catalog commit: the blob stays (another tenant has the same
  // bytes) and there is no derivative to remove from the bucket. The other
  // half have B render first, so B also holds a derivative in memory.
  constexpr int kRounds = 40;
  const Http other_tenant = to(a()).with_headers({{"X-ProgImage-Tenant", "other"}});
  int stale = 0;
  std::string stale_example;
  for (int i = 0; i < kRounds; ++i) {
    const bool quick = i % 2 == 0;
    const std::string bytes = make_image(48, 32, 900 + i, ".png");
    if (quick) {
      ASSERT_FALSE(upload(other_tenant, bytes).empty());
    }
    const std::string id = upload(to(a()), bytes);
    ASSERT_FALSE(id.empty());
    ASSERT_EQ(to(b()).get("/v1/images/" + id).status, 200);
    if (!quick) {
      ASSERT_EQ(to(b()).get("/v1/images/" + id + ".webp?w=20").status, 200);
    }
    auto deleted = to(a()).request("DELETE", "/v1/images/" + id);
    ASSERT_EQ(deleted.status, 204) << deleted.describe();
    auto original = to(b()).get("/v1/images/" + id);
    auto render = to(b()).get("/v1/images/" + id + ".webp?w=20");
    if (original.status != 404 || render.status != 404) {
      ++stale;
      stale_example = std::string(quick ? "quick" : "with render") + " round: original " + original.describe() +
                      "; render " + render.describe();
    }
    EXPECT_TRUE(is_error(to(b()).get("/v1/images/" + id + "/info"), 404, "not_found"));
  }
  EXPECT_EQ(stale, 0) << stale << " of " << kRounds
                      << " reads on node B right after node A's DELETE answered were not 404, e.g. " << stale_example;
}

TEST_F(ClusterTest, APatchOnAIsSeenOnBWithinASecond) {
  const std::string id = upload(to(a()), make_image(300, 200, 11, ".png"));
  ASSERT_FALSE(id.empty());
  // gravity=focus crops around the stored focal point, so the render (and
  // its ETag) changes with a PATCH of focus: what a stale record would miss.
  const std::string path = "/v1/images/" + id + ".png?w=60&h=60&fit=cover&gravity=focus";
  auto before = to(b()).get(path);
  ASSERT_EQ(before.status, 200) << before.describe();
  auto patched = to(a()).request("PATCH", "/v1/images/" + id, R"({"focus": {"x": 0.9, "y": 0.1}, "tags": ["moved"]})",
                                 {{"Content-Type", "application/json"}});
  ASSERT_EQ(patched.status, 200) << patched.describe();
  const auto t0 = Clock::now();
  Response after;
  do {
    after = to(b()).get(path);
  } while (after.header("ETag") == before.header("ETag") && seconds_since(t0) < 3);
  const double seen = seconds_since(t0);
  EXPECT_NE(after.header("ETag"), before.header("ETag")) << "node B still renders the old focal point";
  EXPECT_LT(seen, 1.0) << "the patch reached node B's record cache after " << seen << " s";
  std::printf("[cluster] a PATCH on A showed in B's renders after %.3f s\n", seen);
  auto info = to(b()).get("/v1/images/" + id);
  EXPECT_EQ(info.status, 200);
  auto listed = to(b()).get("/v1/images?tag=moved");
  EXPECT_NE(listed.body.find(id), std::string::npos) << listed.body;
}

TEST_F(ClusterTest, AKeyRevokedOnAIsRefusedOnBWithinASecond) {
  auto made = to(a()).request("POST", "/v1/keys", R"({"role": "read", "name": "cluster reader"})",
                              {{"Content-Type", "application/json"}});
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string key_id = jstring(*made.json(), "id");
  const Http reader_b = b().http().with_headers({{"Authorization", "Bearer " + jstring(*made.json(), "key")}});
  ASSERT_EQ(reader_b.get("/v1/images?limit=1").status, 200) << "node B knows a key made on node A";
  auto revoked = to(a()).request("DELETE", "/v1/keys/" + key_id);
  ASSERT_EQ(revoked.status, 204) << revoked.describe();
  const auto t0 = Clock::now();
  Response r;
  do {
    r = reader_b.get("/v1/images?limit=1");
  } while (r.status == 200 && seconds_since(t0) < 3);
  const double refused = seconds_since(t0);
  EXPECT_TRUE(is_error(r, 401, "unauthorized"));
  EXPECT_LT(refused, 1.0);
  std::printf("[cluster] a key revoked on A was refused on B after %.3f s\n", refused);
}

TEST_F(ClusterTest, ResumableUploadsThroughNginxStayOnOneNode) {
  // The bytes of an unfinished tus upload live in one node's data directory:
  // nginx sends every /v1/resumable/ request to node A (deploy decision).
  const std::string png = make_image(400, 300, 21, ".png");
  Headers tus{{"Tus-Resumable", "1.0.0"}};
  Headers create = tus;
  create["Upload-Length"] = std::to_string(png.size());
  create["Upload-Metadata"] = "filename " + base64("pieces.png");
  auto made = front().request("POST", "/v1/resumable/", {}, create);
  ASSERT_EQ(made.status, 201) << made.describe();
  const std::string url = made.header("Location");
  ASSERT_TRUE(url.starts_with("/v1/resumable/")) << url;
  constexpr int kChunks = 4;
  const std::size_t chunk = png.size() / kChunks + 1;
  Response last;
  for (std::size_t offset = 0; offset < png.size(); offset += chunk) {
    Headers h = tus;
    h["Content-Type"] = "application/offset+octet-stream";
    h["Upload-Offset"] = std::to_string(offset);
    last = front().request("PATCH", url, png.substr(offset, chunk), h);
    ASSERT_EQ(last.status, 204) << "chunk at " << offset << ": " << last.describe();
  }
  const std::string id = last.header("ProgImage-Image-Id");
  ASSERT_FALSE(id.empty()) << last.describe();
  EXPECT_EQ(sha256_hex(to(b()).get("/v1/images/" + id).body), sha256_hex(png));
  // nginx's own log says where each went.
  std::istringstream log(cluster().nginx().access_log());
  int resumable = 0;
  for (std::string line; std::getline(log, line);) {
    auto v = json::parse(line);
    if (!jstring(v, "uri").starts_with("/v1/resumable/")) continue;
    ++resumable;
    EXPECT_EQ(jstring(v, "upstream"), Cluster::address(a())) << line;
  }
  EXPECT_EQ(resumable, 1 + kChunks);
}

TEST_F(ClusterTest, AWorkerKilledInAThousandItemJobLeavesItCompleteWithEachResultOnce) {
  constexpr int kSources = 40, kItems = 1000;
  std::vector<std::string> ids;
  for (int i = 0; i < kSources; ++i) {
    ids.push_back(upload(front(), make_image(64 + i, 48, 5000 + i, ".png")));
    ASSERT_FALSE(ids.back().empty());
  }
  json::array sources;
  for (int i = 0; i < kItems; ++i) sources.emplace_back(ids[i % kSources]);
  const double b_done_before = metric(b(), "progimage_job_items_total", {{"outcome", "done"}});
  const auto job_id = submit(front(), json::object{{"sources", sources}, {"params", "w=24"}, {"format", "webp"}});
  ASSERT_FALSE(job_id.empty());

  // SIGKILL the worker node at a random moment in the middle of the job.
  std::mt19937 rng(std::random_device{}());
  const int kill_at = std::uniform_int_distribution<int>(150, 600)(rng);
  std::int64_t done_at_kill = 0;
  double w_done = 0;
  const auto end = Clock::now() + 120s;
  while (Clock::now() < end) {
    done_at_kill = jint(get_job(front(), job_id), "done", 0);
    w_done = std::max(w_done, metric(w(), "progimage_job_items_total", {{"outcome", "done"}}));
    if (done_at_kill >= kill_at) break;
    std::this_thread::sleep_for(20ms);
  }
  w().kill9();
  ASSERT_LT(done_at_kill, kItems) << "the job finished before the kill; nothing was tested";
  EXPECT_GT(w_done, 0) << "the worker node had taken part before it was killed";
  const auto killed = Clock::now();

  auto job = wait_finished(front(), job_id, 150s);
  ASSERT_TRUE(finished(job)) << json::serialize(job) << tail(a().stderr_text());
  std::printf("[cluster] worker node killed at %lld of %d items; node A finished the job %.1f s later\n",
              static_cast<long long>(done_at_kill), kItems, seconds_since(killed));
  EXPECT_EQ(jstring(job, "status"), "completed");
  EXPECT_EQ(jint(job, "total"), kItems);
  EXPECT_EQ(jint(job, "done"), kItems);
  EXPECT_EQ(jint(job, "failed"), 0);

  // Through the API: one result per item, each done once, in source order.
  auto results = all_results(front(), job_id);
  ASSERT_EQ(results.size(), static_cast<std::size_t>(kItems)) << "one result per item, none lost, none twice";
  std::set<std::string> urls;
  for (int i = 0; i < kItems; ++i) {
    json::value r = results[i];
    EXPECT_EQ(jstring(r, "status"), "done") << i;
    EXPECT_EQ(jstring(r, "source"), ids[i % kSources]) << i;
    urls.insert(jstring(r, "url"));
  }
  EXPECT_EQ(urls.size(), static_cast<std::size_t>(kSources)) << "one derivative per distinct source";
  for (const auto& url : urls) EXPECT_EQ(front().get(url).status, 200) << url;

  // In the catalog itself: exactly one row per position, every one done,
  // and some run twice, i.e. taken over from the killed node's leases.
  const std::string q = "FROM job_items WHERE job_id = '" + job_id + "'";
  EXPECT_EQ(psql(cluster().database_url(),
                 "SELECT count(*), count(DISTINCT position), min(position), max(position), "
                 "count(*) FILTER (WHERE status = 'done' AND finished_at IS NOT NULL AND lease_owner IS NULL) " + q),
            "1000|1000|0|999|1000");
  const std::string taken_over = psql(cluster().database_url(), "SELECT count(*) " + q + " AND attempts > 1");
  EXPECT_GT(std::atoi(taken_over.c_str()), 0) << "no item was leased by the killed node: the kill tested nothing";
  EXPECT_EQ(psql(cluster().database_url(), "SELECT done, failed, status FROM jobs WHERE id = '" + job_id + "'"),
            "1000|0|completed");
  std::printf("[cluster] %s items ran a second time after the kill\n", taken_over.c_str());

  EXPECT_EQ(metric(b(), "progimage_job_items_total", {{"outcome", "done"}}), b_done_before) << "--role api runs no items";
  EXPECT_GT(metric(a(), "progimage_job_items_total", {{"outcome", "done"}}), 0);
  ASSERT_TRUE(w().restart()) << "the worker node comes back";
}

TEST_F(ClusterTest, ANodeKilledAndRestartedUnderUploadLoadLosesNoAcknowledgedUpload) {
  constexpr int kClients = 4, kPerClient = 60;
  struct Sent {
    long status = 0;
    std::string id, sha256;
  };
  std::vector<std::vector<std::string>> images(kClients);
  for (int c = 0; c < kClients; ++c)
    for (int i = 0; i < kPerClient; ++i) images[c].push_back(make_image(56, 40, 20000 + c * 1000 + i, ".png"));
  std::vector<std::vector<Sent>> sent(kClients);
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      for (const auto& bytes : images[c]) {
        auto up = upload_raw(front(), bytes);
        sent[c].push_back({up.response.status, up.id, sha256_hex(bytes)});
        if (up.response.status == 201) ++acknowledged;
      }
    });
  // Kill node A once a quarter of the uploads are in, start it again at once.
  const auto end = Clock::now() + 60s;
  while (acknowledged < kClients * kPerClient / 4 && Clock::now() < end) std::this_thread::sleep_for(5ms);
  const int before_kill = acknowledged;
  a().kill9();
  const auto killed = Clock::now();
  const bool restarted = a().restart();
  const double down = seconds_since(killed);
  const int at_restart = acknowledged;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(restarted) << tail(a().stdout_text());
  std::printf("[cluster] node A killed after %d uploads, serving again %.2f s later (%d more meanwhile)\n",
              before_kill, down, at_restart - before_kill);

  int ok = 0;
  std::map<long, int> refused;
  for (const auto& list : sent)
    for (const auto& s : list) {
      if (s.status != 201) {
        ++refused[s.status];
        continue;
      }
      ++ok;
      for (auto& [name, http] : readers()) {
        auto r = http.get("/v1/images/" + s.id);
        EXPECT_EQ(r.status, 200) << name << ": acknowledged upload " << s.id << " is gone: " << r.describe();
        EXPECT_EQ(sha256_hex(r.body), s.sha256) << name << ": " << s.id;
      }
    }
  std::string refusals;
  for (auto [status, n] : refused) refusals += " " + std::to_string(n) + "x" + std::to_string(status);
  std::printf("[cluster] %d uploads acknowledged, not acknowledged:%s\n", ok, refusals.empty() ? " none" : refusals.c_str());
  EXPECT_GE(ok, kClients * kPerClient * 3 / 4);
  for (auto [status, n] : refused)
    EXPECT_TRUE(status == 502 || status == 503 || status == 504) << n << " uploads answered " << status;
  // Both API nodes took uploads through nginx, node A after its restart too.
  std::istringstream log(cluster().nginx().access_log());
  std::map<std::string, int> by_node;
  for (std::string line; std::getline(log, line);) {
    auto v = json::parse(line);
    if (jstring(v, "method") == "POST" && jstring(v, "uri") == "/v1/images" && jint(v, "status") == 201)
      ++by_node[jstring(v, "upstream")];
  }
  EXPECT_GT(by_node[Cluster::address(a())], 0);
  EXPECT_GT(by_node[Cluster::address(b())], 0);
}

TEST_F(ClusterTest, TheCatalogIsSoundAndEveryNodeStopsCleanly) {
  auto [status, out] = b().check();
  EXPECT_EQ(status, 0) << out;
  for (Server* s : {&a(), &b(), &w()}) {
    const int exit = s->stop(30s);
    EXPECT_TRUE(WIFEXITED(exit) && WEXITSTATUS(exit) == 0) << s->host() << " exit status " << exit;
  }
}

}  // namespace
}  // namespace progimage::cluster
