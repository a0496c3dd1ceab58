#pragma once
// Blobs as files under one root directory:
//   staging/<random>.part          bytes being received
//   originals/ab/cd/<key>          content-addressed originals (key = SHA-256 hex)
//   derivatives/ab/cd/<key>        cached derivatives (key = cache key hex)
//   outputs/ab/cd/<key>            kept job outputs (key = hash of the job item)
#include <sys/types.h>

#include <bitset>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "storage/blob_store.hpp"

namespace progimage::storage {

/// The system calls through which FileBlobStore changes the disk. POSIX
/// semantics: -1 (and errno) on failure. The default forwards to the kernel;
/// tests derive from it to fail the N-th call.
class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const char* path, int flags, mode_t mode);
  virtual ssize_t write(int fd, const void* data, std::size_t size);
  virtual int fsync(int fd);
  virtual int rename(const char* from, const char* to);
  virtual int mkdir(const char* path, mode_t mode);
  virtual int unlink(const char* path);

  /// The shared pass-through instance.
  static std::shared_ptr<FileOps> system();
};

/// True for a key the file store accepts: 4 to 128 lower-case hex digits. Such
/// a key can never name anything outside its fan-out directory.
bool is_valid_key(std::string_view key) noexcept;

/// BlobStore over a local directory. Every method is thread-safe; a
/// StagingFile belongs to one thread at a time and must not outlive its store.
///
/// Durability: bytes are written to staging/, fsynced, renamed into place and
/// the directory is fsynced (and a fan-out directory's parent when this process
/// first uses it), so a blob that publish() or put() returned for survives a
/// crash, and a crash never leaves a partial blob under its final name.
///
/// Errors: an invalid key throws std::invalid_argument; an I/O failure throws
/// core::Error with code `unavailable` when the disk is full (ENOSPC, EDQUOT)
/// and `internal` otherwise.
class FileBlobStore final : public BlobStore {
 public:
  /// Creates `root` and its staging/, originals/ and derivatives/ directories
  /// when missing. Throws on failure.
  explicit FileBlobStore(std::filesystem::path root,
                         std::shared_ptr<FileOps> ops = FileOps::system());

  std::unique_ptr<StagingFile> create_staging() override;
  void publish(StagingFile& staged, Space space, const std::string& key) override;
  void put(Space space, const std::string& key, std::string_view bytes) override;
  /// The blob is held open: its path() stays readable (through /proc/self/fd)
  /// even if the blob is removed or evicted while the LocalBlob lives.
  std::unique_ptr<LocalBlob> open(Space space, const std::string& key) override;
  std::optional<std::string> read(Space space, const std::string& key) override;
  bool exists(Space space, const std::string& key) override;
  std::optional<std::int64_t> size_of(Space space, const std::string& key) override;
  /// pread() in pieces of 256 KiB.
  bool read_range(Space space, const std::string& key, std::int64_t offset, std::int64_t length,
                  const std::function<void(std::string_view)>& sink) override;
  bool is_local() const noexcept override { return true; }
  void remove(Space space, const std::string& key) override;
  /// Removes everything in staging/. Call it at start, before any upload: it
  /// does not spare staging files that are in use.
  std::size_t sweep_staging() override;
  /// Creates and removes a probe file in staging/.
  bool healthy() override;

  const std::filesystem::path& root() const noexcept { return root_; }
  /// Where `key` lives (whether or not it exists). Throws std::invalid_argument
  /// for an invalid key.
  std::filesystem::path path_of(Space space, const std::string& key) const;

 private:
  void ensure_fanout(Space space, const std::string& key);
  void sync_dir(const std::filesystem::path& dir);

  std::filesystem::path root_;
  std::filesystem::path staging_;
  std::shared_ptr<FileOps> ops_;

  // Fan-out directories this process has created or found and made durable
  // (their parent fsynced): one bit per `ab` and per `abcd`, per space.
  std::mutex fanout_mu_;
  std::bitset<256> mid_ready_[kSpaces];
  std::bitset<65536> leaf_ready_[kSpaces];
};

}  // namespace progimage::storage
