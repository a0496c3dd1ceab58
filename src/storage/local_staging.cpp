#include "storage/local_staging.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/error.hpp"

namespace progimage::storage {

void LocalStagingFile::write(const void* data, std::size_t size) {
  if (published_) throw std::logic_error("storage: write to a published staging file");
  if (broken_) throw std::logic_error("storage: write to a failed staging file");
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write_some(fd_.get(), p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      broken_ = true;
      throw_io("write", path_, err);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    size_ += n;
  }
}

void throw_io(std::string_view op, const std::filesystem::path& path, int err) {
  const auto code = (err == ENOSPC || err == EDQUOT) ? core::ErrorCode::unavailable : core::ErrorCode::internal;
  throw core::Error(code, "storage: " + std::string(op) + " " + path.filename().string() + ": " + std::strerror(err));
}

}  // namespace progimage::storage
