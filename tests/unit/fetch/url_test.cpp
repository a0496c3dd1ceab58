#include "fetch/url.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"

using progimage::core::Error;
using progimage::core::ErrorCode;
using progimage::fetch::parse_remote_url;
using progimage::fetch::redact_url;

namespace {

ErrorCode code_of(const std::string& url) {
  try {
    parse_remote_url(url);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal;  // "did not throw"
}

TEST(RemoteUrl, AcceptsHttpAndHttps) {
  auto u = parse_remote_url("HTTPS://Example.COM:8443/a/b.png?x=1");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "Example.COM");
  EXPECT_NE(u.url.find("/a/b.png?x=1"), std::string::npos);
  EXPECT_EQ(parse_remote_url("http://[::1]:8080/").host, "[::1]");
  EXPECT_EQ(parse_remote_url("http://user:pw@example.com/").host, "example.com");
}

TEST(RemoteUrl, RefusesOtherSchemesAndHostlessUrls) {
  for (const char* url :
       {"file:///etc/passwd", "file://localhost/etc/passwd", "ftp://example.com/a.png", "gopher://example.com/_x",
        "dict://example.com/info", "ldap://example.com/", "tftp://example.com/x", "scp://example.com/x",
        "smb://example.com/x", "telnet://example.com/", "ws://example.com/", "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)", "mailto:a@example.com", "example.com/a.png", "//example.com/a.png", "/a.png", "",
        "http://", "http:///etc/passwd", "https:///example.com/", "http:/example.com/", "http:example.com/",
        "http:\\\\example.com/", "http:\\/example.com/", "http://:80/", "https://?x", "http://exa mple.com/",
        "http://example.com/a b", "http://example.com/\r\nX-Injected: 1"}) {
    EXPECT_EQ(code_of(url), ErrorCode::bad_parameter) << url;
  }
  EXPECT_EQ(code_of(std::string("http://example.com/\0.png", 24)), ErrorCode::bad_parameter);
  EXPECT_EQ(code_of("http://example.com/" + std::string(9000, 'a')), ErrorCode::bad_parameter);
}

TEST(RemoteUrl, ErrorsNeverRepeatCredentials) {
  try {
    parse_remote_url("ftp://alice:s3cret@example.com/");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  }
}

TEST(RedactUrl, DropsUserinfo) {
  EXPECT_EQ(redact_url("http://alice:s3cret@example.com/a.png?x=1"), "http://example.com/a.png?x=1");
  EXPECT_EQ(redact_url("http://alice@example.com/"), "http://example.com/");
  EXPECT_EQ(redact_url("https://example.com/"), "https://example.com/");
  EXPECT_EQ(redact_url("not a url"), "(unparseable URL)");
}

}  // namespace
