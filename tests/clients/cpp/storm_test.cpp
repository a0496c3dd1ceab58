// The retry policy against a real server behind tests/clients/storm_proxy.py:
// storms of 429/503 with Retry-After are waited out, dropped connections of
// GETs are retried, a POST upload is not sent again after its connection
// dropped, and a storm longer than max_attempts ends in the last answer's Error.
#include "support.hpp"

namespace progimage::clients_test {
namespace {

class ClientStorm : public contract::SharedServerTest<ClientStorm> {
 protected:
  void SetUp() override {
    SharedServerTest::SetUp();
    proxy_ = std::make_unique<StormProxy>(server().base_url());
    ASSERT_TRUE(proxy_->ok()) << "the storm proxy did not start";
  }
  void TearDown() override {
    proxy_.reset();
    SharedServerTest::TearDown();
  }
  Client client(int max_attempts = 6) {
    ClientOptions o = options_for(proxy_->base_url());
    o.retry.max_attempts = max_attempts;
    return Client(o);
  }
  /// The log entries for requests to paths beginning with `prefix`.
  std::vector<boost::json::object> seen(std::string_view method, std::string_view prefix) {
    std::vector<boost::json::object> out;
    for (auto& e : proxy_->log())
      if (e.at("method").as_string() == method && std::string_view(e.at("path").as_string()).starts_with(prefix))
        out.push_back(e);
    return out;
  }
  std::string photo() { return contract::read_file(corpus("exif-samples/jpg/Canon_40D.jpg")); }

  std::unique_ptr<StormProxy> proxy_;
};

TEST_F(ClientStorm, RateLimitAndUnavailableStormIsWaitedOutHonouringRetryAfter) {
  Client c = client();
  proxy_->storm(R"({"count": 4, "statuses": [429, 503], "retry_after": 1, "methods": ["POST"], "path_prefix": "/v1/images"})");
  Image image = c.upload_bytes(photo(), {.name = "storm.jpg"});
  EXPECT_EQ(image.name, "storm.jpg");
  auto posts = seen("POST", "/v1/images");
  ASSERT_EQ(posts.size(), 5u);
  const std::vector<std::string> expected = {"429", "503", "429", "503"};
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(answer_of(posts[i]), expected[i]);
  EXPECT_TRUE(answer_of(posts[4]) == "201" || answer_of(posts[4]) == "200");
  for (std::size_t i = 1; i < posts.size(); ++i) {
    const double gap = posts[i].at("t").to_number<double>() - posts[i - 1].at("t").to_number<double>();
    EXPECT_GE(gap, 0.95) << "attempt " << i;  // Retry-After: 1, not the 50 ms backoff
    EXPECT_LE(gap, 2.5) << "attempt " << i;
  }

  proxy_->reset();
  proxy_->storm(R"({"count": 2, "statuses": [503], "retry_after": 1, "methods": ["GET"]})");
  EXPECT_EQ(c.get(image.id), photo());
  EXPECT_EQ(seen("GET", "/v1/images/").size(), 3u);
}

TEST_F(ClientStorm, DroppedConnectionsOfGetsAreRetried) {
  Client c = client();
  const std::string id = c.upload_bytes(photo()).id;
  proxy_->reset();
  proxy_->storm(R"({"count": 2, "drop": true, "methods": ["GET"]})");
  ImageInfo info = c.info(id);
  EXPECT_EQ(info.image.id, id);
  auto gets = seen("GET", "/v1/images/");
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(answer_of(gets[0]), "dropped");
  EXPECT_EQ(answer_of(gets[1]), "dropped");
  EXPECT_EQ(answer_of(gets[2]), "200");
}

// A POST whose connection dropped after it was sent is not sent again by the
// policy: the client cannot know whether the server acted on it. (For uploads
// a resend would be harmless, the server dedupes identical bytes, but it would
// answer `duplicate: true` for an image this call made; the caller may retry
// and gets the same image.) The client is new, so its connection is fresh:
// libcurl's own single resend on a reused connection that died unanswered
// (client/README.md) does not apply.
TEST_F(ClientStorm, PostUploadIsNotResentAfterADroppedConnection) {
  Client c = client();
  proxy_->reset();
  proxy_->storm(R"({"count": 1, "drop": true, "methods": ["POST"]})");
  try {
    c.upload_bytes(photo());
    FAIL() << "the upload succeeded through a dropped connection";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_EQ(e.code(), "connection_failed");
    EXPECT_TRUE(e.request_id().empty());
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_EQ(seen("POST", "/v1/images").size(), 1u);
}

TEST_F(ClientStorm, AStormLongerThanMaxAttemptsEndsInTheLastAnswersError) {
  Client c = client(3);
  proxy_->reset();
  proxy_->storm(R"({"count": 10, "statuses": [503], "retry_after": 0, "methods": ["GET"]})");
  try {
    c.search().all();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.code(), "unavailable");
    EXPECT_TRUE(e.request_id().empty());  // the proxy, not the server, answered
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_EQ(seen("GET", "/v1/images").size(), 3u);

  // The server's own errors carry its request id through the proxy.
  proxy_->reset();
  try {
    c.info("unknownunknownunknown1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_FALSE(e.request_id().empty());
  }
  EXPECT_EQ(seen("GET", "/v1/images").size(), 1u);  // a 404 is not retried
}

}  // namespace
}  // namespace progimage::clients_test
