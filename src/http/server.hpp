#pragma once
// The HTTP/1.1 server: Asio I/O threads, one coroutine per connection, routing,
// authentication, streaming request bodies, graceful drain on shutdown.
// I/O threads never decode images: handlers hand that to a ProcessingPool.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/authenticator.hpp"
#include "auth/rate_limiter.hpp"
#include "core/config.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace progimage::http {

/// Who may call a route. `write_or_link`: a write key when a credential is
/// sent; without one the handler looks for another proof (an upload link, an
/// upload URL) and `Request::principal` stays empty.
enum class Access { open, read, write, admin, write_or_link };

using Handler = std::function<boost::asio::awaitable<Response>(Request&, BodyReader&)>;
/// The answer of a route to an error it throws.
using ErrorAnswer = std::function<Response(const core::Error&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 0;  // 0: one per core
  std::uint64_t max_body_bytes = 50ULL << 20;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  /// Who may call; null: every request acts as an operator (tests of the transport).
  const auth::Authenticator* authenticator = nullptr;
  /// Request rates of principals that carry one; null: no limits.
  auth::RateLimiter* rate_limiter = nullptr;
};

/// Facts about one finished exchange, for logs and metrics.
struct Exchange {
  const Request& request;
  unsigned status;
  double seconds;
  std::uint64_t bytes_in;
  std::uint64_t bytes_out;
  std::string remote;
  std::string error_message;  // for 5xx, the internal reason (logged, never sent)
  Response::Work work;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  /// Routes `method pattern` to `handler`. `error_answer`, when given, makes
  /// the answers to what fails before the handler runs (authentication, the
  /// rate limit) as the handler makes its own, for protocols with headers of
  /// their own on every answer (tus).
  void route(std::string method, std::string pattern, Access access, Handler handler, ErrorAnswer error_answer = {});
  void on_exchange(std::function<void(const Exchange&)> observer) { observer_ = std::move(observer); }

  /// Binds and listens; throws std::runtime_error when the address is unusable.
  void start();
  /// The bound port (useful with port 0).
  unsigned short port() const { return port_; }
  /// Runs the I/O threads until shutdown() has drained or timed out.
  void run();
  /// Stops accepting, lets in-flight requests finish within the grace time,
  /// then stops. Thread-safe; callable from a signal-handling coroutine.
  void shutdown();
  /// The first I/O context (it also accepts); for signals and timers.
  boost::asio::io_context& io() { return *ios_.front(); }

 private:
  struct Session;
  struct RouteEntry {
    Access access;
    Handler handler;
    ErrorAnswer error_answer;
  };
  /// What writing one answer did.
  struct Written {
    unsigned status = 0;
    std::uint64_t bytes = 0;  // body bytes sent
    boost::system::error_code error;
  };

  boost::asio::awaitable<void> accept_loop();
  /// One connection: read a request, dispatch it, write the answer, until
  /// the connection closes or the server drains.
  boost::asio::awaitable<void> serve(std::shared_ptr<Session> session);
  /// The handler's answer, or the JSON error for what it threw (a 500 keeps
  /// its reason in `internal_error`, for the log only).
  boost::asio::awaitable<Response> dispatch(Request& req, BodyReader& body, std::string& internal_error);
  void authenticate(Request& req, Access access) const;
  boost::asio::awaitable<Written> write_response(Session& session, Response& res, const Request& req,
                                                 bool keep_alive);
  boost::asio::awaitable<Written> write_file(Session& session, int fd, std::uint64_t offset, std::uint64_t length);
  boost::asio::awaitable<Written> write_stream(Session& session, StreamBody& body);
  /// Reads and drops what a client still sends before the close.
  boost::asio::awaitable<void> linger(Session& session);

  boost::asio::io_context& next_io();
  void stop_all();

  ServerOptions options_;
  // One context per I/O thread, each connection on one of them: a request
  // never wakes another thread (a shared context cost a futex per request
  // and a fifth of the throughput of cached GETs).
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::atomic<std::size_t> next_io_{0};
  struct Acceptor;
  std::unique_ptr<Acceptor> acceptor_;
  unsigned short port_ = 0;
  Router router_;
  std::vector<RouteEntry> routes_;
  std::function<void(const Exchange&)> observer_;
  std::atomic<bool> draining_{false};
  std::mutex sessions_mutex_;
  std::set<std::shared_ptr<Session>> sessions_;
};

}  // namespace progimage::http
