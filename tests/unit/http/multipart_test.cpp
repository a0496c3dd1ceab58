#include "http/multipart.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace progimage::http {
namespace {

using core::ErrorCode;

constexpr std::string_view kCurlBoundary = "------------------------d74496d66958873e";

struct Part {
  PartHeaders headers;
  std::string data;
  bool ended = false;
  std::size_t data_calls = 0;
};

bool operator==(const PartHeaders& a, const PartHeaders& b) {
  return a.name == b.name && a.filename == b.filename && a.content_type == b.content_type &&
         a.headers == b.headers;
}
bool operator==(const Part& a, const Part& b) {
  return a.headers == b.headers && a.data == b.data && a.ended == b.ended;
}

// What one parse produced: the parts, and the error if it failed.
struct Outcome {
  std::vector<Part> parts;
  std::optional<std::string> error;
  bool operator==(const Outcome&) const = default;
};

class Recorder : public MultipartHandler {
 public:
  std::vector<Part> parts;
  void on_part_begin(const PartHeaders& headers) override {
    ASSERT_TRUE(parts.empty() || parts.back().ended) << "part began inside another";
    parts.push_back(Part{headers, {}, false, 0});
  }
  void on_part_data(std::string_view data) override {
    ASSERT_FALSE(parts.empty());
    ASSERT_FALSE(parts.back().ended);
    ASSERT_FALSE(data.empty()) << "empty on_part_data";
    parts.back().data += data;
    ++parts.back().data_calls;
  }
  void on_part_end() override {
    ASSERT_FALSE(parts.empty());
    ASSERT_FALSE(parts.back().ended);
    parts.back().ended = true;
  }
};

// Feeds `body` cut at `cuts` (ascending offsets), then finishes.
Outcome parse_cut(std::string_view body, const std::vector<std::size_t>& cuts,
                  std::string_view boundary = kCurlBoundary, MultipartLimits limits = {}) {
  Recorder recorder;
  Outcome outcome;
  try {
    MultipartParser parser(boundary, recorder, limits);
    std::size_t at = 0;
    for (const std::size_t cut : cuts) {
      parser.feed(body.substr(at, cut - at));
      at = cut;
    }
    parser.feed(body.substr(at));
    parser.finish();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_multipart);
    outcome.error = e.what();
  }
  outcome.parts = std::move(recorder.parts);
  return outcome;
}

Outcome parse_chunked(std::string_view body, std::size_t chunk,
                      std::string_view boundary = kCurlBoundary, MultipartLimits limits = {}) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = chunk; at < body.size(); at += chunk) cuts.push_back(at);
  return parse_cut(body, cuts, boundary, limits);
}

// Parses `body` whole, in chunks of every size and split in two at every
// byte; asserts every way gives the same outcome and returns it.
Outcome parse_all_ways(std::string_view body, std::string_view boundary = kCurlBoundary,
                       MultipartLimits limits = {}) {
  const Outcome whole = parse_cut(body, {}, boundary, limits);
  for (std::size_t chunk = 1; chunk <= body.size(); ++chunk) {
    const Outcome chunked = parse_chunked(body, chunk, boundary, limits);
    EXPECT_EQ(chunked, whole) << "chunk size " << chunk;
    if (chunked != whole) break;
  }
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    const Outcome split = parse_cut(body, {cut}, boundary, limits);
    EXPECT_EQ(split, whole) << "split at " << cut;
    if (split != whole) break;
  }
  return whole;
}

std::string binary_payload() {
  std::string data;
  for (int i = 0; i < 256; ++i) data += static_cast<char>(i);
  // Near misses of the delimiter "\r\n--" + boundary.
  data += "--";
  data += kCurlBoundary;  // boundary without the CRLF before it
  data += "\r\n-";
  data += "\r\n--";
  data += kCurlBoundary.substr(0, 20);
  data += "\r\r\n\r\n--";
  data += kCurlBoundary.substr(0, kCurlBoundary.size() - 1);
  data += "\r\n";
  data += kCurlBoundary;
  data += "\r\n--";
  data += kCurlBoundary;
  data += "x";  // a longer boundary: data, not a delimiter
  data += "\r\n--";
  data += kCurlBoundary;
  data += "-x";  // one dash: data, not a close
  data += '\0';
  data += "\r";
  return data;
}

