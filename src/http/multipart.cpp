#include "http/multipart.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace progimage::http {
namespace {

// How many bytes of a new chunk to add to a non-empty lookbehind at a time:
// enough to settle most partial matches without copying whole chunks.
constexpr std::size_t kTopUpBytes = 512;
constexpr std::size_t kMaxBoundaryLength = 70;

[[noreturn]] void fail(std::string message) {
  throw core::Error(core::ErrorCode::bad_multipart, std::move(message));
}

std::string part_prefix(std::size_t part) {
  return "multipart part " + std::to_string(part) + ": ";
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 2046 bchars; a space may not end the boundary.
bool is_valid_boundary(std::string_view b) {
  if (b.empty() || b.size() > kMaxBoundaryLength || b.back() == ' ') return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
  });
}

struct Param {
  std::string name;  // lower-cased
  std::string value;
};

// Splits `type; a=b; c="d;e"` into the lower-cased type and its parameters.
// Inside quoted strings only `\"` and `\\` are escapes: browsers and older
// clients send Windows paths with bare backslashes, curl escapes both.
// Parameters without `=` are skipped. False on an unterminated quote.
bool parse_params(std::string_view value, std::string& type, std::vector<Param>& params) {
  std::size_t i = value.find(';');
  type = lower(trim(value.substr(0, i)));
  const std::size_t n = value.size();
  while (i < n) {
    ++i;  // past ';'
    const std::size_t name_end = value.find_first_of(";=", i);
    if (name_end == std::string_view::npos || value[name_end] == ';') {
      i = name_end;
      continue;
    }
    Param p{lower(trim(value.substr(i, name_end - i))), {}};
    i = name_end + 1;
    while (i < n && is_ows(value[i])) ++i;
    if (i < n && value[i] == '"') {
      bool closed = false;
      for (++i; i < n; ++i) {
        const char c = value[i];
        if (c == '\\' && i + 1 < n && (value[i + 1] == '"' || value[i + 1] == '\\')) {
          p.value += value[++i];
        } else if (c == '"') {
          closed = true;
          ++i;
          break;
        } else {
          p.value += c;
        }
      }
      if (!closed) return false;
      i = value.find(';', i);  // ignore anything between the quote and ';'
    } else {
      const std::size_t end = value.find(';', i);
      p.value = std::string(trim(value.substr(i, end == std::string_view::npos ? end : end - i)));
      i = end;
    }
    if (!p.name.empty()) params.push_back(std::move(p));
  }
  return true;
}

const Param* find_param(const std::vector<Param>& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5987 ext-value: charset'language'percent-encoded. UTF-8 and
// ISO-8859-1 (re-encoded as UTF-8) are understood; anything else, or a bad
// %-escape, yields nullopt so the plain `filename` is used instead.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const std::size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const std::size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  const std::string charset = lower(v.substr(0, q1));
  const bool latin1 = charset == "iso-8859-1";
  if (charset != "utf-8" && !latin1) return std::nullopt;
  std::string out;
  for (std::size_t i = q2 + 1; i < v.size(); ++i) {
    unsigned char byte = static_cast<unsigned char>(v[i]);
    if (byte == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      const int hi = hex_value(v[i + 1]);
      const int lo = hex_value(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      byte = static_cast<unsigned char>(hi * 16 + lo);
      i += 2;
    }
    if (latin1 && byte >= 0x80) {
      out += static_cast<char>(0xC0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3F));
    } else {
      out += static_cast<char>(byte);
    }
  }
  return out;
}

bool is_header_name(std::string_view name) {
  return !name.empty() && std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7F;
  });
}

}  // namespace

const std::string* PartHeaders::find(std::string_view header_name) const {
  for (const auto& [name, value] : headers) {
    if (iequals(name, header_name)) return &value;
  }
  return nullptr;
}

MultipartParser::MultipartParser(std::string_view boundary, MultipartHandler& handler,
                                 MultipartLimits limits)
    : handler_(handler), limits_(limits) {
  if (!is_valid_boundary(boundary)) {
    fail("multipart boundary must be 1 to 70 characters allowed by RFC 2046");
  }
  delimiter_ = "\r\n--";
  delimiter_ += boundary;
}

