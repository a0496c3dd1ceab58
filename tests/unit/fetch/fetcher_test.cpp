// Fetcher against a local server that the allow-list lets through. Every
// address used is on loopback.
#include "fetch/fetcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using progimage::core::Error;
using progimage::core::ErrorCode;
using progimage::fetch::FetchOptions;
using progimage::fetch::Fetcher;
using progimage::fetch::FetchResult;
using progimage::fetch::testing::Canary;
using progimage::fetch::testing::Request;
using progimage::fetch::testing::send_all;
using progimage::fetch::testing::TestServer;

namespace {

/// Refuses any connection that would leave loopback (a second net under the guard).
bool loopback_only(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    auto a = ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr);
    return (a >> 24) == 127;
  }
  return false;
}

FetchOptions local_options() {
  FetchOptions o;
  o.allow_cidrs = {"127.0.0.1/32"};
  o.max_bytes = 1 << 20;
  o.connect_timeout = 2s;
  o.total_timeout = 5s;
  o.connect_filter = loopback_only;
  return o;
}

std::string random_bytes(std::size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string response(int status, std::string_view reason, const std::string& body,
                     const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers +
         "\r\n" + body;
}

void stall(const std::atomic<bool>& stop) {
  while (!stop) std::this_thread::sleep_for(10ms);
}

template <typename F>
Error error_from(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no core::Error thrown";
  return Error(ErrorCode::internal, "no error");
}

struct Collect {
  std::string body;
  int calls = 0;
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view chunk) {
      body.append(chunk);
      ++calls;
    };
  }
};

TEST(Fetcher, StreamsTheBody) {
  const std::string image = random_bytes(300'000);
  TestServer server("127.0.0.1", [&](int fd, const Request&, const std::atomic<bool>&) {
    send_all(fd, response(200, "OK", image, "Content-Type: image/png\r\n"));
  });
  Fetcher fetcher(local_options());
  Collect got;
  FetchResult r = fetcher.fetch(server.base_url() + "/cat.png", got.sink());
  EXPECT_EQ(got.body, image);
  EXPECT_GT(got.calls, 1);  // streamed, not handed over whole
  EXPECT_EQ(r.size, 300'000);
  EXPECT_EQ(r.content_type, "image/png");
  EXPECT_EQ(r.final_url, server.base_url() + "/cat.png");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].header("User-Agent"), "ProgImage/1.0");
}

TEST(Fetcher, FollowsRedirectsUpToTheLimit) {
  // /hops/N redirects to /hops/N-1; /hops/0 answers.
  TestServer server("127.0.0.1", [](int fd, const Request& req, const std::atomic<bool>&) {
    int n = std::stoi(req.target.substr(req.target.rfind('/') + 1));
    if (n == 0)
      send_all(fd, response(200, "OK", "done", "Content-Type: text/plain\r\n"));
    else
      send_all(fd, response(302, "Found", "redirect body, not for the sink",
                            "Location: /hops/" + std::to_string(n - 1) + "\r\n"));
  });
  Fetcher fetcher(local_options());  // max_redirects 3
  Collect got;
  auto r = fetcher.fetch(server.base_url() + "/hops/3", got.sink());
  EXPECT_EQ(got.body, "done");
  EXPECT_EQ(r.final_url, server.base_url() + "/hops/0");

  Collect more;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/hops/4", more.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_failed);
  EXPECT_STREQ(e.what(), "too many redirects (more than 3)");
  EXPECT_EQ(more.body, "");

  auto options = local_options();
  options.max_redirects = 0;
  Fetcher strict(options);
  EXPECT_NO_THROW(strict.fetch(server.base_url() + "/hops/0", more.sink()));
  e = error_from([&] { strict.fetch(server.base_url() + "/hops/1", more.sink()); });
  EXPECT_STREQ(e.what(), "too many redirects (more than 0)");
}

TEST(Fetcher, ByteLimitWhileStreamingChunked) {
  // Chunked, no Content-Length, and it never ends on its own.
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>& stop) {
    send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    const std::string chunk = "3e8\r\n" + std::string(1000, 'x') + "\r\n";
    while (!stop && send_all(fd, chunk)) {
    }
  });
  auto options = local_options();
  options.max_bytes = 10'000;
  Fetcher fetcher(options);
  Collect got;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/endless", got.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_failed);
  EXPECT_STREQ(e.what(), "remote image is larger than 10000 bytes");
  EXPECT_LE(got.body.size(), 10'000u);
}

