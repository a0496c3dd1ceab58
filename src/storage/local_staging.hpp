#pragma once
// What both blob stores' staging files share: bytes written to a file on this
// node's disk, in full or not at all. A failed write marks the file broken
// (it may hold partial bytes) and it can never be published.
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/unique_fd.hpp"
#include "storage/blob_store.hpp"

namespace progimage::storage {

class LocalStagingFile : public StagingFile {
 public:
  LocalStagingFile(std::filesystem::path path, core::UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  /// Writes every byte or throws (ENOSPC and EDQUOT as unavailable).
  void write(const void* data, std::size_t size) final;
  std::int64_t size() const final { return size_; }
  const std::filesystem::path& path() const final { return path_; }

  int fd() const { return fd_.get(); }
  bool published() const { return published_; }
  bool broken() const { return broken_; }

 protected:
  /// One write(2): the file store's goes through its FileOps, where tests inject faults.
  virtual ssize_t write_some(int fd, const void* data, std::size_t size) { return ::write(fd, data, size); }

  std::filesystem::path path_;
  core::UniqueFd fd_;
  std::int64_t size_ = 0;
  bool published_ = false;
  bool broken_ = false;
};

/// Throws core::Error for a failed file operation: unavailable when the disk
/// is full (the client may retry later), internal otherwise.
[[noreturn]] void throw_io(std::string_view op, const std::filesystem::path& path, int err);

}  // namespace progimage::storage
