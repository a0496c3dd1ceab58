#include "nginx.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "harness.hpp"

namespace progimage::cluster {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using contract::read_file;

namespace {

/// Replaces every `from` in `text`; throws when there is none, since then the
/// deploy file changed and the test would no longer follow it.
void replace_each(std::string& text, const std::string& from, const std::string& to) {
  std::size_t count = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++count;
  }
  if (count == 0)
    throw std::runtime_error("deploy/nginx/progimage.conf no longer contains \"" + from +
                             "\": update tests/cluster/nginx.cpp to follow it");
}

}  // namespace

Nginx::Nginx(NginxOptions options) : options_(std::move(options)) {
  if (!fs::exists(kBinary))
    throw std::runtime_error(std::string(kBinary) + " is missing: scripts/install-deps.sh --test installs nginx-light");
  std::string tmpl = (fs::temp_directory_path() / "progimage-nginx-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  prefix_ = tmpl;
  prepare_prefix();
  contract::write_file(prefix_ / "progimage.conf", site_config());
  // A port probed free a moment ago may be taken by the time nginx binds it.
  for (int attempt = 0; attempt < 5; ++attempt)
    if (start_on(contract::free_port())) return;
  throw std::runtime_error("nginx did not start; its error log:\n" + error_log());
}

Nginx::~Nginx() {
  stop();
  if (!std::getenv("PROGIMAGE_TEST_KEEP")) {
    std::error_code ec;
    fs::remove_all(prefix_, ec);
  }
}

void Nginx::prepare_prefix() const {
  for (const char* sub : {"logs", "cache", "temp"}) fs::create_directories(prefix_ / sub);
}

std::string Nginx::site_config() const {
  std::string text = read_file(fs::path(PROGIMAGE_DEPLOY_DIR) / "nginx" / "progimage.conf");
  if (text.empty()) throw std::runtime_error("cannot read deploy/nginx/progimage.conf");
  replace_each(text, "server 10.0.0.11:8080", "server " + options_.api_node);
  replace_each(text, "server 10.0.0.12:8080", "server " + options_.backup_node);
  replace_each(text, "/var/log/nginx/", (prefix_ / "logs").string() + "/");
  replace_each(text, "/var/cache/nginx/progimage", (prefix_ / "cache").string());
  replace_each(text, "CHANGE-ME-edge-read-key", options_.edge_key);
  return text;
}

std::string Nginx::main_config() const {
  const std::string p = prefix_.string();
  // One process and no master: the pid the test started is all of nginx, so
  // stopping it by that pid leaves no worker behind (and, as root, nothing
  // runs as another user that would need the prefix opened to it).
  std::string conf = "daemon off;\nmaster_process off;\npid " + p + "/nginx.pid;\n" + "error_log " + p +
                     "/logs/error.log info;\n";
  conf += "events { worker_connections 1024; }\nhttp {\n";
  for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    conf += std::string("  ") + temp + "_temp_path " + p + "/temp/" + temp + ";\n";
  conf += "  include " + p + "/site.conf;\n}\n";
  return conf;
}

bool Nginx::start_on(int port) {
  if (port == 0) return false;
  std::string site = read_file(prefix_ / "progimage.conf");
  replace_each(site, "listen 80;", "listen 127.0.0.1:" + std::to_string(port) + ";");
  contract::write_file(prefix_ / "site.conf", site);
  contract::write_file(prefix_ / "nginx.conf", main_config());
  const std::string conf = (prefix_ / "nginx.conf").string();
  const std::string early_log = (prefix_ / "logs" / "error.log").string();
  auto [status, output] =
      contract::run_command({kBinary, "-t", "-q", "-p", prefix_.string(), "-c", conf, "-e", early_log}, 30s);
  if (status != 0) throw std::runtime_error("nginx -t refused the configuration:\n" + output);

  pid_ = contract::spawn_child({kBinary, "-p", prefix_.string(), "-c", conf, "-e", early_log},
                               prefix_ / "logs" / "stdout.log");
  if (pid_ <= 0) return false;
  port_ = port;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (contract::wait_child(pid_, 0ms)) {  // exited: most likely the port was taken
      pid_ = -1;
      return false;
    }
    contract::RawConnection probe(port);
    if (probe.ok()) return true;
    std::this_thread::sleep_for(20ms);
  }
  stop();
  return false;
}

void Nginx::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGQUIT);  // graceful: finish what is in flight
  if (!contract::wait_child(pid_, 5s)) {
    ::kill(pid_, SIGKILL);
    contract::wait_child(pid_, 5s);
  }
  pid_ = -1;
}

std::string Nginx::access_log() const { return read_file(prefix_ / "logs" / "progimage.log"); }
std::string Nginx::error_log() const { return read_file(prefix_ / "logs" / "error.log"); }

}  // namespace progimage::cluster
