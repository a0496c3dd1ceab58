// Row mapping and insert rules, fed by rows of text as a PostgreSQL result
// in text format would give them.
#include "catalog/records.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/id.hpp"

using namespace progimage;
using namespace progimage::catalog;

namespace {

/// A row of text cells; nullopt is NULL.
class TextRow final : public Row {
 public:
  explicit TextRow(std::vector<std::optional<std::string>> cells) : cells_(std::move(cells)) {}
  bool is_null(int col) const override { return !cells_.at(col); }
  std::int64_t int64(int col) const override { return is_null(col) ? 0 : std::stoll(*cells_.at(col)); }
  double real(int col) const override { return is_null(col) ? 0 : std::stod(*cells_.at(col)); }
  std::string text(int col) const override { return cells_.at(col).value_or(""); }

 private:
  std::vector<std::optional<std::string>> cells_;
};

const std::nullopt_t null = std::nullopt;

}  // namespace

TEST(ReadImage, MapsEveryColumn) {
  TextRow row({"id1", "abc", "png", "640", "480", "5000000000", "3", "1", "1700000000", "a.png", "at the #beach",
               "Canon", "Canon EOS 20D", "0.25", "0.75", R"({"exif":{}})", "acme", "-2", R"(["sea","beach"])",
               R"({"thumb":"ready","small":"pending","odd":1})"});
  auto r = read_image(row);
  EXPECT_EQ(r.id, "id1");
  EXPECT_EQ(r.sha256, "abc");
  EXPECT_EQ(r.format, "png");
  EXPECT_EQ(r.width, 640);
  EXPECT_EQ(r.height, 480);
  EXPECT_EQ(r.size, 5'000'000'000);
  EXPECT_EQ(r.frames, 3);
  EXPECT_TRUE(r.has_alpha);
  EXPECT_EQ(r.created_at, 1700000000);
  EXPECT_EQ(r.name, "a.png");
  EXPECT_EQ(r.description, "at the #beach");
  EXPECT_EQ(r.camera_make, "Canon");
  EXPECT_EQ(r.camera_model, "Canon EOS 20D");
  ASSERT_TRUE(r.focus);
  EXPECT_DOUBLE_EQ(r.focus->x, 0.25);
  EXPECT_DOUBLE_EQ(r.focus->y, 0.75);
  EXPECT_EQ(r.metadata_json, R"({"exif":{}})");
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(r.phash, 0xFFFFFFFFFFFFFFFEull);  // the bits of the signed column
  EXPECT_EQ(r.tags, (std::vector<std::string>{"beach", "sea"}));  // sorted, whatever the aggregate's order
  EXPECT_EQ(r.variants, (std::map<std::string, std::string>{{"small", "pending"}, {"thumb", "ready"}}));
}

TEST(ReadImage, FocusNeedsBothCoordinatesAndVariantsMayBeNull) {
  TextRow row({"id1", "abc", "png", "1", "1", "1", "1", "0", "1", "", "", "", "", "0.5", null, "{}", "default", null, "[]", null});
  auto r = read_image(row);
  EXPECT_FALSE(r.focus);
  EXPECT_FALSE(r.has_alpha);
  EXPECT_TRUE(r.tags.empty());
  EXPECT_TRUE(r.variants.empty());
}

TEST(ReadDerivative, MapsEveryColumn) {
  auto d = read_derivative(TextRow({"k", "s", "w=1", "webp", "10", "20", "300", "1000", "2000", "acme"}));
  EXPECT_EQ(d.key, "k");
  EXPECT_EQ(d.sha256, "s");
  EXPECT_EQ(d.params, "w=1");
  EXPECT_EQ(d.format, "webp");
  EXPECT_EQ(d.width, 10);
  EXPECT_EQ(d.height, 20);
  EXPECT_EQ(d.size, 300);
  EXPECT_EQ(d.created_at, 1000);
  EXPECT_EQ(d.last_used_at, 2000);
  EXPECT_EQ(d.tenant, "acme");
}

TEST(ReadJob, MapsEveryColumnIntoTheRecordAndItsSpec) {
  auto j = read_job(TextRow({"j1", "partial", "w=300", "webp", "1", "2", "10", "6", "3", "1", "1700000000",
                             "1700000100", "https://h/cb", "pending", "acme"}));
  EXPECT_EQ(j.id, "j1");
  EXPECT_EQ(j.spec.id, "j1");
  EXPECT_EQ(j.status, JobStatus::partial);
  EXPECT_EQ(j.spec.params, "w=300");
  EXPECT_EQ(j.spec.format, "webp");
  EXPECT_TRUE(j.spec.store);
  EXPECT_EQ(j.spec.max_attempts, 2);
  EXPECT_EQ(j.total, 10);
  EXPECT_EQ(j.done, 6);
  EXPECT_EQ(j.failed, 3);
  EXPECT_EQ(j.cancelled, 1);
  EXPECT_EQ(j.created_at, 1700000000);
  EXPECT_EQ(j.spec.created_at, 1700000000);
  EXPECT_EQ(j.finished_at, 1700000100);
  EXPECT_EQ(j.spec.callback_url, "https://h/cb");
  EXPECT_EQ(j.callback_state, "pending");
  EXPECT_EQ(j.spec.tenant, "acme");

  auto running = read_job(TextRow({"j2", "running", "", "", "0", "3", "1", "0", "0", "0", "1", null, "", "", "default"}));
  EXPECT_EQ(running.status, JobStatus::running);
  EXPECT_FALSE(running.finished_at);
  EXPECT_FALSE(running.spec.store);
}

TEST(ReadItemResult, ShowsTheErrorOfAFailedItemOnly) {
  auto failed = read_item_result(TextRow({"4", "url", "https://x/a.jpg", "failed", "3", "", "", "upstream_failed", "404", "", "", "0"}));
  EXPECT_EQ(failed.position, 4);
  EXPECT_EQ(failed.kind, ItemKind::url);
  EXPECT_EQ(failed.source, "https://x/a.jpg");
  EXPECT_EQ(failed.status, ItemStatus::failed);
  EXPECT_EQ(failed.attempts, 3);
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, "upstream_failed");
  EXPECT_EQ(failed.error->message, "404");

  // Queued again after a failed attempt: its last error is not a result.
  auto retried = read_item_result(TextRow({"5", "image", "img", "queued", "1", "", "", "timeout", "slow", "", "", "0"}));
  EXPECT_EQ(retried.kind, ItemKind::image);
  EXPECT_EQ(retried.status, ItemStatus::queued);
  EXPECT_FALSE(retried.error);

  auto done = read_item_result(TextRow({"6", "image", "img", "done", "1", "new-image", "key", null, null, "", "", "0"}));
  EXPECT_EQ(done.image_id, "new-image");
  EXPECT_EQ(done.derivative_key, "key");
  EXPECT_FALSE(done.error);
  EXPECT_EQ(done.output, JobOutput{});

  auto kept = read_item_result(TextRow({"7", "url", "https://x/b.jpg", "done", "1", "", "", null, null, "k1", "webp", "1700"}));
  EXPECT_EQ(kept.output, (JobOutput{"k1", "webp", 1700}));
}

