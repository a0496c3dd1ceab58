#pragma once
// The S3 test peer: a real s3rver (npm, pinned here) on a free loopback port,
// behind sigv4_proxy.py, which checks every request's SigV4 signature with
// botocore before passing it on. Tests of the S3 blob store talk to the
// proxy; both processes are stopped by their pid when the peer goes.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace progimage::test_peers {

/// What the proxy counted since it started (or since reset()).
struct ProxyStats {
  long checked = 0;    // signed requests it verified
  long failed = 0;     // of them, refused as wrongly signed
  long forwarded = 0;  // passed on to s3rver
  long injected = 0;   // answered with a failure on request (fail_next)
  long open_uploads = 0;
};

class S3Peer {
 public:
  static constexpr const char* kKey = "S3RVER";  // s3rver's fixed access key and secret
  static constexpr const char* kRegion = "us-east-1";

  /// Starts s3rver with `buckets` in a new temporary directory, and the proxy.
  /// Throws std::runtime_error saying what is missing (node_modules: `npm ci`
  /// in tests/s3; python3-botocore) or what did not start in time.
  explicit S3Peer(std::vector<std::string> buckets = {"progimage"});
  ~S3Peer();
  S3Peer(const S3Peer&) = delete;
  S3Peer& operator=(const S3Peer&) = delete;

  /// The proxy, where the store under test sends its requests.
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(proxy_port_); }
  /// s3rver itself, for reading behind the proxy's back.
  std::string s3rver_endpoint() const { return "http://127.0.0.1:" + std::to_string(s3rver_port_); }
  const std::filesystem::path& s3rver_dir() const { return s3rver_dir_; }

  /// Stops s3rver (SIGTERM, then SIGKILL), leaving the proxy up: requests
  /// then get 502 from the proxy, as from a load balancer with no backend.
  void stop_s3rver();
  /// Starts s3rver again on the same port and directory.
  void start_s3rver();

  ProxyStats stats() const;
  /// The proxy's log of every request, as JSON text.
  std::string log() const;
  /// The next `count` requests of `method` ("*": any) whose path?query holds
  /// `match` are answered `status` (e.g. "503"), or cut off ("drop").
  void fail_next(const std::string& method, const std::string& match, int count, const std::string& status);
  void reset_proxy();

  /// Runs Debian's AWS CLI with s3rver's keys against the proxy (or s3rver
  /// itself): {exit status, stdout and stderr}.
  std::pair<int, std::string> aws(const std::vector<std::string>& args, bool through_proxy = true) const;

 private:
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) const;
  int wait_for_port(const std::filesystem::path& log, pid_t pid, std::string_view marker) const;
  std::string control(const std::string& method, const std::string& path) const;

  std::filesystem::path dir_;
  std::filesystem::path s3rver_dir_;
  std::vector<std::string> buckets_;
  pid_t s3rver_pid_ = -1;
  pid_t proxy_pid_ = -1;
  int s3rver_port_ = 0;
  int proxy_port_ = 0;
};

/// Stops a child process by its pid: SIGTERM, up to `grace`, then SIGKILL; reaps it.
void stop_child(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(5));

}  // namespace progimage::test_peers
