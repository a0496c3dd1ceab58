#include "core/json.hpp"

#include <boost/json/serializer.hpp>

#include <charconv>
#include <cmath>

namespace progimage::core {
namespace {

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  // Shortest text that reads back as the same double.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, end);
}

void append_string(std::string& out, boost::json::string_view sv) {
  // One serializer per thread, reused: Boost.JSON's escaping without an allocation per string.
  thread_local boost::json::serializer sr;
  sr.reset(sv);
  char buf[256];
  while (!sr.done()) out += sr.read(buf, sizeof buf);
}

void append(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; break;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case boost::json::kind::int64: out += std::to_string(v.get_int64()); break;
    case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case boost::json::kind::double_: append_double(out, v.get_double()); break;
    case boost::json::kind::string: append_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, e);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_string(out, k);
        out += ':';
        append(out, e);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string json_text(const boost::json::value& v) {
  std::string out;
  out.reserve(256);
  append(out, v);
  return out;
}

}  // namespace progimage::core
