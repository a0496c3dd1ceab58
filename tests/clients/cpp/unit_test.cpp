// The C++ SDK without a server: the builder's canonical spellings, the URL
// signature against src/ops/README.md's worked example, the retry decision
// and Retry-After, error replies, and Paged's walk over pages.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "json.hpp"
#include "progimage/progimage.hpp"
#include "retry.hpp"

namespace progimage {
namespace {

using namespace std::chrono_literals;

TEST(Transform, HeaderExampleIsSortedCanonical) {
  auto t = Transform{}.width(300).height(300).fit(Fit::cover).format(Format::webp);
  EXPECT_EQ(t.query(), "fit=cover&format=webp&h=300&w=300");
}

TEST(Transform, DefaultsAreLeftOut) {
  auto t = Transform{}.fit(Fit::inside).dpr(1).gravity(Gravity::center).autorotate(true).strip(true).rotate(360)
               .enlarge(false).lossless(false).watermark("abcdefghijklmnopqrstuv", Gravity::southeast, 0.5, 0.25);
  EXPECT_EQ(t.query(), "watermark=abcdefghijklmnopqrstuv");
  // Setting the default again undoes an earlier value.
  EXPECT_EQ(Transform{}.fit(Fit::cover).fit(Fit::inside).query(), "");
}

TEST(Transform, DecimalsRoundToSixPlacesInShortestFixed) {
  EXPECT_EQ(Transform{}.blur(1.5).query(), "blur=1.5");
  EXPECT_EQ(Transform{}.blur(2.0).query(), "blur=2");
  EXPECT_EQ(Transform{}.brightness(1.23456789).query(), "brightness=1.234568");
  EXPECT_EQ(Transform{}.gamma(0.0000004).query(), "gamma=0");
  EXPECT_EQ(Transform{}.dpr(1.0000001).query(), "");  // rounds to the default
  EXPECT_EQ(Transform{}.brightness(1).query(), "brightness=1");  // no default: always spelt
  EXPECT_EQ(Transform{}.contrast(-0.0).query(), "contrast=0");
}

TEST(Transform, RotateAndHueAreTakenModulo360) {
  EXPECT_EQ(Transform{}.rotate(-90).query(), "rotate=270");
  EXPECT_EQ(Transform{}.rotate(450).query(), "rotate=90");
  EXPECT_EQ(Transform{}.rotate(720).query(), "");
  EXPECT_EQ(Transform{}.hue(-30).query(), "hue=330");
  EXPECT_EQ(Transform{}.hue(725.5).query(), "hue=5.5");
  EXPECT_EQ(Transform{}.hue(359.9999999).query(), "hue=0");
}

TEST(Transform, ColoursGravityMasksAndCrop) {
  EXPECT_EQ(Transform{}.background(Color{255, 0, 170}).query(), "bg=ff00aa");
  EXPECT_EQ(Transform{}.background(Color{1, 2, 3, 4}).query(), "bg=01020304");
  EXPECT_EQ(Transform{}.tint(Color{171, 205, 239, 0}).query(), "tint=abcdef");
  EXPECT_EQ(Transform{}.focal_point(0.25, 1.0 / 3).query(), "gravity=fp:0.25:0.333333");
  EXPECT_EQ(Transform{}.mask_rounded(12).query(), "mask=rounded:12");
  EXPECT_EQ(Transform{}.crop(0, 10, 200, 100).query(), "crop=0,10,200,100");
  EXPECT_EQ(Transform{}.flip(Flip::hv).trim().query(), "flip=hv&trim=10");
}

TEST(Transform, QueryEncodesWhatAQueryCannotHold) {
  EXPECT_EQ(Transform{}.preset("a b&c").query(), "preset=a%20b%26c");
  EXPECT_EQ(Transform{}.set("x+y", "1=2").query(), "x%2By=1%3D2");
}

TEST(Transform, ParseMapsAliasesAndNormalises) {
  auto t = Transform::parse("width=300&height=200&quality=80&background=FFFFFF&greyscale=TRUE&fit=COVER"
                            "&format=jpg&rotate=-90&hue=720&gravity=centre&flip=vh&trim=true&dpr=1.0");
  EXPECT_EQ(t.query(), "bg=ffffff&fit=cover&flip=hv&format=jpeg&grayscale=true&h=200&hue=0&q=80&rotate=270"
                       "&trim=10&w=300");
  EXPECT_EQ(t, Transform{}.width(300).height(200).quality(80).background(Color{255, 255, 255}).grayscale()
                   .fit(Fit::cover).format(Format::jpeg).rotate(270).hue(0).flip(Flip::hv).trim());
}

TEST(Transform, ParseKeepsWhatItDoesNotKnowForTheServer) {
  EXPECT_EQ(Transform::parse("w=abc&unknown=1&&").query(), "unknown=1&w=abc");
  EXPECT_EQ(Transform::parse("gravity=fp:0.5:0.25&mask=image:AbCdEfGhIjKlMnOpQrStUv").query(),
            "gravity=fp:0.5:0.25&mask=image:AbCdEfGhIjKlMnOpQrStUv");
  EXPECT_EQ(Transform::parse("a=%41+b").params().at("a"), "A b");
}

TEST(Transform, ParseRefusesMalformedPairs) {
  EXPECT_THROW(Transform::parse("w=%zz"), std::invalid_argument);
  EXPECT_THROW(Transform::parse("=1"), std::invalid_argument);
}

TEST(Formats, NamesAndExtensions) {
  EXPECT_EQ(to_string(Format::automatic), "auto");
  EXPECT_EQ(parse_format("JPG"), Format::jpeg);
  EXPECT_EQ(parse_format("tif"), Format::tiff);
  EXPECT_EQ(parse_format("bmp"), std::nullopt);
}

TEST(SignUrl, MatchesTheWorkedExampleOfTheOpsReadme) {
  const std::vector<std::pair<std::string, std::string>> params = {{"w", "300"}, {"h", "300"}, {"fit", "cover"}};
  EXPECT_EQ(sign_url("topsecret", "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp", params),
            "CdAick1KCB_HpSpNVXoXcdnDNXWSxcft3HokmZkLhmY");
}

TEST(SignUrl, IgnoresSigAndDependsOnEveryParameter) {
  const std::string path = "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa";
  const auto base = sign_url("k", path, {{"w", "300"}});
  EXPECT_EQ(sign_url("k", path, {{"w", "300"}, {"sig", "whatever"}}), base);
  EXPECT_NE(sign_url("k", path, {{"w", "301"}}), base);
  EXPECT_NE(sign_url("k", path, {{"w", "300"}, {"exp", "1"}}), base);
  EXPECT_NE(sign_url("other", path, {{"w", "300"}}), base);
}

TEST(Client, UrlIsSignedWithExpiryInsideTheSignature) {
  ClientOptions o;
  o.base_url = "http://img.example/";
  o.signing_secret = "topsecret";
  Client client(o);
  auto t = Transform{}.width(300).height(300).fit(Fit::cover);
  EXPECT_EQ(client.url("4Jb1mX0cQe9T2vK7pLw8Aa", t, {.extension = "webp"}),
            "http://img.example/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp?fit=cover&h=300&w=300"
            "&sig=CdAick1KCB_HpSpNVXoXcdnDNXWSxcft3HokmZkLhmY");
  const auto at = std::chrono::system_clock::time_point(std::chrono::seconds(2'000'000'000));
  const std::string sig = sign_url("topsecret", "/v1/images/x", {{"w", "10"}, {"exp", "2000000000"}});
  EXPECT_EQ(client.url("x", Transform{}.width(10), {.expires_at = at, .absolute = false}),
            "/v1/images/x?w=10&exp=2000000000&sig=" + sig);
  // The plain original needs no signature.
  EXPECT_EQ(client.url("x", {}, {.absolute = false}), "/v1/images/x");
}

// ---- the retry decision ----

detail::Reply answer(int status, std::string retry_after = {}) {
  detail::Reply r;
  r.status = status;
  if (!retry_after.empty()) r.headers.emplace_back("Retry-After", retry_after);
  return r;
}

detail::Reply no_answer(CURLcode code) {
  detail::Reply r;
  r.transfer = code;
  return r;
}

TEST(RetryAfter, SecondsAndHttpDates) {
  const auto now = std::chrono::system_clock::from_time_t(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(detail::parse_retry_after("3", now), 3s);
  EXPECT_EQ(detail::parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(detail::parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now), 10s);
  EXPECT_EQ(detail::parse_retry_after("Tuesday, 14-Nov-23 22:14:20 GMT", now), 60s);
  EXPECT_EQ(detail::parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0s);  // in the past
  EXPECT_EQ(detail::parse_retry_after("-1", now), std::nullopt);
  EXPECT_EQ(detail::parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(detail::parse_retry_after("", now), std::nullopt);
}

TEST(RetryDelay, HonoursRetryAfterUpToMaxDelay) {
  RetryPolicy p{.max_attempts = 4, .base_delay = 100ms, .max_delay = 2s};
  EXPECT_EQ(detail::retry_delay(p, 1, answer(429, "1"), false), 1000ms);
  EXPECT_EQ(detail::retry_delay(p, 1, answer(503, "2"), false), 2000ms);
  EXPECT_EQ(detail::retry_delay(p, 1, answer(503, "100"), false), std::nullopt);  // longer than the policy waits
  EXPECT_EQ(detail::retry_delay(p, 4, answer(503, "1"), false), std::nullopt);  // attempts used up
}

TEST(RetryDelay, FullJitterStaysUnderTheExponentialCap) {
  RetryPolicy p{.max_attempts = 10, .base_delay = 100ms, .max_delay = 1s};
  std::chrono::milliseconds largest{0};
  for (int i = 0; i < 500; ++i) {
    auto d = detail::retry_delay(p, 1, answer(503), false);  // before attempt 2: up to 100 · 2
    ASSERT_TRUE(d);
    EXPECT_GE(d->count(), 0);
    EXPECT_LE(*d, 200ms);
    largest = std::max(largest, *d);
    EXPECT_LE(*detail::retry_delay(p, 8, answer(503), false), 1000ms);
  }
  EXPECT_GT(largest, 100ms);  // random, not a fixed wait
}

TEST(RetryDelay, WhichFaultsAreRetriedForWhichRequests) {
  RetryPolicy p;
  EXPECT_FALSE(detail::retry_delay(p, 1, answer(500), true));
  EXPECT_FALSE(detail::retry_delay(p, 1, answer(404), true));
  EXPECT_TRUE(detail::retry_delay(p, 1, answer(502), true));
  EXPECT_FALSE(detail::retry_delay(p, 1, answer(502), false));
  EXPECT_TRUE(detail::retry_delay(p, 1, no_answer(CURLE_GOT_NOTHING), true));
  EXPECT_FALSE(detail::retry_delay(p, 1, no_answer(CURLE_GOT_NOTHING), false));
  // Nothing was sent: safe for a POST too.
  EXPECT_TRUE(detail::retry_delay(p, 1, no_answer(CURLE_COULDNT_CONNECT), false));
  EXPECT_FALSE(detail::retry_delay(p, 1, no_answer(CURLE_READ_ERROR), true));
  EXPECT_FALSE(detail::retry_delay(RetryPolicy{.max_attempts = 1}, 1, answer(503), true));

  detail::Request get, post, patch;
  post.method = "POST";
  patch.method = "POST";
  patch.resendable = true;
  EXPECT_TRUE(detail::resendable(get));
  EXPECT_FALSE(detail::resendable(post));
  EXPECT_TRUE(detail::resendable(patch));
}

TEST(ErrorFromReply, ApiErrorsBadBodiesAndNoAnswer) {
  auto r = answer(404);
  r.body = R"({"error": {"code": "not_found", "message": "no image x"}})";
  r.headers.emplace_back("x-request-id", "abc");
  Error e = detail::to_error(r);
  EXPECT_EQ(e.status(), 404);
  EXPECT_EQ(e.code(), "not_found");
  EXPECT_STREQ(e.what(), "no image x");
  EXPECT_EQ(e.request_id(), "abc");
  EXPECT_FALSE(e.retryable());

  auto html = answer(502);
  html.body = "<html>bad gateway</html>";
  Error b = detail::to_error(html);
  EXPECT_EQ(b.status(), 502);
  EXPECT_EQ(b.code(), "bad_response");
  EXPECT_TRUE(b.retryable());

  auto lost = no_answer(CURLE_OPERATION_TIMEDOUT);
  EXPECT_EQ(detail::to_error(lost).code(), "timeout");
  EXPECT_EQ(detail::to_error(no_answer(CURLE_COULDNT_CONNECT)).code(), "connection_failed");
  EXPECT_EQ(detail::to_error(lost).status(), 0);
}

// ---- Paged ----

TEST(Paged, WalksEveryPageIncludingEmptyOnesAndFetchesLazily) {
  std::vector<std::optional<std::string>> asked;
  Paged<int> paged([&](const std::optional<std::string>& cursor) -> Page<int> {
    asked.push_back(cursor);
    if (!cursor) return {{1, 2}, "b"};
    if (*cursor == "b") return {{}, "c"};
    return {{3}, std::nullopt};
  });
  auto it = paged.begin();
  EXPECT_EQ(asked.size(), 1u);  // only the first page so far
  std::vector<int> seen;
  for (; it != paged.end(); ++it) seen.push_back(*it);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(asked, (std::vector<std::optional<std::string>>{std::nullopt, "b", "c"}));
}

TEST(Paged, AnEmptyListHasNoItems) {
  Paged<int> paged([](const std::optional<std::string>&) { return Page<int>{}; });
  EXPECT_TRUE(paged.all().empty());
}

}  // namespace
}  // namespace progimage
