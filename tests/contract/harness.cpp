#include "harness.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips8>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/hash.hpp"

extern char** environ;

namespace progimage::contract {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct CurlMimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};
using CurlPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using MimePtr = std::unique_ptr<curl_mime, CurlMimeDeleter>;

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100 Continue) starts over
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = trim(line.substr(0, colon));
  std::string value = trim(line.substr(colon + 1));
  auto [it, inserted] = headers->emplace(name, value);
  if (!inserted) it->second += ", " + value;
  return size * n;
}

Response perform(CURL* curl, const std::string& url, std::string_view method, curl_slist* headers,
                 std::chrono::milliseconds timeout) {
  Response r;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET" && method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) r.error = curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &r.seconds);
  return r;
}

SlistPtr make_headers(const Headers& headers, bool has_body, std::string_view body_type_default) {
  curl_slist* list = nullptr;
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    if (lower(k) == "content-type") has_type = true;
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    list = curl_slist_append(list, line.c_str());
  }
  // libcurl would otherwise label a raw body application/x-www-form-urlencoded.
  if (has_body && !has_type && !body_type_default.empty())
    list = curl_slist_append(list, ("Content-Type: " + std::string(body_type_default)).c_str());
  return SlistPtr(list);
}

void ensure_vips() {
  static const bool ok = [] {
    if (VIPS_INIT("contract_test")) throw std::runtime_error("vips_init failed");
    vips_cache_set_max(0);
    return true;
  }();
  (void)ok;
}

}  // namespace