std::string curl_body(const std::string& file_a, const std::string& file_b) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  return dash + "\r\n" +
         "Content-Disposition: form-data; name=\"description\"\r\n\r\n"
         "sunset at #beach\r\n" +
         dash + "\r\n" +
         "Content-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
         "Content-Type: image/jpeg\r\n\r\n" +
         file_a + "\r\n" + dash + "\r\n" +
         "Content-Disposition: form-data; name=\"image\"; filename=\"b.png\"\r\n"
         "Content-Type: image/png\r\n\r\n" +
         file_b + "\r\n" + dash + "\r\n" +
         "Content-Disposition: form-data; name=\"tags\"\r\n\r\n"
         "beach,sea\r\n" +
         dash + "--\r\n";
}

// A body with one part whose headers are `headers` (CRLF-terminated lines).
std::string one_part(std::string_view headers, std::string_view data = "x") {
  const std::string dash = "--" + std::string(kCurlBoundary);
  return dash + "\r\n" + std::string(headers) + "\r\n" + std::string(data) + "\r\n" + dash +
         "--\r\n";
}

void expect_error(const Outcome& outcome, std::string_view fragment) {
  ASSERT_TRUE(outcome.error.has_value()) << "expected an error containing: " << fragment;
  EXPECT_NE(outcome.error->find(fragment), std::string::npos) << *outcome.error;
}

TEST(Multipart, CurlStyleBodyWithFilesAndFields) {
  const std::string a = binary_payload();
  const std::string b = "\x89PNG\r\n\x1a\n" + std::string(100, '\0');
  const Outcome out = parse_all_ways(curl_body(a, b));
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 4u);

  EXPECT_EQ(out.parts[0].headers.name, "description");
  EXPECT_FALSE(out.parts[0].headers.filename);
  EXPECT_EQ(out.parts[0].headers.content_type, "");
  EXPECT_EQ(out.parts[0].data, "sunset at #beach");

  EXPECT_EQ(out.parts[1].headers.name, "image");
  EXPECT_EQ(out.parts[1].headers.filename, "a.jpg");
  EXPECT_EQ(out.parts[1].headers.content_type, "image/jpeg");
  EXPECT_EQ(out.parts[1].data, a);
  ASSERT_EQ(out.parts[1].headers.headers.size(), 2u);
  EXPECT_EQ(out.parts[1].headers.headers[1].first, "Content-Type");
  EXPECT_EQ(out.parts[1].headers.headers[1].second, "image/jpeg");

  EXPECT_EQ(out.parts[2].headers.filename, "b.png");
  EXPECT_EQ(out.parts[2].headers.content_type, "image/png");
  EXPECT_EQ(out.parts[2].data, b);

  EXPECT_EQ(out.parts[3].headers.name, "tags");
  EXPECT_EQ(out.parts[3].data, "beach,sea");
  for (const Part& p : out.parts) EXPECT_TRUE(p.ended);
}

TEST(Multipart, EveryThreeWaySplitOfASmallBody) {
  const std::string body = one_part(
      "Content-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n", "ab\r\n--q\r");
  const Outcome whole = parse_cut(body, {}, kCurlBoundary);
  ASSERT_FALSE(whole.error);
  ASSERT_EQ(whole.parts.size(), 1u);
  EXPECT_EQ(whole.parts[0].data, "ab\r\n--q\r");
  for (std::size_t i = 0; i <= body.size(); ++i) {
    for (std::size_t j = i; j <= body.size(); ++j) {
      ASSERT_EQ(parse_cut(body, {i, j}), whole) << i << "," << j;
    }
  }
}

TEST(Multipart, DataIsStreamedNotBuffered) {
  // A 1 MiB part fed in 4 KiB chunks arrives in many pieces.
  const std::string big(1 << 20, 'z');
  const std::string body = one_part("Content-Disposition: form-data; name=\"f\"\r\n", big);
  const Outcome out = parse_chunked(body, 4096);
  ASSERT_FALSE(out.error);
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, big);
  EXPECT_GE(out.parts[0].data_calls, big.size() / 4096);
}

TEST(Multipart, QuotedFilenameWithEscapes) {
  const Outcome out = parse_all_ways(one_part(
      "Content-Disposition: form-data; name=\"a;b\"; filename=\"say \\\"hi\\\" \\\\ ok.jpg\"\r\n"));
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].headers.name, "a;b");
  EXPECT_EQ(out.parts[0].headers.filename, "say \"hi\" \\ ok.jpg");
}

