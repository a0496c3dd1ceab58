#pragma once
// How a long command shows how far it is: a bar redrawn in place on stderr
// when it is a terminal, a plain line now and then otherwise, or nothing
// (--json, whose lines are the output). Knows nothing of the commands.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace progimage::cli {

class Progress {
 public:
  enum class Mode {
    bar,    ///< `[=====>    ] 12/40 files  3.1/9.8 MB  ETA 4s`, redrawn in place
    lines,  ///< `12/40 items  ETA 4s` when the count moved, at most once a second
    none,
  };
  /// The bar when stderr is a terminal whose TERM is not "dumb"; otherwise
  /// `piped` (lines, or none when the command prints lines of its own).
  static Mode choose(bool json, Mode piped = Mode::lines);

  /// `unit` names the items ("files", "items"); `label` leads plain lines.
  Progress(Mode mode, std::string unit, std::string label = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void set_total(std::int64_t items, std::int64_t bytes = 0);
  /// Where the work stands (absolute counts); shown when it is time to.
  void update(std::int64_t items, std::int64_t bytes = 0);
  /// Writes a whole line to `stream` without tearing the bar: the bar's line
  /// is cleared first and drawn again below it.
  void print(std::FILE* stream, std::string_view line);
  /// The last state shown once more, and the bar's line ended.
  void finish();

  Mode mode() const { return mode_; }

 private:
  using Clock = std::chrono::steady_clock;
  void draw(bool final);
  std::string counts() const;
  /// How much is done, 0–1.
  double fraction() const;
  /// Seconds left, from bytes when there are any, else from items; -1 while unknown.
  double eta() const;

  std::mutex mutex_;
  Mode mode_;
  std::string unit_, label_;
  std::int64_t items_total_ = 0, bytes_total_ = 0, items_ = 0, bytes_ = 0, items_shown_ = -1;
  Clock::time_point started_, drawn_{};
  bool on_screen_ = false, finished_ = false;
};

}  // namespace progimage::cli
