// Contract point 3, slow tier: every file of tests/corpus/MANIFEST.tsv behaves as
// its `expected` column says, with no 5xx, no crash and a bounded time each.
#include <fstream>
#include <iostream>
#include <set>

#include "corpus_manifest.hpp"
#include "harness.hpp"

namespace progimage::contract {
namespace {

TEST(Corpus, EveryFileBehavesAsTheManifestSays) {
  auto rows = corpus_manifest();
  ASSERT_GT(rows.size(), 390u) << "MANIFEST.tsv not found under " << testdata_dir();
  Server server;
  ASSERT_TRUE(server.start());
  std::map<std::string, int> outcomes;
  std::vector<std::string> rejected_hashes;
  int crashes = 0;

  for (const auto& row : rows) {
    SCOPED_TRACE(row.path + " [" + row.format + ", " + row.expected + "] " + row.note.substr(0, 120));
    std::string bytes = read_file(testdata_dir() / row.path);
    const auto expect = corpus_expectation(row);
    const bool invalid = expect.invalid;
    const bool accepted = expect.accepted_format;
    const bool may_be_unsupported = expect.may_be_unsupported;
    const bool over_pixels = expect.over_pixels;

    auto up = upload_raw(server.http(), bytes, "name=" + url_encode(fs::path(row.path).filename().string()),
                         "application/octet-stream");
    const long st = up.response.status;
    if (!server.alive()) {
      ++crashes;
      ADD_FAILURE() << "the server CRASHED on this file; stderr:\n" << tail(server.stderr_text(), 1500);
      server.start();
      continue;
    }
    ASSERT_TRUE(server.alive());
    EXPECT_NE(st, 0) << "no answer within 60 s: " << up.response.error;
    EXPECT_LT(st, 500) << up.response.describe();
    if (st / 100 != 2) {
      EXPECT_TRUE(is_error(up.response, st)) << "error answer is not the contract's JSON";
      if (!bytes.empty()) rejected_hashes.push_back(sha256_hex(bytes));
    }

    if (invalid) {
      EXPECT_EQ(st / 100, 4) << "invalid file not rejected with a 4xx: " << up.response.describe();
      outcomes[st / 100 == 4 ? "invalid rejected" : "invalid NOT rejected"]++;
      continue;
    }
    if (!accepted) {
      EXPECT_TRUE(is_error(up.response, 415, "unsupported_media")) << "format " << row.format << " is not accepted";
      outcomes[st == 415 ? "other format 415" : "other format NOT 415"]++;
      continue;
    }
    if (over_pixels) {
      EXPECT_TRUE(is_error(up.response, 422, "image_too_large")) << "over the default 100 Mpx";
      outcomes["over limits 422"]++;
      continue;
    }
    if (may_be_unsupported && st == 415) {
      outcomes["legal but undecodable 415"]++;
      continue;
    }
    if (st / 100 != 2) {
      ADD_FAILURE() << "valid file of an accepted format was not stored: " << up.response.describe();
      outcomes["valid NOT stored"]++;
      continue;
    }
    // Stored: it converts, and the result decodes with the image's size.
    EXPECT_TRUE(is_image_object(up.json));
    std::string ext = jstring(up.json, "format") == "jpeg" ? "png" : "jpg";
    auto conv = server.http().get("/v1/images/" + up.id + "." + ext, {}, 60s);
    if (!server.alive()) {
      ++crashes;
      ADD_FAILURE() << "the server CRASHED converting this file to ." << ext << "; stderr:\n"
                    << tail(server.stderr_text(), 1500);
      server.start();
      continue;
    }
    EXPECT_EQ(conv.status, 200) << "conversion to ." << ext << ": " << conv.describe();
    if (conv.status == 200) {
      auto d = decode(conv.body);
      EXPECT_TRUE(d.error.empty()) << "the ." << ext << " answer does not decode: " << d.error;
      EXPECT_EQ(d.loader, ext == "png" ? "pngload" : "jpegload");
      auto w = jint(up.json, "width"), h = jint(up.json, "height");
      EXPECT_TRUE((d.width == w && d.height == h) || (d.width == h && d.height == w))
          << "converted size " << d.width << "x" << d.height << " vs image " << w << "x" << h;
      outcomes["valid stored and converted"]++;
    } else {
      outcomes["valid stored, conversion FAILED"]++;
    }
  }

  EXPECT_EQ(crashes, 0);
  EXPECT_EQ(server.http().get("/healthz").status, 200) << "server unhealthy after the corpus";
  std::cout << "corpus outcomes:\n";
  for (const auto& [k, v] : outcomes) std::cout << "  " << k << ": " << v << "\n";
  // Nothing rejected was stored.
  SKIP_UNLESS_BLOB_FILES(server);
  auto stored = content_hashes(*server.blob_dir());
  std::set<std::string> stored_set(stored.begin(), stored.end());
  for (const auto& h : rejected_hashes) EXPECT_FALSE(stored_set.count(h)) << "rejected bytes stored: " << h;
}

}  // namespace
}  // namespace progimage::contract
