#include "storage/file_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "core/error.hpp"
#include "core/unique_fd.hpp"
#include "core/id.hpp"
#include "storage/local_staging.hpp"

namespace progimage::storage {

namespace fs = std::filesystem;

// ---- FileOps ---------------------------------------------------------------

int FileOps::open(const char* path, int flags, mode_t mode) { return ::open(path, flags, mode); }
ssize_t FileOps::write(int fd, const void* data, std::size_t size) { return ::write(fd, data, size); }
int FileOps::fsync(int fd) { return ::fsync(fd); }
int FileOps::rename(const char* from, const char* to) { return ::rename(from, to); }
int FileOps::mkdir(const char* path, mode_t mode) { return ::mkdir(path, mode); }
int FileOps::unlink(const char* path) { return ::unlink(path); }

std::shared_ptr<FileOps> FileOps::system() {
  static const auto instance = std::make_shared<FileOps>();
  return instance;
}

bool is_valid_key(std::string_view key) noexcept {
  if (key.size() < 4 || key.size() > 128) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

constexpr mode_t kFileMode = 0644;
constexpr mode_t kDirMode = 0755;

using core::UniqueFd;

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

bool proc_fd_available() {
  static const bool available = ::access("/proc/self/fd", F_OK) == 0;
  return available;
}

/// The store's own file, held open for the lifetime of this object.
class FileLocalBlob final : public LocalBlob {
 public:
  FileLocalBlob(UniqueFd fd, fs::path file, std::int64_t size)
      : fd_(std::move(fd)), file_(std::move(file)), size_(size) {
    // The descriptor keeps the inode alive; its /proc name keeps the promise
    // that the path is readable even after a concurrent remove() or eviction.
    path_ = proc_fd_available() ? fs::path("/proc/self/fd") / std::to_string(fd_.get()) : file_;
  }
  const fs::path& path() const override { return path_; }
  std::int64_t size() const override { return size_; }

 private:
  UniqueFd fd_;
  fs::path file_;
  fs::path path_;
  std::int64_t size_;
};

}  // namespace

// ---- staging ---------------------------------------------------------------

namespace {

/// A staging file of one FileBlobStore. States: open (writable) → published
/// (renamed into place or dropped as a duplicate), or broken after a failed
/// write (never publishable: it may hold partial bytes).
class FileStagingFile final : public LocalStagingFile {
 public:
  FileStagingFile(const FileBlobStore* owner, FileOps& ops, fs::path path, UniqueFd fd)
      : LocalStagingFile(std::move(path), std::move(fd)), owner_(owner), ops_(ops) {}

  ~FileStagingFile() override {
    fd_.reset();
    if (!published_) ops_.unlink(path_.c_str());
  }

  const FileBlobStore* owner() const { return owner_; }

  /// The bytes are now under `target` (renamed there, or already present).
  void mark_published(fs::path target) {
    fd_.reset();
    published_ = true;
    path_ = std::move(target);
  }

  /// Drops the staged bytes because `target` already holds them.
  void drop_as_duplicate(fs::path target) {
    fd_.reset();
    ops_.unlink(path_.c_str());
    mark_published(std::move(target));
  }

 private:
  ssize_t write_some(int fd, const void* data, std::size_t size) override { return ops_.write(fd, data, size); }