void MultipartParser::feed(std::string_view chunk) {
  if (state_ == State::failed) fail("multipart parser fed after an error");
  try {
    // A partial match or header line is pending: extend it piecewise until
    // it is settled, then go back to parsing straight from the chunk.
    while (!pending_.empty() && !chunk.empty()) {
      const std::size_t take = std::min(chunk.size(), delimiter_.size() + kTopUpBytes);
      pending_.append(chunk.substr(0, take));
      chunk.remove_prefix(take);
      pending_.erase(0, consume(pending_));
    }
    if (!chunk.empty()) {
      chunk.remove_prefix(consume(chunk));
      pending_.assign(chunk);  // bounded: a partial delimiter or header block
    }
  } catch (...) {
    state_ = State::failed;
    throw;
  }
}

void MultipartParser::finish() {
  switch (state_) {
    case State::epilogue:
      return;
    case State::failed:
      fail("multipart parser finished after an error");
    case State::start:
    case State::preamble:
      state_ = State::failed;
      fail("multipart body does not contain the boundary given in Content-Type");
    default:
      state_ = State::failed;
      fail("multipart body ended before the closing boundary");
  }
}

std::size_t MultipartParser::consume(std::string_view data) {
  std::string_view in = data;
  while (!in.empty() && step(in)) {
  }
  return data.size() - in.size();
}

bool MultipartParser::step(std::string_view& in) {
  switch (state_) {
    case State::start:
    case State::body_start:
      return match_dash_boundary(in);
    case State::preamble:
      return scan_for_delimiter(in, false);
    case State::body:
      return scan_for_delimiter(in, true);
    case State::delimiter_tail: {
      const char c = in.front();
      if (c == '-') {
        in.remove_prefix(1);
        state_ = State::dash_tail;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        in.remove_prefix(1);
        end_part();
        state_ = c == '\r' ? State::expect_lf : State::padding;
      } else if (c == '\n') {
        fail("multipart boundary line ends in a bare LF; CRLF line endings are required");
      } else {
        not_a_delimiter({});
      }
      return true;
    }
    case State::dash_tail:
      if (in.front() == '-') {
        in.remove_prefix(1);
        end_part();
        state_ = State::epilogue;
      } else {
        not_a_delimiter("-");
      }
      return true;
    case State::padding: {
      const char c = in.front();
      in.remove_prefix(1);
      if (c == '\r') {
        state_ = State::expect_lf;
      } else if (c != ' ' && c != '\t') {
        fail("multipart boundary line has unexpected characters after the boundary");
      }
      return true;
    }
    case State::expect_lf:
      if (in.front() != '\n') fail("multipart boundary line does not end with CRLF");
      in.remove_prefix(1);
      begin_part_headers();
      return true;
    case State::headers:
      return read_header_line(in);
    case State::epilogue:
      in = {};  // the epilogue is ignored, as RFC 2046 says
      return true;
    case State::failed:
      break;
  }
  fail("multipart parser in an invalid state");
}

// The body opens with "--boundary" (no CRLF before it), and so may a part
// whose body is absent: the CRLF that ended its headers is the delimiter's.
bool MultipartParser::match_dash_boundary(std::string_view& in) {
  const std::string_view dash_boundary = std::string_view(delimiter_).substr(2);
  const bool at_body = state_ == State::body_start;
  if (in.size() < dash_boundary.size() && dash_boundary.starts_with(in)) return false;
  if (in.starts_with(dash_boundary)) {
    in.remove_prefix(dash_boundary.size());
    matched_crlf_ = false;
    state_ = State::delimiter_tail;
  } else {
    state_ = at_body ? State::body : State::preamble;
  }
  return true;
}

bool MultipartParser::scan_for_delimiter(std::string_view& in, bool emit) {
  const std::string_view delimiter = delimiter_;
  const auto deliver = [&](std::size_t n) {
    if (emit && n > 0) handler_.on_part_data(in.substr(0, n));
    in.remove_prefix(n);
  };
  std::size_t from = 0;
  for (;;) {
    const std::size_t cr = in.find('\r', from);
    if (cr == std::string_view::npos) {
      deliver(in.size());
      return true;
    }
    const std::string_view rest = in.substr(cr);
    if (rest.size() >= delimiter.size()) {
      if (rest.starts_with(delimiter)) {
        deliver(cr);
        in.remove_prefix(delimiter.size());
        matched_crlf_ = true;
        state_ = State::delimiter_tail;
        return true;
      }
    } else if (delimiter.starts_with(rest)) {
      deliver(cr);  // keep the possible delimiter start as lookbehind
      return false;
    }
    from = cr + 1;
  }
}

