// Hostile URLs: each must be refused while a canary listening on loopback at
// the port they name sees no connection at all. A connect filter under the
// guard records anything the guard let through and keeps it from leaving
// loopback, so a broken guard fails these tests without touching the network.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "fetch/address_guard.hpp"
#include "fetch/fetcher.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using progimage::core::Error;
using progimage::core::ErrorCode;
using progimage::fetch::FetchOptions;
using progimage::fetch::Fetcher;
using progimage::fetch::IpAddress;
using progimage::fetch::testing::Canary;
using progimage::fetch::testing::Request;
using progimage::fetch::testing::send_all;
using progimage::fetch::testing::TestServer;

namespace {

/// Every address the guard allowed; only 127/8 and ::1 may actually connect.
struct Escapes {
  std::mutex mutex;
  std::vector<std::string> addresses;

  std::function<bool(const sockaddr*)> filter(std::vector<std::string> expected = {}) {
    return [this, expected](const sockaddr* addr) {
      auto ip = IpAddress::from_sockaddr(addr);
      std::string text = ip ? ip->to_string() : "(non-IP)";
      bool is_expected = false;
      for (const auto& e : expected) is_expected |= e == text;
      if (!is_expected) {
        std::lock_guard lock(mutex);
        addresses.push_back(text);
      }
      if (!ip) return false;
      return ip->v6 ? text == "::1" : ip->bytes[0] == 127;
    };
  }
};

std::string describe(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + " ";
  return out;
}

enum class Expect { refused, bad_url, failed };

struct Case {
  std::string url;
  Expect expect;
};

std::vector<Case> hostile_urls(int port) {
  const std::string p = ":" + std::to_string(port);
  const auto refused = Expect::refused;
  const auto bad = Expect::bad_url;
  return {
      // loopback, plainly and in every spelling
      {"http://127.0.0.1" + p + "/", refused},
      {"https://127.0.0.1" + p + "/image.png", refused},
      {"HTTP://127.0.0.1" + p + "/", refused},
      {"http://127.1.2.3" + p + "/", refused},
      {"http://localhost" + p + "/", refused},
      {"http://LocalHost" + p + "/", refused},
      {"http://[::1]" + p + "/", refused},
      {"http://[0:0:0:0:0:0:0:1]" + p + "/", refused},
      {"http://[::ffff:127.0.0.1]" + p + "/", refused},
      {"http://[0:0:0:0:0:ffff:7f00:1]" + p + "/", refused},
      {"http://[::ffff:7f00:1]" + p + "/", refused},
      {"http://[::127.0.0.1]" + p + "/", refused},
      {"http://[64:ff9b::127.0.0.1]" + p + "/", refused},
      {"http://[2002:7f00:1::1]" + p + "/", refused},
      {"http://[::]" + p + "/", refused},
      {"http://2130706433" + p + "/", refused},
      {"http://0177.0.0.1" + p + "/", refused},
      {"http://0x7f.1" + p + "/", refused},
      {"http://0x7f000001" + p + "/", refused},
      {"http://017700000001" + p + "/", refused},
      {"http://127.1" + p + "/", refused},
      {"http://127.0.1" + p + "/", refused},
      {"http://0" + p + "/", refused},
      {"http://0.0.0.0" + p + "/", refused},
      // cloud metadata, private and other special ranges
      {"http://169.254.169.254/latest/meta-data/", refused},
      {"http://169.254.169.254" + p + "/latest/meta-data/iam/", refused},
      {"http://[fd00:ec2::254]/latest/meta-data/", refused},
      {"http://[::ffff:169.254.169.254]/", refused},
      {"http://[::ffff:a9fe:a9fe]/", refused},
      {"http://2852039166/", refused},
      {"http://0251.0376.0251.0376/", refused},
      {"http://10.0.0.1" + p + "/", refused},
      {"http://172.16.0.1" + p + "/", refused},
      {"http://192.168.1.1" + p + "/", refused},
      {"http://100.64.0.1" + p + "/", refused},
      {"http://169.254.1.1" + p + "/", refused},
      {"http://[fe80::1]" + p + "/", refused},
      {"http://[fc00::1]" + p + "/", refused},
      {"http://224.0.0.1" + p + "/", refused},
      {"http://[ff02::1]" + p + "/", refused},
      {"http://255.255.255.255" + p + "/", refused},
      {"http://240.0.0.1" + p + "/", refused},
      {"http://198.18.0.1" + p + "/", refused},
      // userinfo and delimiter tricks
      {"http://example.com@127.0.0.1" + p + "/", refused},
      {"http://user:pass@127.0.0.1" + p + "/", refused},
      {"http://example.com:80@127.0.0.1" + p + "/", refused},
      {"http://127.0.0.1" + p + "#@example.com/", refused},
      {"http://127.0.0.1" + p + "?@example.com/", refused},
      {"http://127.0.0.1" + p + "/%2e%2e/", refused},
      // schemes and shapes that must never reach a connection
      {"file:///etc/passwd", bad},
      {"file://localhost/etc/passwd", bad},
      {"gopher://127.0.0.1" + p + "/_GET%20/", bad},
      {"ftp://127.0.0.1" + p + "/", bad},
      {"dict://127.0.0.1" + p + "/info", bad},
      {"ldap://127.0.0.1" + p + "/", bad},
      {"tftp://127.0.0.1" + p + "/x", bad},
      {"telnet://127.0.0.1" + p + "/", bad},
      {"data:image/png;base64,iVBORw0KGgo=", bad},
      {"javascript:alert(1)", bad},
      {"//127.0.0.1" + p + "/", bad},
      {"127.0.0.1" + p + "/", bad},
      {"http:///etc/passwd", bad},
      {"http://" + p + "/", bad},
      {"http://127.0.0.1" + p + "/\r\nHost: x", bad},
  };
}

void expect_refused(const Fetcher& fetcher, const Case& c, Canary& canary, int& before) {
  std::string body;
  try {
    fetcher.fetch(c.url, [&](std::string_view chunk) { body.append(chunk); });
    ADD_FAILURE() << c.url << ": fetched " << body.size() << " bytes";
  } catch (const Error& e) {
    switch (c.expect) {
      case Expect::refused:
        EXPECT_EQ(e.code(), ErrorCode::upstream_failed) << c.url << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find("is not allowed ("), std::string::npos) << c.url << ": " << e.what();
        break;
      case Expect::bad_url:
        EXPECT_EQ(e.code(), ErrorCode::bad_parameter) << c.url << ": " << e.what();
        break;
      case Expect::failed:
        EXPECT_EQ(e.code(), ErrorCode::upstream_failed) << c.url << ": " << e.what();
        break;
    }
  }
  int now = canary.touched();
  EXPECT_EQ(now, before) << c.url << " reached the canary";
  before = now;
}