TEST(ReadClaimedItem, MapsEveryColumn) {
  auto item = read_claimed_item(TextRow({"7", "", "variant", "img", "thumb", "2", "3", "11"}));
  EXPECT_EQ(item.id, 7);
  EXPECT_TRUE(item.job_id.empty());
  EXPECT_EQ(item.kind, ItemKind::variant);
  EXPECT_EQ(item.source, "img");
  EXPECT_EQ(item.variant, "thumb");
  EXPECT_EQ(item.attempts, 2);
  EXPECT_EQ(item.max_attempts, 3);
  EXPECT_EQ(item.lease_token, 11);

  auto finished = finished_item(item);
  EXPECT_TRUE(finished.job_id.empty());
  EXPECT_EQ(finished.kind, ItemKind::variant);
  EXPECT_EQ(finished.source, "img");
  EXPECT_EQ(finished.variant, "thumb");
}

TEST(ReadFinishedItem, MapsEveryColumn) {
  auto item = read_finished_item(TextRow({"j1", "url", "https://x/a.jpg", ""}));
  EXPECT_EQ(item.job_id, "j1");
  EXPECT_EQ(item.kind, ItemKind::url);
  EXPECT_EQ(item.source, "https://x/a.jpg");
  EXPECT_TRUE(item.variant.empty());
}