// ---------------------------------------------------------------- Response

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const noexcept {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

std::string Response::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::optional<boost::json::value> Response::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

std::string Response::describe() const {
  std::ostringstream os;
  os << "status " << status;
  if (!error.empty()) os << " (transfer error: " << error << ")";
  os << ", content-type '" << header("Content-Type") << "', body ";
  bool printable = std::all_of(body.begin(), body.begin() + std::min<std::size_t>(body.size(), 600), [](char c) {
    return c == '\n' || c == '\r' || c == '\t' || (static_cast<unsigned char>(c) >= 0x20);
  });
  if (printable)
    os << "'" << body.substr(0, 600) << (body.size() > 600 ? "...'" : "'");
  else
    os << "<" << body.size() << " binary bytes>";
  return os.str();
}

// ---------------------------------------------------------------- Http

Headers Http::merged(const Headers& headers) const {
  Headers all = defaults_;
  for (const auto& [k, v] : headers) all[k] = v;
  return all;
}

Response Http::request(std::string_view method, std::string_view path, std::string_view body,
                       const Headers& headers, std::chrono::milliseconds timeout) const {
  CurlPtr curl(curl_easy_init());
  bool with_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  auto list = make_headers(merged(headers), with_body, "application/octet-stream");
  if (with_body) {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  }
  return perform(curl.get(), base_ + std::string(path), method, list.get(), timeout);
}

Response Http::post_multipart(std::string_view path, const std::vector<Part>& parts, const Headers& headers,
                              std::chrono::milliseconds timeout) const {
  CurlPtr curl(curl_easy_init());
  MimePtr mime(curl_mime_init(curl.get()));
  for (const auto& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_name(part, p.name.c_str());
    curl_mime_data(part, p.data.data(), p.data.size());
    if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
    if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
  }
  curl_easy_setopt(curl.get(), CURLOPT_MIMEPOST, mime.get());
  auto list = make_headers(merged(headers), false, {});
  return perform(curl.get(), base_ + std::string(path), "POST", list.get(), timeout);
}

std::pair<std::string, std::string> build_multipart(const std::vector<Part>& parts) {
  const std::string boundary = "----contract-boundary-7d41c0ffee";
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n";
    body += p.data;
    body += "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return {body, "multipart/form-data; boundary=" + boundary};
}

// ---------------------------------------------------------------- processes

std::string server_binary() {
  if (const char* v = std::getenv("PROGIMAGE_TEST_BINARY"); v && *v) return v;
  return PROGIMAGE_BINARY;
}

fs::path testdata_dir() {
  if (const char* v = std::getenv("PROGIMAGE_TESTDATA"); v && *v) return v;
  return PROGIMAGE_TESTDATA_DIR;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

namespace {

/// argv/envp prepared before fork (only async-signal-safe calls after it).
struct ExecPlan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;
  std::vector<char*> envp;

  void finish() {
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

std::vector<std::string> clean_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("PROGIMAGE_", 0) == 0) continue;  // the test decides every setting
    if (kv.rfind("http_proxy=", 0) == 0 || kv.rfind("https_proxy=", 0) == 0) continue;
    env.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

pid_t spawn_process(ExecPlan& plan, const fs::path& out, const fs::path& err, const fs::path& cwd) {
  plan.finish();
  std::string out_s = out.string(), err_s = err.string(), cwd_s = cwd.string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: die with the test process, never outlive it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  int o = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int e = err_s == out_s ? o : ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int in = ::open("/dev/null", O_RDONLY);
  if (o < 0 || e < 0 || in < 0) ::_exit(126);
  ::dup2(in, 0);
  ::dup2(o, 1);
  ::dup2(e, 2);
  if (!cwd_s.empty() && ::chdir(cwd_s.c_str()) != 0) ::_exit(125);
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  ::_exit(127);
}

std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "progimage-contract-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace

pid_t spawn_child(const std::vector<std::string>& argv, const fs::path& log,
                  const std::vector<std::pair<std::string, std::string>>& env, const fs::path& cwd) {
  ExecPlan plan;
  plan.args = argv;
  plan.env = clean_environment(env);
  return spawn_process(plan, log, log, cwd);
}

std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout) { return wait_for(pid, timeout); }

std::pair<int, std::string> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                        const std::vector<std::pair<std::string, std::string>>& env,
                                        const fs::path& cwd) {
  fs::path dir = make_temp_dir();
  ExecPlan plan;
  plan.args = argv;
  plan.env = clean_environment(env);
  pid_t pid = spawn_process(plan, dir / "output", dir / "output", cwd);
  int status = -1;
  if (pid > 0) {
    auto st = wait_for(pid, timeout);
    if (!st) {
      ::kill(pid, SIGKILL);
      st = wait_for(pid, 5s);
      ADD_FAILURE() << argv[0] << " did not finish within " << timeout.count() << " ms";
    }
    status = st.value_or(-1);
  }
  std::string output = read_file(dir / "output");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return {status, output};
}

namespace {

/// A name for a database or a bucket: lower-case letters and digits.
std::string unique_name() {
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string name = "progimage";
  for (int i = 0; i < 16; ++i) name += hex[rd() % 16];
  return name;
}

std::string replace_all(std::string text, std::string_view from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
  return text;
}

}  // namespace

std::string test_postgres_base() {
  const char* file = std::getenv("PROGIMAGE_TEST_POSTGRES_URL_FILE");
  std::string url = file ? read_file(file) : std::string();
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.pop_back();
  if (url.empty()) return "postgresql://no-test-postgres-server";  // the server then says it cannot connect
  return url.substr(0, url.rfind('/'));
}

std::string test_s3_endpoint() {
  const char* file = std::getenv("PROGIMAGE_TEST_S3_ENDPOINT_FILE");
  std::string url = read_file(file && *file ? file : PROGIMAGE_S3_ENDPOINT_FILE);
  while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.pop_back();
  return url.empty() ? "http://no-test-s3-peer.invalid" : url;  // the server then says it cannot reach it
}

std::string create_postgres_database(const std::string& catalog_url) {
  // Made on the server's admin database; left with the test server (which goes).
  const auto path = catalog_url.find('/', catalog_url.find("//") + 2);
  const auto query = catalog_url.find('?');
  if (path == std::string::npos) return "no database in " + catalog_url;
  const std::string name = catalog_url.substr(path + 1, query == std::string::npos ? query : query - path - 1);
  const std::string admin = catalog_url.substr(0, path) + "/postgres";
  auto [status, output] = run_command({"/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c",
                                       "CREATE DATABASE \"" + name + "\""},
                                      30s);
  return status == 0 ? std::string() : "cannot create the catalog database " + name + ": " + output;
}

Server::Server(ServerOptions options) : options_(std::move(options)), dir_(make_temp_dir()), name_(unique_name()) {
  fs::create_directories(dir_ / "logs");
  auto backend = [this](const char* variable, const char* fallback) {
    const char* v = std::getenv(variable);
    std::string url = v && *v ? v : fallback;
    if (url.find("{dir}") == std::string::npos && url.find("{name}") == std::string::npos)
      backend_error_ = std::string(variable) + "=" + url +
                       " names one place for every server; put {dir} or {name} in it (each server needs its own)";
    url = replace_all(replace_all(url, "{dir}", dir_.string()), "{name}", name_);
    if (url.find("{postgres}") != std::string::npos) url = replace_all(url, "{postgres}", test_postgres_base());
    if (url.find("{s3}") != std::string::npos) {
      url = replace_all(url, "{s3}", test_s3_endpoint());
      backend_env_ = {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"}};  // s3rver's fixed keys
    }
    return url;
  };
  if (!options_.catalog_url.empty() || !options_.storage_url.empty()) {
    catalog_url_ = options_.catalog_url;
    storage_url_ = options_.storage_url;
    if (catalog_url_.empty() || storage_url_.empty())
      backend_error_ = "ServerOptions gives one shared backend but not the other";
    if (storage_url_.starts_with("s3://"))
      backend_env_ = {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"}};
    return;
  }
  catalog_url_ = backend("PROGIMAGE_TEST_CATALOG", "sqlite://{dir}/data/catalog.db");
  storage_url_ = backend("PROGIMAGE_TEST_STORAGE", "file://{dir}/data");
  if (backend_error_.empty()) create_catalog_database();
}

void Server::create_catalog_database() {
  // A PostgreSQL catalog needs its database to exist.
  if (!catalog_url_.starts_with("postgresql://") && !catalog_url_.starts_with("postgres://")) return;
  backend_error_ = create_postgres_database(catalog_url_);
}

Server::~Server() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for(pid_, 10s);
    pid_ = -1;
  }
  if (!std::getenv("PROGIMAGE_TEST_KEEP")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string Server::base_url() const { return "http://" + options_.host + ":" + std::to_string(port_); }

std::optional<fs::path> Server::blob_dir() const {
  constexpr std::string_view kFile = "file://";
  if (storage_url_.rfind(kFile, 0) != 0) return std::nullopt;
  return fs::path(storage_url_.substr(kFile.size()));
}

std::pair<int, std::string> Server::check() const {
  return run_command({server_binary(), "check", "--data", data_dir().string(), "--catalog", catalog_url_,
                      "--storage", storage_url_},
                     120s, backend_env_);
}

bool Server::spawn() {
  ExecPlan plan;
  plan.args = {server_binary(), "serve"};
  if (options_.pass_listen_and_data) {
    plan.args.insert(plan.args.end(),
                     // Port 0 when none was chosen: the server takes a free one and
                     // says which in its "serving" line, so no other test can take it
                     // between a probe and the bind.
                     {"--listen", options_.host + ":" + std::to_string(port_), "--data", data_dir().string(),
                      "--catalog", catalog_url_, "--storage", storage_url_,
                      // Room for slow encoders (HEIC) on a loaded 2-core CI machine; a
                      // test's own --transform-timeout comes later and wins.
                      "--transform-timeout", "60s"});
  }
  plan.args.insert(plan.args.end(), options_.args.begin(), options_.args.end());
  auto env = backend_env_;
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  plan.env = clean_environment(env);
  fs::path cwd = options_.cwd.empty() ? dir_ : options_.cwd;
  std::error_code ec;
  const auto logged = fs::file_size(dir_ / "logs" / "stdout.log", ec);
  log_offset_ = ec ? 0 : logged;
  pid_ = spawn_process(plan, dir_ / "logs" / "stdout.log", dir_ / "logs" / "stderr.log", cwd);
  return pid_ > 0;
}

std::optional<std::string> Server::serving_line() const {
  const std::string log = stdout_text();
  const auto at = log.find("\"msg\":\"serving\"", std::min(log_offset_, log.size()));
  if (at == std::string::npos) return std::nullopt;
  const auto begin = log.rfind('\n', at);
  const auto end = log.find('\n', at);
  if (end == std::string::npos) return std::nullopt;  // still being written
  return log.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
}

/// The port a "serving" line names.
static int listened_port(const std::string& serving) {
  static const std::regex listen(R"re("listen":"[^"]*:([0-9]+)")re");
  std::smatch m;
  return std::regex_search(serving, m, listen) ? std::stoi(m[1]) : 0;
}

bool Server::wait_healthy() {
  auto deadline = std::chrono::steady_clock::now() + options_.ready_timeout;
  // Only this process's own "serving" line proves that the port is its own:
  // another test's server on a reused port would answer /healthz as well.
  bool serving = false;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ADD_FAILURE() << "server exited during start (status " << status << ")\nstdout:\n"
                    << stdout_text().substr(0, 4000) << "\nstderr:\n"
                    << stderr_text().substr(0, 4000);
      return false;
    }
    if (!serving) {
      auto line = serving_line();
      if (line) {
        const int listened = listened_port(*line);
        if (port_ != 0 && listened != port_) {
          ADD_FAILURE() << "the server serves on port " << listened << ", not on " << port_ << ": " << *line;
          return false;
        }
        port_ = listened;  // the one it took when given port 0
      }
      serving = line && port_ != 0;
    }
    if (serving && Http(base_url()).get("/healthz", {}, 1s).status == 200) return true;
    std::this_thread::sleep_for(serving ? 50ms : 20ms);
  }
  ADD_FAILURE() << "server did not " << (serving ? "answer /healthz with 200" : "log that it is serving")
                << " within " << options_.ready_timeout.count() << " ms\nstdout:\n"
                << stdout_text().substr(0, 4000) << "\nstderr:\n"
                << stderr_text().substr(0, 4000);
  return false;
}

bool Server::start() {
  if (!backend_error_.empty() && options_.pass_listen_and_data) {
    ADD_FAILURE() << backend_error_;
    return false;
  }
  if (!fs::exists(server_binary())) {
    ADD_FAILURE() << "server binary " << server_binary() << " does not exist (build target progimage)";
    return false;
  }
  // A port learnt from the last start is kept when the harness passes it; where
  // the test's own arguments say port 0, the new process chooses again.
  if (port_learnt_ && !options_.pass_listen_and_data) port_ = 0;
  port_learnt_ = port_ == 0;
  if (!spawn()) {
    ADD_FAILURE() << "fork failed";
    return false;
  }
  return wait_healthy();
}

int Server::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto st = wait_for(pid_, grace);
  if (!st) {
    ADD_FAILURE() << "server did not exit within " << grace.count() << " ms of SIGTERM; killed";
    ::kill(pid_, SIGKILL);
    st = wait_for(pid_, 10s);
  }
  pid_ = -1;
  return st.value_or(-1);
}

void Server::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_for(pid_, 10s);
  pid_ = -1;
}

