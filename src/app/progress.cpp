#include "app/progress.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace progimage::app {

namespace {

using namespace std::chrono_literals;

/// A bar redraws at most this often; plain lines and JSON events come this far apart.
constexpr auto kBarRedraw = 100ms;
constexpr auto kLineEvery = 5s;
constexpr auto kJsonEvery = 1s;
constexpr int kBarWidth = 24;

}  // namespace

ProgressStyle default_progress_style() { return ::isatty(STDERR_FILENO) ? ProgressStyle::bar : ProgressStyle::lines; }

std::string human_bytes(std::int64_t bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_duration(double seconds) {
  const auto s = static_cast<long>(std::lround(std::max(0.0, seconds)));
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  return buf;
}

void Progress::phase(std::string_view name, std::int64_t items, std::int64_t bytes) {
  end_phase();
  name_ = name;
  items_total_ = items;
  bytes_total_ = bytes;
  items_ = bytes_ = 0;
  started_ = shown_ = Clock::now();
  open_ = true;
  if (style_ == ProgressStyle::json) {
    boost::json::object e{{"event", "phase"}, {"phase", name_}, {"items", items}, {"bytes", bytes}};
    std::printf("%s\n", boost::json::serialize(e).c_str());
    std::fflush(stdout);
  } else if (style_ == ProgressStyle::lines) {
    std::fprintf(stderr, "%s: %lld items%s\n", name_.c_str(), static_cast<long long>(items),
                 bytes ? (", " + human_bytes(bytes)).c_str() : "");
  } else {
    show(false);
  }
}

void Progress::advance(std::int64_t items, std::int64_t bytes) {
  items_ += items;
  bytes_ += bytes;
  const auto every = style_ == ProgressStyle::bar ? kBarRedraw : style_ == ProgressStyle::json ? kJsonEvery : kLineEvery;
  if (Clock::now() - shown_ >= every) show(false);
}

void Progress::end_phase() {
  if (!open_) return;
  show(true);
  open_ = false;
}

double Progress::seconds() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }

double Progress::eta() const {
  const double t = seconds();
  const bool by_bytes = bytes_total_ > 0 && bytes_ > 0;
  const double done = by_bytes ? static_cast<double>(bytes_) / bytes_total_
                               : items_total_ > 0 ? static_cast<double>(items_) / items_total_ : 0;
  if (done <= 0 || t < 0.5) return -1;
  return t * (1 - std::min(done, 1.0)) / done;
}

std::string Progress::status_text() const {
  std::string out = std::to_string(items_) + "/" + std::to_string(items_total_) + " items";
  if (bytes_total_ > 0) out += "  " + human_bytes(bytes_) + "/" + human_bytes(bytes_total_);
  const double t = seconds();
  if (bytes_ > 0 && t > 0.5) out += "  " + human_bytes(static_cast<std::int64_t>(bytes_ / t)) + "/s";
  return out;
}

void Progress::show(bool final) {
  shown_ = Clock::now();
  switch (style_) {
    case ProgressStyle::none: return;
    case ProgressStyle::json: {
      if (final) return;  // the summary follows
      boost::json::object e{{"event", "progress"}, {"phase", name_},        {"items_done", items_},
                            {"items", items_total_}, {"bytes_done", bytes_}, {"bytes", bytes_total_}};
      if (const double left = eta(); left >= 0) e["eta_seconds"] = std::round(left);
      std::printf("%s\n", boost::json::serialize(e).c_str());
      std::fflush(stdout);
      return;
    }
    case ProgressStyle::lines: {
      const double left = eta();
      std::fprintf(stderr, "%s: %s%s\n", name_.c_str(), status_text().c_str(),
                   final ? ("  done in " + human_duration(seconds())).c_str()
                         : left >= 0 ? ("  ETA " + human_duration(left)).c_str() : "");
      return;
    }
    case ProgressStyle::bar: {
      const double done = bytes_total_ > 0 ? static_cast<double>(bytes_) / bytes_total_
                          : items_total_ > 0 ? static_cast<double>(items_) / items_total_ : 1;
      const int filled = final ? kBarWidth : static_cast<int>(std::clamp(done, 0.0, 1.0) * kBarWidth);
      const double left = eta();
      const std::string tail = final ? "  " + human_duration(seconds())
                               : left >= 0 ? "  ETA " + human_duration(left) : "";
      // \r and erase-to-end redraw the one line in place.
      std::fprintf(stderr, "\r%-20s [%s%s] %3d%%  %s%s\x1b[K%s", name_.c_str(), std::string(filled, '#').c_str(),
                   std::string(kBarWidth - filled, '-').c_str(), final ? 100 : static_cast<int>(done * 100),
                   status_text().c_str(), tail.c_str(), final ? "\n" : "");
      std::fflush(stderr);
      return;
    }
  }
}

}  // namespace progimage::app
