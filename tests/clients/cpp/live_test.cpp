// Every endpoint group of docs/API.md through the C++ SDK, against the real
// server with images of the test corpus.
#include <set>

#include "support.hpp"

namespace progimage::clients_test {
namespace {

using contract::sniff_format;

class ClientLive : public contract::SharedServerTest<ClientLive> {
 public:
  static contract::ServerOptions server_options() {
    contract::ServerOptions o;
    o.args = {"--fetch-allow", "127.0.0.0/8"};  // upload_url and URL job sources fetch from this server
    return o;
  }

 protected:
  Client client() { return Client(options_for(server().base_url())); }
  std::string canon_path() { return corpus("exif-samples/jpg/Canon_40D.jpg").string(); }
};

TEST_F(ClientLive, UploadFileBytesAndUrl) {
  Client c = client();
  const fs::path file = canon_path();
  const std::string bytes = contract::read_file(file);
  std::int64_t last_sent = 0;
  Image a = c.upload_file(file, {.description = "a camera #sample", .tags = {"Live", "cpp"}},
                          [&](const Progress& p) { last_sent = p.bytes_done; });
  EXPECT_EQ(a.name, "Canon_40D.jpg");
  EXPECT_EQ(a.sha256, contract::sha256_hex(bytes));
  EXPECT_EQ(a.format, "jpeg");
  EXPECT_EQ(a.width, 100);
  EXPECT_EQ(a.height, 68);
  EXPECT_EQ(a.camera_model, "Canon EOS 40D");
  EXPECT_EQ(std::set<std::string>(a.tags.begin(), a.tags.end()), (std::set<std::string>{"live", "cpp", "sample"}));
  EXPECT_GE(last_sent, static_cast<std::int64_t>(bytes.size()));
  EXPECT_NE(a.json.find("\"variants\""), std::string::npos);

  Image again = c.upload_bytes(bytes, {.name = "copy.jpg"});
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.id, a.id);

  const std::string png = contract::read_file(corpus("pngsuite/basn2c08.png"));
  Image b = c.upload_bytes(png);
  EXPECT_FALSE(b.duplicate);
  EXPECT_EQ(b.format, "png");

  // The server fetches a conversion of b from itself: new bytes, a new image.
  Image fetched = c.upload_url(server().base_url() + "/v1/images/" + b.id + ".webp", {.name = "remote.webp", .tags = {"remote"}});
  EXPECT_FALSE(fetched.duplicate);
  EXPECT_EQ(fetched.format, "webp");
  EXPECT_EQ(fetched.name, "remote.webp");
  EXPECT_EQ(fetched.tags, std::vector<std::string>{"remote"});
  // The same bytes again: the stored image, marked as a duplicate.
  Image same = c.upload_url(server().base_url() + "/v1/images/" + b.id);
  EXPECT_TRUE(same.duplicate);
  EXPECT_EQ(same.id, b.id);
}

TEST_F(ClientLive, BadUploadIsAnErrorWithCodeAndRequestId) {
  try {
    client().upload_file(corpus("malformed/broken.png"));
    FAIL() << "a broken file was stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 415);
    EXPECT_EQ(e.code(), "unsupported_media");
    EXPECT_FALSE(e.request_id().empty());
    EXPECT_FALSE(std::string(e.what()).empty());
  }
  EXPECT_THROW(client().upload_file("/nonexistent/file.jpg"), fs::filesystem_error);
}

TEST_F(ClientLive, GetDownloadToFileAndSinkInfoPatchRemove) {
  Client c = client();
  TempDir dir;
  // A large image (random pixels barely compress): streamed in many chunks.
  const std::string big = contract::make_image(1600, 1600, 7, ".png");
  ASSERT_GT(big.size(), 5u << 20);
  const fs::path source = dir.path / "big.png";
  contract::write_file(source, big);
  Image image = c.upload_file(source);

  EXPECT_EQ(c.get(image.id), big);

  std::int64_t seen = 0;
  Download d = c.download(image.id, dir.path / "copy.png", {}, [&](const Progress& p) { seen = p.bytes_done; });
  EXPECT_EQ(contract::read_file(dir.path / "copy.png"), big);
  EXPECT_EQ(d.size, static_cast<std::int64_t>(big.size()));
  EXPECT_EQ(d.content_type, "image/png");
  EXPECT_EQ(seen, d.size);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 2) << "a partial file was left";

  std::string streamed;
  int chunks = 0;
  Download s = c.download(image.id, [&](std::string_view chunk) {
    streamed += chunk;
    ++chunks;
    return true;
  });
  EXPECT_EQ(streamed, big);
  EXPECT_GT(chunks, 10);
  EXPECT_EQ(s.size, static_cast<std::int64_t>(big.size()));