bool Server::restart() {
  if (pid_ > 0) stop();
  return start();
}

void Server::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Server::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto st = wait_for(pid_, timeout);
  if (st) pid_ = -1;
  return st;
}

bool Server::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Server::stdout_text() const { return read_file(dir_ / "logs" / "stdout.log"); }
std::string Server::stderr_text() const { return read_file(dir_ / "logs" / "stderr.log"); }

long Server::proc_status_kb(const char* field) const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  std::string prefix = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
  return -1;
}

// ---------------------------------------------------------------- files, hashing

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string sha256_hex(std::string_view bytes) { return core::sha256_hex(bytes); }
std::string base64(std::string_view bytes) { return core::base64_encode(bytes); }

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string url_signature(const std::string& secret, const std::string& path,
                          std::vector<std::pair<std::string, std::string>> params) {
  std::sort(params.begin(), params.end());
  std::string msg = path + "?";
  for (std::size_t i = 0; i < params.size(); ++i)
    msg += (i ? "&" : "") + url_encode(params[i].first) + "=" + url_encode(params[i].second);
  return core::base64_encode(core::hmac_sha256(secret, msg), /*url_safe=*/true, /*pad=*/false);
}

std::vector<fs::path> files_with_content(const fs::path& dir, const std::string& sha256) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (sha256_hex(read_file(it->path())) == sha256) out.push_back(it->path());
  }
  return out;
}

