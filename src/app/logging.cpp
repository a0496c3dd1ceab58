#include "app/logging.hpp"

#include <boost/json.hpp>
#include <spdlog/details/null_mutex.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace progimage::app {

namespace {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto t = msg.time;
    auto secs = time_point_cast<seconds>(t);
    auto ms = duration_cast<milliseconds>(t - secs).count();
    std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char ts[40];
    std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms));

    std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string line = "{\"ts\":\"";
    line += ts;
    line += "\",\"level\":\"";
    auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",";
    if (payload.size() >= 2 && payload.front() == '{' && payload.back() == '}') {
      line.append(payload.substr(1));  // already structured: merge its fields
    } else {
      line += "\"msg\":";
      line += boost::json::serialize(boost::json::string(payload));
      line += '}';
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

/// Writes each line to standard output with one write(2) and no lock. A
/// locked sink made the I/O threads queue behind each other's write for
/// every request (a futex per request under load). One write per line keeps
/// lines whole: Linux serialises writes to a file, and a pipe takes writes
/// up to PIPE_BUF (4 KB, longer than our lines) atomically.
class StdoutLineSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    std::size_t left = buf.size();
    while (left > 0) {
      ssize_t n = ::write(STDOUT_FILENO, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // nowhere to log to: dropping the line is all we can do
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  void flush_() override {}
};

}  // namespace

void setup_logging(const std::string& level) {
  auto sink = std::make_shared<StdoutLineSink>();
  auto logger = std::make_shared<spdlog::logger>("progimage", sink);
  logger->set_formatter(std::make_unique<JsonFormatter>());
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace progimage::app