TEST(Fetcher, ByteLimitWithoutLengthOrChunks) {
  // Body delimited by closing the connection.
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + std::string(50'000, 'y'));
  });
  auto options = local_options();
  options.max_bytes = 20'000;
  Fetcher fetcher(options);
  Collect got;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/", got.sink()); });
  EXPECT_STREQ(e.what(), "remote image is larger than 20000 bytes");
  EXPECT_LE(got.body.size(), 20'000u);
}

TEST(Fetcher, ExactlyTheLimitIsFine) {
  const std::string body(20'000, 'z');
  TestServer server("127.0.0.1", [&](int fd, const Request&, const std::atomic<bool>&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body);
  });
  auto options = local_options();
  options.max_bytes = 20'000;
  Fetcher fetcher(options);
  Collect got;
  EXPECT_EQ(fetcher.fetch(server.base_url() + "/", got.sink()).size, 20'000);
  EXPECT_EQ(got.body, body);
}

TEST(Fetcher, ContentLengthOverTheLimitFailsBeforeTheBody) {
  // Announces a big body, then sends nothing: only an early check can fail
  // with "larger than" (otherwise this would end in a timeout).
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>& stop) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\nContent-Type: image/jpeg\r\n\r\n");
    stall(stop);
  });
  auto options = local_options();
  options.max_bytes = 1000;
  options.total_timeout = 3s;
  Fetcher fetcher(options);
  Collect got;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/big.jpg", got.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_failed);
  EXPECT_STREQ(e.what(), "remote image is larger than 1000 bytes");
  EXPECT_EQ(got.calls, 0);
}

TEST(Fetcher, TotalTimeoutOnAStallingServer) {
  TestServer server("127.0.0.1", [](int, const Request&, const std::atomic<bool>& stop) { stall(stop); });
  auto options = local_options();
  options.total_timeout = 1s;
  Fetcher fetcher(options);
  Collect got;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/slow", got.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_timeout) << e.what();
}

TEST(Fetcher, TotalTimeoutInTheMiddleOfTheBody) {
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>& stop) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(10, 'a'));
    stall(stop);
  });
  auto options = local_options();
  options.total_timeout = 1s;
  Fetcher fetcher(options);
  Collect got;
  auto e = error_from([&] { fetcher.fetch(server.base_url() + "/slow", got.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_timeout) << e.what();
}

TEST(Fetcher, UpstreamErrorStatusIsNamed) {
  TestServer server("127.0.0.1", [](int fd, const Request& req, const std::atomic<bool>&) {
    if (req.target == "/missing") send_all(fd, response(404, "Not Found", "no such image"));
    if (req.target == "/broken") send_all(fd, response(500, "Oops", "stack trace"));
    if (req.target == "/choice") send_all(fd, response(300, "Multiple Choices", "pick one"));
    if (req.target == "/empty") send_all(fd, response(304, "Not Modified", ""));
  });
  Fetcher fetcher(local_options());
  for (auto [target, message] : {std::pair{"/missing", "HTTP 404 from upstream"},
                                 std::pair{"/broken", "HTTP 500 from upstream"},
                                 std::pair{"/choice", "HTTP 300 from upstream"},
                                 std::pair{"/empty", "HTTP 304 from upstream"}}) {
    Collect got;
    auto e = error_from([&] { fetcher.fetch(server.base_url() + target, got.sink()); });
    EXPECT_EQ(e.code(), ErrorCode::upstream_failed) << target;
    EXPECT_STREQ(e.what(), message);
    EXPECT_EQ(got.body, "") << target;
  }
}

TEST(Fetcher, CredentialsAreSentButNeverShown) {
  TestServer server("127.0.0.1", [](int fd, const Request& req, const std::atomic<bool>&) {
    if (req.target == "/ok") send_all(fd, response(200, "OK", "fine"));
    else send_all(fd, response(404, "Not Found", ""));
  });
  Fetcher fetcher(local_options());
  const std::string with_creds = "http://alice:s3cret@127.0.0.1:" + std::to_string(server.port());
  Collect got;
  auto r = fetcher.fetch(with_creds + "/ok", got.sink());
  EXPECT_EQ(r.final_url, server.base_url() + "/ok");
  EXPECT_EQ(server.requests().at(0).header("Authorization"), "Basic YWxpY2U6czNjcmV0");
  auto e = error_from([&] { fetcher.fetch(with_creds + "/nope", got.sink()); });
  EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
}

TEST(Fetcher, SinkExceptionPropagatesUnchanged) {
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>&) {
    send_all(fd, response(200, "OK", std::string(5000, 'q')));
  });
  Fetcher fetcher(local_options());
  EXPECT_THROW(fetcher.fetch(server.base_url() + "/", [](std::string_view) { throw std::out_of_range("disk"); }),
               std::out_of_range);
}