std::vector<fs::path> files_named(const fs::path& dir, const std::string& text) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->path().filename().string().find(text) != std::string::npos) out.push_back(it->path());
  return out;
}

std::vector<std::string> content_hashes(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    out.push_back(sha256_hex(read_file(it->path())));
  }
  return out;
}

// ---------------------------------------------------------------- images

namespace {

std::string encoded(const vips::VImage& img, const char* suffix) {
  void* buf = nullptr;
  size_t size = 0;
  img.write_to_buffer(suffix, &buf, &size);
  std::string out(static_cast<char*>(buf), size);
  g_free(buf);
  return out;
}

}  // namespace

std::string reencode(const std::string& bytes, double scale, const char* suffix, double crop, double brightness) {
  ensure_vips();
  auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").autorot();
  if (crop > 0) {
    const int dx = static_cast<int>(img.width() * crop), dy = static_cast<int>(img.height() * crop);
    img = img.extract_area(dx, dy, img.width() - 2 * dx, img.height() - 2 * dy);
  }
  if (brightness != 1) img = (img * brightness).cast(img.format());
  img = img.resize(scale);
  return encoded(img, suffix);
}

std::string crop_sides(const std::string& bytes, Sides cut, const char* suffix) {
  ensure_vips();
  auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "").autorot();
  const int x = static_cast<int>(img.width() * cut.left), y = static_cast<int>(img.height() * cut.top);
  img = img.extract_area(x, y, img.width() - x - static_cast<int>(img.width() * cut.right),
                         img.height() - y - static_cast<int>(img.height() * cut.bottom));
  return encoded(img, suffix);
}