TEST(Ssrf, HostileUrlsAreRefusedAndTheCanaryIsUntouched) {
  Canary canary;
  Escapes escapes;
  FetchOptions options;
  options.connect_timeout = 1s;
  options.total_timeout = 2s;
  options.connect_filter = escapes.filter();
  Fetcher fetcher(options);
  auto cases = hostile_urls(canary.port());
  ASSERT_GE(cases.size(), 40u);
  int touched = 0;
  for (const auto& c : cases) expect_refused(fetcher, c, canary, touched);
  EXPECT_EQ(canary.touched(), 0);
  EXPECT_TRUE(escapes.addresses.empty()) << "guard let through: " << describe(escapes.addresses);
}

TEST(Ssrf, CanaryWouldNoticeAConnection) {
  // The test above proves something only if the canary and the filter work.
  Canary canary;
  Escapes escapes;
  FetchOptions options;
  options.allow_cidrs = {"127.0.0.1/32", "::1/128"};
  options.connect_timeout = 500ms;
  options.total_timeout = 500ms;
  options.connect_filter = escapes.filter();
  Fetcher fetcher(options);
  EXPECT_THROW(fetcher.fetch("http://127.0.0.1:" + std::to_string(canary.port()) + "/", [](std::string_view) {}),
               Error);  // the canary never answers
  EXPECT_EQ(canary.touched(), 1);
  if (canary.has_v6()) {
    EXPECT_THROW(fetcher.fetch("http://[::1]:" + std::to_string(canary.port()) + "/", [](std::string_view) {}), Error);
    EXPECT_EQ(canary.touched(), 2);
  }
  EXPECT_EQ(escapes.addresses.size(), canary.has_v6() ? 2u : 1u);
}

