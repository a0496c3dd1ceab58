#pragma once
// Push (chunk-fed) streaming parser for multipart/form-data bodies
// (RFC 7578 over the RFC 2046 framing). It never holds a whole part: between
// feeds it keeps at most one delimiter's worth of lookbehind, or the headers
// of the part being read.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace progimage::http {

/// The headers of one part, decoded from its header block.
struct PartHeaders {
  /// `name` parameter of Content-Disposition; empty when absent.
  std::string name;
  /// The file name: `filename*` (RFC 5987, UTF-8 or ISO-8859-1) wins over
  /// `filename`. Absent for plain text fields; may be present but empty
  /// (a browser's empty file input). Bytes as sent: sanitise before use.
  std::optional<std::string> filename;
  /// The part's own Content-Type, trimmed; empty when the part has none.
  std::string content_type;
  /// Every header line in order, names as sent, values trimmed; folded
  /// continuation lines are joined with one space.
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header with this name (case-insensitive), or nullptr.
  const std::string* find(std::string_view header_name) const;
};

/// Receives the parts as the parser finds them. Any callback may throw (e.g.
/// a `core::Error` payload_too_large); the exception leaves `feed()` as is
/// and the parser refuses further input.
class MultipartHandler {
 public:
  virtual ~MultipartHandler() = default;
  /// A part starts; `headers` is valid only during the call.
  virtual void on_part_begin(const PartHeaders& headers) = 0;
  /// The next bytes of the current part's body; never empty. A part may be
  /// delivered in any number of pieces, whatever the chunking of the input.
  virtual void on_part_data(std::string_view data) = 0;
  /// The current part's body is complete.
  virtual void on_part_end() = 0;
};

/// Bounds on what one body may make the parser hold or do.
struct MultipartLimits {
  /// Bytes of one part's header block, CRLFs and the blank line included.
  std::size_t max_header_bytes = 8 * 1024;
  /// Parts in one body.
  std::size_t max_parts = 1000;
};

/// Streaming multipart/form-data parser.
///
/// Feed the body in chunks of any size, then call `finish()`. The preamble
/// and the epilogue are ignored, transport padding after a boundary is
/// accepted, and the boundary may be split across chunks at any byte.
/// Line endings must be CRLF as RFC 2046 requires (curl, browsers, Go,
/// Python requests all send CRLF); LF-only bodies are rejected as malformed
/// rather than guessed at. `\r\n--boundary` followed by anything other than
/// `--`, a space, a tab, CR or LF is part data, not a delimiter (as in Go's
/// mime/multipart), so a boundary may be a prefix of a longer one. In
/// `filename="..."` only `\"` and `\\` are escapes: bare backslashes (Windows
/// paths from older browsers) are kept.
///
/// Malformed input throws `core::Error(ErrorCode::bad_multipart, ...)`:
/// no boundary at all, a header block over the limit, a header line without
/// a colon, a part without `Content-Disposition: form-data`, garbage after a
/// boundary, more parts than allowed, or (at `finish()`) no closing
/// delimiter. Bytes after the closing delimiter are ignored.
class MultipartParser {
 public:
  /// Throws `core::Error` bad_multipart if `boundary` is not 1..70 RFC 2046
  /// boundary characters. `handler` must outlive the parser.
  MultipartParser(std::string_view boundary, MultipartHandler& handler,
                  MultipartLimits limits = {});
  MultipartParser(const MultipartParser&) = delete;
  MultipartParser& operator=(const MultipartParser&) = delete;

  /// Parses the next bytes of the body. Throws `core::Error` on malformed
  /// input; propagates what the handler throws.
  void feed(std::string_view chunk);
  /// Declares the end of the body. Throws `core::Error` bad_multipart unless
  /// the closing delimiter has been seen.
  void finish();

  /// True once the closing delimiter `--boundary--` has been seen.
  bool done() const noexcept { return state_ == State::epilogue; }
  /// Parts started so far.
  std::size_t part_count() const noexcept { return parts_; }

 private:
  enum class State {
    start,            // before anything: the body may open with "--boundary"
    preamble,         // discarding until the first delimiter
    delimiter_tail,   // matched a delimiter; deciding boundary or data
    dash_tail,        // matched delimiter + "-"; a second "-" closes
    padding,          // transport padding before the CRLF
    expect_lf,        // saw the CR ending the boundary line
    headers,          // reading a part's header lines
    body_start,       // first bytes of a part's body: "--boundary" may follow
    body,             // streaming a part's data
    epilogue,         // closing delimiter seen; ignore the rest
    failed,           // an exception left the parser; refuse input
  };

  // Each consumes from the front of `in`; false means "need more input".
  bool step(std::string_view& in);
  bool match_dash_boundary(std::string_view& in);
  bool scan_for_delimiter(std::string_view& in, bool emit);
  bool read_header_line(std::string_view& in);
  std::size_t consume(std::string_view data);
  void begin_part_headers();
  void end_part_headers();
  void end_part();
  void not_a_delimiter(std::string_view extra);

  std::string delimiter_;      // "\r\n--" + boundary
  bool matched_crlf_ = false;  // the delimiter just matched began with CRLF
  MultipartHandler& handler_;
  MultipartLimits limits_;
  State state_ = State::start;
  bool in_part_ = false;      // a part's body is open (on_part_begin called)
  std::string pending_;       // unconsumed tail of earlier chunks (bounded)
  std::size_t parts_ = 0;
  std::size_t header_bytes_ = 0;
  PartHeaders current_;
};

/// The boundary parameter of a `multipart/form-data` Content-Type (media
/// type matched case-insensitively; the value may be a quoted string).
/// nullopt when the type is another one or the boundary is missing or not
/// 1..70 RFC 2046 boundary characters.
std::optional<std::string> boundary_from_content_type(std::string_view content_type);

}  // namespace progimage::http