std::string make_image(int width, int height, std::uint32_t seed, const char* suffix, int bands,
                       const char* options) {
  ensure_vips();
  std::mt19937 rng(seed);
  std::vector<unsigned char> pixels(static_cast<std::size_t>(width) * height * bands);
  // A solid colour from the seed with random noise on top: distinct and realistic enough.
  unsigned char base[4] = {static_cast<unsigned char>(rng()), static_cast<unsigned char>(rng()),
                           static_cast<unsigned char>(rng()), 255};
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    int b = static_cast<int>(i % bands);
    if (bands == 4 && b == 3) {
      pixels[i] = static_cast<unsigned char>((i / bands) % width < static_cast<std::size_t>(width / 2) ? 0 : 255);
    } else {
      pixels[i] = static_cast<unsigned char>(base[b] + (rng() % 64));
    }
  }
  auto img = vips::VImage::new_from_memory(pixels.data(), pixels.size(), width, height, bands, VIPS_FORMAT_UCHAR);
  img = img.copy(vips::VImage::option()->set(
      "interpretation", bands >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W));
  void* buf = nullptr;
  size_t size = 0;
  std::string fmt = std::string(suffix) + options;
  img.write_to_buffer(fmt.c_str(), &buf, &size);
  std::string out(static_cast<char*>(buf), size);
  g_free(buf);
  return out;
}

