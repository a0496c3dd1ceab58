// url() signs as the server checks: accepted with and without an expiry;
// one changed character of the signature or of a parameter is refused, and
// so is an expired URL.
#include "support.hpp"

namespace progimage::clients_test {
namespace {

class ClientSignedUrls : public contract::SharedServerTest<ClientSignedUrls> {
 public:
  static contract::ServerOptions server_options() {
    contract::ServerOptions o;
    o.args = {"--signing-secret", kSecret};
    return o;
  }
  static constexpr const char* kSecret = "sdk-test-signing-secret";

 protected:
  Client signing_client() {
    ClientOptions o = options_for(server().base_url());
    o.signing_secret = kSecret;
    return Client(o);
  }
  /// GET of a URL by plain libcurl (the harness's Http), not through the SDK.
  contract::Response fetch(const std::string& url) {
    return contract::Http(server().base_url()).get(url.substr(server().base_url().size()));
  }
};

std::string replace_char_at(std::string s, std::size_t at) {
  s[at] = s[at] == 'A' ? 'B' : 'A';
  return s;
}

TEST_F(ClientSignedUrls, AcceptedWithAndWithoutExpiry) {
  Client c = signing_client();
  const std::string id = c.upload_file(corpus("exif-samples/jpg/Canon_40D.jpg")).id;
  const auto t = Transform{}.width(50).fit(Fit::cover).height(50);

  auto plain = fetch(c.url(id, t, {.extension = "webp"}));
  EXPECT_EQ(plain.status, 200) << plain.describe();
  EXPECT_EQ(contract::sniff_format(plain.body), "webp");

  const std::string expiring = c.url(id, t, {.expires_in = std::chrono::seconds(3600)});
  EXPECT_NE(expiring.find("exp="), std::string::npos);
  auto r = fetch(expiring);
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(contract::decode(r.body).width, 50);

  // The SDK's own calls sign too (the server requires it here).
  EXPECT_EQ(contract::sniff_format(c.get(id, Transform{}.width(20).format(Format::png))), "png");
  EXPECT_EQ(c.explain(id, Transform{t}.format(Format::png)).canonical, "fit=cover&format=png&h=50&w=50");
  // Without the secret the server refuses the transform.
  try {
    Client(options_for(server().base_url())).get(id, t);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 403);
    EXPECT_EQ(e.code(), "bad_signature");
  }
}

TEST_F(ClientSignedUrls, OneChangedCharacterIsRefused) {
  Client c = signing_client();
  const std::string id = c.upload_file(corpus("exif-samples/jpg/Nikon_D70.jpg")).id;
  const std::string url = c.url(id, Transform{}.width(40).format(Format::png));
  const auto sig_at = url.find("sig=") + 4;
  auto bad_sig = fetch(replace_char_at(url, sig_at + 5));
  EXPECT_TRUE(contract::is_error(bad_sig, 403, "bad_signature"));

  std::string changed_param = url;
  changed_param.replace(changed_param.find("w=40"), 4, "w=41");
  EXPECT_TRUE(contract::is_error(fetch(changed_param), 403, "bad_signature"));

  const std::string expiring = c.url(id, Transform{}.width(40), {.expires_in = std::chrono::seconds(600)});
  std::string moved = expiring;
  const auto exp_at = moved.find("exp=") + 4;
  moved[exp_at + 9] = moved[exp_at + 9] == '9' ? '8' : '9';  // the expiry moved by a few seconds
  EXPECT_TRUE(contract::is_error(fetch(moved), 403, "bad_signature"));
}

TEST_F(ClientSignedUrls, AnExpiryInThePastIsRefused) {
  Client c = signing_client();
  const std::string id = c.upload_file(corpus("exif-samples/jpg/Canon_40D.jpg")).id;
  const auto past = std::chrono::system_clock::now() - std::chrono::minutes(5);
  auto r = fetch(c.url(id, Transform{}.width(30), {.expires_at = past}));
  EXPECT_TRUE(contract::is_error(r, 403, "url_expired"));
  // Even the plain original, once it has an exp.
  EXPECT_TRUE(contract::is_error(fetch(c.url(id, {}, {.expires_at = past})), 403, "url_expired"));
  EXPECT_EQ(fetch(c.url(id)).status, 200);
}

}  // namespace
}  // namespace progimage::clients_test
