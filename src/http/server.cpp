#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <chrono>

#include "core/hash.hpp"
#include "core/id.hpp"
#include "ops/parse.hpp"

namespace progimage::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using core::Error;
using core::ErrorCode;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

/// Completion condition for whole responses: asio's transfer_all hands the
/// socket at most 64 KiB per call, so a 66 KB image took two sendmsg calls
/// where one fits in the send buffer.
struct AllInLargeWrites {
  std::size_t operator()(const boost::system::error_code& ec, std::size_t) const {
    return ec ? 0 : std::size_t{1} << 30;
  }
};

std::pair<std::string, std::string> split_host_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen " + listen + ": expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return {host, listen.substr(colon + 1)};
}

bool is_valid_request_id(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

struct Server::Acceptor {
  explicit Acceptor(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
};

struct Server::Session {
  explicit Session(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::atomic<bool> idle{true};  // waiting for a request; safe to close on drain
};

/// Streams the body of one request from the Beast parser.
class BeastBodyReader final : public BodyReader {
 public:
  BeastBodyReader(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                  bhttp::request_parser<bhttp::empty_body>& header_parser, std::chrono::milliseconds timeout,
                  std::uint64_t limit)
      : stream_(stream), buffer_(buffer), header_parser_(header_parser), timeout_(timeout), limit_(limit) {}

  asio::awaitable<std::size_t> read_some(char* data, std::size_t size) override {
    if (broken_) throw Error(ErrorCode::bad_request, "the request body could not be read");
    if (!parser_) {
      if (header_parser_.is_done()) co_return 0;  // no body at all
      if (beast::iequals(header_parser_.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        auto [ec, n] = co_await bhttp::async_write(stream_, cont, kAwait);
        if (ec) fail("the connection closed");
      }
      parser_.emplace(std::move(header_parser_));
      parser_->body_limit(limit_);
    }
    while (!parser_->is_done()) {
      parser_->get().body().data = data;
      parser_->get().body().size = size;
      stream_.expires_after(timeout_);
      auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, *parser_, kAwait);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::body_limit) {
        broken_ = true;
        throw Error(ErrorCode::payload_too_large,
                    "request body is larger than the limit of " + std::to_string(limit_) + " bytes");
      }
      if (ec) fail("the request body ended early: " + ec.message());
      std::size_t got = size - parser_->get().body().size;
      bytes_ += got;
      if (got > 0) co_return got;
    }
    co_return 0;
  }

  bool complete() const { return parser_ ? parser_->is_done() : header_parser_.is_done(); }
  bool broken() const { return broken_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  [[noreturn]] void fail(const std::string& why) {
    broken_ = true;
    throw Error(ErrorCode::bad_request, why);
  }

  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::empty_body>& header_parser_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::chrono::milliseconds timeout_;
  std::uint64_t limit_;
  std::uint64_t bytes_ = 0;
  bool broken_ = false;
};

Server::Server(ServerOptions options) : options_(std::move(options)) {
  std::size_t n = options_.io_threads > 0 ? static_cast<std::size_t>(options_.io_threads)
                                          : std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < n; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*ios_.back()));
  }
  acceptor_ = std::make_unique<Acceptor>(*ios_.front());
}

Server::~Server() = default;

void Server::route(std::string method, std::string pattern, Access access, Handler handler) {
  router_.add(std::move(method), std::move(pattern));
  routes_.push_back({access, std::move(handler)});
}

void Server::start() {
  auto [host, port] = split_host_port(options_.listen);
  tcp::resolver resolver(io());
  boost::system::error_code ec;
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) throw std::runtime_error("cannot resolve --listen " + options_.listen);
  tcp::endpoint endpoint = results.begin()->endpoint();
  auto& a = acceptor_->acceptor;
  a.open(endpoint.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(endpoint, ec);
  if (ec) throw std::runtime_error("cannot listen on " + options_.listen + ": " + ec.message());
  a.listen(asio::socket_base::max_listen_connections);
  port_ = a.local_endpoint().port();
  asio::co_spawn(io(), accept_loop(), asio::detached);
}

asio::io_context& Server::next_io() { return *ios_[next_io_.fetch_add(1) % ios_.size()]; }

void Server::stop_all() {
  for (auto& g : guards_) g.reset();
  for (auto& io : ios_) io->stop();
}

void Server::run() {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < ios_.size(); ++i) threads.emplace_back([this, i] { ios_[i]->run(); });
  io().run();
  stop_all();  // the first context also stops when an exception ends run()
  for (auto& t : threads) t.join();
}