namespace {

/// Decodes in a child process with the vips command-line tools: for JPEG 2000,
/// whose decoder (openjpeg) can crash the process that runs it.
Decoded decode_out_of_process(const std::string& bytes) {
  Decoded d;
  fs::path dir = make_temp_dir();
  fs::path file = dir / "image";
  write_file(file, bytes);
  auto [status, header] = run_command({"/usr/bin/vipsheader", "-a", file.string()}, 30s);
  auto [avg_status, avg_out] = run_command({"/usr/bin/vips", "avg", file.string()}, 30s);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !WIFEXITED(avg_status) || WEXITSTATUS(avg_status) != 0) {
    d.error = "vips tools failed (status " + std::to_string(status) + "/" + std::to_string(avg_status) + "): " +
              header.substr(0, 300) + avg_out.substr(0, 300);
    return d;
  }
  std::istringstream in(header);
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(": ");
    if (colon == std::string::npos || line.rfind(file.string(), 0) == 0) continue;
    std::string name = line.substr(0, colon), value = line.substr(colon + 2);
    d.fields.push_back(name);
    if (name == "width") d.width = std::atoi(value.c_str());
    if (name == "height") d.height = std::atoi(value.c_str());
    if (name == "bands") d.bands = std::atoi(value.c_str());
    if (name == "vips-loader") d.loader = value;
  }
  d.has_alpha = d.bands == 2 || d.bands == 4;
  return d;
}

}  // namespace

Decoded decode(const std::string& bytes) {
  ensure_vips();
  if (sniff_format(bytes) == "jp2") return decode_out_of_process(bytes);
  Decoded d;
  try {
    std::string f = sniff_format(bytes);
    auto* options = vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL);
    if (f == "gif" || f == "webp") options->set("n", -1);  // every frame of an animation
    auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "", options);
    if (img.get_typeof("vips-loader")) d.loader = img.get_string("vips-loader");
    for (const char* suffix : {"_buffer", "_source"}) {
      auto pos = d.loader.find(suffix);
      if (pos != std::string::npos) d.loader.erase(pos);
    }
    d.width = img.width();
    d.height = img.height();
    if (img.get_typeof("n-pages")) {
      d.pages = std::max(1, img.get_int("n-pages"));
      if (d.pages > 1 && img.get_typeof("page-height")) d.height = img.get_int("page-height");
    }
    d.bands = img.bands();
    d.has_alpha = img.has_alpha();
    char** names = vips_image_get_fields(img.get_image());
    for (char** n = names; n && *n; ++n) d.fields.emplace_back(*n);
    g_strfreev(names);
    if (img.get_typeof("icc-profile-data")) {
      size_t len = 0;
      const void* p = img.get_blob("icc-profile-data", &len);
      d.icc.assign(static_cast<const char*>(p), len);
    }
    // Make sure the pixels really decode, not only the header.
    (void)img.avg();
  } catch (const vips::VError& e) {
    d.error = e.what();
    if (d.error.empty()) d.error = "libvips failed";
  }
  vips_error_clear();
  return d;
}

double mean_abs_diff(const std::string& a, const std::string& b) {
  ensure_vips();
  try {
    auto load = [](const std::string& bytes) {
      auto img = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
      img = img.colourspace(VIPS_INTERPRETATION_sRGB);
      if (img.has_alpha()) img = img.flatten();
      return img.copy_memory();
    };
    auto x = load(a), y = load(b);
    if (x.width() != y.width() || x.height() != y.height()) return -1;
    return (x - y).abs().avg();
  } catch (const vips::VError&) {
    vips_error_clear();
    return -1;
  }
}

