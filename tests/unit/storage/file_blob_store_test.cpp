#include "storage/file_blob_store.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"

namespace fs = std::filesystem;
using namespace progimage;
using storage::FileBlobStore;
using storage::FileOps;
using storage::Space;

namespace {

/// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("progimage-storage-" + core::new_id())) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

enum class Op { open, write, fsync, rename, mkdir, unlink };

/// Fails the N-th call (1-based) of one kind with `err`; records every call.
class FailingOps : public FileOps {
 public:
  FailingOps(Op op, int nth, int err = EIO) : op_(op), nth_(nth), err_(err) {}

  int open(const char* path, int flags, mode_t mode) override {
    if (fail(Op::open, "open")) return -1;
    return FileOps::open(path, flags, mode);
  }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (fail(Op::write, "write")) return -1;
    return FileOps::write(fd, data, size);
  }
  int fsync(int fd) override {
    if (fail(Op::fsync, "fsync")) return -1;
    return FileOps::fsync(fd);
  }
  int rename(const char* from, const char* to) override {
    if (fail(Op::rename, "rename")) return -1;
    return FileOps::rename(from, to);
  }
  int mkdir(const char* path, mode_t mode) override {
    if (fail(Op::mkdir, "mkdir")) return -1;
    return FileOps::mkdir(path, mode);
  }
  int unlink(const char* path) override {
    if (fail(Op::unlink, "unlink")) return -1;
    return FileOps::unlink(path);
  }

  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void arm(Op op, int nth) {
    std::lock_guard lock(mu_);
    op_ = op;
    nth_ = nth;
    seen_ = 0;
    fired_ = false;
    calls_.clear();
  }
  bool fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }

 private:
  bool fail(Op op, const char* name) {
    std::lock_guard lock(mu_);
    calls_.push_back(name);
    if (op != op_ || ++seen_ != nth_) return false;
    fired_ = true;
    calls_.back() += "!";
    errno = err_;
    return true;
  }

  std::mutex mu_;
  Op op_;
  int nth_;
  int err_;
  int seen_ = 0;
  bool fired_ = false;
  std::vector<std::string> calls_;
};

const std::string kData = "the quick brown fox jumps over the lazy dog";

}  // namespace

TEST(FileBlobStore, CreatesLayout) {
  TempDir dir;
  FileBlobStore store(dir.path() / "a" / "b");
  for (const char* sub : {"staging", "originals", "derivatives", "outputs"}) {
    EXPECT_TRUE(fs::is_directory(dir.path() / "a" / "b" / sub)) << sub;
  }
  EXPECT_TRUE(store.healthy());
}

TEST(FileBlobStore, PublishStagedUnderFanOut) {
  TempDir dir;
  FileBlobStore store(dir.path());
  const std::string key = core::sha256_hex(kData);
  auto staged = store.create_staging();
  const fs::path staged_path = staged->path();
  EXPECT_EQ(staged_path.parent_path(), dir.path() / "staging");
  EXPECT_TRUE(fs::exists(staged_path));
  staged->write(kData.data(), 10);
  staged->write(kData.data() + 10, kData.size() - 10);
  EXPECT_EQ(staged->size(), static_cast<std::int64_t>(kData.size()));
  EXPECT_EQ(slurp(staged->path()), kData);  // probe-able before publishing

  store.publish(*staged, Space::originals, key);
  const fs::path expected = dir.path() / "originals" / key.substr(0, 2) / key.substr(2, 2) / key;
  EXPECT_EQ(store.path_of(Space::originals, key), expected);
  EXPECT_EQ(staged->path(), expected);
  EXPECT_FALSE(fs::exists(staged_path));
  EXPECT_EQ(slurp(expected), kData);
  staged.reset();  // destruction of a published file keeps the blob
  EXPECT_TRUE(fs::exists(expected));
  EXPECT_TRUE(store.exists(Space::originals, key));
  EXPECT_FALSE(store.exists(Space::derivatives, key));
  EXPECT_EQ(store.read(Space::originals, key), kData);
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
}

