// Contract tests for the transformation engine (issue 3): parameters and their
// canonical form, geometry and filters checked by decoding the answers with
// libvips, the derivative cache (single flight, restart, purge, LRU), signed
// URLs, POST /v1/transform in every body form, remote sources behind the
// address guard, and the limits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vips/vips8>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "core/hash.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

constexpr auto kSlow = 120s;  // AVIF encodes and big images on a busy 2-core machine

// ---- images --------------------------------------------------------------

struct Rgb {
  unsigned char r, g, b;
};
constexpr Rgb kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255}, kWhite{255, 255, 255};

/// A PNG whose four quadrants have solid colours: tl, tr, bl, br.
std::string quadrants_png(int w, int h, Rgb tl, Rgb tr, Rgb bl, Rgb br) {
  make_image(1, 1, 1);  // starts libvips in the harness
  std::vector<unsigned char> px(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      Rgb c = y < h / 2 ? (x < w / 2 ? tl : tr) : (x < w / 2 ? bl : br);
      auto* p = &px[(static_cast<std::size_t>(y) * w + x) * 3];
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
  auto img = vips::VImage::new_from_memory(px.data(), px.size(), w, h, 3, VIPS_FORMAT_UCHAR)
                 .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  void* buf = nullptr;
  size_t size = 0;
  img.write_to_buffer(".png", &buf, &size);
  std::string out(static_cast<char*>(buf), size);
  g_free(buf);
  return out;
}

/// Decodes an answer into memory (all pages when asked); an empty image (width 0) on failure.
vips::VImage load(const std::string& bytes, bool all_pages = false) {
  make_image(1, 1, 1);
  try {
    auto opt = vips::VImage::option();
    if (all_pages) opt->set("n", -1);
    return vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "", opt).copy_memory();
  } catch (const vips::VError& e) {
    ADD_FAILURE() << "libvips cannot decode the answer (" << bytes.size() << " bytes): " << e.what();
    vips_error_clear();
    return vips::VImage::black(1, 1);
  }
}

std::vector<double> pixel(const vips::VImage& img, int x, int y) { return img.getpoint(x, y); }

::testing::AssertionResult near_colour(const vips::VImage& img, int x, int y, Rgb c, double tolerance = 40) {
  auto p = pixel(img, x, y);
  if (p.size() < 3) return ::testing::AssertionFailure() << "pixel has " << p.size() << " bands";
  double d = std::max({std::abs(p[0] - c.r), std::abs(p[1] - c.g), std::abs(p[2] - c.b)});
  if (d <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "pixel (" << x << "," << y << ") is " << p[0] << "," << p[1] << ","
                                       << p[2] << ", expected " << int(c.r) << "," << int(c.g) << "," << int(c.b);
}

/// Mean absolute difference between horizontally adjacent pixels: how much edge detail there is.
double edge_energy(const vips::VImage& img) {
  auto a = img.extract_band(0, vips::VImage::option()->set("n", 3)).cast(VIPS_FORMAT_FLOAT);
  auto diff = (a.crop(1, 0, a.width() - 1, a.height()) - a.crop(0, 0, a.width() - 1, a.height())).abs();
  return diff.avg();
}

double metric(const Http& http, const std::string& name) {
  auto r = http.get("/metrics");
  EXPECT_EQ(r.status, 200) << r.describe();
  return metric_sum(parse_metrics(r.body), name);
}

std::string upload_ok(const Http& http, const std::string& bytes) {
  auto up = upload_raw(http, bytes);
  EXPECT_EQ(up.response.status / 100, 2) << up.response.describe();
  EXPECT_FALSE(up.id.empty()) << up.response.describe();
  return up.id;
}

std::string json_body(const boost::json::value& v) { return boost::json::serialize(v); }
/// A copy of the array at a dotted path of a JSON answer (empty when absent).
boost::json::array array_at(const Response& r, std::string_view dotted) {
  auto v = r.json();
  if (!v) return {};
  auto* a = jfind(*v, dotted);
  return a && a->is_array() ? a->as_array() : boost::json::array();
}
const Headers kJson{{"Content-Type", "application/json"}};

// ---- a tiny HTTP file server on loopback -------------------------------------

/// Serves fixed answers by path on `address`:port, one connection at a time,
/// and counts the connections it accepted.
class FileServer {
 public:
  struct Answer {
    int status = 200;
    std::string body;
    std::string location;  // for redirects
  };

  explicit FileServer(const char* address = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, address, &a.sin_addr);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      ADD_FAILURE() << "cannot listen on " << address;
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    address_ = address;
    thread_ = std::thread([this] { loop(); });
  }
  ~FileServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  void add(const std::string& path, Answer a) {
    std::lock_guard lock(mu_);
    answers_[path] = std::move(a);
  }
  std::string url(const std::string& path) const {
    return "http://" + address_ + ":" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }
  int port() const { return port_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      serve(c);
      ::close(c);
    }
  }
  void serve(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) return;
      auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    auto sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    Answer a{404, "not found", ""};
    {
      std::lock_guard lock(mu_);
      if (auto it = answers_.find(path); it != answers_.end()) a = it->second;
    }
    std::string head = "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Length: " +
                       std::to_string(a.body.size()) + "\r\nConnection: close\r\n";
    if (!a.location.empty()) head += "Location: " + a.location + "\r\n";
    if (a.status == 200) head += "Content-Type: application/octet-stream\r\n";
    std::string out = head + "\r\n" + a.body;
    std::size_t sent = 0;
    while (sent < out.size()) {
      auto n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::thread thread_;
};


/// The query string for the pairs (percent-encoded), without '?'.
std::string query_of(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) q += (q.empty() ? "" : "&") + url_encode(k) + "=" + url_encode(v);
  return q;
}

