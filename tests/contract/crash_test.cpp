// Contract point 10, slow tier: a write path that loses nothing. Rounds of
// 200 concurrent uploads, SIGKILL at a random moment, restart; every upload
// that got a 2xx must be there byte for byte, `progimage check` must find the
// catalog sound, and (with a file store) no staging file may be left.
#include <curl/curl.h>
#include <sys/wait.h>

#include <cstdlib>
#include <iostream>
#include <random>

#include "harness.hpp"

namespace progimage::contract {
namespace {

struct Upload {
  std::string bytes;
  std::string response;
  long status = 0;
  std::string id;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
};

size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

::testing::AssertionResult staging_is_empty(const fs::path& blobs) {
  fs::path staging = blobs / "staging";
  if (!fs::is_directory(staging)) return ::testing::AssertionFailure() << staging << " does not exist";
  for (const auto& e : fs::recursive_directory_iterator(staging))
    if (e.is_regular_file()) return ::testing::AssertionFailure() << "staging file left: " << e.path();
  return ::testing::AssertionSuccess();
}

int rounds() {
  if (const char* v = std::getenv("CONTRACT_CRASH_ROUNDS")) return std::max(1, std::atoi(v));
  return 3;
}

TEST(Crash, KillDuringConcurrentUploadsLosesNothingAcknowledged) {
  constexpr int kUploads = 200;
  std::mt19937 rng(std::random_device{}());
  // A processing queue that holds every upload: this test is about durability, not backpressure.
  // No background workers: right after a restart they would render the queued
  // variants through staging files, which this test must find empty (the
  // jobs crash test covers variants after a crash).
  Server server({.args = {"--processing-queue", "1000", "--workers", "0"}});
  ASSERT_TRUE(server.start());
  // Staging files are the file store's; another store is checked through the API only.
  const auto blobs = server.blob_dir();
  if (!blobs) std::cout << "staging not inspected: the storage " << server.storage_url() << " is not file://\n";
  std::vector<std::pair<std::string, std::string>> acknowledged;  // id, bytes

  for (int round = 0; round < rounds(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Upload> uploads(kUploads);
    for (int i = 0; i < kUploads; ++i) {
      std::uint32_t seed = 100000 + static_cast<std::uint32_t>(round) * 1000 + static_cast<std::uint32_t>(i);
      uploads[i].bytes = make_image(32 + i % 40, 24 + i % 17, seed ^ rng(), i % 2 ? ".png" : ".jpg");
    }
    const std::string url = server.base_url() + "/v1/images";
    CURLM* multi = curl_multi_init();
    for (auto& u : uploads) {
      u.easy = curl_easy_init();
      u.headers = curl_slist_append(nullptr, "Content-Type: application/octet-stream");
      curl_easy_setopt(u.easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(u.easy, CURLOPT_PROXY, "");
      curl_easy_setopt(u.easy, CURLOPT_HTTPHEADER, u.headers);
      curl_easy_setopt(u.easy, CURLOPT_POSTFIELDS, u.bytes.data());
      curl_easy_setopt(u.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(u.bytes.size()));
      curl_easy_setopt(u.easy, CURLOPT_WRITEFUNCTION, collect);
      curl_easy_setopt(u.easy, CURLOPT_WRITEDATA, &u.response);
      curl_easy_setopt(u.easy, CURLOPT_TIMEOUT_MS, 60000L);
      curl_easy_setopt(u.easy, CURLOPT_PRIVATE, &u);
      curl_multi_add_handle(multi, u.easy);
    }
    // Kill after a random number of answers, or at a random time, whichever comes first.
    const int kill_after_answers = std::uniform_int_distribution<int>(5, kUploads - 20)(rng);
    const auto kill_at = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 4000)(rng));
    int answered = 0, running = 0, answered_at_kill = -1;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    do {
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Upload* u = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&u));
        if (msg->data.result == CURLE_OK) curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &u->status);
        ++answered;
      }
      if (answered_at_kill < 0 && (answered >= kill_after_answers || std::chrono::steady_clock::now() >= kill_at)) {
        server.kill9();
        answered_at_kill = answered;
      }
      curl_multi_poll(multi, nullptr, 0, 20, nullptr);
    } while (running > 0 && std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(running, 0) << "uploads still running after 120 s";
    if (answered_at_kill < 0) {
      server.kill9();
      answered_at_kill = answered;
    }
    for (auto& u : uploads) {
      curl_multi_remove_handle(multi, u.easy);
      curl_easy_cleanup(u.easy);
      curl_slist_free_all(u.headers);
    }
    curl_multi_cleanup(multi);

    int ok = 0, failed_5xx = 0, overloaded = 0;
    for (auto& u : uploads) {
      if (u.status / 100 == 2) {
        boost::system::error_code ec;
        auto j = boost::json::parse(u.response, ec);
        EXPECT_FALSE(ec) << "2xx with a body that is not JSON: " << u.response.substr(0, 200);
        if (ec) continue;
        u.id = jstring(j, "id");
        EXPECT_FALSE(u.id.empty()) << u.response.substr(0, 200);
        EXPECT_EQ(jstring(j, "sha256"), sha256_hex(u.bytes));
        acknowledged.emplace_back(u.id, u.bytes);
        ++ok;
      } else if (u.status == 503) {
        ++overloaded;  // backpressure is allowed (contract point 11)
      } else if (u.status >= 500) {
        if (++failed_5xx <= 3) ADD_FAILURE() << "upload answered " << u.status << ": " << u.response.substr(0, 300);
      }
    }
    EXPECT_EQ(failed_5xx, 0) << "uploads answered 5xx other than 503 before the kill";
    std::cout << "round " << round << ": killed after " << answered_at_kill << " answers; " << ok
              << " uploads acknowledged, " << overloaded << " answered 503\n";

    ASSERT_TRUE(server.start()) << "server did not restart after SIGKILL";
    if (blobs) {
      EXPECT_TRUE(staging_is_empty(*blobs)) << "after restart (the start-up sweep must clear staging)";
    }
    int missing = 0;
    for (const auto& [id, bytes] : acknowledged) {
      auto r = server.http().get("/v1/images/" + id);
      if (r.status != 200 || r.body != bytes) {
        if (++missing <= 5) ADD_FAILURE() << "acknowledged upload " << id << " lost or changed: " << r.describe();
      }
    }
    EXPECT_EQ(missing, 0) << "of " << acknowledged.size() << " acknowledged uploads";
  }
  EXPECT_GE(acknowledged.size(), static_cast<std::size_t>(rounds()) * 5) << "too few uploads acknowledged to prove anything";
  int status = server.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "exit status " << status;
  auto [check_status, check_output] = server.check();
  EXPECT_TRUE(WIFEXITED(check_status) && WEXITSTATUS(check_status) == 0 && check_output == "ok\n")
      << "progimage check: status " << check_status << ", output:\n" << check_output;
}

}  // namespace
}  // namespace progimage::contract
