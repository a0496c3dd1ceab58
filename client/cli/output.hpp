#pragma once
// Human output or JSON lines (--json: one JSON document per line on stdout),
// and how the API's objects look in each.
#include <boost/json/value.hpp>

#include <cstdio>
#include <string>
#include <string_view>

#include "progimage/types.hpp"

namespace progimage::cli {

class Progress;

class Output {
 public:
  explicit Output(bool json = false) : json_(json) {}
  bool json() const { return json_; }
  void set_json(bool json) { json_ = json; }

  /// One JSON document on one line of stdout, flushed (so a pipe sees it at once).
  void emit(const boost::json::value& document);
  /// A line for people on stdout.
  void line(std::string_view text);
  /// A line for people on stderr: failures of one item, warnings, hints.
  void note(std::string_view text);

  /// While a progress bar is on the terminal, lines are written above it.
  void attach(Progress* progress) { progress_ = progress; }

 private:
  void write(std::FILE* stream, std::string_view text);
  bool json_;
  Progress* progress_ = nullptr;
};

/// Attaches a progress display to an Output for a scope, and detaches it
/// however the scope ends (an exception must not leave Output pointing at a
/// destroyed Progress).
class AttachedProgress {
 public:
  AttachedProgress(Output& out, Progress& progress) : out_(out) { out_.attach(&progress); }
  ~AttachedProgress() { out_.attach(nullptr); }
  AttachedProgress(const AttachedProgress&) = delete;
  AttachedProgress& operator=(const AttachedProgress&) = delete;

 private:
  Output& out_;
};

/// The object as the server sent it (`json`), or built from the fields when
/// the SDK left that empty.
boost::json::object to_json(const Image& image);
boost::json::object to_json(const ImageInfo& info);
boost::json::object to_json(const Job& job);
boost::json::object to_json(const JobResult& result);
boost::json::object to_json(const Key& key);
boost::json::object to_json(const UploadLink& link);
/// A report (usage, stats) parsed; a body that is not JSON is kept as a string.
boost::json::value to_json(const Report& report);

/// `4Jb1mX0cQe9T2vK7pLw8Aa  jpeg 1920x1080  524.5 kB  2026-11-22T10:15:00Z  sample.jpg  #beach`
std::string image_line(const Image& image);
/// `completed: 198 done, 2 failed, 0 cancelled of 200`
std::string job_counts(const Job& job);

}  // namespace progimage::cli