// ============================================================================
// Parameters, geometry, filters, formats (one shared server)
// ============================================================================

class TransformTest : public SharedServerTest<TransformTest> {
 public:
  static ServerOptions server_options() {
    ServerOptions o;
    o.args = {"--fetch-allow", "127.0.0.1/32", "--workers", "0"};
    return o;
  }

 protected:
  /// GET that must answer 200 with an image; returns the body.
  std::string get_image(const std::string& path, const Headers& h = {}) {
    auto r = http().get(path, h, kSlow);
    EXPECT_EQ(r.status, 200) << path << ": " << r.describe();
    return r.body;
  }
  boost::json::value explain(const std::string& id, const std::string& query) {
    auto r = http().get("/v1/images/" + id + "/explain?" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.describe();
    return r.json().value_or(boost::json::value());
  }
};

TEST_F(TransformTest, InvalidOrUnknownParameterIs400NamingIt) {
  std::string id = upload_ok(http(), make_image(64, 48, 1));
  ASSERT_FALSE(id.empty());
  const std::pair<const char*, const char*> cases[] = {
      {"bogus=1", "bogus"},          {"w=abc", "w"},         {"w=-5", "w"},
      {"fit=squash", "fit"},         {"blur=1000", "blur"},  {"q=0", "q"},
      {"gravity=up&fit=cover&w=10", "gravity"},              {"flip=x", "flip"},
      {"format=bmp", "format"},      {"dpr=9&w=10", "dpr"},  {"wm_opacity=0.5", "wm_opacity"},
      {"crop=1,2,3", "crop"},
  };
  for (const auto& [query, name] : cases) {
    SCOPED_TRACE(query);
    auto r = http().get("/v1/images/" + id + ".png?" + query);
    ASSERT_TRUE(is_error(r, 400, "bad_parameter"));
    EXPECT_NE(jstring(r.json().value_or(nullptr), "error.message").find(name), std::string::npos)
        << "the message does not name " << name << ": " << r.body;
  }
  // The JSON spelling names it too.
  boost::json::object body{{"source", {{"id", id}}}, {"params", {{"w", 10}, {"sparkle", true}}}};
  auto r = http().request("POST", "/v1/transform", json_body(body), kJson);
  ASSERT_TRUE(is_error(r, 400, "bad_parameter"));
  EXPECT_NE(jstring(r.json().value_or(nullptr), "error.message").find("sparkle"), std::string::npos) << r.body;
  // Nothing was cached by the refused requests.
  auto d = http().get("/v1/images/" + id + "/derivatives");
  ASSERT_EQ(d.status, 200) << d.describe();
  EXPECT_EQ(array_at(d, "derivatives").size(), 0u) << d.body;
}

TEST_F(TransformTest, UrlAndJsonSpellingsShareOneCanonicalFormAndOneDerivative) {
  std::string id = upload_ok(http(), make_image(300, 200, 2, ".jpg"));
  ASSERT_FALSE(id.empty());
  // Two URL spellings (order, aliases, default values) and the JSON one.
  auto e1 = explain(id, "w=120&h=80&fit=cover&format=webp");
  auto e2 = explain(id, "format=webp&height=80&fit=cover&width=120&gravity=centre");
  auto e3 = explain(id, "fit=cover&width=120&h=80&format=webp&autorotate=true&enlarge=false");
  EXPECT_EQ(jstring(e1, "canonical"), jstring(e2, "canonical")) << json_body(e2);
  EXPECT_FALSE(jstring(e1, "canonical").empty()) << json_body(e1);
  if (e3.is_object()) EXPECT_EQ(jstring(e1, "canonical"), jstring(e3, "canonical"));
  EXPECT_FALSE(jfind(e1, "cached")->as_bool());

  auto a = http().get("/v1/images/" + id + ".webp?h=80&width=120&fit=cover", {}, kSlow);
  ASSERT_EQ(a.status, 200) << a.describe();
  EXPECT_EQ(a.header("X-Cache"), "miss");
  boost::json::object body{{"source", {{"id", id}}},
                           {"params", {{"fit", "cover"}, {"w", 120}, {"height", 80}, {"format", "webp"}}}};
  auto b = http().request("POST", "/v1/transform", json_body(body), kJson, kSlow);
  ASSERT_EQ(b.status, 200) << b.describe();
  EXPECT_EQ(b.header("X-Cache"), "hit") << "the JSON spelling did not find the URL spelling's derivative";
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(b.header("Content-Type"), "image/webp");

  auto d = http().get("/v1/images/" + id + "/derivatives");
  ASSERT_EQ(d.status, 200) << d.describe();
  auto list = array_at(d, "derivatives");
  ASSERT_EQ(list.size(), 1u) << d.body;
  EXPECT_EQ(jstring(list[0], "params"), jstring(e1, "canonical")) << d.body;
  EXPECT_EQ(jint(list[0], "width"), 120);
  EXPECT_EQ(jint(list[0], "height"), 80);
  EXPECT_EQ(jstring(list[0], "format"), "webp");
  EXPECT_TRUE(jfind(explain(id, "w=120&h=80&fit=cover&format=webp"), "cached")->as_bool());
}

TEST_F(TransformTest, FitModesGiveTheDocumentedSizesAndExplainPredictsThem) {
  std::string id = upload_ok(http(), make_image(400, 200, 3));
  ASSERT_FALSE(id.empty());
  struct Case {
    const char* query;
    int w, h;
  };
  const Case cases[] = {
      {"w=100&h=100", 100, 50},                 // inside is the default
      {"w=100&h=100&fit=inside", 100, 50},
      {"w=100&h=100&fit=contain", 100, 100},
      {"w=100&h=100&fit=cover", 100, 100},
      {"w=100&h=100&fit=fill", 100, 100},
      {"w=100&h=100&fit=outside", 200, 100},
      {"w=100", 100, 50},
      {"h=50&fit=fill", 100, 50},               // one side: the other follows the ratio whatever fit says
      {"w=50&h=50&dpr=2", 100, 50},
      {"w=40&h=30&fit=cover&dpr=3", 120, 90},
      {"w=800", 400, 200},                      // no upscaling by default
      {"w=800&enlarge=true", 800, 400},
      {"crop=0,0,200,100&w=100", 100, 50},
      {"w=100&rotate=90", 50, 100},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    auto bytes = get_image("/v1/images/" + id + ".png?" + c.query);
    auto img = load(bytes);
    EXPECT_EQ(img.width(), c.w);
    EXPECT_EQ(img.height(), c.h);
    auto e = explain(id, std::string(c.query) + "&format=png");
    EXPECT_EQ(jint(e, "output.width"), img.width()) << json_body(e);
    EXPECT_EQ(jint(e, "output.height"), img.height()) << json_body(e);
    EXPECT_EQ(jstring(e, "output.format"), "png");
  }
  // explain's format prediction for a conversion and for format=
  auto e = explain(id, "w=100&format=webp");
  EXPECT_EQ(jstring(e, "output.format"), "webp");
  auto webp = decode(get_image("/v1/images/" + id + "?w=100&format=webp"));
  EXPECT_EQ(webp.loader, "webpload");
  EXPECT_EQ(webp.width, jint(e, "output.width"));
}

TEST_F(TransformTest, CoverGravityKeepsTheChosenSide) {
  // 200x100: left half red, right half blue.
  std::string id = upload_ok(http(), quadrants_png(200, 100, kRed, kBlue, kRed, kBlue));
  ASSERT_FALSE(id.empty());
  auto west = load(get_image("/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=west"));
  ASSERT_EQ(west.width(), 100);
  ASSERT_EQ(west.height(), 100);
  for (int x : {2, 50, 97}) EXPECT_TRUE(near_colour(west, x, 50, kRed));
  auto east = load(get_image("/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=east"));
  for (int x : {2, 50, 97}) EXPECT_TRUE(near_colour(east, x, 50, kBlue));
  auto centre = load(get_image("/v1/images/" + id + ".png?w=100&h=100&fit=cover"));
  EXPECT_TRUE(near_colour(centre, 10, 50, kRed));
  EXPECT_TRUE(near_colour(centre, 90, 50, kBlue));
  auto fp = load(get_image("/v1/images/" + id + ".png?w=100&h=100&fit=cover&gravity=fp:0.9:0.5"));
  EXPECT_TRUE(near_colour(fp, 50, 50, kBlue));
}

TEST_F(TransformTest, RotateAndFlipMoveKnownCorners) {
  // 200x100 quadrants: top-left red, top-right green, bottom-left blue, bottom-right white.
  std::string id = upload_ok(http(), quadrants_png(200, 100, kRed, kGreen, kBlue, kWhite));
  ASSERT_FALSE(id.empty());
  auto r90 = load(get_image("/v1/images/" + id + ".png?rotate=90"));
  ASSERT_EQ(r90.width(), 100);
  ASSERT_EQ(r90.height(), 200);
  // Clockwise: the bottom-left corner comes to the top-left, the top-left to the top-right.
  EXPECT_TRUE(near_colour(r90, 5, 5, kBlue, 3));
  EXPECT_TRUE(near_colour(r90, 94, 5, kRed, 3));
  EXPECT_TRUE(near_colour(r90, 94, 194, kGreen, 3));
  EXPECT_TRUE(near_colour(r90, 5, 194, kWhite, 3));

  auto r450 = load(get_image("/v1/images/" + id + ".png?rotate=450"));  // modulo 360
  EXPECT_EQ(r450.width(), 100);
  EXPECT_TRUE(near_colour(r450, 5, 5, kBlue, 3));

  auto fh = load(get_image("/v1/images/" + id + ".png?flip=h"));
  ASSERT_EQ(fh.width(), 200);
  EXPECT_TRUE(near_colour(fh, 5, 5, kGreen, 3));
  EXPECT_TRUE(near_colour(fh, 194, 94, kBlue, 3));
  auto fv = load(get_image("/v1/images/" + id + ".png?flip=v"));
  EXPECT_TRUE(near_colour(fv, 5, 5, kBlue, 3));
  auto fhv = load(get_image("/v1/images/" + id + ".png?flip=hv"));
  EXPECT_TRUE(near_colour(fhv, 5, 5, kWhite, 3));
  // Rotate before flip, whatever the order in the URL.
  auto both = load(get_image("/v1/images/" + id + ".png?flip=h&rotate=90"));
  EXPECT_TRUE(near_colour(both, 5, 5, kRed, 3));
}

TEST_F(TransformTest, GrayscaleGivesEqualChannels) {
  std::string id = upload_ok(http(), quadrants_png(200, 100, kRed, kGreen, kBlue, kWhite));
  ASSERT_FALSE(id.empty());
  for (const char* fmt : {"png", "jpg"}) {
    SCOPED_TRACE(fmt);
    auto img = load(get_image("/v1/images/" + id + "." + fmt + "?grayscale=true"));
    ASSERT_EQ(img.width(), 200);
    auto rgb = img.colourspace(VIPS_INTERPRETATION_sRGB);
    for (auto [x, y] : {std::pair{10, 10}, {190, 10}, {10, 90}, {190, 90}, {100, 50}}) {
      auto p = pixel(rgb, x, y);
      ASSERT_GE(p.size(), 3u);
      EXPECT_NEAR(p[0], p[1], 2) << x << "," << y;
      EXPECT_NEAR(p[1], p[2], 2) << x << "," << y;
    }
    // and the quadrants keep different grey levels
    EXPECT_GT(std::abs(pixel(rgb, 10, 10)[0] - pixel(rgb, 190, 90)[0]), 50);
  }
}

TEST_F(TransformTest, CircleMaskMakesTheCornersTransparent) {
  std::string id = upload_ok(http(), make_image(200, 200, 4, ".jpg"));
  ASSERT_FALSE(id.empty());
  auto img = load(get_image("/v1/images/" + id + ".png?mask=circle"));
  ASSERT_EQ(img.width(), 200);
  ASSERT_EQ(img.bands(), 4) << "a masked PNG needs an alpha channel";
  for (auto [x, y] : {std::pair{0, 0}, {199, 0}, {0, 199}, {199, 199}, {10, 10}})
    EXPECT_EQ(pixel(img, x, y)[3], 0) << "corner " << x << "," << y;
  for (auto [x, y] : {std::pair{100, 100}, {60, 100}, {100, 140}})
    EXPECT_EQ(pixel(img, x, y)[3], 255) << "inside " << x << "," << y;
}

TEST_F(TransformTest, WatermarkChangesItsRegionAndNothingElse) {
  std::string base = upload_ok(http(), make_image(200, 200, 5));
  std::string mark = upload_ok(http(), quadrants_png(100, 100, kRed, kRed, kRed, kRed));
  ASSERT_FALSE(base.empty());
  ASSERT_FALSE(mark.empty());
  auto plain = load(get_image("/v1/images/" + base + ".png?w=200"));
  auto marked = load(get_image("/v1/images/" + base + ".png?w=200&watermark=" + mark +
                               "&wm_gravity=southeast&wm_opacity=1&wm_scale=0.25"));
  ASSERT_EQ(plain.width(), marked.width());
  ASSERT_EQ(plain.height(), marked.height());
  auto diff = (plain.extract_band(0, vips::VImage::option()->set("n", 3)).cast(VIPS_FORMAT_FLOAT) -
               marked.extract_band(0, vips::VImage::option()->set("n", 3)).cast(VIPS_FORMAT_FLOAT))
                  .abs();
  // 0.25 of 200 px: a 50x50 mark in the bottom-right corner (allow a margin for padding).
  EXPECT_EQ(diff.crop(0, 0, 200, 120).max(), 0) << "pixels above the mark changed";
  EXPECT_EQ(diff.crop(0, 0, 120, 200).max(), 0) << "pixels left of the mark changed";
  EXPECT_GT(diff.crop(150, 150, 50, 50).avg(), 0) << "the mark's region did not change";
  // The region holds the (opaque, red) mark somewhere.
  auto region = marked.crop(130, 130, 70, 70);
  int reds = 0;
  for (int y = 0; y < 70; y += 5)
    for (int x = 0; x < 70; x += 5)
      if (near_colour(region, x, y, kRed, 30)) ++reds;
  EXPECT_GT(reds, 30) << "few red pixels in the bottom-right corner";
}

TEST_F(TransformTest, BlurLowersEdgeEnergy) {
  std::string id = upload_ok(http(), make_image(200, 150, 6));
  ASSERT_FALSE(id.empty());
  auto sharp = load(get_image("/v1/images/" + id + ".png?w=200"));
  auto blurred = load(get_image("/v1/images/" + id + ".png?w=200&blur=3"));
  ASSERT_EQ(sharp.width(), blurred.width());
  double e0 = edge_energy(sharp), e1 = edge_energy(blurred);
  EXPECT_GT(e0, 5);
  EXPECT_LT(e1, e0 / 3) << "edge energy " << e0 << " -> " << e1;
}

TEST_F(TransformTest, LowerQualityGivesFewerBytes) {
  std::string id = upload_ok(http(), make_image(400, 300, 7));
  ASSERT_FALSE(id.empty());
  for (const char* fmt : {"jpg", "webp"}) {
    SCOPED_TRACE(fmt);
    auto lo = get_image("/v1/images/" + id + "." + fmt + "?q=20");
    auto hi = get_image("/v1/images/" + id + "." + fmt + "?q=90");
    EXPECT_LT(lo.size() * 3 / 2, hi.size()) << lo.size() << " vs " << hi.size();
  }
}

TEST_F(TransformTest, FormatAutoFollowsAcceptWithVary) {
  std::string opaque = upload_ok(http(), make_image(120, 80, 8, ".jpg"));
  std::string alpha = upload_ok(http(), make_image(120, 80, 9, ".png", 4));
  ASSERT_FALSE(opaque.empty());
  ASSERT_FALSE(alpha.empty());
  struct Case {
    const std::string* id;
    const char* accept;
    const char* mime;
    const char* sniffed;
  };
  const Case cases[] = {
      {&opaque, "image/avif,image/webp,image/apng,*/*;q=0.8", "image/avif", "avif"},
      {&opaque, "image/webp,*/*", "image/webp", "webp"},
      {&opaque, "image/webp;q=0.9, image/avif;q=0.8", "image/avif", "avif"},  // avif preferred when both accepted
      {&opaque, "*/*", "image/jpeg", "jpeg"},
      {&opaque, "", "image/jpeg", "jpeg"},
      {&alpha, "*/*", "image/png", "png"},
      {&alpha, "image/webp", "image/webp", "webp"},
      {&opaque, "image/avif;q=0, image/webp", "image/webp", "webp"},  // q=0 means "not acceptable"
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("Accept: ") + c.accept);
    Headers h;
    if (*c.accept) h["Accept"] = c.accept;
    auto r = http().get("/v1/images/" + *c.id + "?w=60&format=auto", h, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(r.header("Content-Type"), c.mime);
    EXPECT_EQ(sniff_format(r.body), c.sniffed);
    EXPECT_NE(r.header("Vary").find("Accept"), std::string::npos) << "Vary: " << r.header("Vary");
  }
}

TEST_F(TransformTest, StripDropsGpsAndStripFalseKeepsIt) {
  const std::string rel = "exif-samples/jpg/gps/DSCN0010.jpg";
  std::string original = read_file(testdata_dir() / rel);
  ASSERT_FALSE(original.empty());
  auto has_gps = [](const Decoded& d) {
    return std::any_of(d.fields.begin(), d.fields.end(),
                       [](const std::string& f) { return f.find("GPS") != std::string::npos; });
  };
  ASSERT_TRUE(has_gps(decode(original))) << "the sample lost its GPS fields";
  std::string id = upload_ok(http(), original);
  ASSERT_FALSE(id.empty());
  for (const char* path : {".jpg?w=320", ".webp?w=320", ".jpg?w=320&strip=true"}) {
    SCOPED_TRACE(path);
    auto d = decode(get_image("/v1/images/" + id + path));
    EXPECT_TRUE(d.error.empty()) << d.error;
    EXPECT_FALSE(has_gps(d)) << "GPS survived the transform";
  }
  auto kept = decode(get_image("/v1/images/" + id + ".jpg?w=320&strip=false"));
  EXPECT_TRUE(has_gps(kept)) << "strip=false dropped the GPS fields";
}

TEST_F(TransformTest, AnimatedTrueKeepsEveryFrame) {
  const std::string rel = "sharp-fixtures/animated-loop-3.gif";  // 370x285, 10 frames
  std::string original = read_file(testdata_dir() / rel);
  auto src = decode(original);
  ASSERT_GT(src.pages, 1) << rel;
  std::string id = upload_ok(http(), original);
  ASSERT_FALSE(id.empty());
  for (const char* path : {".webp?animated=true", ".gif?animated=true", ".webp?animated=true&w=100",
                           ".gif?animated=true&w=100"}) {
    SCOPED_TRACE(path);
    auto d = decode(get_image("/v1/images/" + id + path));
    EXPECT_TRUE(d.error.empty()) << d.error;
    EXPECT_EQ(d.pages, src.pages);
    if (std::string(path).find("w=100") != std::string::npos) EXPECT_EQ(d.width, 100);
    else EXPECT_EQ(d.width, src.width);
  }
  auto e = explain(id, "animated=true&w=100&format=webp");
  EXPECT_EQ(jint(e, "output.width"), 100) << json_body(e);
  EXPECT_EQ(jint(e, "output.height"), 77) << json_body(e);  // 285 * 100 / 370, one frame
}

// ---- POST /v1/transform and remote sources ---------------------------------

TEST_F(TransformTest, PostTransformAcceptsEveryBodyForm) {
  std::string bytes = make_image(300, 200, 10, ".jpg");
  auto check = [](const Response& r, int w, int h, const char* sniffed) {
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(sniff_format(r.body), sniffed);
    auto d = decode(r.body);
    EXPECT_EQ(d.width, w);
    EXPECT_EQ(d.height, h);
    EXPECT_EQ(r.header("Cache-Control"), "no-store");
  };
  {
    SCOPED_TRACE("raw");
    check(http().request("POST", "/v1/transform?w=150&format=png", bytes, {{"Content-Type", "image/jpeg"}}), 150,
          100, "png");
  }
  {
    SCOPED_TRACE("multipart with one file");
    check(http().post_multipart("/v1/transform?w=60&h=60&fit=cover&format=webp",
                                {{"file", bytes, "a.jpg", "image/jpeg"}}),
          60, 60, "webp");
    auto two = http().post_multipart("/v1/transform?w=60",
                                     {{"a", bytes, "a.jpg", "image/jpeg"}, {"b", bytes, "b.jpg", "image/jpeg"}});
    EXPECT_TRUE(is_error(two, 400, "bad_multipart"));
  }
  {
    SCOPED_TRACE("JSON data, parameters in the query");
    boost::json::object body{{"data", base64(bytes)}};
    check(http().request("POST", "/v1/transform?w=30", json_body(body), kJson), 30, 20, "jpeg");
  }
  {
    SCOPED_TRACE("JSON source.data with a params object");
    boost::json::object body{{"source", {{"data", base64(bytes)}}},
                             {"params", {{"w", 100}, {"h", 100}, {"fit", "fill"}, {"format", "png"}}}};
    check(http().request("POST", "/v1/transform", json_body(body), kJson), 100, 100, "png");
  }
  {
    SCOPED_TRACE("bad base64");
    boost::json::object body{{"data", "%%%not base64%%%"}};
    EXPECT_TRUE(is_error(http().request("POST", "/v1/transform?w=30", json_body(body), kJson), 400, "bad_base64"));
  }
  // Nothing was stored.
  auto list = http().get("/v1/images?limit=1000");
  ASSERT_EQ(list.status, 200);
  for (auto& img : array_at(list, "images"))
    EXPECT_NE(jstring(img, "sha256"), sha256_hex(bytes)) << "POST /v1/transform stored its input";
}

TEST_F(TransformTest, RemoteSourcesFromAnAllowedLoopbackServer) {
  FileServer files;
  std::string bytes = make_image(300, 200, 11, ".jpg");
  files.add("/img.jpg", {200, bytes, ""});
  {
    SCOPED_TRACE("JSON url");
    boost::json::object body{{"url", files.url("/img.jpg")}};
    auto r = http().request("POST", "/v1/transform?w=90&format=png", json_body(body), kJson, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(decode(r.body).width, 90);
  }
  {
    SCOPED_TRACE("JSON source.url with params");
    boost::json::object body{{"source", {{"url", files.url("/img.jpg")}}}, {"params", {{"h", 50}}}};
    auto r = http().request("POST", "/v1/transform", json_body(body), kJson, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(decode(r.body).height, 50);
  }
  {
    SCOPED_TRACE("GET /v1/transform?url=");
    auto r = http().get("/v1/transform?url=" + url_encode(files.url("/img.jpg")) + "&w=75&format=webp", {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(sniff_format(r.body), "webp");
    EXPECT_EQ(decode(r.body).width, 75);
  }
  EXPECT_GE(files.connections(), 3);
  {
    SCOPED_TRACE("a 404 upstream");
    auto r = http().get("/v1/transform?url=" + url_encode(files.url("/missing.jpg")) + "&w=75");
    EXPECT_EQ(r.status, 502) << r.describe();
  }
}

TEST_F(TransformTest, RemoteSourcesOutsideTheAllowListAreRefusedWithoutConnecting) {
  // 127.0.0.2 is loopback too, but outside the allowed 127.0.0.1/32.
  FileServer outside("127.0.0.2");
  FileServer inside;
  std::string bytes = make_image(64, 64, 12, ".jpg");
  outside.add("/img.jpg", {200, bytes, ""});
  inside.add("/redirect", {302, "", outside.url("/img.jpg")});
  const std::string urls[] = {outside.url("/img.jpg"), "http://10.0.0.1/img.jpg", "http://169.254.169.254/latest",
                              inside.url("/redirect")};
  for (const auto& u : urls) {
    SCOPED_TRACE(u);
    auto g = http().get("/v1/transform?url=" + url_encode(u) + "&w=10", {}, 20s);
    EXPECT_TRUE(is_error(g, 502, "upstream_failed"));
    EXPECT_LT(g.seconds, 5) << "a refused address should not wait for a connection";
    boost::json::object body{{"url", u}};
    auto p = http().request("POST", "/v1/transform?w=10", json_body(body), kJson, 20s);
    EXPECT_TRUE(is_error(p, 502, "upstream_failed"));
  }
  EXPECT_EQ(outside.connections(), 0) << "the server connected to a refused address";
  EXPECT_GE(inside.connections(), 2) << "the allowed redirecting server was not asked";
}

TEST_F(TransformTest, FallbackServesTheFallbackImageTransformed) {
  std::string id = upload_ok(http(), make_image(200, 100, 13));
  ASSERT_FALSE(id.empty());
  const std::string unknown = "AAAAAAAAAAAAAAAAAAAAAA";
  EXPECT_TRUE(is_error(http().get("/v1/images/" + unknown + ".png?w=50"), 404, "not_found"));
  auto r = http().get("/v1/images/" + unknown + ".png?w=50&fallback=" + id);
  ASSERT_EQ(r.status, 200) << r.describe();
  auto d = decode(r.body);
  EXPECT_EQ(d.width, 50);
  EXPECT_EQ(d.height, 25);
  // An existing image ignores the fallback, and fallback is not part of the canonical form.
  auto e1 = explain(id, "w=50&fallback=" + unknown);
  auto e2 = explain(id, "w=50");
  EXPECT_EQ(jstring(e1, "canonical"), jstring(e2, "canonical"));
}

// ============================================================================
// The derivative cache (a server per test: restarts and budgets)
// ============================================================================

// Background variants (thumb, small, medium) are derivatives too: the cache
// tests run without job workers so that only their own requests render.
ServerOptions no_workers(std::vector<std::string> args = {}) {
  args.insert(args.end(), {"--workers", "0"});
  return ServerOptions{.args = std::move(args)};
}

class TransformCacheTest : public ::testing::Test {};

TEST_F(TransformCacheTest, ConcurrentIdenticalMissesRenderOnce) {
  Server server(no_workers());
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::string id = upload_ok(http, make_image(1600, 1200, 20, ".jpg"));
  ASSERT_FALSE(id.empty());
  double before = metric(http, "progimage_derivative_renders_total");
  const std::string path = "/v1/images/" + id + ".webp?w=700&sharpen=1";
  constexpr int kClients = 20;
  std::vector<Response> answers(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kClients) std::this_thread::yield();
      answers[i] = http.get(path, {}, kSlow);
    });
  for (auto& t : threads) t.join();
  int misses = 0;
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 200) << a.describe();
    EXPECT_EQ(a.body, answers[0].body) << "answers differ";
    if (a.header("X-Cache") == "miss") ++misses;
  }
  EXPECT_EQ(misses, 1) << "X-Cache: miss should be told to the one request that rendered";
  EXPECT_EQ(metric(http, "progimage_derivative_renders_total") - before, 1);
}

TEST_F(TransformCacheTest, DerivativesSurviveARestart) {
  Server server(no_workers());
  ASSERT_TRUE(server.start());
  std::string id = upload_ok(server.http(), make_image(300, 200, 21, ".jpg"));
  ASSERT_FALSE(id.empty());
  const std::string path = "/v1/images/" + id + ".webp?w=100&grayscale=true";
  auto first = server.http().get(path, {}, kSlow);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(first.header("X-Cache"), "miss");
  ASSERT_TRUE(server.restart());
  double before = metric(server.http(), "progimage_derivative_renders_total");
  auto second = server.http().get(path, {}, kSlow);
  ASSERT_EQ(second.status, 200) << second.describe();
  EXPECT_EQ(second.header("X-Cache"), "hit");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.header("ETag"), first.header("ETag"));
  EXPECT_EQ(metric(server.http(), "progimage_derivative_renders_total") - before, 0);
}