void Server::shutdown() {
  if (draining_.exchange(true)) return;
  asio::post(io(), [this] {
    boost::system::error_code ec;
    acceptor_->acceptor.close(ec);
    // Idle keep-alive connections end now; busy ones finish their request.
    {
      std::lock_guard lock(sessions_mutex_);
      for (auto& s : sessions_)
        if (s->idle) asio::post(s->stream.get_executor(), [s] { s->stream.socket().close(); });
    }
    auto deadline = std::chrono::steady_clock::now() + options_.shutdown_grace;
    asio::co_spawn(
        io(),
        [this, deadline]() -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          for (;;) {
            {
              std::lock_guard lock(sessions_mutex_);
              if (sessions_.empty() || std::chrono::steady_clock::now() >= deadline) break;
            }
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(kAwait);
          }
          stop_all();
        },
        asio::detached);
  });
}

asio::awaitable<void> Server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->acceptor.async_accept(next_io(), kAwait);
    if (ec) {
      if (draining_ || ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. too many open files: keep serving the others
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(std::move(socket));
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.insert(session);
    }
    auto ex = session->stream.get_executor();
    asio::co_spawn(ex, serve(session), [this, session](std::exception_ptr) {
      std::lock_guard lock(sessions_mutex_);
      sessions_.erase(session);
    });
  }
}

void Server::authenticate(Request& req, Access access) const {
  if (options_.api_keys.empty()) return;  // open server
  std::string_view key = req.header("X-Api-Key");
  if (key.empty()) {
    auto auth = req.header("Authorization");
    if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "Bearer ")) key = auth.substr(7);
  }
  const core::ApiKey* found = nullptr;
  for (const auto& k : options_.api_keys)
    if (core::secure_equals(k.key, key)) found = &k;
  if (found) {
    req.role = found->role;
    req.api_key = found->key;
  }
  if (access == Access::open) return;
  if (!found) {
    throw Error(ErrorCode::unauthorized,
                key.empty() ? "an API key is required: send Authorization: Bearer KEY"
                            : "the API key is not valid");
  }
  int have = static_cast<int>(found->role);
  int need = access == Access::read ? 0 : access == Access::write ? 1 : 2;
  if (have < need) {
    const char* names[] = {"read", "write", "admin"};
    throw Error(ErrorCode::forbidden, std::string("this needs a key with the ") + names[need] +
                                          " role; the key has " + names[have]);
  }
}

