#include "errors.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <new>

#include "config.hpp"
#include "output.hpp"

namespace progimage::cli {

std::string advice(const progimage::Error& e, const Settings& s) {
  const std::string& code = e.code();
  if (code == "connection_failed")
    return "is a server running at " + s.server.value + " (from " + s.server.source +
           ")? Set --server, PROGIMAGE_URL, or server= in your profile";
  if (code == "timeout" && e.status() == 0) return "the server did not answer in time; try again";
  if (e.status() == 401) {
    if (s.key.empty()) return "this server needs a key: set PROGIMAGE_KEY or --key, or add key= to your profile";
    return "the key from " + s.key.source +
           " was refused: set PROGIMAGE_KEY or --key, or add key= to your profile, with a valid key";
  }
  if (code == "bad_signature" || code == "url_expired")
    return "the server signs transform URLs: give its signing secret with --secret, PROGIMAGE_SIGNING_SECRET, "
           "or signing_secret= in your profile";
  if (code == "forbidden") return "the key's role is too low for this (reads need read, changes write, keys and stats admin)";
  if (code == "quota_exceeded") return "the tenant's storage quota is full: delete images or ask for a larger quota";
  if (code == "not_found") return "check the id (an image or job of another tenant is not found either)";
  if (code == "rate_limited" || code == "overloaded" || code == "unavailable")
    return "the server is busy; try again later, or with a lower --concurrency";
  if (code == "payload_too_large") return "the file is over the server's upload limit (--max-upload-bytes of the server)";
  return {};
}

boost::json::object error_json(const progimage::Error& e) {
  return {{"status", e.status()}, {"code", e.code()}, {"message", e.what()}, {"request_id", e.request_id()}};
}

std::string describe(const progimage::Error& e) {
  std::string out = e.code() + ": " + e.what();
  if (e.status() != 0 || !e.request_id().empty()) {
    out += " (";
    if (e.status() != 0) out += std::to_string(e.status());
    if (!e.request_id().empty()) out += std::string(e.status() != 0 ? ", " : "") + "request id " + e.request_id();
    out += ")";
  }
  return out;
}

int report_failure(std::exception_ptr failure, Output& out, const Settings* settings) {
  auto fail = [&](int status, const std::string& message, const std::string& hint,
                  boost::json::object error) {
    if (out.json()) out.emit(boost::json::object{{"error", std::move(error)}});
    out.note("progimage-cli: " + message);
    if (!hint.empty()) out.note("hint: " + hint);
    return status;
  };
  try {
    std::rethrow_exception(failure);
  } catch (const progimage::Error& e) {
    return fail(kExitFailed, describe(e), settings ? advice(e, *settings) : "", error_json(e));
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what(), "run with --help for examples",
                {{"code", "usage"}, {"message", e.what()}});
  } catch (const std::filesystem::filesystem_error& e) {
    return fail(kExitFailed, e.what(), "", {{"code", "file"}, {"message", e.what()}});
  } catch (const std::bad_alloc&) {
    return fail(kExitFailed, "out of memory", "", {{"code", "memory"}, {"message", "out of memory"}});
  } catch (const std::exception& e) {
    return fail(kExitFailed, e.what(), "", {{"code", "failed"}, {"message", e.what()}});
  }
}

}  // namespace progimage::cli
