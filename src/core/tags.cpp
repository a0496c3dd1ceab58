#include "core/tags.hpp"

#include <locale.h>
#include <wctype.h>

#include <algorithm>

namespace progimage::core {

namespace {

/// glibc's C.UTF-8 locale (always installed on Debian) for towlower_l; null
/// when missing, and then only ASCII is lower-cased.
locale_t utf8_locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Lower-cases UTF-8 text; control characters become blanks. Bytes that are
/// not valid UTF-8 are kept as they are.
std::string lower_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const locale_t loc = utf8_locale();
  for (std::size_t i = 0; i < in.size();) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      char c = in[i++];
      if (b < 0x20 || b == 0x7f) c = ' ';
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      continue;
    }
    const std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    char32_t cp = len == 4 ? (b & 0x07) : len == 3 ? (b & 0x0F) : (b & 0x1F);
    bool valid = len != 0 && i + len <= in.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto cont = static_cast<unsigned char>(in[i + k]);
      valid = (cont & 0xC0) == 0x80;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if (!valid) {
      out += in[i++];
      continue;
    }
    if (loc != static_cast<locale_t>(nullptr)) {
      const auto lower = towlower_l(static_cast<wint_t>(cp), loc);
      // Keep the original bytes unless the case really changes (also keeps
      // overlong or odd encodings byte-identical).
      if (static_cast<char32_t>(lower) != cp) {
        append_utf8(out, static_cast<char32_t>(lower));
        i += len;
        continue;
      }
    }
    out.append(in.substr(i, len));
    i += len;
  }
  return out;
}

// ASCII only, whatever the process locale: tags must not change with it.
bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_hashtag_byte(unsigned char c) { return is_ascii_alnum(c) || c == '_' || c == '-' || c >= 0x80; }

}  // namespace

std::string normalize_tag(std::string_view tag) {
  std::string out = lower_utf8(tag);
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

std::vector<std::string> normalize_tags(const std::vector<std::string>& tags) {
  std::vector<std::string> out;
  out.reserve(tags.size());
  for (const auto& raw : tags) {
    std::string tag = normalize_tag(raw);
    if (!tag.empty() && tag.size() <= kMaxTagBytes) out.push_back(std::move(tag));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> hashtags(std::string_view description) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < description.size(); ++i) {
    if (description[i] != '#') continue;
    if (i > 0) {
      const auto before = static_cast<unsigned char>(description[i - 1]);
      if (is_ascii_alnum(before) || before == '&') continue;
    }
    std::size_t end = i + 1;
    while (end < description.size() && is_hashtag_byte(static_cast<unsigned char>(description[end]))) ++end;
    if (end > i + 1) out.emplace_back(description.substr(i + 1, end - i - 1));
    i = end - 1;
  }
  return out;
}

}  // namespace progimage::core