TEST_F(TransformCacheTest, DeleteDerivativesPurgesThem) {
  Server server(no_workers());
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::string id = upload_ok(http, make_image(300, 200, 22, ".jpg"));
  ASSERT_FALSE(id.empty());
  const std::string a = "/v1/images/" + id + ".png?w=100", b = "/v1/images/" + id + "?w=50";
  EXPECT_EQ(http.get(a).header("X-Cache"), "miss");
  EXPECT_EQ(http.get(a).header("X-Cache"), "hit");
  EXPECT_EQ(http.get(b).header("X-Cache"), "miss");
  auto list = http.get("/v1/images/" + id + "/derivatives");
  ASSERT_EQ(array_at(list, "derivatives").size(), 2u) << list.body;
  auto del = http.request("DELETE", "/v1/images/" + id + "/derivatives");
  EXPECT_EQ(del.status, 204) << del.describe();
  list = http.get("/v1/images/" + id + "/derivatives");
  EXPECT_EQ(array_at(list, "derivatives").size(), 0u) << list.body;
  double before = metric(http, "progimage_derivative_renders_total");
  EXPECT_EQ(http.get(a).header("X-Cache"), "miss");
  EXPECT_EQ(http.get(b).header("X-Cache"), "miss");
  EXPECT_EQ(metric(http, "progimage_derivative_renders_total") - before, 2);
  EXPECT_EQ(http.get(a).header("X-Cache"), "hit");
  // The original is untouched.
  EXPECT_EQ(http.get("/v1/images/" + id).status, 200);
}

