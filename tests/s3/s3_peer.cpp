#include "s3_peer.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace progimage::test_peers {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path kPeerDir = PROGIMAGE_S3_PEER_DIR;  // tests/s3 of the source tree
constexpr auto kStartTimeout = 20s;

/// Debian's interpreter and CLI first: they carry python3-botocore and awscli.
std::string system_tool(const char* debian_path, const char* fallback) {
  return fs::exists(debian_path) ? debian_path : fallback;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path make_temp_dir() {
  std::random_device rd;
  for (;;) {
    fs::path dir = fs::temp_directory_path() / ("progimage-s3-" + std::to_string(rd()) + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(dir, ec)) return dir;
  }
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() > until) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
}

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

}  // namespace

void stop_child(pid_t pid, std::chrono::milliseconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (wait_exit(pid, grace)) return;
  ::kill(pid, SIGKILL);
  wait_exit(pid, 10s);
}

S3Peer::S3Peer(std::vector<std::string> buckets) : buckets_(std::move(buckets)) {
  if (!fs::exists(kPeerDir / "node_modules" / ".bin" / "s3rver"))
    throw std::runtime_error("s3rver is not installed: run `npm ci` in " + kPeerDir.string());
  dir_ = make_temp_dir();
  s3rver_dir_ = dir_ / "s3rver";
  fs::create_directories(s3rver_dir_);
  start_s3rver();
  proxy_pid_ = spawn({system_tool("/usr/bin/python3", "python3"), (kPeerDir / "sigv4_proxy.py").string(),
                      "--upstream", s3rver_endpoint(), "--s3rver-dir", s3rver_dir_.string()},
                     dir_ / "proxy.log");
  proxy_port_ = wait_for_port(dir_ / "proxy.log", proxy_pid_, "sigv4 proxy listening on 127.0.0.1:");
}

S3Peer::~S3Peer() {
  stop_child(proxy_pid_);
  stop_s3rver();
  if (!std::getenv("PROGIMAGE_TEST_KEEP")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

pid_t S3Peer::spawn(const std::vector<std::string>& argv, const fs::path& log) const {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string log_s = log.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  if (::getppid() != parent) ::_exit(127);
  int fd = ::open(log_s.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  // Node 20 needs the legacy provider for s3rver's listings with a continuation token.
  ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
  ::unsetenv("http_proxy");
  ::execvp(args[0], args.data());
  ::_exit(127);
}

int S3Peer::wait_for_port(const fs::path& log, pid_t pid, std::string_view marker) const {
  const auto until = std::chrono::steady_clock::now() + kStartTimeout;
  while (std::chrono::steady_clock::now() < until) {
    const std::string text = read_file(log);
    if (auto at = text.rfind(marker); at != std::string::npos) {
      const int port = std::atoi(text.c_str() + at + marker.size());
      if (port > 0) return port;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      throw std::runtime_error("test peer exited at start: " + read_file(log));
    std::this_thread::sleep_for(50ms);
  }
  stop_child(pid);
  throw std::runtime_error("test peer did not start in time: " + read_file(log));
}

void S3Peer::start_s3rver() {
  std::vector<std::string> argv = {(kPeerDir / "node_modules" / ".bin" / "s3rver").string(),
                                   "-d", s3rver_dir_.string(), "-a", "127.0.0.1",
                                   "-p", std::to_string(s3rver_port_), "--no-vhost-buckets", "--silent"};
  for (const auto& b : buckets_) {
    argv.push_back("--configure-bucket");
    argv.push_back(b);
  }
  const fs::path log = dir_ / "s3rver.log";
  std::error_code ec;
  fs::remove(log, ec);  // the port of this start, not of an earlier one
  s3rver_pid_ = spawn(argv, log);
  s3rver_port_ = wait_for_port(log, s3rver_pid_, "S3rver listening on 127.0.0.1:");
}

void S3Peer::stop_s3rver() {
  stop_child(s3rver_pid_);
  s3rver_pid_ = -1;
}

std::string S3Peer::control(const std::string& method, const std::string& path) const {
  CURL* easy = curl_easy_init();
  std::string out;
  const std::string url = endpoint() + path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  const CURLcode rc = curl_easy_perform(easy);
  curl_easy_cleanup(easy);
  if (rc != CURLE_OK) throw std::runtime_error("proxy control " + path + ": " + curl_easy_strerror(rc));
  return out;
}

ProxyStats S3Peer::stats() const {
  const boost::json::value parsed = boost::json::parse(control("GET", "/__proxy/stats"));
  const auto& v = parsed.as_object();
  return {v.at("checked").as_int64(), v.at("failed").as_int64(), v.at("forwarded").as_int64(),
          v.at("injected").as_int64(), v.at("open_uploads").as_int64()};
}

std::string S3Peer::log() const { return control("GET", "/__proxy/log"); }

void S3Peer::fail_next(const std::string& method, const std::string& match, int count, const std::string& status) {
  char* encoded = curl_easy_escape(nullptr, match.c_str(), static_cast<int>(match.size()));
  const std::string m(encoded);
  curl_free(encoded);
  control("POST", "/__proxy/fail?method=" + method + "&match=" + m + "&count=" + std::to_string(count) +
                      "&status=" + status);
}

void S3Peer::reset_proxy() { control("POST", "/__proxy/reset"); }

std::pair<int, std::string> S3Peer::aws(const std::vector<std::string>& args, bool through_proxy) const {
  std::vector<std::string> argv = {system_tool("/usr/bin/aws", "aws"), "--endpoint-url",
                                   through_proxy ? endpoint() : s3rver_endpoint()};
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path out = dir_ / ("aws-" + std::to_string(std::random_device{}()) + ".out");
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const std::string out_s = out.string(), home = dir_.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    // Only s3rver's keys: nothing of the machine's own AWS setup.
    for (const char* v : {"AWS_SESSION_TOKEN", "AWS_PROFILE", "http_proxy", "https_proxy"}) ::unsetenv(v);
    ::setenv("AWS_ACCESS_KEY_ID", kKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kKey, 1);
    ::setenv("AWS_DEFAULT_REGION", kRegion, 1);
    ::setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    ::setenv("AWS_PAGER", "", 1);
    ::setenv("HOME", home.c_str(), 1);
    ::execvp(cargs[0], cargs.data());
    ::_exit(127);
  }
  auto status = wait_exit(pid, 120s);
  if (!status) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, 5s);
  }
  std::string text = read_file(out);
  std::error_code ec;
  fs::remove(out, ec);
  return {status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, text};
}

}  // namespace progimage::test_peers
