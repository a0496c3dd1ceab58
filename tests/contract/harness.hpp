#pragma once
// Black-box contract test harness: starts the real `progimage` binary on a
// free loopback port with its own data directory, and talks HTTP to it.
// Nothing here links the server's modules except core's hash helpers.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace progimage::contract {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// Orders header names case-insensitively (HTTP field names are).
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};
using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

struct Response {
  long status = 0;     // 0 when no HTTP answer arrived (see error)
  Headers headers;     // of the final response; repeated fields joined with ", "
  std::string body;
  std::string error;   // libcurl's message when the transfer failed
  double seconds = 0;  // total time of the exchange

  /// The header's value, or "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const { return headers.count(std::string(name)) > 0; }
  /// The body as JSON, or nullopt when it does not parse.
  std::optional<boost::json::value> json() const;
  /// "status 415, body {...}" for failure messages (body cut to 600 bytes).
  std::string describe() const;
};

/// One part of a multipart/form-data body.
struct Part {
  std::string name;          // form field name
  std::string data;
  std::string filename;      // empty: a text field
  std::string content_type;  // empty: no Content-Type header of its own (libcurl may guess from filename)
};

/// A small blocking HTTP/1.1 client over libcurl (one connection per call).
class Http {
 public:
  explicit Http(std::string base_url) : base_(std::move(base_url)) {}
  /// The same client, sending `headers` (a credential, say) with every
  /// request; a call's own headers win over them.
  Http with_headers(Headers headers) const {
    Http copy = *this;
    for (auto& [k, v] : headers) copy.defaults_[k] = std::move(v);
    return copy;
  }

  Response request(std::string_view method, std::string_view path, std::string_view body = {},
                   const Headers& headers = {}, std::chrono::milliseconds timeout = 30s) const;
  Response get(std::string_view path, const Headers& headers = {},
               std::chrono::milliseconds timeout = 30s) const {
    return request("GET", path, {}, headers, timeout);
  }
  /// multipart/form-data built by libcurl's curl_mime, as `curl -F` sends it.
  Response post_multipart(std::string_view path, const std::vector<Part>& parts, const Headers& headers = {},
                          std::chrono::milliseconds timeout = 30s) const;
  const std::string& base_url() const { return base_; }

 private:
  Headers merged(const Headers& headers) const;

  std::string base_;
  Headers defaults_;
};

/// A multipart/form-data body built by hand, for exact control of every part
/// header. Returns {body, content type with boundary}.
std::pair<std::string, std::string> build_multipart(const std::vector<Part>& parts);

struct ServerOptions {
  std::vector<std::string> args;                            // after `serve --listen --data --catalog --storage`
  std::vector<std::pair<std::string, std::string>> env;     // added to a PROGIMAGE_*-free environment
  // false: the test gives listen and data itself (flags, env or config) and the
  // server chooses its own backends (the defaults under test).
  bool pass_listen_and_data = true;
  fs::path cwd;                      // empty: the server's temp dir
  std::chrono::milliseconds ready_timeout = 15s;
  // The loopback address it listens on (127.0.0.0/8 binds without setup):
  // several nodes of one cluster each get their own.
  std::string host = "127.0.0.1";
  // Backends shared with other servers (a cluster's nodes): given, these win
  // over PROGIMAGE_TEST_CATALOG and PROGIMAGE_TEST_STORAGE and are made by
  // the test (see create_postgres_database).
  std::string catalog_url;
  std::string storage_url;
};