std::string sniff_format(std::string_view b) {
  auto starts = [&](std::string_view magic, std::size_t at = 0) {
    return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic;
  };
  if (starts("\xFF\xD8\xFF")) return "jpeg";
  if (starts("\x89PNG\r\n\x1a\n")) return "png";
  if (starts("RIFF") && starts("WEBP", 8)) return "webp";
  if (starts("GIF87a") || starts("GIF89a")) return "gif";
  if (starts("ftyp", 4)) {
    std::string_view brand = b.substr(8, 4);
    if (brand == "avif" || brand == "avis") return "avif";
    if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1" || brand == "heim" ||
        brand == "heis")
      return "heic";
    if (brand == "jxl ") return "jxl";
  }
  if (starts("\xFF\x0A") || starts(std::string_view("\0\0\0\x0CJXL \r\n\x87\n", 12))) return "jxl";
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4)) ||
      starts(std::string_view("II+\0", 4)) || starts(std::string_view("MM\0+", 4)))
    return "tiff";
  if (starts(std::string_view("\0\0\0\x0CjP  \r\n\x87\n", 12)) || starts("\xFF\x4F\xFF\x51")) return "jp2";
  if (starts("%PDF")) return "pdf";
  if (starts("BM")) return "bmp";
  std::string head = lower(b.substr(0, 512));
  if (head.find("<svg") != std::string::npos) return "svg";
  return "";
}

// ---------------------------------------------------------------- JSON