TEST(FileBlobStore, PublishExistingKeyDropsStagedCopy) {
  TempDir dir;
  FileBlobStore store(dir.path());
  const std::string key = core::sha256_hex(kData);
  store.put(Space::originals, key, kData);
  auto inode_of = [](const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_ino;
  };
  const auto inode_before = inode_of(store.path_of(Space::originals, key));

  auto staged = store.create_staging();
  const fs::path staged_path = staged->path();
  staged->write(kData.data(), kData.size());
  store.publish(*staged, Space::originals, key);
  EXPECT_FALSE(fs::exists(staged_path));
  EXPECT_EQ(staged->path(), store.path_of(Space::originals, key));
  EXPECT_EQ(inode_of(store.path_of(Space::originals, key)), inode_before);  // not replaced
  EXPECT_EQ(store.read(Space::originals, key), kData);
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
  EXPECT_THROW(store.publish(*staged, Space::originals, key), std::logic_error);
}

TEST(FileBlobStore, UnpublishedStagingFileIsRemovedOnDestruction) {
  TempDir dir;
  FileBlobStore store(dir.path());
  fs::path p;
  {
    auto staged = store.create_staging();
    staged->write("x", 1);
    p = staged->path();
    EXPECT_TRUE(fs::exists(p));
  }
  EXPECT_FALSE(fs::exists(p));
}

TEST(FileBlobStore, StagingNamesAreUnique) {
  TempDir dir;
  FileBlobStore store(dir.path());
  std::vector<std::unique_ptr<storage::StagingFile>> files;
  for (int i = 0; i < 100; ++i) files.push_back(store.create_staging());
  std::set<fs::path> names;
  for (auto& f : files) names.insert(f->path());
  EXPECT_EQ(names.size(), 100u);
}

