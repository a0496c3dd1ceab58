#include "http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <chrono>

#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/unique_fd.hpp"
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


/// The credential of `Authorization: Bearer …`, else of `X-Api-Key`.
std::string_view bearer_credential(const Request& req) {
  auto auth = req.header("Authorization");
  if (auth.size() > 7 && beast::iequals(auth.substr(0, 7), "Bearer ")) return auth.substr(7);
  return req.header("X-Api-Key");
}

void check_role(const auth::Principal& who, Access access) {
  const int have = static_cast<int>(who.role);
  const int need = access == Access::read ? 0 : access == Access::admin ? 2 : 1;
  if (have >= need) return;
  const char* names[] = {"read", "write", "admin"};
  throw Error(ErrorCode::forbidden,
              std::string("this needs a key with the ") + names[need] + " role; the key has " + names[have]);
}

/// The principal's scope; an operator may act as one tenant with X-ProgImage-Tenant.
core::Scope scope_of(const Request& req) {
  auto acting = req.header("X-ProgImage-Tenant");
  if (acting.empty()) return req.principal->scope();
  if (!core::is_valid_tenant(acting))
    throw Error(ErrorCode::bad_parameter, "X-ProgImage-Tenant: a tenant name is 1-63 of a-z, 0-9, - and _");
  if (!req.principal->all_tenants() && acting != req.principal->tenant)
    throw Error(ErrorCode::forbidden, "only an operator key (tenant *) may act for another tenant");
  return req.principal->scope(acting);
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

void Server::route(std::string method, std::string pattern, Access access, Handler handler,
                   ErrorAnswer error_answer) {
  router_.add(std::move(method), std::move(pattern));
  routes_.push_back({access, std::move(handler), std::move(error_answer)});
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
  if (access == Access::open) return;  // open routes work on no one's data but their own
  const auto* authenticator = options_.authenticator;
  if (access == Access::write_or_link && authenticator && !authenticator->open() && bearer_credential(req).empty())
    return;  // the handler asks for its own proof
  if (!authenticator) {
    req.principal = auth::open_server_principal();
  } else {
    auto credential = bearer_credential(req);
    if (credential.empty() && authenticator->open()) {
      req.principal = auth::open_server_principal();
    } else {
      if (credential.empty())
        throw Error(ErrorCode::unauthorized, "an API key is required: send Authorization: Bearer KEY");
      req.principal = authenticator->identify(credential);
      if (!req.principal) throw Error(ErrorCode::unauthorized, "the API key is not valid (revoked or never issued)");
    }
  }
  check_role(*req.principal, access);
  req.scope = scope_of(req);
  if (options_.rate_limiter && req.principal->rate) {
    int wait = options_.rate_limiter->admit(req.principal->client_id(), *req.principal->rate);
    if (wait > 0)
      throw Error(ErrorCode::rate_limited,
                  "over this key's request rate; try again in " + std::to_string(wait) + " s", wait);
  }
}

namespace {

/// The connection ended without a request to answer (closed, reset, idle).
bool quiet_end(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout ||
         ec == asio::error::connection_reset || ec == asio::error::eof;
}

/// The answer to a request whose header could not be read.
Response unreadable_request(const boost::system::error_code& ec, std::uint64_t max_body_bytes) {
  Response res;
  if (ec == bhttp::error::body_limit)
    res = Response::error(ErrorCode::payload_too_large,
                          "request body is larger than the limit of " + std::to_string(max_body_bytes) + " bytes");
  else if (ec == bhttp::error::header_limit)
    res = Response::error(ErrorCode::bad_request, "request headers are too large");
  else
    res = Response::error(ErrorCode::bad_request, "malformed HTTP request: " + ec.message());
  res.close = true;
  return res;
}

/// The Request of a parsed header. Throws bad_request for a malformed target.
void read_request(const bhttp::request_parser<bhttp::empty_body>& parser, Request& req) {
  const auto& h = parser.get();
  req.method = std::string(h.method_string());
  for (const auto& f : h) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  if (auto cl = parser.content_length()) req.content_length = static_cast<std::int64_t>(*cl);
  auto rid = req.header("X-Request-Id");
  req.request_id = is_valid_request_id(rid) ? std::string(rid) : core::new_request_id();
  auto target = boost::urls::parse_origin_form(h.target());
  if (!target) throw Error(ErrorCode::bad_request, "malformed request target");
  req.path = target->path();
  req.raw_query = std::string(target->encoded_query());
  // Empty components ("a=1&&b=2", a trailing '&') are not parameters.
  req.query = ops::split_query(req.raw_query);
}

/// The serialised header of `out`, for a gathered write with its body.
std::string header_text(bhttp::response<bhttp::empty_body>& out) {
  bhttp::response_serializer<bhttp::empty_body> sr{out};
  std::string text;
  sr.split(true);
  beast::error_code ec;
  sr.next(ec, [&](beast::error_code&, const auto& buffers) {
    text.reserve(beast::buffer_bytes(buffers));
    for (auto b : beast::buffers_range_ref(buffers)) text.append(static_cast<const char*>(b.data()), b.size());
    sr.consume(beast::buffer_bytes(buffers));
  });
  return text;
}

}  // namespace

asio::awaitable<Response> Server::dispatch(Request& req, BodyReader& body, std::string& internal_error) {
  const RouteEntry* entry = nullptr;
  try {
    auto match = router_.match(req.method, req.path);
    if (!match.match) {
      if (match.allow.empty()) {
        req.route = "(unknown)";
        co_return Response::error(ErrorCode::not_found, "no such endpoint: " + req.path);
      }
      req.route = "(method not allowed)";
      auto res = Response::error(ErrorCode::method_not_allowed,
                                 req.method + " is not allowed here; allowed: " + match.allow);
      res.header("Allow", match.allow);
      co_return res;
    }
    req.route = router_.pattern(match.match->index);
    req.params = std::move(match.match->params);
    entry = &routes_[match.match->index];
    authenticate(req, entry->access);
    co_return co_await entry->handler(req, body);
  } catch (const Error& e) {
    co_return entry && entry->error_answer ? entry->error_answer(e) : Response::error(e);
  } catch (const std::exception& e) {
    internal_error = e.what();
  }
  co_return Response::error(ErrorCode::internal, "internal error; the request id is " + req.request_id);
}

asio::awaitable<Server::Written> Server::write_response(Session& session, Response& res, const Request& req,
                                                        bool keep_alive) {
  auto& stream = session.stream;
  const bool head = req.method == "HEAD";
  Written done;
  core::UniqueFd fd;
  if (res.file) {
    fd = core::UniqueFd(::open(res.file->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      res = Response::error(ErrorCode::not_found, "the image data is missing");
    }
  }
  if ((res.status == 503 || res.status == 429) && std::none_of(res.headers.begin(), res.headers.end(), [](auto& h) {
        return beast::iequals(h.first, "Retry-After");
      }))
    res.header("Retry-After", "1");
  done.status = res.status;

  bhttp::response<bhttp::empty_body> out{static_cast<bhttp::status>(res.status), 11};
  out.set(bhttp::field::server, "ProgImage");
  out.set("X-Request-Id", req.request_id);
  out.set("X-Content-Type-Options", "nosniff");
  for (auto& [k, v] : res.headers) out.insert(k, v);
  out.keep_alive(keep_alive);
  const std::uint64_t body_size = fd          ? res.file->length
                                  : res.stream ? res.stream->length
                                  : res.shared_body ? res.shared_body->size()
                                                    : res.body.size();
  const bool no_body = res.status == 304 || res.status == 204 || (res.status >= 100 && res.status < 200);
  if (!no_body) out.set(bhttp::field::content_length, std::to_string(body_size));
  const bool send_body = !head && !no_body;
  stream.expires_after(options_.request_timeout);

  if (send_body && !fd && !res.stream) {
    // Header and body leave in one gathered write.
    auto header = header_text(out);
    const std::string& bytes = res.shared_body ? *res.shared_body : res.body;
    std::array<asio::const_buffer, 2> parts{asio::buffer(header), asio::buffer(bytes)};
    auto [ec, n] = co_await asio::async_write(stream, parts, AllInLargeWrites{}, kAwait);
    done.error = ec;
    done.bytes = body_size;
    co_return done;
  }
  bhttp::response_serializer<bhttp::empty_body> sr{out};
  auto [hec, hn] = co_await bhttp::async_write_header(stream, sr, kAwait);
  done.error = hec;
  if (done.error || !send_body) co_return done;
  if (fd) {
    done = co_await write_file(session, fd.get(), res.file->offset, body_size);
  } else {
    done = co_await write_stream(session, *res.stream);
  }
  done.status = res.status;
  co_return done;
}

asio::awaitable<Server::Written> Server::write_file(Session& session, int fd, std::uint64_t offset,
                                                    std::uint64_t length) {
  Written done;
  std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(length, 256 * 1024)) + 1);
  std::uint64_t left = length;
  while (left > 0 && !done.error) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    ssize_t got = ::pread(fd, chunk.data(), want, static_cast<off_t>(offset));
    if (got <= 0) {
      done.error = asio::error::broken_pipe;
      break;
    }
    auto [ec, n] = co_await asio::async_write(session.stream, asio::buffer(chunk.data(), static_cast<std::size_t>(got)),
                                              AllInLargeWrites{}, kAwait);
    done.error = ec;
    offset += static_cast<std::uint64_t>(got);
    left -= static_cast<std::uint64_t>(got);
    done.bytes += n;
  }
  co_return done;
}

