#include "test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <strings.h>

namespace progimage::fetch::testing {

namespace {

/// A listening socket on address:port (port 0: any free one); -1 on failure.
int listen_on(const std::string& address, int port) {
  const bool v6 = address.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = -1;
  if (v6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &sa.sin6_addr) == 1)
      rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) == 1)
      rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (rc != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

/// Waits until fd is readable; false when `stop` turned true first.
bool wait_readable(int fd, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 50);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
  return false;
}

bool read_request(int fd, Request& request, const std::atomic<bool>& stop) {
  std::string data;
  std::size_t end = std::string::npos;
  char buffer[4096];
  while ((end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > 65536 || !wait_readable(fd, stop)) return false;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  auto line_end = data.find("\r\n");
  auto request_line = data.substr(0, line_end);
  auto sp1 = request_line.find(' ');
  auto sp2 = request_line.find(' ', sp1 + 1);
  request.method = request_line.substr(0, sp1);
  request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  request.headers = data.substr(line_end + 2, end - line_end);
  request.body = data.substr(end + 4);
  auto length_text = request.header("Content-Length");
  std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
  while (request.body.size() < length) {
    if (!wait_readable(fd, stop)) return false;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    request.body.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find("\r\n", pos);
    if (eol == std::string::npos) eol = headers.size();
    auto line = std::string_view(headers).substr(pos, eol - pos);
    auto colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    pos = eol + 2;
  }
  return "";
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

TestServer::TestServer(const std::string& address, Handler handler)
    : address_(address), handler_(std::move(handler)) {
  listen_fd_ = listen_on(address, 0);
  if (listen_fd_ < 0) throw std::runtime_error("test server: cannot listen on " + address);
  port_ = port_of(listen_fd_);
  thread_ = std::thread([this] { run(); });
}

TestServer::~TestServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string TestServer::base_url() const {
  const bool v6 = address_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + address_ + "]" : address_) + ":" + std::to_string(port_);
}

std::vector<Request> TestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void TestServer::run() {
  while (wait_readable(listen_fd_, stop_)) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    Request request;
    if (read_request(fd, request, stop_)) {
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      handler_(fd, request, stop_);
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }
}

Canary::Canary() {
  for (int attempt = 0; attempt < 20 && v6_fd_ < 0; ++attempt) {
    if (v4_fd_ >= 0) ::close(v4_fd_);
    v4_fd_ = listen_on("127.0.0.1", 0);
    if (v4_fd_ < 0) throw std::runtime_error("canary: cannot listen on 127.0.0.1");
    port_ = port_of(v4_fd_);
    v6_fd_ = listen_on("::1", port_);
  }
  for (int fd : {v4_fd_, v6_fd_})
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

Canary::~Canary() {
  if (v4_fd_ >= 0) ::close(v4_fd_);
  if (v6_fd_ >= 0) ::close(v6_fd_);
}

int Canary::touched() {
  for (int fd : {v4_fd_, v6_fd_}) {
    if (fd < 0) continue;
    for (int client; (client = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
      ++seen_;
      ::close(client);
    }
  }
  return seen_;
}

}  // namespace progimage::fetch::testing