TEST_F(TransformCacheTest, SmallBudgetEvictsTheLeastRecentlyUsedFirst) {
  const std::string image = make_image(300, 300, 23);
  const std::string queries[] = {"w=150&h=150&fit=fill", "w=150&h=149&fit=fill", "w=150&h=148&fit=fill"};
  // Sizes of the three derivatives, measured on a server with room for them.
  std::int64_t total = 0;
  {
    Server sizing(no_workers());
    ASSERT_TRUE(sizing.start());
    std::string id = upload_ok(sizing.http(), image);
    for (const auto& q : queries) {
      auto r = sizing.http().get("/v1/images/" + id + ".png?" + q);
      ASSERT_EQ(r.status, 200) << r.describe();
      total += static_cast<std::int64_t>(r.body.size());
    }
  }
  // Room for two of them, not three: inserting C must evict exactly the LRU one.
  Server server(no_workers({"--cache-bytes", std::to_string(total - 1)}));
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::string id = upload_ok(http, image);
  ASSERT_FALSE(id.empty());
  auto get = [&](int i) { return http.get("/v1/images/" + id + ".png?" + queries[i]).header("X-Cache"); };
  // last_used_at may have a resolution of one second: leave time between uses.
  EXPECT_EQ(get(0), "miss");  // A
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(get(1), "miss");  // B
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(get(0), "hit");   // A used again: B is now the least recently used
  std::this_thread::sleep_for(1100ms);
  double evicted_before = metric(http, "progimage_derivative_evictions_total");
  EXPECT_EQ(get(2), "miss");  // C: over the budget
  auto list = http.get("/v1/images/" + id + "/derivatives");
  std::vector<std::string> params;
  for (auto& d : array_at(list, "derivatives")) params.push_back(jstring(d, "params"));
  EXPECT_EQ(params.size(), 2u) << list.body;
  EXPECT_EQ(metric(http, "progimage_derivative_evictions_total") - evicted_before, 1);
  EXPECT_EQ(get(0), "hit") << "the recently used derivative was evicted";
  EXPECT_EQ(get(2), "hit") << "the newest derivative was evicted";
  EXPECT_EQ(get(1), "miss") << "the least recently used derivative was kept";
}