/// A redirector on 127.0.0.2 (the only allow-listed address) whose /r/<i>
/// answers a redirect to targets[i], and /chain/<i> a redirect to /r/<i>.
class Redirects : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string p = ":" + std::to_string(canary_.port());
    targets_ = {
        {"http://127.0.0.1" + p + "/", Expect::refused},
        {"http://localhost" + p + "/", Expect::refused},
        {"http://[::1]" + p + "/", Expect::refused},
        {"http://[::ffff:127.0.0.1]" + p + "/", Expect::refused},
        {"http://[0:0:0:0:0:ffff:7f00:1]" + p + "/", Expect::refused},
        {"http://2130706433" + p + "/", Expect::refused},
        {"http://0177.0.0.1" + p + "/", Expect::refused},
        {"http://0x7f.1" + p + "/", Expect::refused},
        {"http://127.1" + p + "/", Expect::refused},
        {"http://0" + p + "/", Expect::refused},
        {"http://127.0.0.3" + p + "/", Expect::refused},  // loopback, but not the allowed /32
        {"http://user:pw@127.0.0.1" + p + "/", Expect::refused},
        {"http://169.254.169.254/latest/meta-data/", Expect::refused},
        {"http://[fd00:ec2::254]/latest/meta-data/", Expect::refused},
        {"http://10.0.0.1" + p + "/", Expect::refused},
        {"//127.0.0.1" + p + "/", Expect::refused},  // scheme-relative
        {"file:///etc/passwd", Expect::failed},
        {"gopher://127.0.0.1" + p + "/_x", Expect::failed},
        {"dict://127.0.0.1" + p + "/info", Expect::failed},
        {"ftp://127.0.0.1" + p + "/", Expect::failed},
        {"ldap://127.0.0.1" + p + "/", Expect::failed},
    };
    redirector_ = std::make_unique<TestServer>("127.0.0.2", [this](int fd, const Request& req, const std::atomic<bool>&) {
      std::size_t slash = req.target.rfind('/');
      std::size_t i = std::stoul(req.target.substr(slash + 1));
      bool chain = req.target.starts_with("/chain/");
      std::string location = chain ? "/r/" + std::to_string(i) : targets_.at(i).url;
      static const char* kStatuses[] = {"301 Moved Permanently", "302 Found", "303 See Other",
                                        "307 Temporary Redirect", "308 Permanent Redirect"};
      send_all(fd, std::string("HTTP/1.1 ") + kStatuses[i % 5] + "\r\nLocation: " + location +
                       "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    FetchOptions options;
    options.allow_cidrs = {"127.0.0.2/32"};
    options.connect_timeout = 1s;
    options.total_timeout = 2s;
    options.connect_filter = escapes_.filter({"127.0.0.2"});
    fetcher_ = std::make_unique<Fetcher>(options);
  }

  Canary canary_;
  Escapes escapes_;
  std::vector<Case> targets_;
  std::unique_ptr<TestServer> redirector_;
  std::unique_ptr<Fetcher> fetcher_;
};

TEST_F(Redirects, EveryHopIsChecked) {
  int touched = 0;
  int hits = 0;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    for (const char* path : {"/r/", "/chain/"}) {
      Case c{redirector_->base_url() + path + std::to_string(i), targets_[i].expect};
      SCOPED_TRACE("redirect to " + targets_[i].url);
      if (c.expect == Expect::bad_url) c.expect = Expect::failed;
      expect_refused(*fetcher_, c, canary_, touched);
      // The redirector was really reached, once per hop.
      int expected_hits = hits + (std::string(path) == "/r/" ? 1 : 2);
      EXPECT_EQ(redirector_->connections(), expected_hits) << c.url;
      hits = redirector_->connections();
    }
  }
  EXPECT_EQ(canary_.touched(), 0);
  EXPECT_TRUE(escapes_.addresses.empty()) << "guard let through: " << describe(escapes_.addresses);
}

TEST_F(Redirects, ReasonsAreSpecific) {
  auto message = [&](std::size_t i) {
    try {
      fetcher_->fetch(redirector_->base_url() + "/r/" + std::to_string(i), [](std::string_view) {});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message(0), "address 127.0.0.1 is not allowed (loopback)");
  EXPECT_EQ(message(12), "address 169.254.169.254 is not allowed (cloud metadata)");
  EXPECT_EQ(message(16), "redirected to a URL scheme that is not allowed (only http and https)");
}

}  // namespace
