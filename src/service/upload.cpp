#include "service/upload.hpp"

#include <stdexcept>

#include "storage/blob_store.hpp"

namespace progimage::service {

Upload::Upload(std::unique_ptr<storage::StagingFile> file) : file_(std::move(file)) {}
Upload::~Upload() = default;
Upload::Upload(Upload&&) noexcept = default;
Upload& Upload::operator=(Upload&&) noexcept = default;

void Upload::write(std::string_view bytes) {
  if (!sha256_.empty()) throw std::logic_error("upload: written after its hash was taken");
  file_->write(bytes.data(), bytes.size());
  hash_.update(bytes);
}

std::int64_t Upload::size() const { return file_->size(); }

const std::string& Upload::sha256() {
  if (sha256_.empty()) sha256_ = hash_.hex_digest();
  return sha256_;
}

const std::filesystem::path& Upload::path() const { return file_->path(); }

}  // namespace progimage::service