// ============================================================================
// Signed URLs
// ============================================================================

class TransformSigningTest : public SharedServerTest<TransformSigningTest> {
 public:
  static ServerOptions server_options() {
    ServerOptions o;
    o.args = {"--signing-secret", "first-secret", "--signing-secret", "second-secret", "--workers", "0"};
    return o;
  }
};

TEST_F(TransformSigningTest, OurSignerMatchesTheDocumentedExample) {
  EXPECT_EQ(url_signature("topsecret", "/v1/images/4Jb1mX0cQe9T2vK7pLw8Aa.webp",
                      {{"w", "300"}, {"h", "300"}, {"fit", "cover"}}),
            "CdAick1KCB_HpSpNVXoXcdnDNXWSxcft3HokmZkLhmY");
}

TEST_F(TransformSigningTest, OnlyValidSignaturesAreServedAndRefusedOnesDecodeNothing) {
  std::string id = upload_ok(http(), make_image(300, 200, 30, ".jpg"));
  ASSERT_FALSE(id.empty());
  // The plain original needs no signature.
  EXPECT_EQ(http().get("/v1/images/" + id).status, 200);

  const std::string path = "/v1/images/" + id + ".webp";
  const std::vector<std::pair<std::string, std::string>> params = {
      {"w", "120"}, {"fit", "cover"}, {"h", "90"}, {"gravity", "fp:0.25:0.5"}};
  double renders = metric(http(), "progimage_derivative_renders_total");
  auto refused = [&](const std::string& target, const char* what) {
    SCOPED_TRACE(what);
    EXPECT_TRUE(is_error(http().get(target), 403, "bad_signature"));
  };
  refused(path + "?" + query_of(params), "unsigned");
  refused("/v1/images/" + id + ".png", "unsigned conversion");
  std::string good = url_signature("first-secret", path, params);
  auto altered = params;
  altered[0].second = "121";
  refused(path + "?" + query_of(altered) + "&sig=" + good, "altered parameter");
  auto added = params;
  added.emplace_back("blur", "2");
  refused(path + "?" + query_of(added) + "&sig=" + good, "added parameter");
  refused("/v1/images/" + id + ".png?" + query_of(params) + "&sig=" + good, "other path");
  refused(path + "?" + query_of(params) + "&sig=" + url_signature("third-secret", path, params), "unknown secret");
  refused(path + "?" + query_of(params) + "&sig=" + good + "x", "mangled signature");
  EXPECT_EQ(metric(http(), "progimage_derivative_renders_total") - renders, 0)
      << "a refused request was rendered";

  for (const char* secret : {"first-secret", "second-secret"}) {
    SCOPED_TRACE(secret);
    auto r = http().get(path + "?" + query_of(params) + "&sig=" + url_signature(secret, path, params), {}, kSlow);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(decode(r.body).width, 120);
  }
  // The parameters may come in any order; the signature covers the set.
  auto reversed = params;
  std::reverse(reversed.begin(), reversed.end());
  auto r = http().get("/v1/images/" + id + ".webp?sig=" + good + "&" + query_of(reversed));
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(metric(http(), "progimage_derivative_renders_total") - renders, 1);
}

