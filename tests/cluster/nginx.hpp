#pragma once
// Debian's nginx in front of a test cluster, configured by the project's own
// deploy/nginx/progimage.conf: the file is read and only its placeholders
// (node addresses, listen port, log and cache paths, the edge key) are
// replaced, so the test exercises the decisions operators deploy. Runs in
// the foreground under a prefix of its own and is stopped by its pid.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace progimage::cluster {

struct NginxOptions {
  std::string api_node;     // "127.0.0.2:PORT": first of progimage_api, primary of progimage_resumable
  std::string backup_node;  // second of progimage_api, backup of progimage_resumable
  std::string edge_key;     // replaces CHANGE-ME-edge-read-key (a KEY:read:* key of the nodes)
};

class Nginx {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";

  /// Writes the configuration under a new temporary prefix, checks it with
  /// `nginx -t` and starts nginx on a free loopback port. Throws
  /// std::runtime_error saying what went wrong (with nginx's own words).
  explicit Nginx(NginxOptions options);
  ~Nginx();
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  /// The JSON access log (log_format progimage), one request per line.
  std::string access_log() const;
  std::string error_log() const;
  /// SIGQUIT (graceful), then SIGKILL after a few seconds; reaps it.
  void stop();

 private:
  /// deploy/nginx/progimage.conf with this cluster's addresses and paths.
  std::string site_config() const;
  std::string main_config() const;
  void prepare_prefix() const;
  bool start_on(int port);

  NginxOptions options_;
  std::filesystem::path prefix_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace progimage::cluster