const boost::json::value* jfind(const boost::json::value& v, std::string_view dotted) {
  const boost::json::value* cur = &v;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    std::string_view key = dotted.substr(0, dot);
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(key);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string jstring(const boost::json::value& v, std::string_view dotted) {
  const auto* p = jfind(v, dotted);
  return p && p->is_string() ? std::string(p->as_string()) : std::string();
}

std::int64_t jint(const boost::json::value& v, std::string_view dotted, std::int64_t fallback) {
  const auto* p = jfind(v, dotted);
  if (!p) return fallback;
  if (p->is_int64()) return p->as_int64();
  if (p->is_uint64()) return static_cast<std::int64_t>(p->as_uint64());
  return fallback;
}

::testing::AssertionResult is_error(const Response& r, long status, std::string_view code) {
  if (r.status != status)
    return ::testing::AssertionFailure() << "expected status " << status << ", got " << r.describe();
  if (lower(r.header("Content-Type")).rfind("application/json", 0) != 0)
    return ::testing::AssertionFailure() << "error is not application/json: " << r.describe();
  auto j = r.json();
  if (!j) return ::testing::AssertionFailure() << "error body is not JSON: " << r.describe();
  const auto* c = jfind(*j, "error.code");
  const auto* m = jfind(*j, "error.message");
  if (!c || !c->is_string() || c->as_string().empty())
    return ::testing::AssertionFailure() << "no error.code string: " << r.describe();
  if (!m || !m->is_string() || m->as_string().empty())
    return ::testing::AssertionFailure() << "no error.message string: " << r.describe();
  if (!code.empty() && c->as_string() != code)
    return ::testing::AssertionFailure() << "expected error.code '" << code << "': " << r.describe();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult is_json_ok(const Response& r, long status) {
  if (r.status != status)
    return ::testing::AssertionFailure() << "expected status " << status << ", got " << r.describe();
  auto j = r.json();
  if (!j || !j->is_object()) return ::testing::AssertionFailure() << "body is not a JSON object: " << r.describe();
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- metrics

std::vector<Sample> parse_metrics(const std::string& text, std::vector<std::string>* bad) {
  static const std::regex line_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$)");
  static const std::regex label_re(R"re(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?)re");
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) {
      if (bad) bad->push_back(line);
      continue;
    }
    Sample s;
    s.name = m[1];
    std::string labels = m[3];
    std::string rest;
    auto begin = std::sregex_iterator(labels.begin(), labels.end(), label_re);
    std::size_t consumed = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      s.labels[(*it)[1]] = (*it)[2];
      consumed += it->length();
    }
    if (consumed != labels.size() && bad) bad->push_back(line);
    std::string v = m[4];
    if (v == "+Inf") s.value = HUGE_VAL;
    else if (v == "-Inf") s.value = -HUGE_VAL;
    else if (v == "NaN") s.value = NAN;
    else {
      char* end = nullptr;
      s.value = std::strtod(v.c_str(), &end);
      if (!end || *end != '\0') {
        if (bad) bad->push_back(line);
        continue;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

double metric_sum(const std::vector<Sample>& samples, const std::string& name_regex,
                  const std::map<std::string, std::string>& labels) {
  std::regex re(name_regex);
  double sum = 0;
  for (const auto& s : samples) {
    if (!std::regex_match(s.name, re)) continue;
    bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (all) sum += s.value;
  }
  return sum;
}

// ---------------------------------------------------------------- requests

Uploaded upload_raw(const Http& http, const std::string& bytes, std::string_view query,
                    std::string_view content_type, const Headers& extra) {
  Uploaded u;
  Headers h = extra;
  h["Content-Type"] = std::string(content_type);
  std::string path = "/v1/images";
  if (!query.empty()) path += "?" + std::string(query);
  u.response = http.request("POST", path, bytes, h, 60s);
  if (auto j = u.response.json()) {
    u.json = *j;
    u.id = jstring(u.json, "id");
  }
  return u;
}

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

::testing::AssertionResult is_image_object(const boost::json::value& image, bool upload_answer) {
  static const std::regex id_re("^[A-Za-z0-9_-]{16,}$");
  static const std::regex hex64_re("^[0-9a-f]{64}$");
  static const std::regex time_re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << " in " << boost::json::serialize(image);
  };
  if (!image.is_object()) return fail("not an object");
  std::string id = jstring(image, "id");
  if (!std::regex_match(id, id_re)) return fail("id is not an opaque URL-safe string of >= 16 characters");
  if (jstring(image, "url") != "/v1/images/" + id) return fail("url is not /v1/images/{id}");
  std::string sha = jstring(image, "sha256");
  if (!std::regex_match(sha, hex64_re)) return fail("sha256 is not 64 lower-case hex digits");
  if (sha.find(id) != std::string::npos) return fail("id reveals the hash");
  if (jstring(image, "format").empty()) return fail("no format");
  for (const char* k : {"width", "height", "size", "frames"})
    if (jint(image, k) <= 0) return fail(std::string("no positive integer ") + k);
  const auto* alpha = jfind(image, "has_alpha");
  if (!alpha || !alpha->is_bool()) return fail("has_alpha is not a bool");
  if (!std::regex_match(jstring(image, "created_at"), time_re)) return fail("created_at is not RFC 3339 UTC");
  const auto* tags = jfind(image, "tags");
  if (!tags || !tags->is_array()) return fail("tags is not an array");
  for (const auto& t : tags->as_array()) {
    if (!t.is_string()) return fail("a tag is not a string");
    std::string s(t.as_string());
    if (s != lower(s)) return fail("tag '" + s + "' is not lower-case");
  }
  const auto* dup = jfind(image, "duplicate");
  if (upload_answer && (!dup || !dup->is_bool())) return fail("duplicate is not a bool");
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------- raw sockets

RawConnection::RawConnection(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string RawConnection::read_response(std::chrono::milliseconds timeout) {
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto header_end = data.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      // Skip interim 1xx responses.
      if (raw_status(data) / 100 == 1) {
        data.erase(0, header_end + 4);
        continue;
      }
      std::string head = lower(data.substr(0, header_end));
      auto cl = head.find("\r\ncontent-length:");
      if (cl != std::string::npos) {
        std::size_t len = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
        if (data.size() >= header_end + 4 + len) return data;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return data;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

int raw_status(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

}  // namespace progimage::contract