/// The server process. Never outlives the test: the destructor kills and reaps it.
///
/// Its backends come from the environment, so that the suite runs once per
/// backend: PROGIMAGE_TEST_CATALOG and PROGIMAGE_TEST_STORAGE are URLs given to
/// the server as --catalog and --storage, where `{dir}` stands for the server's
/// own temporary directory and `{name}` for a name unique to it (lower-case
/// letters and digits). Each server needs its own catalog, so each variable
/// must contain one of them. Default: sqlite://{dir}/data/catalog.db and
/// file://{dir}/data.
class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Starts the binary and waits for /healthz (fails the test on timeout).
  /// Returns false when it did not come up.
  bool start();
  /// SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status.
  int stop(std::chrono::milliseconds grace = 15s);
  /// SIGKILL and reap.
  void kill9();
  /// stop() (or reap a dead process), then start() with the same data directory and port.
  bool restart();
  /// Sends a signal to the server process (by its pid only).
  void signal(int sig) const;
  /// Waits up to `timeout` for the process to exit; its wait status, or nullopt.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool alive();

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  void set_port(int port) { port_ = port; }
  const std::string& host() const { return options_.host; }
  std::string base_url() const;
  Http http() const { return Http(base_url()); }
  const fs::path& dir() const { return dir_; }
  fs::path data_dir() const { return dir_ / "data"; }
  /// The backends this server runs on (see the class comment).
  const std::string& catalog_url() const { return catalog_url_; }
  const std::string& storage_url() const { return storage_url_; }
  /// The blob store's directory when the storage is file://, else nullopt:
  /// tests that look at blob files run only then.
  std::optional<fs::path> blob_dir() const;
  /// Runs `progimage check` on this server's backends: {wait status, output}.
  std::pair<int, std::string> check() const;
  std::string stdout_text() const;
  std::string stderr_text() const;
  /// /proc/PID/status field in kB (VmRSS, VmHWM), or -1.
  long proc_status_kb(const char* field) const;
  ServerOptions& options() { return options_; }

 private:
  bool spawn();
  void create_catalog_database();
  bool wait_healthy();
  /// The "serving" log line this start wrote, once it is whole.
  std::optional<std::string> serving_line() const;

  ServerOptions options_;
  fs::path dir_;
  std::string name_;
  std::string catalog_url_;
  std::string storage_url_;
  std::vector<std::pair<std::string, std::string>> backend_env_;  // the S3 peer's keys, for {s3}
  std::string backend_error_;  // a test variable without a placeholder: start() fails with it
  int port_ = 0;
  pid_t pid_ = -1;
  bool port_learnt_ = false;     // port_ came from the "serving" line
  std::size_t log_offset_ = 0;  // where this start's lines begin in stdout.log
};

/// "postgresql://postgres@127.0.0.1:PORT", the tests' PostgreSQL server
/// (tests/postgres) without a database, what `{postgres}` stands for.
std::string test_postgres_base();
/// "http://127.0.0.1:PORT", the tests' S3 peer (tests/s3, fixture
/// "backends"), what `{s3}` stands for; its keys are S3RVER/S3RVER.
std::string test_s3_endpoint();
/// Creates the database a postgresql:// catalog URL names; "" or what psql said.
std::string create_postgres_database(const std::string& catalog_url);

/// Starts a program in the background with stdout and stderr to `log` (it
/// dies with the test process); its pid, or -1. Stop it by that pid.
pid_t spawn_child(const std::vector<std::string>& argv, const fs::path& log,
                  const std::vector<std::pair<std::string, std::string>>& env = {}, const fs::path& cwd = {});
/// Waits up to `timeout` for a child to exit and reaps it; its wait status, or nullopt.
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout);

/// The binary under test: $PROGIMAGE_TEST_BINARY or the build's progimage.
std::string server_binary();
/// The image corpus (tests/corpus).
fs::path testdata_dir();
/// A loopback port that was free a moment ago.
int free_port();
/// Runs a command to completion with a time limit; returns {wait status, stdout+stderr}.
std::pair<int, std::string> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                        const std::vector<std::pair<std::string, std::string>>& env = {},
                                        const fs::path& cwd = {});

std::string read_file(const fs::path& path);
void write_file(const fs::path& path, std::string_view bytes);
std::string sha256_hex(std::string_view bytes);
std::string base64(std::string_view bytes);
std::string url_encode(std::string_view s);
/// `sig` for a path and decoded query pairs under `secret`, computed as
/// src/ops/README.md documents URL signing (not with the server's code).
std::string url_signature(const std::string& secret, const std::string& path,
                          std::vector<std::pair<std::string, std::string>> params);

// ---- images made in the test with libvips ----

/// Random-pixel image encoded by suffix (".png", ".jpg", ".webp", ...); `bands` 1-4.
std::string make_image(int width, int height, std::uint32_t seed, const char* suffix = ".png", int bands = 3,
                       const char* options = "");
/// A copy of an image as a re-user would make one: `crop` of each side cut
/// off (a fraction, 0 for none), scaled by `scale`, brightness times
/// `brightness`, and encoded as `suffix` with its options (".jpg[Q=60]").
std::string reencode(const std::string& bytes, double scale, const char* suffix, double crop = 0,
                     double brightness = 1);
/// A copy with fractions of its sides cut off (0.05: 5%), encoded as `suffix`.
struct Sides {
  double left = 0, top = 0, right = 0, bottom = 0;
};
std::string crop_sides(const std::string& bytes, Sides cut, const char* suffix);
/// An image decoded by libvips, with the bytes it was read from kept alive.
struct Decoded {
  std::string loader;  // libvips loader nickname without _buffer, e.g. "pngload"
  int width = 0;
  int height = 0;      // of one page when pages > 1
  int bands = 0;
  int pages = 1;
  bool has_alpha = false;
  std::vector<std::string> fields;  // metadata field names
  std::string icc;                  // icc-profile-data bytes, "" when none
  std::string error;                // libvips' message when decoding failed
};
/// Decodes every page (n=-1) with libvips; error set when it fails.
Decoded decode(const std::string& bytes);
/// Mean absolute difference of two decoded images of equal size (sRGB, no alpha), or -1.
double mean_abs_diff(const std::string& a, const std::string& b);
/// The format the leading bytes claim: jpeg png webp gif avif heic jxl tiff jp2 svg pdf bmp, or "".
std::string sniff_format(std::string_view bytes);

