// Fuzzes the streaming multipart parser. The first byte picks the chunk size
// (0 = the whole body at once); the rest is the body, with the fixed
// boundary "fuzz". A parse must succeed or throw core::Error, never crash,
// and must give the same parts, data and error whatever the chunking.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "http/multipart.hpp"

namespace {

using progimage::http::MultipartHandler;
using progimage::http::MultipartLimits;
using progimage::http::MultipartParser;
using progimage::http::PartHeaders;

void check(bool ok) {
  if (!ok) std::abort();
}

// Records everything as one transcript, so two parses compare as strings.
class Transcript : public MultipartHandler {
 public:
  std::string text;
  bool open = false;

  void on_part_begin(const PartHeaders& h) override {
    check(!open);
    open = true;
    text += "<begin name=" + h.name + " file=" + (h.filename ? "1" + *h.filename : "0") +
            " type=" + h.content_type + " n=" + std::to_string(h.headers.size()) + ">";
  }
  void on_part_data(std::string_view data) override {
    check(open && !data.empty());
    text += data;
  }
  void on_part_end() override {
    check(open);
    open = false;
    text += "<end>";
  }
};

std::string parse(std::string_view body, std::size_t chunk) {
  MultipartLimits limits;
  limits.max_header_bytes = 256;  // small, so the fuzzer reaches the limits
  limits.max_parts = 8;
  Transcript transcript;
  try {
    MultipartParser parser("fuzz", transcript, limits);
    if (chunk == 0) {
      parser.feed(body);
    } else {
      for (std::size_t at = 0; at < body.size(); at += chunk) parser.feed(body.substr(at, chunk));
    }
    parser.finish();
    check(parser.done() && !transcript.open);
  } catch (const progimage::core::Error& e) {
    check(e.code() == progimage::core::ErrorCode::bad_multipart);
    transcript.text += "<error ";
    transcript.text += e.what();
    transcript.text += ">";
  }
  return transcript.text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0] % 65;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::string whole = parse(body, 0);
  if (chunk != 0) check(parse(body, chunk) == whole);

  // The same bytes as a Content-Type header value.
  if (const auto boundary = progimage::http::boundary_from_content_type(body)) {
    check(!boundary->empty() && boundary->size() <= 70);
  }
  return 0;
}