  // A sink may stop early; that is not an error.
  std::int64_t taken = 0;
  c.download(image.id, [&](std::string_view chunk) {
    taken += static_cast<std::int64_t>(chunk.size());
    return false;
  });
  EXPECT_GT(taken, 0);
  EXPECT_LT(taken, static_cast<std::int64_t>(big.size()));

  Download thumb = c.download(image.id, dir.path / "thumb.webp", Transform{}.width(64).format(Format::webp));
  EXPECT_EQ(sniff_format(contract::read_file(dir.path / "thumb.webp")), "webp");
  EXPECT_EQ(thumb.cache, "miss");
  EXPECT_EQ(c.download(image.id, dir.path / "thumb2.webp", Transform{}.width(64).format(Format::webp)).cache, "hit");

  ImageInfo info = c.info(image.id);
  EXPECT_EQ(info.image.id, image.id);
  ASSERT_TRUE(info.phash);
  EXPECT_EQ(info.phash->size(), 16u);
  ASSERT_TRUE(info.dominant_color);
  EXPECT_EQ(info.dominant_color->front(), '#');
  EXPECT_NE(info.exif_json.find("\"orientation\""), std::string::npos) << info.exif_json;
  EXPECT_NE(info.json.find("\"blurhash\""), std::string::npos);

  Image patched = c.patch(image.id, {.description = std::optional<std::string>("noise #random"),
                                     .tags = std::vector<std::string>{"big"},
                                     .focus = std::optional<Focus>(Focus{0.25, 0.75})});
  EXPECT_EQ(patched.description, "noise #random");
  EXPECT_EQ(std::set<std::string>(patched.tags.begin(), patched.tags.end()), (std::set<std::string>{"big", "random"}));
  ASSERT_TRUE(patched.focus);
  EXPECT_DOUBLE_EQ(patched.focus->x, 0.25);
  Image cleared = c.patch(image.id, {.description = std::optional<std::string>(), .focus = std::optional<Focus>()});
  EXPECT_EQ(cleared.description, "");
  EXPECT_FALSE(cleared.focus);

  c.remove(image.id);
  try {
    c.info(image.id);
    FAIL() << "a deleted image answered";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.code(), "not_found");
    EXPECT_FALSE(e.request_id().empty());
  }
  EXPECT_THROW(c.remove(image.id), Error);
}

TEST_F(ClientLive, SearchFollowsCursorsAcrossPagesAndTagsCount) {
  Client c = client();
  std::set<std::string> ids;
  // Bytes of their own: a corpus file stored by another test would come back as a
  // duplicate, with that upload's tags.
  for (std::uint32_t seed = 1; seed <= 5; ++seed)
    ids.insert(c.upload_bytes(contract::make_image(24, 24, seed, ".jpg"), {.tags = {"paged"}}).id);
  ASSERT_EQ(ids.size(), 5u);
  int pages = 0;
  std::string previous_created = "9999";
  std::set<std::string> found;
  for (const Image& image : c.search({.tags = {"paged"}, .page_size = 2})) {
    found.insert(image.id);
    EXPECT_LE(image.created_at, previous_created);  // newest first
    previous_created = image.created_at;
    ++pages;
  }
  EXPECT_EQ(found, ids);
  EXPECT_EQ(pages, 5);
  EXPECT_TRUE(c.search({.q = "nothing-is-called-this", .page_size = 2}).all().empty());

  auto tags = c.tags();
  auto it = std::find_if(tags.begin(), tags.end(), [](const TagCount& t) { return t.tag == "paged"; });
  ASSERT_NE(it, tags.end());
  EXPECT_EQ(it->images, 5);

  try {
    c.search({.page_size = 0}).all();
    FAIL() << "limit 0 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "bad_parameter");
  }
}

TEST_F(ClientLive, SimilarAndSimilarTo) {
  Client c = client();
  const std::string photo = contract::read_file(corpus("exif-orientation/Landscape_1.jpg"));
  Image original = c.upload_bytes(photo);
  Image copy = c.upload_bytes(contract::reencode(photo, 0.5, ".jpg[Q=60]"));
  auto matches = c.similar(original.id, {.max_distance = 10, .limit = 5});
  ASSERT_FALSE(matches.empty());
  EXPECT_TRUE(std::any_of(matches.begin(), matches.end(), [&](const SimilarMatch& m) { return m.image.id == copy.id; }));
  auto sent = c.similar_to(contract::reencode(photo, 0.3, ".png"));
  ASSERT_FALSE(sent.empty());
  EXPECT_LE(sent.front().distance, 10);
}