TEST(Multipart, BareBackslashesInFilenameAreKept) {
  const Outcome out = parse_cut(
      one_part("Content-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\me\\a.jpg\"\r\n"),
      {});
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.parts.at(0).headers.filename, "C:\\Users\\me\\a.jpg");
}

TEST(Multipart, ExtendedFilenameWinsOverPlainOne) {
  Outcome out = parse_all_ways(one_part(
      "Content-Disposition: form-data; name=\"f\"; filename=\"fallback.jpg\"; "
      "filename*=UTF-8''%E2%82%AC%20rates.jpg\r\n"));
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.parts.at(0).headers.filename, "\xE2\x82\xAC rates.jpg");

  out = parse_cut(one_part("Content-Disposition: form-data; name=f; "
                           "filename*=iso-8859-1'en'%A3.jpg\r\n"),
                  {});
  EXPECT_EQ(out.parts.at(0).headers.filename, "\xC2\xA3.jpg");

  // Unknown charset or a bad escape: the plain filename stands.
  out = parse_cut(one_part("Content-Disposition: form-data; name=f; filename=plain.jpg; "
                           "filename*=koi8-r''%E1.jpg\r\n"),
                  {});
  EXPECT_EQ(out.parts.at(0).headers.filename, "plain.jpg");
  out = parse_cut(one_part("Content-Disposition: form-data; name=f; filename=plain.jpg; "
                           "filename*=UTF-8''%G1.jpg\r\n"),
                  {});
  EXPECT_EQ(out.parts.at(0).headers.filename, "plain.jpg");
}

TEST(Multipart, PartWithoutContentType) {
  const Outcome out = parse_all_ways(
      one_part("Content-Disposition: form-data; name=\"image\"; filename=\"b.jpg\"\r\n",
               "\xFF\xD8\xFF"));
  ASSERT_FALSE(out.error);
  EXPECT_EQ(out.parts.at(0).headers.content_type, "");
  EXPECT_EQ(out.parts.at(0).headers.filename, "b.jpg");
  EXPECT_EQ(out.parts.at(0).data, "\xFF\xD8\xFF");
}

TEST(Multipart, EmptyFilenameIsPresentButEmpty) {
  const Outcome out = parse_cut(
      one_part("Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
               "Content-Type: application/octet-stream\r\n",
               ""),
      {});
  ASSERT_FALSE(out.error);
  ASSERT_TRUE(out.parts.at(0).headers.filename.has_value());
  EXPECT_EQ(*out.parts.at(0).headers.filename, "");
}

TEST(Multipart, EmptyAndAbsentBodies) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  // Empty body ("\r\n" after the blank line), then a part with no body at
  // all: the CRLF that ends its headers is the delimiter's.
  const std::string body = dash + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n" +
                           dash + "\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n" +
                           dash + "\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n" +
                           dash + "x\r\n" + dash + "--";
  const Outcome out = parse_all_ways(body);
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[0].data, "");
  EXPECT_EQ(out.parts[0].data_calls, 0u);
  EXPECT_EQ(out.parts[1].data, "");
  EXPECT_EQ(out.parts[2].headers.name, "c");
  EXPECT_EQ(out.parts[2].data, dash + "x");  // "--boundaryx" opening a body is data
}

TEST(Multipart, PreambleAndEpilogueAreIgnored) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  const std::string body = "This is the preamble.\r\n" + dash + "x not a boundary\r\n" + dash +
                           "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n" +
                           dash + "--\r\nThe epilogue, with a " + dash + "\r\n in it.";
  const Outcome out = parse_all_ways(body);
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, "value");
}

TEST(Multipart, TransportPaddingAfterBoundary) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  const std::string body = dash + " \t \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
                           dash + "\t\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n" +
                           dash + "--  \r\n";
  const Outcome out = parse_all_ways(body);
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].data, "1");
  EXPECT_EQ(out.parts[1].data, "2");
}

TEST(Multipart, HeaderNamesAndParametersAreCaseInsensitive) {
  const Outcome out = parse_cut(
      one_part("content-disposition: FORM-DATA; NAME=\"f\"; FileName=x.gif\r\n"
               "CONTENT-TYPE:   image/gif  \r\n"
               "X-Custom: a\r\n  folded\r\n"),
      {});
  ASSERT_FALSE(out.error) << *out.error;
  const PartHeaders& h = out.parts.at(0).headers;
  EXPECT_EQ(h.name, "f");
  EXPECT_EQ(h.filename, "x.gif");
  EXPECT_EQ(h.content_type, "image/gif");
  ASSERT_NE(h.find("x-custom"), nullptr);
  EXPECT_EQ(*h.find("x-custom"), "a folded");
  EXPECT_EQ(h.find("missing"), nullptr);
}