TEST_F(TransformSigningTest, RemoteTransformUrlsNeedASignatureToo) {
  FileServer files;
  files.add("/img.jpg", {200, make_image(64, 64, 31, ".jpg"), ""});
  std::vector<std::pair<std::string, std::string>> params = {{"url", files.url("/img.jpg")}, {"w", "10"}};
  auto r = http().get("/v1/transform?" + query_of(params));
  EXPECT_TRUE(is_error(r, 403, "bad_signature"));
  EXPECT_EQ(files.connections(), 0) << "the unsigned URL was fetched";
}

// ============================================================================
// Limits
// ============================================================================

class TransformLimitsTest : public ::testing::Test {};

TEST_F(TransformLimitsTest, OutputOverTheMaximumDimensionIs422) {
  Server server({.args = {"--max-output-dimension", "500"}});
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::string id = upload_ok(http, make_image(400, 300, 40));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(http.get("/v1/images/" + id + ".png?w=500&enlarge=true").status, 200);
  for (const char* q : {"w=501&enlarge=true", "h=600&enlarge=true", "w=300&dpr=2&enlarge=true",
                        "w=100&h=501&fit=fill&enlarge=true"}) {
    SCOPED_TRACE(q);
    auto r = http.get("/v1/images/" + id + ".png?" + q);
    EXPECT_EQ(r.status, 422) << r.describe();
  }
  EXPECT_EQ(http.get("/healthz").status, 200);
}

