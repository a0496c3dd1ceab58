#pragma once
// How a long command shows its progress: a bar redrawn in place on a
// terminal, a plain line now and then otherwise, or JSON lines for scripts.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "copy/copier.hpp"

namespace progimage::app {

enum class ProgressStyle { bar, lines, json, none };

/// The bar on a terminal (stderr), lines when stderr is a file or a pipe.
ProgressStyle default_progress_style();

/// Shows each phase with its items, bytes, rate and the time left. Bar and
/// lines go to stderr; JSON events ({"event": "phase"|"progress", ...}) to
/// stdout, where the summary follows.
class Progress final : public copy::Observer {
 public:
  explicit Progress(ProgressStyle style) : style_(style) {}
  ~Progress() override { end_phase(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void phase(std::string_view name, std::int64_t items, std::int64_t bytes) override;
  void advance(std::int64_t items, std::int64_t bytes) override;
  /// Ends the current phase's display (the bar's line).
  void end_phase();

 private:
  using Clock = std::chrono::steady_clock;
  void show(bool final);
  std::string status_text() const;
  double seconds() const;
  /// Seconds left, from bytes when the phase moves bytes, else from items; -1 when unknown.
  double eta() const;

  ProgressStyle style_;
  std::string name_;
  std::int64_t items_total_ = 0, bytes_total_ = 0, items_ = 0, bytes_ = 0;
  Clock::time_point started_{}, shown_{};
  bool open_ = false;
};

/// "1.5 MB", "340 B".
std::string human_bytes(std::int64_t bytes);
/// "4s", "3m12s", "2h05m".
std::string human_duration(double seconds);

}  // namespace progimage::app