TEST(Multipart, CloseWithoutPartsAndDataAfterClose) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  Outcome out = parse_all_ways(dash + "--\r\n");
  EXPECT_FALSE(out.error);
  EXPECT_TRUE(out.parts.empty());

  // Bytes after the close, even another part, are ignored.
  out = parse_all_ways(one_part("Content-Disposition: form-data; name=\"a\"\r\n") + dash +
                       "\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nb\r\n" + dash +
                       "--\r\n");
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.parts.size(), 1u);
}

TEST(Multipart, ShortBoundary) {
  const std::string body =
      "--a\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx--a\r\r\n-a\r\n--ab\r\n--a--";
  const Outcome out = parse_all_ways(body, "a");
  ASSERT_FALSE(out.error) << *out.error;
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, "x--a\r\r\n-a\r\n--ab");
}

TEST(Multipart, DoneAndPartCount) {
  Recorder recorder;
  MultipartParser parser(kCurlBoundary, recorder);
  const std::string body = curl_body("a", "b");
  parser.feed(body.substr(0, body.size() - 4));
  EXPECT_FALSE(parser.done());
  parser.feed(body.substr(body.size() - 4));
  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.part_count(), 4u);
  parser.finish();
}

// --- malformed bodies -------------------------------------------------------

TEST(MultipartMalformed, NoBoundaryInBody) {
  expect_error(parse_all_ways("just some text\r\nno boundary here"), "does not contain the boundary");
  expect_error(parse_cut("", {}), "does not contain the boundary");
  // A different boundary in the body.
  expect_error(parse_all_ways(one_part("Content-Disposition: form-data; name=a\r\n"), "other"),
               "does not contain the boundary");
}

TEST(MultipartMalformed, MissingClose) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  const std::string body = dash + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
  const Outcome out = parse_all_ways(body);
  expect_error(out, "ended before the closing boundary");
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].data, "value");
  EXPECT_FALSE(out.parts[0].ended);
  expect_error(parse_all_ways(body + "\r\n" + dash), "ended before the closing boundary");
  expect_error(parse_all_ways(body + "\r\n" + dash + "-"), "ended before the closing boundary");
  expect_error(parse_all_ways(dash + "\r\nContent-Disposition: form-data"),
               "ended before the closing boundary");
}

TEST(MultipartMalformed, HeadersTooLong) {
  MultipartLimits limits;
  limits.max_header_bytes = 100;
  // 98 bytes of header line + CRLF + blank line = 102 > 100.
  const std::string cd = "Content-Disposition: form-data; name=\"a\"";
  std::string line = cd + "; x=\"" + std::string(98 - cd.size() - 6, 'y') + "\"";
  ASSERT_EQ(line.size(), 98u);
  expect_error(parse_all_ways(one_part(line + "\r\n"), kCurlBoundary, limits),
               "headers exceed 100 bytes");
  // Exactly 100 bytes passes.
  line.erase(line.size() - 3, 2);
  EXPECT_FALSE(parse_all_ways(one_part(line + "\r\n"), kCurlBoundary, limits).error);
  // A never-ending header line fails without waiting for the end.
  const std::string endless = "--" + std::string(kCurlBoundary) + "\r\n" + std::string(10000, 'h');
  const Outcome out = parse_chunked(endless, 7, kCurlBoundary, limits);
  expect_error(out, "headers exceed 100 bytes");
  // Default limit is 8 KiB.
  expect_error(parse_cut(one_part(cd + "\r\nX: " + std::string(9000, 'v') + "\r\n"), {}),
               "headers exceed 8192 bytes");
}

