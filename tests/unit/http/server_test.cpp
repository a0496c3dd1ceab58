// http::Server sending streamed bodies (Response::stream): what a store that
// streams originals (service::ByteStream) will go through. A real server on
// 127.0.0.1:0, spoken to with libcurl.
#include "http/server.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "http/processing_pool.hpp"
#include "service/body.hpp"

namespace progimage::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint64_t kLength = 3 * 1024 * 1024 + 7;  // odd, so no chunk size divides it
constexpr std::uint64_t kFailAt = 1024 * 1024;
// Odd sizes that cross every buffer boundary of the server and the socket.
constexpr std::array<std::size_t, 7> kChunkSizes{1, 4093, 65537, 7, 300001, 12345, 131071};

/// Byte `i` of the pattern: not periodic in any power of two, so a dropped,
/// repeated or shifted chunk shows.
char pattern_byte(std::uint64_t i) { return static_cast<char>((i * 2654435761u) >> 13 ^ (i >> 9)); }

/// What a stream has been asked for; read by the test after the exchange.
struct StreamLog {
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> produced{0};
};

/// Produces the pattern in odd-sized pieces; throws once `fail_at` bytes are
/// out, or ends early (returns 0) at `end_at`.
struct PatternSource {
  std::uint64_t length = kLength;
  std::uint64_t fail_at = ~0ULL;
  std::uint64_t end_at = ~0ULL;
  std::uint64_t offset = 0;
  std::shared_ptr<StreamLog> log;

  std::size_t fill(char* data, std::size_t size) {
    const int call = log->calls++;
    if (offset >= fail_at) throw core::Error(core::ErrorCode::internal, "the store stopped answering");
    if (offset >= end_at) return 0;
    std::uint64_t n = std::min<std::uint64_t>({size, kChunkSizes[call % kChunkSizes.size()], length - offset});
    for (std::uint64_t i = 0; i < n; ++i) data[i] = pattern_byte(offset + i);
    offset += n;
    log->produced += n;
    return static_cast<std::size_t>(n);
  }
};

/// `next` of a StreamBody: a coroutine that gives the I/O thread back before
/// each piece, as a read from a remote store would.
asio::awaitable<std::size_t> next_piece(std::shared_ptr<PatternSource> source, char* data, std::size_t size) {
  auto executor = co_await asio::this_coro::executor;
  co_await asio::post(executor, asio::use_awaitable);
  co_return source->fill(data, size);
}

Response streamed(std::shared_ptr<PatternSource> source) {
  Response r;
  r.header("Content-Type", "application/octet-stream");
  r.stream = StreamBody{source->length,
                        [source](char* data, std::size_t size) { return next_piece(source, data, size); }};
  return r;
}

/// A handler's answer, made before the coroutine starts (handlers here are
/// plain lambdas, so no coroutine keeps a lambda's captures).
asio::awaitable<Response> ready(Response r) { co_return r; }

/// A service::ByteStream, as the S3 store will return from open_original.
class PatternByteStream final : public service::ByteStream {
 public:
  explicit PatternByteStream(PatternSource source) : source_(std::move(source)) {}
  std::size_t read(char* data, std::size_t size) override { return source_.fill(data, size); }
  std::uint64_t length() const override { return source_.length; }

 private:
  PatternSource source_;
};

/// The image routes' bridge: blocking reads on a pool, one piece at a time.
Response streamed_from_pool(std::shared_ptr<service::ByteStream> stream, ProcessingPool& pool) {
  Response r;
  r.stream = StreamBody{stream->length(), [stream, &pool](char* data, std::size_t size) {
                          return pool.run([stream, data, size] { return stream->read(data, size); });
                        }};
  return r;
}

// ---- a small libcurl client ---------------------------------------------------

struct Fetched {
  long status = 0;
  CURLcode code = CURLE_OK;
  curl_off_t content_length = -1;
  long connects = 0;  // new connections this transfer opened
  std::string body;
};

std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct CurlHandle {
  CurlHandle() : curl(curl_easy_init()) {}
  ~CurlHandle() { curl_easy_cleanup(curl); }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  CURL* curl;
};

Fetched fetch(CurlHandle& handle, const std::string& url, bool head = false) {
  Fetched f;
  CURL* c = handle.curl;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
  if (!head) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &f.body);
  f.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f.status);
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &f.content_length);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &f.connects);
  return f;
}

Fetched fetch(const std::string& url, bool head = false) {
  CurlHandle handle;
  return fetch(handle, url, head);
}

/// The first byte where `got` leaves the pattern, or npos when it is a prefix of it.
std::size_t first_wrong_byte(const std::string& got) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != pattern_byte(i)) return i;
  return std::string::npos;
}

// ---- the server -------------------------------------------------------------------

class StreamedBodies : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.io_threads = 2;
    options.request_timeout = 10s;
    options.shutdown_grace = 2s;
    server_ = std::make_unique<Server>(options);
    route("/pattern", [](PatternSource&) {});
    route("/failing", [](PatternSource& s) { s.fail_at = kFailAt; });
    route("/short", [](PatternSource& s) { s.end_at = kFailAt; });
    route("/empty", [](PatternSource& s) { s.length = 0; });
    server_->route("GET", "/pooled", Access::open, [this](Request&, BodyReader&) {
      return ready(streamed_from_pool(std::make_shared<PatternByteStream>(PatternSource{.log = log_}), pool_));
    });
    server_->route("GET", "/pooled-failing", Access::open, [this](Request&, BodyReader&) {
      PatternSource source{.fail_at = kFailAt, .log = log_};
      return ready(streamed_from_pool(std::make_shared<PatternByteStream>(source), pool_));
    });
    server_->start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    runner_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    server_->shutdown();
    runner_.join();
    pool_.stop();
  }

  /// GET `path` answers the pattern stream, set up by `configure`.
  template <class Configure>
  void route(const char* path, Configure configure) {
    server_->route("GET", path, Access::open, [this, configure](Request&, BodyReader&) {
      auto source = std::make_shared<PatternSource>();
      source->log = log_;
      configure(*source);
      return ready(streamed(source));
    });
  }

  std::string url(std::string_view path) const { return base_ + std::string(path); }

  std::shared_ptr<StreamLog> log_ = std::make_shared<StreamLog>();
  ProcessingPool pool_{2, 8};
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::string base_;
};