TEST_F(ClientLive, DerivativesPurgeExplainAndVariant) {
  Client c = client();
  Image image = c.upload_file(corpus("exif-orientation/Portrait_1.jpg"));
  const auto t = Transform{}.width(120).format(Format::webp);
  EXPECT_EQ(sniff_format(c.get(image.id, t)), "webp");
  auto derivatives = c.derivatives(image.id);  // with the preset variants made after the upload
  auto it = std::find_if(derivatives.begin(), derivatives.end(),
                         [](const Derivative& d) { return d.params == "format=webp&w=120"; });
  ASSERT_NE(it, derivatives.end());
  EXPECT_EQ(it->width, 120);
  EXPECT_EQ(it->format, "webp");
  Explanation e = c.explain(image.id, t);
  EXPECT_EQ(e.canonical, "format=webp&w=120");
  EXPECT_TRUE(e.cached);
  EXPECT_EQ(e.output_width, 120);
  EXPECT_EQ(e.output_height, 180);
  c.purge_derivatives(image.id);
  // Preset variants still being made in the background may arrive after the purge.
  for (const Derivative& d : c.derivatives(image.id)) EXPECT_NE(d.params, "format=webp&w=120");
  EXPECT_FALSE(c.explain(image.id, t).cached);

  const std::string thumb = c.variant(image.id, "thumb");
  EXPECT_EQ(contract::decode(thumb).width, 100);
  try {
    c.variant(image.id, "no-such-variant");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 404);
  }
}

