#include "service/resumable.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/time.hpp"

namespace progimage::service {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorCode;

namespace {

constexpr const char* kSuffix = ".part";
constexpr int kSweepBatch = 100;
constexpr std::size_t kCopyChunk = 256 * 1024;

/// A failed system call: a full disk is worth retrying later (503), the rest is a fault.
[[noreturn]] void throw_io(const char* op, int err) {
  const bool full = err == ENOSPC || err == EDQUOT;
  throw Error(full ? ErrorCode::unavailable : ErrorCode::internal,
              std::string("resumable upload: ") + op + ": " + std::strerror(err));
}

void sync_directory(const fs::path& dir) {
  core::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) throw_io("fsync of its directory", errno);
}

Error unknown_upload() { return Error(ErrorCode::not_found, "no such upload (unknown, finished long ago or expired)"); }

/// Refused for good: the client cannot succeed by sending the same bytes again.
bool is_refusal(const Error& e) { return e.status() >= 400 && e.status() < 500; }

}  // namespace

// ---- Writer --------------------------------------------------------------------

ResumableUploads::Writer::Writer(ResumableUploads& owner, catalog::ResumableUploadRecord record, core::UniqueFd fd,
                                 std::int64_t offset)
    : owner_(&owner), record_(std::move(record)), fd_(std::move(fd)), offset_(offset) {}

ResumableUploads::Writer::Writer(Writer&& o) noexcept
    : owner_(std::exchange(o.owner_, nullptr)), record_(std::move(o.record_)), fd_(std::move(o.fd_)), offset_(o.offset_) {}

ResumableUploads::Writer& ResumableUploads::Writer::operator=(Writer&& o) noexcept {
  if (this == &o) return *this;
  if (owner_) owner_->release(record_.id);
  owner_ = std::exchange(o.owner_, nullptr);
  record_ = std::move(o.record_);
  fd_ = std::move(o.fd_);
  offset_ = o.offset_;
  return *this;
}

ResumableUploads::Writer::~Writer() {
  if (owner_) owner_->release(record_.id);
}