  const FileBlobStore* owner_;
  FileOps& ops_;
};

}  // namespace

// ---- FileBlobStore ---------------------------------------------------------

FileBlobStore::FileBlobStore(fs::path root, std::shared_ptr<FileOps> ops)
    : root_(std::move(root)), ops_(std::move(ops)) {
  if (!ops_) throw std::invalid_argument("storage: null FileOps");
  if (root_.empty()) throw std::invalid_argument("storage: empty root directory");
  root_ = fs::absolute(root_).lexically_normal();
  if (!root_.has_filename()) root_ = root_.parent_path();  // drop a trailing '/'
  staging_ = root_ / "staging";

  if (fs::create_directories(root_)) sync_dir(root_.parent_path());
  bool created = fs::create_directory(staging_);
  for (int space = 0; space < kSpaces; ++space) {
    created = fs::create_directory(root_ / space_name(static_cast<Space>(space))) || created;
  }
  if (created) sync_dir(root_);
}

fs::path FileBlobStore::path_of(Space space, const std::string& key) const {
  if (!is_valid_key(key)) throw std::invalid_argument("storage: invalid blob key");
  return root_ / space_name(space) / key.substr(0, 2) / key.substr(2, 2) / key;
}

void FileBlobStore::sync_dir(const fs::path& dir) {
  UniqueFd fd(ops_->open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
  if (!fd) throw_io("open directory", dir, errno);
  if (ops_->fsync(fd.get()) != 0) throw_io("fsync directory", dir, errno);
}

void FileBlobStore::ensure_fanout(Space space, const std::string& key) {
  const int s = static_cast<int>(space);
  const std::size_t mid = static_cast<std::size_t>(hex_value(key[0]) * 16 + hex_value(key[1]));
  const std::size_t leaf = mid * 256 + static_cast<std::size_t>(hex_value(key[2]) * 16 + hex_value(key[3]));
  bool mid_ready, leaf_ready;
  {
    std::lock_guard lock(fanout_mu_);
    mid_ready = mid_ready_[s].test(mid);
    leaf_ready = leaf_ready_[s].test(leaf);
  }
  if (leaf_ready) return;

  // A directory is usable once its own entry is durable: make it (or find
  // it), then fsync its parent. Whoever gets here first for a directory pays
  // the fsync, even if another thread or an earlier run made it: a concurrent
  // publisher must not return before the entry is on disk.
  const fs::path base = root_ / space_name(space);
  const fs::path mid_dir = base / key.substr(0, 2);
  const fs::path leaf_dir = mid_dir / key.substr(2, 2);
  if (!mid_ready) {
    if (ops_->mkdir(mid_dir.c_str(), kDirMode) != 0 && errno != EEXIST) throw_io("mkdir", mid_dir, errno);
    sync_dir(base);
    std::lock_guard lock(fanout_mu_);
    mid_ready_[s].set(mid);
  }
  if (ops_->mkdir(leaf_dir.c_str(), kDirMode) != 0 && errno != EEXIST) throw_io("mkdir", leaf_dir, errno);
  sync_dir(mid_dir);
  std::lock_guard lock(fanout_mu_);
  leaf_ready_[s].set(leaf);
}

std::unique_ptr<StagingFile> FileBlobStore::create_staging() {
  // O_EXCL with a random 130-bit name: never shares a file with another
  // upload, even across processes on the same directory.
  for (int attempt = 0;; ++attempt) {
    fs::path path = staging_ / (core::new_id() + ".part");
    UniqueFd fd(ops_->open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode));
    if (fd) return std::make_unique<FileStagingFile>(this, *ops_, std::move(path), std::move(fd));
    if (errno != EEXIST || attempt == 8) throw_io("create", path, errno);
  }
}

void FileBlobStore::publish(StagingFile& staged, Space space, const std::string& key) {
  const fs::path target = path_of(space, key);
  auto* file = dynamic_cast<FileStagingFile*>(&staged);
  if (file == nullptr || file->owner() != this) {
    throw std::invalid_argument("storage: staging file of another store");
  }
  if (file->published()) throw std::logic_error("storage: staging file published twice");
  if (file->broken()) throw std::logic_error("storage: staging file had a failed write");

  // Keys name their content, so an existing blob already holds these bytes.
  struct stat st;
  if (::stat(target.c_str(), &st) == 0) {
    file->drop_as_duplicate(target);
    return;
  }

  if (ops_->fsync(file->fd()) != 0) throw_io("fsync", file->path(), errno);
  ensure_fanout(space, key);
  if (ops_->rename(file->path().c_str(), target.c_str()) != 0) throw_io("rename", file->path(), errno);
  file->mark_published(target);
  // If this fsync fails the blob stays: it is complete (the rename is atomic)
  // and removing it could take away a copy that a concurrent publish of the
  // same key has just reported as stored. The caller still sees the failure.
  sync_dir(target.parent_path());
}

void FileBlobStore::put(Space space, const std::string& key, std::string_view bytes) {
  const fs::path target = path_of(space, key);
  struct stat st;
  if (::stat(target.c_str(), &st) == 0) return;
  auto staged = create_staging();
  staged->write(bytes.data(), bytes.size());
  publish(*staged, space, key);
}

std::unique_ptr<LocalBlob> FileBlobStore::open(Space space, const std::string& key) {
  const fs::path file = path_of(space, key);
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return nullptr;
    throw_io("open", file, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_io("stat", file, errno);
  return std::make_unique<FileLocalBlob>(std::move(fd), file, static_cast<std::int64_t>(st.st_size));
}

std::optional<std::string> FileBlobStore::read(Space space, const std::string& key) {
  const fs::path file = path_of(space, key);
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_io("open", file, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_io("stat", file, errno);
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io("read", file, errno);
    if (n == 0) break;  // blobs never change in place; tolerate it anyway
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

bool FileBlobStore::exists(Space space, const std::string& key) {
  const fs::path file = path_of(space, key);
  struct stat st;
  if (::stat(file.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  throw_io("stat", file, errno);
}

std::optional<std::int64_t> FileBlobStore::size_of(Space space, const std::string& key) {
  const fs::path file = path_of(space, key);
  struct stat st;
  if (::stat(file.c_str(), &st) == 0) return static_cast<std::int64_t>(st.st_size);
  if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
  throw_io("stat", file, errno);
}

bool FileBlobStore::read_range(Space space, const std::string& key, std::int64_t offset, std::int64_t length,
                               const std::function<void(std::string_view)>& sink) {
  if (offset < 0 || length < 0) throw std::invalid_argument("storage: negative range");
  const fs::path file = path_of(space, key);
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return false;
    throw_io("open", file, errno);
  }
  constexpr std::int64_t kPiece = 256 * 1024;
  std::string buffer(static_cast<std::size_t>(std::min(length, kPiece)), '\0');
  while (length > 0) {
    ssize_t n = ::pread(fd.get(), buffer.data(), static_cast<std::size_t>(std::min(length, kPiece)), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io("read", file, errno);
    if (n == 0) break;  // past the end
    sink(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    offset += n;
    length -= n;
  }
  return true;
}

void FileBlobStore::remove(Space space, const std::string& key) {
  const fs::path file = path_of(space, key);
  // No directory fsync: a removal undone by a crash leaves an orphan blob,
  // which costs space but loses nothing. Fan-out directories stay (a
  // concurrent publish may be about to use them).
  if (ops_->unlink(file.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) throw_io("unlink", file, errno);
}

std::size_t FileBlobStore::sweep_staging() {
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(staging_)) {
    std::error_code ec;
    if (fs::remove_all(entry.path(), ec) > 0 && !ec) ++removed;
  }
  return removed;
}

bool FileBlobStore::healthy() {
  fs::path probe = staging_ / (".health-" + core::new_id());
  UniqueFd fd(ops_->open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode));
  if (!fd) return false;
  bool ok = ops_->write(fd.get(), "ok", 2) == 2;
  fd.reset();
  ok = ops_->unlink(probe.c_str()) == 0 && ok;
  return ok;
}

}  // namespace progimage::storage
