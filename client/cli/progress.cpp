#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "units.hpp"

namespace progimage::cli {

namespace {

using namespace std::chrono_literals;

constexpr auto kRedraw = 100ms;      // the bar, at most ~10 times a second
constexpr auto kLineEvery = 1s;      // plain lines, at most once a second
constexpr int kBarWidth = 30;

}  // namespace

Progress::Mode Progress::choose(bool json, Mode piped) {
  if (json) return Mode::none;
  const char* term = std::getenv("TERM");
  if (::isatty(STDERR_FILENO) && !(term && std::strcmp(term, "dumb") == 0)) return Mode::bar;
  return piped;
}

Progress::Progress(Mode mode, std::string unit, std::string label)
    : mode_(mode), unit_(std::move(unit)), label_(std::move(label)), started_(Clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::set_total(std::int64_t items, std::int64_t bytes) {
  std::lock_guard lock(mutex_);
  items_total_ = items;
  bytes_total_ = bytes;
}

void Progress::update(std::int64_t items, std::int64_t bytes) {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  items_ = items;
  bytes_ = bytes;
  const auto now = Clock::now();
  if (mode_ == Mode::bar && now - drawn_ >= kRedraw) draw(false);
  if (mode_ == Mode::lines && items_ != items_shown_ && now - drawn_ >= kLineEvery) draw(false);
}

void Progress::print(std::FILE* stream, std::string_view line) {
  std::lock_guard lock(mutex_);
  if (on_screen_) {
    std::fputs("\r\x1b[K", stderr);
    on_screen_ = false;
  }
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
  if (mode_ == Mode::bar && !finished_) draw(false);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == Mode::bar) draw(true);
  else if (mode_ == Mode::lines && items_ != items_shown_) draw(true);
}

double Progress::fraction() const {
  // Bytes move smoothly, items tell when answers came: half each when both are known.
  const auto part = [](std::int64_t done, std::int64_t total) {
    return std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  };
  if (bytes_total_ > 0 && items_total_ > 0) return (part(bytes_, bytes_total_) + part(items_, items_total_)) / 2;
  if (bytes_total_ > 0) return part(bytes_, bytes_total_);
  if (items_total_ > 0) return part(items_, items_total_);
  return 0;
}

double Progress::eta() const {
  const double t = std::chrono::duration<double>(Clock::now() - started_).count();
  const double done = fraction();
  if (done <= 0 || t < 0.3) return -1;
  return t * (1 - std::min(done, 1.0)) / done;
}

std::string Progress::counts() const {
  std::string out = std::to_string(items_) + "/" + std::to_string(items_total_) + " " + unit_;
  if (bytes_total_ > 0) {
    // "3.1/9.8 MB": the unit once when both sides share it.
    std::string done = human_bytes(bytes_), total = human_bytes(bytes_total_);
    const auto unit_at = [](const std::string& s) { return s.substr(s.find(' ')); };
    if (unit_at(done) == unit_at(total)) done = done.substr(0, done.find(' '));
    out += "  " + done + "/" + total;
  }
  return out;
}

void Progress::draw(bool final) {
  drawn_ = Clock::now();
  items_shown_ = items_;
  const double left = eta();
  std::string tail;
  if (final) tail = "  done in " + human_duration(std::chrono::duration<double>(drawn_ - started_).count());
  else if (left >= 0) tail = "  ETA " + human_duration(left);
  if (mode_ == Mode::lines) {
    std::fprintf(stderr, "%s%s%s\n", label_.empty() ? "" : (label_ + ": ").c_str(), counts().c_str(), tail.c_str());
    std::fflush(stderr);
    return;
  }
  const int filled = final && items_ >= items_total_ ? kBarWidth : static_cast<int>(fraction() * kBarWidth);
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kBarWidth) {
    if (filled > 0) bar.back() = '>';
    bar.append(static_cast<std::size_t>(kBarWidth - filled), ' ');
  }
  // \r and erase-to-end redraw the one line in place; the last draw ends it.
  std::fprintf(stderr, "\r%s[%s] %s%s\x1b[K%s", label_.empty() ? "" : (label_ + " ").c_str(), bar.c_str(),
               counts().c_str(), tail.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  on_screen_ = !final;
}

}  // namespace progimage::cli
