#pragma once
// How the bytes of a stored original reach an answer, without naming the
// store: shared bytes in memory, a span of a local file, or a stream read
// from a remote store.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>

namespace progimage::service {

/// An inclusive byte range, as in `Range: bytes=first-last`.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const noexcept { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

/// Bytes of a local file; `owner` keeps `path` readable until it is released.
struct FileSpan {
  std::filesystem::path path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::shared_ptr<const void> owner;
};

/// Bytes produced on demand. read() blocks, so callers run it off the I/O
/// threads; it returns 0 only at the end and throws core::Error on failure.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual std::size_t read(char* data, std::size_t size) = 0;
  virtual std::uint64_t length() const = 0;
};

using Body = std::variant<std::shared_ptr<const std::string>, FileSpan, std::shared_ptr<ByteStream>>;

}  // namespace progimage::service