TEST(MultipartMalformed, NoBlankLineAfterHeaders) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  expect_error(parse_all_ways(dash + "\r\nContent-Disposition: form-data; name=a\r\nvalue\r\n" +
                              dash + "--\r\n"),
               "malformed header line");
  expect_error(parse_all_ways(dash + "\r\nContent-Disposition: form-data; name=a\r\n" + dash +
                              "--\r\n"),
               "malformed header line");
  expect_error(parse_all_ways(one_part(": no name\r\n")), "malformed header line");
  expect_error(parse_all_ways(one_part("Bad Name: x\r\n")), "malformed header line");
  expect_error(parse_all_ways(one_part(" folded first\r\n")), "folded line");
  expect_error(parse_all_ways(one_part("Content-Disposition: form-data\n; name=a\r\n")),
               "bare CR, LF or NUL");
}

TEST(MultipartMalformed, BadContentDisposition) {
  expect_error(parse_all_ways(one_part("Content-Type: image/png\r\n")),
               "no Content-Disposition header");
  expect_error(parse_all_ways(one_part("Content-Disposition: attachment; filename=a\r\n")),
               "not form-data");
  expect_error(parse_all_ways(one_part("Content-Disposition: form-data; name=\"a\r\n")),
               "unterminated quoted string");
}

TEST(MultipartMalformed, TooManyParts) {
  MultipartLimits limits;
  limits.max_parts = 3;
  const std::string body = curl_body("a", "b");  // 4 parts
  const Outcome out = parse_all_ways(body, kCurlBoundary, limits);
  expect_error(out, "more than 3 parts");
  EXPECT_EQ(out.parts.size(), 3u);
  limits.max_parts = 4;
  EXPECT_FALSE(parse_cut(body, {}, kCurlBoundary, limits).error);
}

TEST(MultipartMalformed, BadBoundaryLines) {
  const std::string dash = "--" + std::string(kCurlBoundary);
  const std::string rest = "Content-Disposition: form-data; name=a\r\n\r\nv\r\n" + dash + "--\r\n";
  expect_error(parse_all_ways(dash + "\n" + rest), "bare LF");
  expect_error(parse_all_ways(dash + "  x\r\n" + rest), "unexpected characters after the boundary");
  expect_error(parse_all_ways(dash + "\rx" + rest), "does not end with CRLF");
  // LF-only bodies (not supported, see the class comment).
  expect_error(parse_all_ways(dash + "\nContent-Disposition: form-data; name=a\n\nv\n" + dash +
                              "--\n"),
               "bare LF");
}

TEST(MultipartMalformed, InvalidBoundaryIsRejectedUpFront) {
  Recorder recorder;
  EXPECT_THROW(MultipartParser("", recorder), core::Error);
  EXPECT_THROW(MultipartParser(std::string(71, 'a'), recorder), core::Error);
  EXPECT_THROW(MultipartParser("a\r\nb", recorder), core::Error);
  EXPECT_THROW(MultipartParser("trailing ", recorder), core::Error);
  EXPECT_NO_THROW(MultipartParser(std::string(70, 'a'), recorder));
}

TEST(MultipartMalformed, HandlerExceptionPropagatesAndStopsTheParser) {
  struct Thrower : Recorder {
    void on_part_data(std::string_view) override {
      throw core::Error(ErrorCode::payload_too_large, "too big");
    }
  } handler;
  MultipartParser parser(kCurlBoundary, handler);
  try {
    parser.feed(curl_body("a", "b"));
    FAIL() << "expected a throw";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::payload_too_large);
  }
  EXPECT_THROW(parser.feed("more"), core::Error);
  EXPECT_THROW(parser.finish(), core::Error);
}

// --- boundary_from_content_type ---------------------------------------------

TEST(BoundaryFromContentType, Accepts) {
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data;boundary=----WebKitFormBoundary7MA4"),
            "----WebKitFormBoundary7MA4");
  EXPECT_EQ(boundary_from_content_type("Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b:c\""),
            "a b:c");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data ; boundary = abc ; x=y"), "abc");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; x=\"boundary=no;\"; boundary=yes"),
            "yes");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=" + std::string(70, 'b')),
            std::string(70, 'b'));
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=" +
                                       std::string(kCurlBoundary)),
            std::string(kCurlBoundary));
}

TEST(BoundaryFromContentType, Rejects) {
  EXPECT_EQ(boundary_from_content_type("multipart/mixed; boundary=abc"), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("application/json"), std::nullopt);
  EXPECT_EQ(boundary_from_content_type(""), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data"), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary="), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=\"\""), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=\"abc"), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=a@b"), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=\"ab \""), std::nullopt);
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=" + std::string(71, 'b')),
            std::nullopt);
}

}  // namespace
}  // namespace progimage::http