TEST(FileBlobStore, PutReadOpenRemove) {
  TempDir dir;
  FileBlobStore store(dir.path());
  const std::string key = "deadbeef00112233";
  std::string bytes(300000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  store.put(Space::derivatives, key, bytes);
  EXPECT_EQ(store.read(Space::derivatives, key), bytes);
  store.put(Space::derivatives, key, bytes);  // idempotent

  auto blob = store.open(Space::derivatives, key);
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob->size(), static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(slurp(blob->path()), bytes);

  store.remove(Space::derivatives, key);
  EXPECT_FALSE(store.exists(Space::derivatives, key));
  EXPECT_FALSE(store.read(Space::derivatives, key));
  EXPECT_EQ(store.open(Space::derivatives, key), nullptr);
  // A LocalBlob handed out before the removal stays readable.
  EXPECT_EQ(slurp(blob->path()), bytes);
  store.remove(Space::derivatives, key);  // missing: not an error
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
}

TEST(FileBlobStore, EmptyBlob) {
  TempDir dir;
  FileBlobStore store(dir.path());
  store.put(Space::originals, core::sha256_hex(""), "");
  EXPECT_EQ(store.read(Space::originals, core::sha256_hex("")), "");
  EXPECT_EQ(store.open(Space::originals, core::sha256_hex(""))->size(), 0);
}

TEST(FileBlobStore, RefusesKeysThatAreNotHex) {
  TempDir dir;
  FileBlobStore store(dir.path() / "root");
  fs::create_directories(dir.path() / "x");
  for (const std::string& bad : std::vector<std::string>{"../x", "..", "", "abc", "ABCDEF12", "abcd/ef", "abcd\\ef", "/etc/passwd",
                          "abcg1234", std::string("abcd\0ef", 7), std::string(129, 'a'), "aaaa.part"}) {
    EXPECT_FALSE(storage::is_valid_key(bad)) << bad;
    EXPECT_THROW(store.put(Space::originals, bad, "x"), std::invalid_argument) << bad;
    EXPECT_THROW(store.exists(Space::originals, bad), std::invalid_argument) << bad;
    EXPECT_THROW(store.read(Space::derivatives, bad), std::invalid_argument) << bad;
    EXPECT_THROW(store.open(Space::derivatives, bad), std::invalid_argument) << bad;
    EXPECT_THROW(store.remove(Space::derivatives, bad), std::invalid_argument) << bad;
    auto staged = store.create_staging();
    EXPECT_THROW(store.publish(*staged, Space::originals, bad), std::invalid_argument) << bad;
  }
  EXPECT_TRUE(storage::is_valid_key("abcd"));
  EXPECT_TRUE(storage::is_valid_key(std::string(128, 'f')));
  EXPECT_EQ(count_files(dir.path()), 0u);
}

TEST(FileBlobStore, RefusesStagingFileOfAnotherStore) {
  TempDir a, b;
  FileBlobStore store_a(a.path()), store_b(b.path());
  auto staged = store_a.create_staging();
  EXPECT_THROW(store_b.publish(*staged, Space::originals, "abcd1234"), std::invalid_argument);
}

TEST(FileBlobStore, SweepRemovesStagingLeftovers) {
  TempDir dir;
  {
    FileBlobStore store(dir.path());
    store.put(Space::originals, "abcd1234", "keep");
  }
  for (int i = 0; i < 3; ++i) std::ofstream(dir.path() / "staging" / ("left" + std::to_string(i) + ".part")) << "x";
  fs::create_directories(dir.path() / "staging" / "odd-dir");
  FileBlobStore store(dir.path());
  EXPECT_EQ(store.sweep_staging(), 4u);
  EXPECT_TRUE(fs::is_empty(dir.path() / "staging"));
  EXPECT_EQ(store.read(Space::originals, "abcd1234"), "keep");
  EXPECT_EQ(store.sweep_staging(), 0u);
}

TEST(FileBlobStore, DurableOrderOfSystemCalls) {
  TempDir dir;
  auto ops = std::make_shared<FailingOps>(Op::open, 0);  // never fails, records
  FileBlobStore store(dir.path(), ops);
  ops->arm(Op::open, 0);
  store.put(Space::originals, "abcd1234", kData);
  // create, write, fsync the file, make the two fan-out directories durable
  // (fsync their parents), rename, fsync the target directory.
  std::vector<std::string> expected = {"open",  "write", "fsync", "mkdir", "open",  "fsync",
                                       "mkdir", "open",  "fsync", "rename", "open", "fsync"};
  EXPECT_EQ(ops->calls(), expected);

  // The fan-out is made durable once per process; later blobs in it skip that.
  ops->arm(Op::open, 0);
  store.put(Space::originals, "abcd5678", kData);
  expected = {"open", "write", "fsync", "rename", "open", "fsync"};
  EXPECT_EQ(ops->calls(), expected);

  // A duplicate costs no write at all.
  ops->arm(Op::open, 0);
  store.put(Space::originals, "abcd5678", kData);
  EXPECT_TRUE(ops->calls().empty());
}

struct Fault {
  Op op;
  int nth;
  bool blob_expected;  // the failure comes after the atomic rename
};

void PrintTo(const Fault& f, std::ostream* os) {
  static const char* names[] = {"open", "write", "fsync", "rename", "mkdir", "unlink"};
  *os << names[static_cast<int>(f.op)] << " #" << f.nth;
}

class PublishFault : public ::testing::TestWithParam<Fault> {};

// Every failing system call on the publish path: publish throws, nothing
// partial appears under the key, and no staging file is left behind.
TEST_P(PublishFault, LeavesNoPartialBlobAndNoStagingFile) {
  const Fault f = GetParam();
  TempDir dir;
  auto ops = std::make_shared<FailingOps>(Op::open, 0);
  FileBlobStore store(dir.path(), ops);
  const std::string key = core::sha256_hex(kData);
  auto staged = store.create_staging();
  staged->write(kData.data(), kData.size());
  ops->arm(f.op, f.nth);
  EXPECT_THROW(store.publish(*staged, Space::originals, key), core::Error);
  EXPECT_TRUE(ops->fired());
  const fs::path target = store.path_of(Space::originals, key);
  if (f.blob_expected) {
    EXPECT_EQ(slurp(target), kData);  // complete, never partial
  } else {
    EXPECT_FALSE(fs::exists(target));
  }
  staged.reset();
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);

  // The store still works afterwards, and the same key can be stored.
  ops->arm(Op::open, 0);
  store.put(Space::originals, key, kData);
  EXPECT_EQ(store.read(Space::originals, key), kData);
}

INSTANTIATE_TEST_SUITE_P(
    FileBlobStore, PublishFault,
    ::testing::Values(Fault{Op::fsync, 1, false},   // the file
                      Fault{Op::mkdir, 1, false},   // fan-out level 1
                      Fault{Op::mkdir, 2, false},   // fan-out level 2
                      Fault{Op::open, 1, false},    // opening originals/ to fsync it
                      Fault{Op::fsync, 2, false},   // fsync of originals/
                      Fault{Op::fsync, 3, false},   // fsync of originals/ab
                      Fault{Op::rename, 1, false},
                      Fault{Op::fsync, 4, true}));  // the target directory, after the rename

class PutFault : public ::testing::TestWithParam<Fault> {};