TEST_F(TransformLimitsTest, OutputOverThePixelLimitIs422) {
  Server server({.args = {"--max-pixels", "1000000"}});
  ASSERT_TRUE(server.start());
  auto http = server.http();
  std::string id = upload_ok(http, make_image(400, 300, 42));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(http.get("/v1/images/" + id + ".webp?w=1000&h=1000&fit=fill&enlarge=true").status, 200);
  auto r = http.get("/v1/images/" + id + ".webp?w=1001&h=1000&fit=fill&enlarge=true");
  EXPECT_TRUE(is_error(r, 422, "unprocessable")) << r.describe();
  EXPECT_NE(r.body.find("1 megapixels"), std::string::npos) << r.body;
  EXPECT_EQ(http.get("/healthz").status, 200);
}

TEST_F(TransformLimitsTest, ATransformOverTheTimeLimitIs503AndTheServerStaysHealthy) {
  Server server(no_workers());
  ASSERT_TRUE(server.start());
  // A large image, stored while the time limit is the default.
  make_image(1, 1, 1);
  auto band = [] { return vips::VImage::gaussnoise(4000, 3000).cast(VIPS_FORMAT_UCHAR); };
  auto noise = band().bandjoin(band()).bandjoin(band());
  void* buf = nullptr;
  size_t size = 0;
  noise.copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .write_to_buffer(".jpg[Q=90]", &buf, &size);
  std::string big(static_cast<char*>(buf), size);
  g_free(buf);
  std::string id = upload_ok(server.http(), big);
  std::string small = upload_ok(server.http(), make_image(64, 64, 41));
  ASSERT_FALSE(id.empty());

  server.options().args = {"--transform-timeout", "1ms", "--workers", "0"};
  ASSERT_TRUE(server.restart());
  auto http = server.http();
  auto r = http.get("/v1/images/" + id + ".webp?w=3000&blur=20&sharpen=2", {}, kSlow);
  EXPECT_TRUE(is_error(r, 503, "timeout"));
  EXPECT_LT(r.seconds, 20) << "the time limit did not stop the work early";
  r = http.get("/v1/images/" + id + ".png?w=2000&rotate=33", {}, kSlow);
  EXPECT_TRUE(is_error(r, 503, "timeout"));
  EXPECT_TRUE(server.alive());
  EXPECT_EQ(http.get("/healthz").status, 200);
  EXPECT_EQ(http.get("/readyz").status, 200);
  EXPECT_EQ(http.get("/v1/images/" + small).status, 200);
  // Nothing was cached by the failures.
  auto list = http.get("/v1/images/" + id + "/derivatives");
  EXPECT_EQ(array_at(list, "derivatives").size(), 0u) << list.body;
  // With the limit back to normal, the same transform works.
  server.options().args = {"--workers", "0"};
  ASSERT_TRUE(server.restart());
  auto ok = server.http().get("/v1/images/" + id + ".webp?w=300", {}, kSlow);
  EXPECT_EQ(ok.status, 200) << ok.describe();
}

}  // namespace
}  // namespace progimage::contract