TEST_F(ClientLive, TransformBytesFileAndUrlStoreNothing) {
  Client c = client();
  const fs::path file = corpus("pngsuite/basn2c08.png");
  const auto before = c.search({.page_size = 1000}).all().size();
  const auto t = Transform{}.width(16).format(Format::webp);
  EXPECT_EQ(sniff_format(c.transform(contract::read_file(file), t)), "webp");
  const std::string from_file = c.transform_file(file, Transform{}.width(8).format(Format::jpeg));
  EXPECT_EQ(sniff_format(from_file), "jpeg");
  EXPECT_EQ(contract::decode(from_file).width, 8);
  EXPECT_EQ(c.search({.page_size = 1000}).all().size(), before);
  Image stored = c.upload_file(file);
  EXPECT_EQ(sniff_format(c.transform_url(server().base_url() + "/v1/images/" + stored.id, t)), "webp");
  try {
    c.transform(contract::read_file(file), Transform{}.set("w", "0"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "bad_parameter");
  }
}

TEST_F(ClientLive, JobsSubmitWaitResultsCancelAndKeptOutputs) {
  Client c = client();
  std::vector<JobSource> sources;
  for (const auto& file : valid_corpus_images(12)) sources.push_back(JobSource::image(c.upload_file(file).id));
  Job submitted = c.submit_job({.sources = sources, .params = Transform{}.width(40).query(), .format = "webp"});
  EXPECT_EQ(submitted.total, 12);
  std::vector<int> done_counts;
  Job finished = c.wait_job(submitted.id, {.poll_interval = 50ms, .on_progress = [&](const Job& j) {
                                             done_counts.push_back(j.done);
                                           }});
  EXPECT_EQ(finished.status, "completed");
  EXPECT_EQ(finished.done, 12);
  ASSERT_FALSE(done_counts.empty());
  EXPECT_TRUE(std::is_sorted(done_counts.begin(), done_counts.end()));
  EXPECT_EQ(done_counts.back(), 12);
  EXPECT_EQ(finished.params, "format=webp&w=40");

  int expected_position = 0;
  for (const JobResult& r : c.job_results(submitted.id, 5)) {
    EXPECT_EQ(r.position, expected_position++);
    EXPECT_EQ(r.status, "done");
    EXPECT_EQ(r.source, sources[static_cast<std::size_t>(r.position)].image_id);
    EXPECT_TRUE(r.url.starts_with("/v1/images/" + r.source + "?")) << r.url;
  }
  EXPECT_EQ(expected_position, 12);

  // A URL source without store: the output is kept and served by position.
  Job kept = c.submit_job({.sources = {JobSource::remote(server().base_url() + "/v1/images/" + sources[0].image_id)},
                           .params = "w=20", .format = "png"});
  kept = c.wait_job(kept.id, {.poll_interval = 50ms, .timeout = 60s});
  ASSERT_EQ(kept.status, "completed") << kept.json;
  const std::string bytes = c.job_result_bytes(kept.id, 0);
  EXPECT_EQ(sniff_format(bytes), "png");
  EXPECT_EQ(contract::decode(bytes).width, 20);

  // Cancel a large job at once: what had not started is dropped.
  std::vector<JobSource> many;
  for (int i = 0; i < 200; ++i) many.push_back(sources[static_cast<std::size_t>(i) % sources.size()]);
  Job big = c.submit_job({.sources = many, .params = "w=300&blur=20", .format = "avif"});
  Job cancelled = c.cancel_job(big.id);
  EXPECT_TRUE(cancelled.status == "cancelled" || cancelled.finished()) << cancelled.status;
  Job after = c.job(big.id);  // items under way may still finish
  EXPECT_GT(after.cancelled, 0);
  EXPECT_LE(after.done + after.failed + after.cancelled, 200);
  EXPECT_EQ(after.total, 200);

  // A query job over the tag of the sources.
  Job by_query = c.submit_job({.query_json = R"({"tag": ["no-image-has-this"]})", .params = "w=10", .format = "png"});
  EXPECT_EQ(c.wait_job(by_query.id).total, 0);
  EXPECT_THROW(c.wait_job(big.id + "x"), Error);
}

TEST_F(ClientLive, UploadLinksQuotaUsageStatsAndProbes) {
  Client c = client();
  UploadLink link = c.create_upload_link({.expires_in = "PT1H", .max_uploads = 2, .tags = {"via-link"}});
  EXPECT_TRUE(link.url.starts_with("/v1/uploads/"));
  EXPECT_EQ(link.status, "active");
  EXPECT_EQ(link.max_uploads, 2);
  auto through_link = contract::Http(server().base_url()).request("POST", link.url, contract::read_file(canon_path()),
                                                                  {{"Content-Type", "application/octet-stream"}});
  EXPECT_TRUE(through_link.status == 200 || through_link.status == 201) << through_link.describe();
  bool listed = false;
  for (const UploadLink& l : c.upload_links(1)) {
    if (l.id != link.id) continue;
    listed = true;
    EXPECT_EQ(l.uses, 1);
    EXPECT_TRUE(l.url.empty());
  }
  EXPECT_TRUE(listed);
  c.revoke_upload_link(link.id);
  auto refused = contract::Http(server().base_url()).request("POST", link.url, contract::read_file(canon_path()));
  EXPECT_EQ(refused.status, 410);

  Quota q = c.set_quota("default", 10'000'000'000, 100'000);
  EXPECT_EQ(q.bytes, 10'000'000'000);
  EXPECT_EQ(q.images, 100'000);
  Quota read = c.quota("default");
  EXPECT_EQ(read.images, 100'000);
  EXPECT_GT(read.used_images, 0);
  EXPECT_FALSE(c.set_quota("default", std::nullopt, std::nullopt).bytes);

  EXPECT_NE(c.usage().json.find("\"tenants\""), std::string::npos);
  EXPECT_NE(c.stats().json.find("\"bytes_stored\""), std::string::npos);
  EXPECT_TRUE(c.healthy());
  EXPECT_TRUE(c.ready());
  Response raw = c.request("GET", "/v1/images?limit=1");
  EXPECT_EQ(raw.status, 200);
  EXPECT_FALSE(raw.header("x-request-id").empty());
  EXPECT_EQ(c.request("GET", "/v1/nothing-here").status, 404);

  Client nowhere(options_for("http://127.0.0.1:" + std::to_string(contract::free_port())));
  EXPECT_FALSE(nowhere.healthy());
}

// Keys close an open server, so they get a server of their own.
TEST(ClientKeys, CreateListRevokeAndTheRevokedKeyIsRefused) {
  Server server;
  ASSERT_TRUE(server.start());
  Client open(options_for(server.base_url()));
  Key admin = open.create_key({.role = "admin", .name = "sdk admin"});
  EXPECT_TRUE(admin.secret.starts_with("pik_"));
  EXPECT_TRUE(admin.id.starts_with("key_"));
  EXPECT_EQ(admin.role, "admin");

  ClientOptions o = options_for(server.base_url());
  o.key = admin.secret;
  Client as_admin(o);
  Key reader = as_admin.create_key({.role = "read", .name = "reader", .rate_limit = RateLimit{5, 10}});
  ASSERT_TRUE(reader.rate_limit);
  EXPECT_EQ(reader.rate_limit->burst, 10);
  auto keys = as_admin.keys();
  EXPECT_EQ(keys.size(), 2u);
  for (const Key& k : keys) EXPECT_TRUE(k.secret.empty());

  o.key = reader.secret;
  Client as_reader(o);
  EXPECT_NO_THROW(as_reader.search().all());
  as_admin.revoke_key(reader.id);
  try {
    as_reader.search().all();
    FAIL() << "a revoked key was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 401);
    EXPECT_EQ(e.code(), "unauthorized");
    EXPECT_FALSE(e.request_id().empty());
  }
  try {
    open.search().all();  // the first key closed the server
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), 401);
  }
}

}  // namespace
}  // namespace progimage::clients_test