TEST_P(PutFault, LeavesNoPartialBlobAndNoStagingFile) {
  const Fault f = GetParam();
  TempDir dir;
  auto ops = std::make_shared<FailingOps>(Op::open, 0, ENOSPC);
  FileBlobStore store(dir.path(), ops);
  ops->arm(f.op, f.nth);
  try {
    store.put(Space::derivatives, "0123456789abcdef", kData);
    ADD_FAILURE() << "put did not throw";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.code(), core::ErrorCode::unavailable);  // a full disk is a 503, not a bug
  }
  EXPECT_TRUE(ops->fired());
  EXPECT_EQ(store.path_of(Space::derivatives, "0123456789abcdef").parent_path().parent_path().parent_path(),
            dir.path() / "derivatives");
  if (!f.blob_expected) {
    EXPECT_FALSE(store.exists(Space::derivatives, "0123456789abcdef"));
  }
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
}

INSTANTIATE_TEST_SUITE_P(FileBlobStore, PutFault,
                         ::testing::Values(Fault{Op::open, 1, false},  // creating the staging file
                                           Fault{Op::write, 1, false}, Fault{Op::fsync, 1, false},
                                           Fault{Op::rename, 1, false}, Fault{Op::fsync, 4, true}));

TEST(FileBlobStore, FailedWriteMakesStagingFileUnpublishable) {
  TempDir dir;
  auto ops = std::make_shared<FailingOps>(Op::write, 2);
  FileBlobStore store(dir.path(), ops);
  auto staged = store.create_staging();
  staged->write("abc", 3);
  EXPECT_THROW(staged->write("def", 3), core::Error);
  EXPECT_THROW(staged->write("ghi", 3), std::logic_error);
  EXPECT_THROW(store.publish(*staged, Space::originals, "abcd1234"), std::logic_error);
  EXPECT_FALSE(store.exists(Space::originals, "abcd1234"));
  staged.reset();
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
}

TEST(FileBlobStore, UnhealthyWhenStagingCannotBeWritten) {
  TempDir dir;
  auto ops = std::make_shared<FailingOps>(Op::open, 0);
  FileBlobStore store(dir.path(), ops);
  ops->arm(Op::open, 1);
  EXPECT_FALSE(store.healthy());
  EXPECT_TRUE(store.healthy());
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
  fs::remove_all(dir.path());
  EXPECT_FALSE(store.healthy());
}

TEST(FileBlobStore, ConcurrentPublishersOfSameAndDifferentKeys) {
  TempDir dir;
  FileBlobStore store(dir.path());
  constexpr int kThreads = 8, kPerThread = 40;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kPerThread; ++i) {
          // Half the keys are shared by all threads, half are per thread.
          std::string content = (i % 2 == 0) ? "shared " + std::to_string(i)
                                              : "own " + std::to_string(t) + " " + std::to_string(i);
          std::string key = core::sha256_hex(content);
          auto staged = store.create_staging();
          staged->write(content.data(), content.size());
          store.publish(*staged, Space::originals, key);
          if (store.read(Space::originals, key) != content) ++errors;
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(count_files(dir.path() / "originals"),
            static_cast<std::size_t>(kPerThread / 2 + kThreads * kPerThread / 2));
  EXPECT_EQ(count_files(dir.path() / "staging"), 0u);
}

namespace {

TEST(FileBlobStore, SizeOfAndReadRange) {
  TempDir dir;
  FileBlobStore store(dir.path());
  std::string bytes(700 * 1024, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  const std::string key = core::sha256_hex(bytes);
  store.put(Space::originals, key, bytes);

  EXPECT_EQ(store.size_of(Space::originals, key), static_cast<std::int64_t>(bytes.size()));
  EXPECT_FALSE(store.size_of(Space::originals, std::string(64, 'a')));
  const auto size = static_cast<std::int64_t>(bytes.size());
  for (auto [offset, length] : {std::pair<std::int64_t, std::int64_t>{0, 1}, {5, 300'000}, {0, size},
                                {size - 3, 10}, {size, 5}}) {
    std::string got;
    EXPECT_TRUE(store.read_range(Space::originals, key, offset, length, [&](std::string_view p) { got.append(p); }));
    EXPECT_TRUE(got == bytes.substr(static_cast<std::size_t>(std::min(offset, size)), static_cast<std::size_t>(length)))
        << offset << "+" << length << ": " << got.size() << " bytes";
  }
  EXPECT_FALSE(store.read_range(Space::originals, std::string(64, 'a'), 0, 1, [](std::string_view) {}));
  EXPECT_THROW(store.read_range(Space::originals, key, -1, 1, [](std::string_view) {}), std::invalid_argument);
  EXPECT_TRUE(store.is_local());
}

}  // namespace
