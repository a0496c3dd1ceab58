#pragma once
// The bytes of one upload on their way in: a staging file of the blob store,
// hashed as it is written, so that nothing reads the bytes twice.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/hash.hpp"

namespace progimage::storage {
class StagingFile;
}

namespace progimage::service {

/// One thread at a time; removed with the staging file unless published.
class Upload {
 public:
  explicit Upload(std::unique_ptr<storage::StagingFile> file);
  ~Upload();
  Upload(Upload&&) noexcept;
  Upload& operator=(Upload&&) noexcept;

  /// Appends bytes; throws core::Error (unavailable on a full disk) or
  /// std::runtime_error on an I/O failure.
  void write(std::string_view bytes);
  std::int64_t size() const;
  /// Hex SHA-256 of all bytes written; ends the writing.
  const std::string& sha256();
  /// A local file holding the bytes written so far.
  const std::filesystem::path& path() const;

  storage::StagingFile& staged() { return *file_; }

 private:
  std::unique_ptr<storage::StagingFile> file_;
  core::Sha256 hash_;
  std::string sha256_;
};

}  // namespace progimage::service