TEST(Fetcher, IgnoresProxyEnvironment) {
  TestServer server("127.0.0.1", [](int fd, const Request&, const std::atomic<bool>&) {
    send_all(fd, response(200, "OK", "direct"));
  });
  Canary proxy;  // would see the connection if the variables were obeyed
  const std::string proxy_url = "http://127.0.0.1:" + std::to_string(proxy.port());
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) setenv(name, proxy_url.c_str(), 1);
  Fetcher fetcher(local_options());
  Collect got;
  EXPECT_NO_THROW(fetcher.fetch(server.base_url() + "/", got.sink()));
  for (const char* name : {"http_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}) unsetenv(name);
  EXPECT_EQ(got.body, "direct");
  EXPECT_EQ(proxy.touched(), 0);
}

TEST(Fetcher, ConnectionRefusedIsUpstreamFailed) {
  int port = 0;
  {
    Canary closed;  // take a free port, then let it go
    port = closed.port();
  }
  Fetcher fetcher(local_options());
  Collect got;
  auto e = error_from([&] { fetcher.fetch("http://127.0.0.1:" + std::to_string(port) + "/", got.sink()); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_failed);
  EXPECT_EQ(std::string(e.what()).find("not allowed"), std::string::npos) << e.what();  // a real failure
}

TEST(Fetcher, RejectsBadOptions) {
  auto o = local_options();
  o.allow_cidrs = {"127.0.0.0/99"};
  EXPECT_THROW(Fetcher{o}, std::invalid_argument);
  o = local_options();
  o.max_bytes = 0;
  EXPECT_THROW(Fetcher{o}, std::invalid_argument);
  o = local_options();
  o.max_redirects = -1;
  EXPECT_THROW(Fetcher{o}, std::invalid_argument);
}

TEST(PostJson, PostsAndReturnsTheStatus) {
  TestServer server("127.0.0.1", [](int fd, const Request& req, const std::atomic<bool>&) {
    if (req.target == "/hook") send_all(fd, response(204, "No Content", ""));
    if (req.target == "/moved") send_all(fd, response(302, "Found", "", "Location: /hook\r\n"));
    if (req.target == "/fail") send_all(fd, response(503, "Unavailable", "later"));
  });
  Fetcher fetcher(local_options());
  const std::string body = R"({"id":"job1","status":"completed"})";
  EXPECT_EQ(fetcher.post_json(server.base_url() + "/hook", body, {{"X-Signature", "abc"}}, 2s), 204);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].header("Content-Type"), "application/json");
  EXPECT_EQ(requests[0].header("X-Signature"), "abc");
  EXPECT_EQ(requests[0].header("User-Agent"), "ProgImage/1.0");
  EXPECT_EQ(fetcher.post_json(server.base_url() + "/moved", body, {}, 2s), 302);  // not followed
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(fetcher.post_json(server.base_url() + "/fail", body, {}, 2s), 503);
}

TEST(PostJson, GuardedAndValidated) {
  Canary canary;
  Fetcher fetcher(local_options());  // allows 127.0.0.1 only
  const std::string port = std::to_string(canary.port());
  auto e = error_from([&] { fetcher.post_json("http://127.0.0.2:" + port + "/", "{}", {}, 1s); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_failed);
  EXPECT_STREQ(e.what(), "address 127.0.0.2 is not allowed (loopback)");
  if (canary.has_v6()) {
    e = error_from([&] { fetcher.post_json("http://[::1]:" + port + "/", "{}", {}, 1s); });
    EXPECT_STREQ(e.what(), "address ::1 is not allowed (loopback)");
  }
  e = error_from([&] { fetcher.post_json("file:///etc/passwd", "{}", {}, 1s); });
  EXPECT_EQ(e.code(), ErrorCode::bad_parameter);
  e = error_from([&] {
    fetcher.post_json("http://127.0.0.1:" + port + "/", "{}", {{"X-A", "1\r\nX-Injected: 2"}}, 1s);
  });
  EXPECT_EQ(e.code(), ErrorCode::bad_parameter);
  EXPECT_EQ(canary.touched(), 0);
}

TEST(PostJson, Timeout) {
  TestServer server("127.0.0.1", [](int, const Request&, const std::atomic<bool>& stop) { stall(stop); });
  Fetcher fetcher(local_options());
  auto e = error_from([&] { fetcher.post_json(server.base_url() + "/", "{}", {}, 500ms); });
  EXPECT_EQ(e.code(), ErrorCode::upstream_timeout) << e.what();
}

}  // namespace