TEST_F(StreamedBodies, EveryByteArrivesWithItsContentLength) {
  auto f = fetch(url("/pattern"));
  ASSERT_EQ(f.code, CURLE_OK) << curl_easy_strerror(f.code);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.content_length, static_cast<curl_off_t>(kLength));
  ASSERT_EQ(f.body.size(), kLength);
  EXPECT_EQ(first_wrong_byte(f.body), std::string::npos);
  EXPECT_GT(log_->calls.load(), static_cast<int>(kChunkSizes.size())) << "the stream was read piece by piece";
  EXPECT_EQ(log_->produced.load(), kLength);
}

TEST_F(StreamedBodies, AStreamFromABlockingStoreThroughThePool) {
  auto f = fetch(url("/pooled"));
  ASSERT_EQ(f.code, CURLE_OK) << curl_easy_strerror(f.code);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.content_length, static_cast<curl_off_t>(kLength));
  ASSERT_EQ(f.body.size(), kLength);
  EXPECT_EQ(first_wrong_byte(f.body), std::string::npos);
}

TEST_F(StreamedBodies, TheConnectionIsKeptForTheNextRequest) {
  CurlHandle handle;
  auto first = fetch(handle, url("/pattern"));
  auto second = fetch(handle, url("/pooled"));
  ASSERT_EQ(first.code, CURLE_OK);
  ASSERT_EQ(second.code, CURLE_OK);
  EXPECT_EQ(first.connects, 1);
  EXPECT_EQ(second.connects, 0) << "a complete streamed answer leaves the connection reusable";
  EXPECT_EQ(second.body.size(), kLength);
  EXPECT_EQ(first_wrong_byte(second.body), std::string::npos);
}

TEST_F(StreamedBodies, HeadSendsTheLengthAndNoBody) {
  auto f = fetch(url("/pattern"), /*head=*/true);
  ASSERT_EQ(f.code, CURLE_OK) << curl_easy_strerror(f.code);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.content_length, static_cast<curl_off_t>(kLength));
  EXPECT_TRUE(f.body.empty());
  EXPECT_EQ(log_->calls.load(), 0) << "HEAD never reads the stream";
}

TEST_F(StreamedBodies, AnEmptyStreamIsAnEmptyBody) {
  auto f = fetch(url("/empty"));
  ASSERT_EQ(f.code, CURLE_OK) << curl_easy_strerror(f.code);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.content_length, 0);
  EXPECT_TRUE(f.body.empty());
  EXPECT_EQ(log_->calls.load(), 0);
}

/// After a stream broke: the client saw a short body, and the server still answers.
void expect_cut_short_then_served(const Fetched& broken, const std::string& next_url) {
  EXPECT_EQ(broken.status, 200) << "the header was out before the stream broke";
  EXPECT_EQ(broken.content_length, static_cast<curl_off_t>(kLength));
  EXPECT_NE(broken.code, CURLE_OK) << "a short body must not look complete";
  EXPECT_GE(broken.body.size(), kFailAt);
  EXPECT_LT(broken.body.size(), kLength);
  EXPECT_EQ(first_wrong_byte(broken.body), std::string::npos) << "what did arrive is right";

  auto next = fetch(next_url);
  ASSERT_EQ(next.code, CURLE_OK) << "the server stays up: " << curl_easy_strerror(next.code);
  EXPECT_EQ(next.body.size(), kLength);
  EXPECT_EQ(first_wrong_byte(next.body), std::string::npos);
}

// CURLE_PARTIAL_FILE also shows that the server closed the connection: had
// it kept it open, curl would have waited for the rest until its timeout.
TEST_F(StreamedBodies, AStreamThatThrowsCutsTheAnswerShort) {
  auto broken = fetch(url("/failing"));
  EXPECT_EQ(broken.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(broken.code);
  expect_cut_short_then_served(broken, url("/pattern"));
}

TEST_F(StreamedBodies, AStoreReadThatThrowsOnThePoolCutsTheAnswerShort) {
  auto broken = fetch(url("/pooled-failing"));
  EXPECT_EQ(broken.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(broken.code);
  expect_cut_short_then_served(broken, url("/pooled"));
}

TEST_F(StreamedBodies, AStreamThatEndsBeforeItsLengthCutsTheAnswerShort) {
  auto broken = fetch(url("/short"));
  EXPECT_EQ(broken.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(broken.code);
  expect_cut_short_then_served(broken, url("/pattern"));
}

TEST_F(StreamedBodies, ConcurrentStreamsDoNotMix) {
  std::vector<std::thread> clients;
  std::array<Fetched, 4> results;
  for (std::size_t i = 0; i < results.size(); ++i)
    clients.emplace_back([&, i] { results[i] = fetch(url(i % 2 ? "/pooled" : "/pattern")); });
  for (auto& t : clients) t.join();
  for (const auto& f : results) {
    ASSERT_EQ(f.code, CURLE_OK) << curl_easy_strerror(f.code);
    EXPECT_EQ(f.body.size(), kLength);
    EXPECT_EQ(first_wrong_byte(f.body), std::string::npos);
  }
}

}  // namespace
}  // namespace progimage::http