TEST(ReadVariant, CarriesItsError) {
  auto ready = read_variant(TextRow({"ready", "key", null, null}));
  EXPECT_EQ(ready.status, "ready");
  EXPECT_EQ(ready.derivative_key, "key");
  EXPECT_FALSE(ready.error);
  auto failed = read_variant(TextRow({"failed", "", "unprocessable", "no"}));
  ASSERT_TRUE(failed.error);
  EXPECT_EQ(failed.error->code, "unprocessable");
  EXPECT_EQ(failed.error->message, "no");
}

TEST(Names, RoundTripAndRefuseUnknownOnes) {
  for (auto k : {ItemKind::image, ItemKind::url, ItemKind::variant}) EXPECT_EQ(parse_item_kind(item_kind_name(k)), k);
  for (auto s : {ItemStatus::queued, ItemStatus::running, ItemStatus::done, ItemStatus::failed, ItemStatus::cancelled})
    EXPECT_EQ(parse_item_status(item_status_name(s)), s);
  for (auto s : {JobStatus::queued, JobStatus::running, JobStatus::completed, JobStatus::failed, JobStatus::partial,
                 JobStatus::cancelled})
    EXPECT_EQ(parse_job_status(job_status_name(s)), s);
  EXPECT_EQ(item_kind_name(ItemKind::url), "url");
  EXPECT_FALSE(parse_item_kind("URL"));
  EXPECT_FALSE(parse_item_status(""));
  EXPECT_FALSE(parse_job_status("done"));
}

TEST(ImageForInsert, FillsDefaultsAndNormalisesTags) {
  core::ImageRecord in;
  in.sha256 = "abc";
  in.tags = {" Beach", "SEA", "beach", ""};
  in.variants = {{"thumb", "ready"}, {"small", ""}};
  auto out = image_for_insert(in);
  EXPECT_TRUE(core::looks_like_id(out.id));
  EXPECT_GT(out.created_at, 1600000000);
  EXPECT_EQ(out.metadata_json, "{}");
  EXPECT_EQ(out.tags, (std::vector<std::string>{"beach", "sea"}));
  EXPECT_EQ(out.variants, (std::map<std::string, std::string>{{"small", "pending"}, {"thumb", "pending"}}));

  in.id = "given";
  in.created_at = 5;
  in.metadata_json = R"({"a":1})";
  out = image_for_insert(in);
  EXPECT_EQ(out.id, "given");
  EXPECT_EQ(out.created_at, 5);
  EXPECT_EQ(out.metadata_json, R"({"a":1})");
}

TEST(ImageForInsert, RefusesRecordsThatBreakTheRules) {
  core::ImageRecord bad;
  EXPECT_THROW(image_for_insert(bad), std::invalid_argument);  // no sha256
  bad.sha256 = "abc";
  for (std::string meta : {"[1,2]", "{", "\"text\"", "null"}) {
    bad.metadata_json = meta;
    EXPECT_THROW(image_for_insert(bad), std::invalid_argument) << meta;
  }
}

TEST(JobSpecForInsert, FillsDefaults) {
  auto spec = job_spec_for_insert(JobSpec{.max_attempts = 0}, 1'700'000'000'999);
  EXPECT_TRUE(core::looks_like_id(spec.id));
  EXPECT_EQ(spec.created_at, 1'700'000'000);
  EXPECT_EQ(spec.max_attempts, 1);
  auto given = job_spec_for_insert(JobSpec{.id = "j", .max_attempts = 5, .created_at = 7}, 1'700'000'000'999);
  EXPECT_EQ(given.id, "j");
  EXPECT_EQ(given.created_at, 7);
  EXPECT_EQ(given.max_attempts, 5);
}