asio::awaitable<void> Server::serve(std::shared_ptr<Session> session) {
  auto& stream = session->stream;
  beast::flat_buffer buffer;
  std::string remote;
  {
    boost::system::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
  }
  for (;;) {
    if (draining_) co_return;
    session->idle = true;
    bhttp::request_parser<bhttp::empty_body> hp;
    hp.header_limit(16 * 1024);
    hp.body_limit(options_.max_body_bytes);
    stream.expires_after(options_.request_timeout);
    auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, hp, kAwait);
    session->idle = false;
    auto started = std::chrono::steady_clock::now();

    Request req;
    Response res;
    std::string internal_error;
    if (rec == bhttp::error::end_of_stream || rec == asio::error::operation_aborted ||
        rec == beast::error::timeout || rec == asio::error::connection_reset || rec == asio::error::eof)
      co_return;
    if (rec) {
      if (rec == bhttp::error::body_limit)
        res = Response::error(ErrorCode::payload_too_large,
                              "request body is larger than the limit of " +
                                  std::to_string(options_.max_body_bytes) + " bytes");
      else if (rec == bhttp::error::header_limit)
        res = Response::error(ErrorCode::bad_request, "request headers are too large");
      else
        res = Response::error(ErrorCode::bad_request, "malformed HTTP request: " + rec.message());
      res.close = true;
      req.method = "-";
      req.route = "-";
    }

    BeastBodyReader body(stream, buffer, hp, options_.request_timeout, options_.max_body_bytes);
    if (!rec) {
      const auto& h = hp.get();
      req.method = std::string(h.method_string());
      for (const auto& f : h) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (auto cl = hp.content_length()) req.content_length = static_cast<std::int64_t>(*cl);
      auto rid = req.header("X-Request-Id");
      req.request_id = is_valid_request_id(rid) ? std::string(rid) : core::new_request_id();
      try {
        auto target = boost::urls::parse_origin_form(h.target());
        if (!target) throw Error(ErrorCode::bad_request, "malformed request target");
        req.path = target->path();
        req.raw_query = std::string(target->encoded_query());
        req.query = ops::split_query(req.raw_query);
        auto match = router_.match(req.method, req.path);
        if (!match.match) {
          if (!match.allow.empty()) {
            req.route = "(method not allowed)";
            res = Response::error(ErrorCode::method_not_allowed,
                                  req.method + " is not allowed here; allowed: " + match.allow);
            res.header("Allow", match.allow);
          } else {
            req.route = "(unknown)";
            res = Response::error(ErrorCode::not_found, "no such endpoint: " + req.path);
          }
        } else {
          req.route = router_.pattern(match.match->index);
          req.params = std::move(match.match->params);
          const auto& entry = routes_[match.match->index];
          authenticate(req, entry.access);
          res = co_await entry.handler(req, body);
        }
      } catch (const Error& e) {
        res = Response::error(e.code(), e.what());
        if (e.code() == ErrorCode::payload_too_large) res.close = true;
      } catch (const std::exception& e) {
        internal_error = e.what();
        res = Response::error(ErrorCode::internal, "internal error; the request id is " + req.request_id);
      }
      if (!body.complete()) res.close = true;  // unread body: the connection cannot be reused
      if (body.broken()) res.close = true;
    }

    unsigned status = res.status;
    if ((status == 503 || status == 429) && std::none_of(res.headers.begin(), res.headers.end(), [](auto& h) {
          return beast::iequals(h.first, "Retry-After");
        }))
      res.header("Retry-After", "1");

    bool head = req.method == "HEAD";
    bool keep_alive = !rec && hp.get().keep_alive() && !res.close && !draining_;
    bhttp::response<bhttp::empty_body> out{static_cast<bhttp::status>(status), 11};
    out.set(bhttp::field::server, "ProgImage");
    out.set("X-Request-Id", req.request_id);
    out.set("X-Content-Type-Options", "nosniff");
    for (auto& [k, v] : res.headers) out.insert(k, v);
    out.keep_alive(keep_alive);

    std::uint64_t bytes_out = 0;
    boost::system::error_code wec;
    int fd = -1;
    std::uint64_t body_size = res.shared_body ? res.shared_body->size() : res.body.size();
    if (res.file) {
      fd = ::open(res.file->path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        res = Response::error(ErrorCode::not_found, "the image data is missing");
        status = res.status;
        out.result(status);
        out.set(bhttp::field::content_type, "application/json");
        body_size = res.body.size();
      } else {
        body_size = res.file->length;
      }
    }
    bool no_body = status == 304 || status == 204 || (status >= 100 && status < 200);
    if (!no_body) out.set(bhttp::field::content_length, std::to_string(body_size));
    stream.expires_after(options_.request_timeout);
    if (fd < 0 && !head && !no_body && res.shared_body) {
      // Cached bytes: the header and the shared body leave in one gathered write.
      bhttp::response_serializer<bhttp::empty_body> sr{out};
      std::string header_text;
      sr.split(true);
      beast::error_code hec;
      sr.next(hec, [&](beast::error_code&, const auto& buffers) {
        header_text.reserve(beast::buffer_bytes(buffers));
        for (auto b : beast::buffers_range_ref(buffers))
          header_text.append(static_cast<const char*>(b.data()), b.size());
        sr.consume(beast::buffer_bytes(buffers));
      });
      std::array<asio::const_buffer, 2> parts{asio::buffer(header_text), asio::buffer(*res.shared_body)};
      auto [ec1, n1] = co_await asio::async_write(stream, parts, AllInLargeWrites{}, kAwait);
      wec = ec1;
      bytes_out = body_size;
    } else if (fd < 0 && !head && !no_body) {
      // Header and body leave in one gathered write.
      bhttp::response<bhttp::string_body> whole{std::move(out.base()), std::move(res.body)};
      auto [ec1, n1] = co_await bhttp::async_write(stream, whole, kAwait);
      wec = ec1;
      bytes_out = body_size;
    } else {
      bhttp::response_serializer<bhttp::empty_body> sr{out};
      auto [ec1, n1] = co_await bhttp::async_write_header(stream, sr, kAwait);
      wec = ec1;
      if (!wec && fd >= 0 && !head && !no_body) {
        std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(body_size, 256 * 1024)) + 1);
        std::uint64_t off = res.file->offset, left = body_size;
        while (left > 0 && !wec) {
          auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
          ssize_t got = ::pread(fd, chunk.data(), want, static_cast<off_t>(off));
          if (got <= 0) {
            wec = asio::error::broken_pipe;
            break;
          }
          auto [ec3, n3] =
              co_await asio::async_write(stream, asio::buffer(chunk.data(), static_cast<std::size_t>(got)),
                                     AllInLargeWrites{}, kAwait);
          wec = ec3;
          off += static_cast<std::uint64_t>(got);
          left -= static_cast<std::uint64_t>(got);
          bytes_out += n3;
        }
      }
    }
    if (fd >= 0) ::close(fd);

    if (observer_) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      observer_(Exchange{req, status, secs, body.bytes(), bytes_out, remote, internal_error});
    }
    if (wec || !keep_alive) {
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (!wec && !body.complete()) {
        // Read what the client still sends for a moment, so that closing does
        // not reset the connection before it has read our answer (e.g. a 413).
        std::vector<char> sink(64 * 1024);
        std::uint64_t drained = 0;
        stream.expires_after(std::chrono::seconds(2));
        while (drained < (64ULL << 20)) {
          auto [dec, dn] = co_await stream.async_read_some(asio::buffer(sink), kAwait);
          if (dec) break;
          drained += dn;
        }
      }
      co_return;
    }
  }
}

}  // namespace progimage::http
