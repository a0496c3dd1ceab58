#pragma once
// Helpers shared by the job contract tests: submitting and polling jobs, and
// a loopback HTTP server (images to import, callback receiver).
#include <boost/json.hpp>

#include <thread>

#include "harness.hpp"
#include "../unit/fetch/test_server.hpp"

namespace progimage::contract::jobs {

using LoopbackServer = fetch::testing::TestServer;
using LoopbackRequest = fetch::testing::Request;

inline void answer(int fd, int status, std::string_view body, std::string_view type = "application/octet-stream") {
  std::string head = "HTTP/1.1 " + std::to_string(status) + (status < 300 ? " OK" : " Error") +
                     "\r\nContent-Type: " + std::string(type) + "\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  fetch::testing::send_all(fd, head);
  fetch::testing::send_all(fd, body);
}

inline boost::json::value post_json(const Http& http, const std::string& path, const boost::json::value& body) {
  auto r = http.request("POST", path, boost::json::serialize(body), {{"Content-Type", "application/json"}});
  auto j = r.json();
  return j ? *j : boost::json::value(boost::json::object{{"status_code", r.status}, {"raw", r.body}});
}

/// POST /v1/jobs; the job id, or "" (with a test failure) when not 202.
inline std::string submit(const Http& http, const boost::json::value& body) {
  auto r = http.request("POST", "/v1/jobs", boost::json::serialize(body), {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 202) << r.describe();
  auto j = r.json();
  if (!j) return {};
  return jstring(*j, "id");
}

inline boost::json::value get_job(const Http& http, const std::string& id, const std::string& query = "") {
  auto r = http.get("/v1/jobs/" + id + (query.empty() ? "" : "?" + query));
  auto j = r.json();
  return j ? *j : boost::json::value();
}

inline bool finished(const boost::json::value& job) {
  auto* f = jfind(job, "finished_at");
  return f && f->is_string();
}

/// Polls until the job has finished_at or the time is up; the last job object.
inline boost::json::value wait_finished(const Http& http, const std::string& id, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  boost::json::value job;
  while (std::chrono::steady_clock::now() < end) {
    job = get_job(http, id);
    if (finished(job)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return job;
}

/// Every result of a job, following next_cursor.
inline std::vector<boost::json::object> all_results(const Http& http, const std::string& id) {
  std::vector<boost::json::object> out;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    auto job = get_job(http, id, "limit=1000" + (cursor.empty() ? "" : "&cursor=" + url_encode(cursor)));
    auto* results = jfind(job, "results");
    if (!results || !results->is_array()) break;
    for (const auto& r : results->as_array()) out.push_back(r.as_object());
    auto* next = jfind(job, "next_cursor");
    if (!next || !next->is_string()) break;
    cursor = std::string(next->as_string());
  }
  return out;
}

}  // namespace progimage::contract::jobs
