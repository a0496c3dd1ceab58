#pragma once
// Where image bytes live: originals under their SHA-256, derivatives under
// their cache key, job outputs under their item's key. Handlers and jobs see only this interface; the file and S3
// implementations are chosen by URL scheme in app/.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace progimage::storage {

/// originals under their SHA-256; derivatives under their cache key; job
/// outputs (results kept for a while, not stored as images) under a key per
/// job item; working copies of originals under their SHA-256 and level.
enum class Space { originals, derivatives, outputs, working };
inline constexpr int kSpaces = 4;

/// A space's name: its folder in a file store, its key prefix in a bucket.
constexpr const char* space_name(Space space) {
  switch (space) {
    case Space::originals: return "originals";
    case Space::derivatives: return "derivatives";
    case Space::outputs: return "outputs";
    case Space::working: return "working";
  }
  return "derivatives";
}

/// Bytes being received. The file is removed on destruction unless published.
class StagingFile {
 public:
  virtual ~StagingFile() = default;
  /// Appends bytes; throws std::runtime_error on an I/O failure (disk full...).
  virtual void write(const void* data, std::size_t size) = 0;
  virtual std::int64_t size() const = 0;
  /// A local path holding the bytes written so far (for probing and decoding).
  virtual const std::filesystem::path& path() const = 0;
};

/// A blob available as a local file for the duration of this object (the file
/// store hands out its own file; a remote store downloads to a temporary one).
class LocalBlob {
 public:
  virtual ~LocalBlob() = default;
  virtual const std::filesystem::path& path() const = 0;
  virtual std::int64_t size() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  /// A new empty staging file.
  virtual std::unique_ptr<StagingFile> create_staging() = 0;
  /// Makes the staged bytes durable under `key` (fsync file, rename, fsync
  /// directory). If the key already exists the staged copy is dropped.
  virtual void publish(StagingFile& staged, Space space, const std::string& key) = 0;
  /// Stores `bytes` durably under `key` (used for derivatives).
  virtual void put(Space space, const std::string& key, std::string_view bytes) = 0;
  /// The blob as a local file, or nullopt when it does not exist.
  virtual std::unique_ptr<LocalBlob> open(Space space, const std::string& key) = 0;
  /// The whole blob in memory, or nullopt when it does not exist.
  virtual std::optional<std::string> read(Space space, const std::string& key) = 0;
  virtual bool exists(Space space, const std::string& key) = 0;
  /// The blob's size in bytes, or nullopt when it does not exist.
  virtual std::optional<std::int64_t> size_of(Space space, const std::string& key) = 0;
  /// Hands the bytes [offset, offset + length) of the blob to `sink`, in
  /// order and in pieces of any size, without holding the range in memory;
  /// bytes past the end are not sent. Returns false (sending nothing) when the
  /// blob does not exist. A failure after some bytes were sent throws.
  virtual bool read_range(Space space, const std::string& key, std::int64_t offset, std::int64_t length,
                          const std::function<void(std::string_view)>& sink) = 0;
  /// True when open() hands out the store's own file at no cost (a local
  /// disk). False when open() downloads a copy: callers that only send the
  /// bytes on should use size_of() and read_range() instead.
  virtual bool is_local() const noexcept = 0;
  /// Removes a blob; removing a missing one is not an error.
  virtual void remove(Space space, const std::string& key) = 0;
  /// Removes staging leftovers of an earlier run; returns how many.
  virtual std::size_t sweep_staging() = 0;
  /// True when the store answers (for /readyz).
  virtual bool healthy() = 0;
};

}  // namespace progimage::storage
