// Submits a job over every image with a tag and waits for it with a progress
// line, then lists where the results are.
//
//   PROGIMAGE_URL=http://127.0.0.1:8080 bulk_job beach "w=640&format=webp"
#include <progimage/progimage.hpp>

#include <iostream>

/// A JSON string literal of `text` (quotes and backslashes escaped).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " TAG PARAMS\n";
    return 2;
  }
  try {
    progimage::Client client(progimage::ClientOptions::from_env());
    progimage::JobRequest request;
    request.query_json = "{\"tag\": [" + json_string(argv[1]) + "]}";
    request.params = progimage::Transform::parse(argv[2]).query();
    progimage::Job job = client.submit_job(request);
    std::cout << "job " << job.id << ": " << job.total << " images\n";

    job = client.wait_job(job.id, {.poll_interval = std::chrono::milliseconds(250), .on_progress = [](const progimage::Job& j) {
                                     std::cerr << "\r" << j.done + j.failed + j.cancelled << "/" << j.total << " "
                                               << j.status << "   " << std::flush;
                                   }});
    std::cerr << "\n";
    int failed = 0;
    for (const progimage::JobResult& r : client.job_results(job.id)) {
      if (r.error_code) {
        ++failed;
        std::cout << r.source << ": " << *r.error_code << " " << r.error_message.value_or("") << "\n";
      } else {
        std::cout << r.source << ": " << (r.image_id.empty() ? r.url : r.image_id) << "\n";
      }
    }
    std::cout << job.status << ": " << job.done << " done, " << failed << " failed\n";
    return job.status == "completed" ? 0 : 1;
  } catch (const progimage::Error& e) {
    std::cerr << "error: " << e.code() << " (HTTP " << e.status() << "): " << e.what() << "\n";
    return 1;
  }
}