// What looked like a delimiter is followed by other bytes: in a part it is
// data: the matched bytes are the delimiter itself, so nothing was lost.
void MultipartParser::not_a_delimiter(std::string_view extra) {
  if (in_part_) {
    handler_.on_part_data(std::string_view(delimiter_).substr(matched_crlf_ ? 0 : 2));
    if (!extra.empty()) handler_.on_part_data(extra);
    state_ = State::body;
  } else {
    state_ = State::preamble;
  }
}

void MultipartParser::end_part() {
  if (in_part_) {
    in_part_ = false;
    handler_.on_part_end();
  }
}

void MultipartParser::begin_part_headers() {
  if (parts_ >= limits_.max_parts) {
    fail("multipart body has more than " + std::to_string(limits_.max_parts) + " parts");
  }
  ++parts_;
  current_ = PartHeaders{};
  header_bytes_ = 0;
  state_ = State::headers;
}

bool MultipartParser::read_header_line(std::string_view& in) {
  const auto too_long = [&] {
    fail(part_prefix(parts_) + "headers exceed " + std::to_string(limits_.max_header_bytes) +
         " bytes");
  };
  const std::size_t eol = in.find("\r\n");
  if (eol == std::string_view::npos) {
    if (header_bytes_ + in.size() > limits_.max_header_bytes) too_long();
    return false;
  }
  header_bytes_ += eol + 2;
  if (header_bytes_ > limits_.max_header_bytes) too_long();
  const std::string_view line = in.substr(0, eol);
  in.remove_prefix(eol + 2);

  if (line.empty()) {
    end_part_headers();
    return true;
  }
  if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    fail(part_prefix(parts_) + "header line contains a bare CR, LF or NUL");
  }
  if (is_ows(line.front())) {  // obsolete folding (RFC 5322), still legal in MIME
    if (current_.headers.empty()) fail(part_prefix(parts_) + "headers start with a folded line");
    auto& value = current_.headers.back().second;
    value += ' ';
    value += trim(line);
    return true;
  }
  const std::size_t colon = line.find(':');
  const std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
  if (colon == std::string_view::npos || !is_header_name(name)) {
    fail(part_prefix(parts_) +
         "malformed header line (is the blank line after the headers missing?)");
  }
  current_.headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  return true;
}

void MultipartParser::end_part_headers() {
  const std::string* disposition = current_.find("Content-Disposition");
  if (disposition == nullptr) fail(part_prefix(parts_) + "no Content-Disposition header");
  std::string type;
  std::vector<Param> params;
  if (!parse_params(*disposition, type, params)) {
    fail(part_prefix(parts_) + "unterminated quoted string in Content-Disposition");
  }
  if (type != "form-data") fail(part_prefix(parts_) + "Content-Disposition is not form-data");
  if (const Param* p = find_param(params, "name")) current_.name = p->value;
  if (const Param* p = find_param(params, "filename")) current_.filename = p->value;
  if (const Param* p = find_param(params, "filename*")) {
    if (auto decoded = decode_ext_value(p->value)) current_.filename = std::move(*decoded);
  }
  if (const std::string* ct = current_.find("Content-Type")) current_.content_type = *ct;

  state_ = State::body_start;
  in_part_ = true;
  handler_.on_part_begin(current_);
}

std::optional<std::string> boundary_from_content_type(std::string_view content_type) {
  std::string type;
  std::vector<Param> params;
  if (!parse_params(content_type, type, params) || type != "multipart/form-data") {
    return std::nullopt;
  }
  const Param* boundary = find_param(params, "boundary");
  if (boundary == nullptr || !is_valid_boundary(boundary->value)) return std::nullopt;
  return boundary->value;
}

}  // namespace progimage::http