void ResumableUploads::Writer::write(std::string_view bytes) {
  if (offset_ + static_cast<std::int64_t>(bytes.size()) > record_.length)
    throw Error(ErrorCode::payload_too_large, "the body goes past the Upload-Length of " +
                                                  std::to_string(record_.length) + " bytes");
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io("write", errno);
    offset_ += n;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void ResumableUploads::Writer::sync() {
  if (::fsync(fd_.get()) != 0) throw_io("fsync", errno);
}

// ---- uploads ---------------------------------------------------------------------

ResumableUploads::ResumableUploads(catalog::Catalog& catalog, ImageService& images, UploadLinks& links,
                                   ResumableOptions options)
    : catalog_(catalog), images_(images), links_(links), options_(std::move(options)) {
  fs::create_directories(options_.dir);
}

std::string ResumableUploads::id_of(std::string_view token) { return core::sha256_hex(token); }

fs::path ResumableUploads::path_of(const std::string& id) const { return options_.dir / (id + kSuffix); }

std::int64_t ResumableUploads::stored_bytes(const std::string& id) const {
  struct stat st {};
  if (::stat(path_of(id).c_str(), &st) != 0) return 0;  // none yet (or lost): the client starts at 0
  return static_cast<std::int64_t>(st.st_size);
}

ResumableUploads::Created ResumableUploads::create(const Caller& caller, const NewResumable& request) {
  if (request.length > options_.max_size)
    throw Error(ErrorCode::payload_too_large, "Upload-Length " + std::to_string(request.length) +
                                                  " is over the largest upload of " +
                                                  std::to_string(options_.max_size) + " bytes");
  catalog::ResumableUploadRecord rec;
  std::optional<catalog::UploadLinkRecord> link;
  if (!request.link_token.empty()) {
    link = links_.take_use(request.link_token);
    rec.tenant = link->tenant;
    rec.link_id = link->id;
  } else if (caller) {
    rec.tenant = caller->tenant;
  } else {
    throw Error(ErrorCode::unauthorized, "a resumable upload needs an API key, a token or an upload link (metadata link)");
  }
  try {
    if (link && link->max_bytes && request.length > *link->max_bytes)
      throw Error(ErrorCode::payload_too_large, "Upload-Length " + std::to_string(request.length) +
                                                    " is over this upload link's limit of " +
                                                    std::to_string(*link->max_bytes) + " bytes");
    // Over quota is refused before any byte is sent (ingest checks again at the end).
    catalog::check_tenant_quota(catalog_, rec.tenant, request.length);
    Created made;
    made.token = core::new_id() + core::new_id();
    rec.id = id_of(made.token);
    rec.length = request.length;
    rec.metadata = request.metadata;
    rec.created_at = core::unix_now();
    rec.expires_at = rec.created_at + std::chrono::duration_cast<std::chrono::seconds>(options_.expiry).count();
    // The file first: a crash before the row leaves a file the sweep removes.
    core::UniqueFd fd(::open(path_of(rec.id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) throw_io("create", errno);
    sync_directory(options_.dir);
    catalog_.insert_resumable_upload(rec);
    made.state = {std::move(rec), 0};
    return made;
  } catch (...) {
    if (link) links_.return_use(*link);
    throw;
  }
}

catalog::ResumableUploadRecord ResumableUploads::authorized(std::string_view token, const Caller& caller) {
  if (token.empty()) throw unknown_upload();
  auto rec = catalog_.get_resumable_upload(id_of(token));
  if (!rec || rec->expires_at <= core::unix_now()) throw unknown_upload();
  if (rec->link_id.empty()) {
    if (!caller)
      throw Error(ErrorCode::unauthorized, "this upload was made with a key: send it (Authorization: Bearer KEY)");
    if (!caller->sees(rec->tenant)) throw unknown_upload();
  } else if (!rec->image_id.empty()) {
    return std::move(*rec);  // a finished upload answers whatever became of its link
  } else if (auto link = links_.by_id(rec->link_id); !link || link->revoked_at) {
    remove(*rec);
    throw Error(ErrorCode::link_expired, "the upload link of this upload was revoked; the upload is removed");
  }
  return std::move(*rec);
}

ResumableState ResumableUploads::find(std::string_view token, const Caller& caller) {
  auto rec = authorized(token, caller);
  const auto offset = rec.image_id.empty() ? stored_bytes(rec.id) : rec.length;
  return {std::move(rec), offset};
}

bool ResumableUploads::claim(const std::string& id) {
  std::lock_guard lock(busy_mutex_);
  return busy_.insert(id).second;
}

void ResumableUploads::release(const std::string& id) {
  std::lock_guard lock(busy_mutex_);
  busy_.erase(id);
}

ResumableUploads::Writer ResumableUploads::open_writer(catalog::ResumableUploadRecord record) {
  // Claimed by the caller; released by the Writer, or here when it cannot be made.
  try {
    core::UniqueFd fd(::open(path_of(record.id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) throw_io("open", errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_io("stat", errno);
    return Writer(*this, std::move(record), std::move(fd), static_cast<std::int64_t>(st.st_size));
  } catch (...) {
    release(record.id);
    throw;
  }
}

ResumableUploads::Writer ResumableUploads::writer(std::string_view token, const Caller& caller, std::int64_t offset) {
  auto rec = authorized(token, caller);
  if (!rec.image_id.empty()) throw Error(ErrorCode::conflict, "this upload is finished: it is image " + rec.image_id);
  if (!claim(rec.id)) throw Error(ErrorCode::conflict, "another request is writing this upload; try again after it");
  auto w = open_writer(std::move(rec));
  if (w.offset() != offset)
    throw Error(ErrorCode::conflict, "Upload-Offset is " + std::to_string(offset) + " but the upload has " +
                                         std::to_string(w.offset()) + " bytes; ask HEAD for the offset");
  return w;
}

std::optional<ResumableUploads::Writer> ResumableUploads::unfinished_writer(const ResumableState& state) {
  if (state.finished() || !state.has_all_bytes() || !claim(state.record.id)) return std::nullopt;
  auto w = open_writer(state.record);
  if (!w.has_all_bytes()) return std::nullopt;
  return w;
}

IngestResult ResumableUploads::complete(Writer& writer, const UploadMeta& meta) {
  const auto& rec = writer.record();
  UploadMeta terms = meta;
  if (!rec.link_id.empty())
    if (auto link = links_.by_id(rec.link_id)) terms = UploadLinks::with_terms(*link, meta);
  IngestResult result;
  try {
    // Copied into the blob store's staging, hashed on the way, as any upload.
    Upload upload = images_.begin_upload();
    core::UniqueFd in(::open(path_of(rec.id).c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw_io("open for reading", errno);
    std::vector<char> buf(kCopyChunk);
    for (;;) {
      ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_io("read", errno);
      if (n == 0) break;
      upload.write(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    result = images_.ingest(core::Scope::of(rec.tenant), upload, terms);
  } catch (const Error& e) {
    if (is_refusal(e)) remove(rec);
    throw;
  }
  // The image is stored: record it, then drop the bytes (a crash between
  // leaves a file that the sweep removes, as the upload is finished).
  catalog_.finish_resumable_upload(rec.id, result.image.id);
  writer.record_.image_id = result.image.id;
  std::error_code ec;
  fs::remove(path_of(rec.id), ec);
  return result;
}

void ResumableUploads::remove(const catalog::ResumableUploadRecord& record) {
  std::error_code ec;
  fs::remove(path_of(record.id), ec);
  if (catalog_.delete_resumable_upload(record.id) && record.image_id.empty() && !record.link_id.empty())
    catalog_.return_upload_link_use(record.link_id);
}

void ResumableUploads::terminate(std::string_view token, const Caller& caller) {
  auto rec = authorized(token, caller);
  // Not under a writer's feet: its bytes would go to a file that is gone.
  if (!claim(rec.id)) throw Error(ErrorCode::conflict, "a request is writing this upload; try again after it");
  try {
    remove(rec);
  } catch (...) {
    release(rec.id);
    throw;
  }
  release(rec.id);
}

std::size_t ResumableUploads::sweep(std::int64_t now) {
  std::size_t removed = 0;
  // Bounded: uploads being written are skipped and come back next time.
  for (int round = 0; round < 10; ++round) {
    auto expired = catalog_.expired_resumable_uploads(now, kSweepBatch);
    std::size_t skipped = 0;
    for (const auto& rec : expired) {
      if (!claim(rec.id)) {
        ++skipped;
        continue;
      }
      remove(rec);
      release(rec.id);
      ++removed;
    }
    if (expired.size() < static_cast<std::size_t>(kSweepBatch) || skipped == expired.size()) break;
  }
  // Files that no unfinished upload owns: crashes between the steps above.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(kSuffix)) continue;
    const auto id = name.substr(0, name.size() - std::strlen(kSuffix));
    if (!claim(id)) continue;
    auto rec = catalog_.get_resumable_upload(id);
    if (!rec || !rec->image_id.empty()) {
      std::error_code rm;
      if (fs::remove(entry.path(), rm)) ++removed;
    }
    release(id);
  }
  return removed;
}

}  // namespace progimage::service