asio::awaitable<Server::Written> Server::write_stream(Session& session, StreamBody& body) {
  Written done;
  std::vector<char> chunk(static_cast<std::size_t>(std::min<std::uint64_t>(body.length, 256 * 1024)) + 1);
  std::uint64_t left = body.length;
  while (left > 0 && !done.error) {
    std::size_t got = 0;
    try {
      got = co_await body.next(chunk.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size())));
    } catch (const std::exception& e) {
      // The header is out: all we can do is cut the answer short.
      spdlog::warn("{{\"msg\":\"streamed body failed\",\"error\":{}}}",
                   boost::json::serialize(boost::json::string(e.what())));
    }
    if (got == 0) {
      done.error = asio::error::broken_pipe;
      break;
    }
    session.stream.expires_after(options_.request_timeout);
    auto [ec, n] = co_await asio::async_write(session.stream, asio::buffer(chunk.data(), got), AllInLargeWrites{},
                                              kAwait);
    done.error = ec;
    left -= got;
    done.bytes += n;
  }
  co_return done;
}

asio::awaitable<void> Server::linger(Session& session) {
  // Read what the client still sends for a moment, so that closing does not
  // reset the connection before it has read our answer (e.g. a 413).
  std::vector<char> sink(64 * 1024);
  std::uint64_t drained = 0;
  session.stream.expires_after(std::chrono::seconds(2));
  while (drained < (64ULL << 20)) {
    auto [ec, n] = co_await session.stream.async_read_some(asio::buffer(sink), kAwait);
    if (ec) break;
    drained += n;
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
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(options_.max_body_bytes);
    stream.expires_after(options_.request_timeout);
    auto [read_error, n] = co_await bhttp::async_read_header(stream, buffer, parser, kAwait);
    session->idle = false;
    if (quiet_end(read_error)) co_return;
    const auto started = std::chrono::steady_clock::now();

    Request req;
    Response res;
    std::string internal_error;
    BeastBodyReader body(stream, buffer, parser, options_.request_timeout, options_.max_body_bytes);
    if (read_error) {
      res = unreadable_request(read_error, options_.max_body_bytes);
      req.method = "-";
      req.route = "-";
    } else {
      try {
        read_request(parser, req);
        res = co_await dispatch(req, body, internal_error);
      } catch (const Error& e) {
        res = Response::error(e);
      }
      if (!body.complete() || body.broken()) res.close = true;  // unread body: the connection cannot be reused
    }

    const bool keep_alive = !read_error && parser.get().keep_alive() && !res.close && !draining_;
    auto written = co_await write_response(*session, res, req, keep_alive);
    if (observer_) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      observer_(Exchange{req, written.status, secs, body.bytes(), written.bytes, remote, internal_error, res.work});
    }
    if (written.error || !keep_alive) {
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (!written.error && !body.complete()) co_await linger(*session);
      co_return;
    }
  }
}

}  // namespace progimage::http
