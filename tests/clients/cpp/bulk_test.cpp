// upload_many over curl multi and the resumable (tus) upload, against the
// real server, with interruptions from the storm proxy.
#include <atomic>
#include <set>

#include "support.hpp"

namespace progimage::clients_test {
namespace {

class ClientBulk : public contract::SharedServerTest<ClientBulk> {
 protected:
  Client client(const std::string& base_url, int max_attempts = 4) {
    ClientOptions o = options_for(base_url);
    o.retry.max_attempts = max_attempts;
    return Client(o);
  }
};

TEST_F(ClientBulk, UploadManyStoresEveryValidFileAndReportsTheBrokenOne) {
  std::vector<UploadItem> items;
  for (const auto& file : valid_corpus_images(39)) items.push_back({.path = file, .options = {.tags = {"bulk"}}});
  ASSERT_EQ(items.size(), 39u);
  const std::size_t broken = 17;
  items.insert(items.begin() + broken, UploadItem{.path = corpus("malformed/broken.png")});
  items.push_back(UploadItem{.bytes = contract::make_image(40, 30, 3, ".webp"), .options = {.name = "memory.webp"}});
  std::int64_t total_bytes = 0;
  for (const auto& item : items) total_bytes += item.path.empty() ? item.bytes.size() : fs::file_size(item.path);

  std::vector<Progress> reports;
  std::set<std::size_t> told;
  auto outcomes = client(server().base_url())
                      .upload_many(items, {.concurrency = 8,
                                           .on_progress = [&](const Progress& p) { reports.push_back(p); },
                                           .on_item = [&](std::size_t i, const UploadOutcome&) { told.insert(i); }});
  ASSERT_EQ(outcomes.size(), items.size());
  EXPECT_EQ(told.size(), items.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (i == broken) {
      ASSERT_FALSE(outcomes[i].ok());
      EXPECT_EQ(outcomes[i].error->status(), 415);
      EXPECT_EQ(outcomes[i].error->code(), "unsupported_media");
      continue;
    }
    ASSERT_TRUE(outcomes[i].ok()) << i << ": " << outcomes[i].error->code() << " " << outcomes[i].error->what();
    const std::string expected = items[i].path.empty() ? "memory.webp" : items[i].path.filename().string();
    EXPECT_EQ(outcomes[i].image->name, expected);
  }
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().items_done, static_cast<int>(items.size()));
  EXPECT_EQ(reports.back().items_total, static_cast<int>(items.size()));
  EXPECT_EQ(reports.back().bytes_total, total_bytes);
  EXPECT_EQ(reports.back().bytes_done, total_bytes);
  for (std::size_t i = 1; i < reports.size(); ++i) {
    EXPECT_GE(reports[i].items_done, reports[i - 1].items_done);
    EXPECT_GE(reports[i].bytes_done, reports[i - 1].bytes_done);
  }
  EXPECT_GE(client(server().base_url()).search({.tags = {"bulk"}}).all().size(), 39u);
}

TEST_F(ClientBulk, UploadManyRetriesItemsThroughAStormAndReportsAMissingFile) {
  StormProxy proxy(server().base_url());
  ASSERT_TRUE(proxy.ok());
  std::vector<UploadItem> items;
  for (int i = 0; i < 6; ++i) items.push_back({.bytes = contract::make_image(32, 32, 100 + i, ".png")});
  items.push_back({.path = "/nonexistent/image.png"});
  proxy.storm(R"({"count": 5, "statuses": [503, 429], "retry_after": 1, "methods": ["POST"]})");
  auto outcomes = client(proxy.base_url(), 6).upload_many(items, {.concurrency = 3});
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(outcomes[static_cast<std::size_t>(i)].ok()) << i;
  ASSERT_FALSE(outcomes[6].ok());
  EXPECT_EQ(outcomes[6].error->code(), "file_unreadable");
  int storm_answers = 0;
  for (const auto& e : proxy.log()) storm_answers += answer_of(e) == "503" || answer_of(e) == "429";
  EXPECT_EQ(storm_answers, 5);
}

class ClientResumable : public ClientBulk {
 protected:
  void SetUp() override {
    ClientBulk::SetUp();
    bytes_ = contract::make_image(1400, 1400, 11, ".png");  // ~6 MB
    file_ = dir_.path / "large.png";
    contract::write_file(file_, bytes_);
  }
  TempDir dir_;
  std::string bytes_;
  fs::path file_;
};

TEST_F(ClientResumable, ChunkedUploadStoresTheFile) {
  ASSERT_GT(bytes_.size(), 4u << 20);
  std::vector<std::int64_t> offsets;
  std::string location;
  Image image = client(server().base_url())
                    .upload_resumable(file_, {.description = "resumed", .tags = {"tus", "big"}},
                                      {.chunk_size = 1 << 20,
                                       .on_progress = [&](const Progress& p) {
                                         offsets.push_back(p.bytes_done);
                                         EXPECT_EQ(p.bytes_total, static_cast<std::int64_t>(bytes_.size()));
                                       },
                                       .on_created = [&](const std::string& l) { location = l; }});
  EXPECT_EQ(image.sha256, contract::sha256_hex(bytes_));
  EXPECT_EQ(image.name, "large.png");
  EXPECT_EQ(image.description, "resumed");
  EXPECT_EQ(std::set<std::string>(image.tags.begin(), image.tags.end()), (std::set<std::string>{"tus", "big"}));
  EXPECT_TRUE(location.starts_with("/v1/resumable/")) << location;
  ASSERT_FALSE(offsets.empty());
  EXPECT_EQ(offsets.back(), static_cast<std::int64_t>(bytes_.size()));
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
}

TEST_F(ClientResumable, ADroppedChunkIsResumedFromTheServersOffset) {
  StormProxy proxy(server().base_url());
  ASSERT_TRUE(proxy.ok());
  std::atomic<bool> armed = false;
  Image image = client(proxy.base_url())
                    .upload_resumable(file_, {}, {.chunk_size = 1 << 20, .on_progress = [&](const Progress& p) {
                                                    // Mid-way, PATCHes lose their connection: twice,
                                                    // because libcurl itself resends once on a fresh
                                                    // connection when a reused one died unanswered.
                                                    if (p.bytes_done > (5 << 19) && !armed.exchange(true))
                                                      proxy.storm(R"({"count": 2, "drop": true, "methods": ["PATCH"]})");
                                                  }});
  EXPECT_EQ(image.sha256, contract::sha256_hex(bytes_));
  std::vector<std::string> trail;
  for (const auto& e : proxy.log())
    trail.push_back(std::string(e.at("method").as_string()) + " " + answer_of(e));
  ASSERT_EQ(std::count(trail.begin(), trail.end(), "PATCH dropped"), 2) << ::testing::PrintToString(trail);
  auto dropped = std::find(trail.rbegin(), trail.rend(), "PATCH dropped").base() - 1;
  ASSERT_NE(dropped + 1, trail.end());
  EXPECT_EQ(*(dropped + 1), "HEAD 200") << "after a failed chunk the offset is asked: " << ::testing::PrintToString(trail);
  EXPECT_EQ(trail.front(), "POST 201");
}

TEST_F(ClientResumable, ASecondCallContinuesFromTheLocationOfTheFirst) {
  StormProxy proxy(server().base_url());
  ASSERT_TRUE(proxy.ok());
  std::string location;
  try {
    client(proxy.base_url(), 2)
        .upload_resumable(file_, {}, {.chunk_size = 1 << 20, .on_created = [&](const std::string& l) {
                                        location = l;
                                        // After the first chunk, every PATCH and HEAD is dropped.
                                        proxy.storm(R"({"count": 1000, "drop": true, "methods": ["PATCH", "HEAD"]})");
                                      }});
    FAIL() << "the upload went through a dead connection";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "connection_failed");
  }
  ASSERT_FALSE(location.empty());
  proxy.reset();
  // Some bytes went in before: make the server hold a part, then resume.
  auto head = contract::Http(server().base_url()).request("HEAD", location, {}, {{"Tus-Resumable", "1.0.0"}});
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Upload-Offset"), "0");
  auto first = contract::Http(server().base_url())
                   .request("PATCH", location, std::string_view(bytes_).substr(0, 1 << 20),
                            {{"Tus-Resumable", "1.0.0"}, {"Upload-Offset", "0"},
                             {"Content-Type", "application/offset+octet-stream"}});
  ASSERT_EQ(first.status, 204) << first.describe();

  Image image = client(proxy.base_url())
                    .upload_resumable(file_, {}, {.chunk_size = 1 << 20, .resume_location = location});
  EXPECT_EQ(image.sha256, contract::sha256_hex(bytes_));
  auto log = proxy.log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.front().at("method").as_string(), "HEAD") << "a resume starts by asking the offset";
  int patches = 0;
  for (const auto& e : log) patches += e.at("method").as_string() == "PATCH";
  EXPECT_EQ(patches, static_cast<int>((bytes_.size() - (1 << 20) + (1 << 20) - 1) / (1 << 20)));
}

}  // namespace
}  // namespace progimage::clients_test
