#pragma once
// The one home of failures: what a command's error prints and which exit
// status it gives (0 all done, 1 something failed, 2 the command was wrong).
#include <exception>
#include <stdexcept>
#include <string>

#include <boost/json/object.hpp>

#include "progimage/error.hpp"

namespace progimage::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

/// The command line asks for something that cannot be done (exit status 2).
class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Settings;

/// What the user can do about an API error, "" when nothing general applies
/// (401 → where a key goes, connection refused → where the server is set…).
std::string advice(const progimage::Error& error, const Settings& settings);

/// `{"status", "code", "message", "request_id"}` of an API error.
boost::json::object error_json(const progimage::Error& error);

/// "unsupported_media: bytes are not … (415, request id …)".
std::string describe(const progimage::Error& error);

class Output;

/// Reports the exception a command ended with (stderr, and a JSON line on
/// stdout with --json) and returns its exit status.
int report_failure(std::exception_ptr failure, Output& out, const Settings* settings);

}  // namespace progimage::cli