// ---- JSON ----

/// The member at a dotted path ("error.code"), or nullptr.
const boost::json::value* jfind(const boost::json::value& v, std::string_view dotted);
std::string jstring(const boost::json::value& v, std::string_view dotted);
std::int64_t jint(const boost::json::value& v, std::string_view dotted, std::int64_t fallback = -1);

// ---- assertions ----

/// A contract error: the status, JSON `{"error": {"code", "message"}}` with a
/// non-empty message and, when `code` is non-empty, that code.
::testing::AssertionResult is_error(const Response& r, long status, std::string_view code = {});
/// A 2xx answer with a JSON object body.
::testing::AssertionResult is_json_ok(const Response& r, long status);

// ---- data directory ----

/// Files under `dir` (recursively) whose content has this SHA-256.
std::vector<fs::path> files_with_content(const fs::path& dir, const std::string& sha256);
/// Files under `dir` whose name contains `text`.
std::vector<fs::path> files_named(const fs::path& dir, const std::string& text);
/// SHA-256 of every regular file under `dir`.
std::vector<std::string> content_hashes(const fs::path& dir);
/// Skips the rest of a test whose point is the blob files when the storage
/// under test is not file:// (the checks before it have run).
#define SKIP_UNLESS_BLOB_FILES(server)                                                           \
  if (!(server).blob_dir())                                                                      \
  GTEST_SKIP() << "the rest of this test reads blob files, and the storage under test ("       \
               << (server).storage_url() << ") is not file://"

// ---- Prometheus text ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
/// Parses the text format; lines that do not parse are returned in `bad`.
std::vector<Sample> parse_metrics(const std::string& text, std::vector<std::string>* bad = nullptr);
/// Sum of samples whose name matches `name_regex` and whose labels contain every given pair.
double metric_sum(const std::vector<Sample>& samples, const std::string& name_regex,
                  const std::map<std::string, std::string>& labels = {});

// ---- common requests ----

struct Uploaded {
  Response response;
  boost::json::value json;  // null when the body was not JSON
  std::string id;           // "" unless the answer carried an image object
};
/// POST /v1/images with a raw body; `query` without '?'.
Uploaded upload_raw(const Http& http, const std::string& bytes, std::string_view query = {},
                    std::string_view content_type = "application/octet-stream", const Headers& extra = {});

// ---- raw sockets, for what a client library hides ----

class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool ok() const { return fd_ >= 0; }
  /// Writes all bytes; false when the peer closed or the write failed.
  bool send(std::string_view bytes);
  /// Reads until the headers and Content-Length body are in, the peer closes, or the timeout.
  std::string read_response(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};
/// The status code of a raw HTTP response, or 0.
int raw_status(const std::string& response);

/// The last `n` bytes of a log, for failure messages.
std::string tail(const std::string& text, std::size_t n = 3000);
/// Core checks of an image object (API.md): id, url, sha256, format, sizes, created_at, tags, and
/// `duplicate` in upload answers (the only place where it means something).
::testing::AssertionResult is_image_object(const boost::json::value& image, bool upload_answer = true);

/// Base for suites that share one server: started once per suite, checked to
/// be alive before and after every test (a test that kills it fails, and the
/// next test gets a fresh start on the same data directory).
template <class Suite>
class SharedServerTest : public ::testing::Test {
 public:
  static ServerOptions server_options() { return {}; }
  static void SetUpTestSuite() {
    server_ = std::make_unique<Server>(Suite::server_options());
    server_->start();
  }
  static void TearDownTestSuite() { server_.reset(); }

 protected:
  void SetUp() override {
    if (!server_->alive()) {
      ADD_FAILURE() << "server was not running before this test; restarting it";
      server_->restart();
    }
    ASSERT_TRUE(server_->alive()) << "server is not running";
  }
  void TearDown() override {
    EXPECT_TRUE(server_->alive()) << "the server died during this test; stderr:\n" << tail(server_->stderr_text());
  }
  static Server& server() { return *server_; }
  static Http http() { return server_->http(); }

  static inline std::unique_ptr<Server> server_;
};

}  // namespace progimage::contract
