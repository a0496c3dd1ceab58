#pragma once
// Loopback-only helpers for the fetch tests: a tiny HTTP server on a thread
// and a canary listener that only counts connections.
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace progimage::fetch::testing {

struct Request {
  std::string method;
  std::string target;
  std::string headers;  // raw header block, lines ending in \r\n
  std::string body;     // read when Content-Length says so

  /// The first value of a header (name compared case-insensitively), or "".
  std::string header(std::string_view name) const;
};

/// Writes all of `data`; false when the peer went away.
bool send_all(int fd, std::string_view data);

/// One connection at a time, one request per connection (then it is closed).
/// The handler writes the whole answer to `fd`; `stop` turns true when the
/// server is being destroyed, so a stalling handler knows to give up.
class TestServer {
 public:
  using Handler = std::function<void(int fd, const Request& request, const std::atomic<bool>& stop)>;

  /// Listens on `address` ("127.0.0.1", "127.0.0.2", "::1") at a free port.
  TestServer(const std::string& address, Handler handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.2:PORT" (IPv6 in brackets).
  std::string base_url() const;
  int connections() const { return connections_.load(); }
  std::vector<Request> requests() const;

 private:
  void run();

  std::string address_;
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::thread thread_;
};

/// Raw TCP listeners on 127.0.0.1 and, when the host has it, [::1], on the
/// same port. They never accept on their own: touched() counts the completed
/// handshakes waiting in their queues, so any connection at all shows.
class Canary {
 public:
  Canary();
  ~Canary();
  Canary(const Canary&) = delete;
  Canary& operator=(const Canary&) = delete;

  int port() const { return port_; }
  bool has_v6() const { return v6_fd_ >= 0; }
  /// Connections seen since construction.
  int touched();

 private:
  int v4_fd_ = -1;
  int v6_fd_ = -1;
  int port_ = 0;
  int seen_ = 0;
};

}  // namespace progimage::fetch::testing
