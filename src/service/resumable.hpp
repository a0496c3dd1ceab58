#pragma once
// Resumable uploads (the use cases behind tus 1.0): made by a key, a token
// or an upload link, their bytes appended to one file each in a directory of
// the data dir (fsynced before an append is acknowledged, so offsets survive
// a restart and kill -9), the rest in the catalog. The upload that gets its
// last byte goes through ImageService::ingest like any other; unfinished
// ones expire and a sweep removes their bytes and rows.
//
// Who may continue an upload: one made with an upload link is authorised by
// its URL alone (the token in it has about 262 random bits, and the catalog
// keeps only its hash); one made with a key needs a key of its tenant too.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
#include "core/tenant.hpp"
#include "core/unique_fd.hpp"
#include "service/image_service.hpp"
#include "service/upload_links.hpp"

namespace progimage::service {

struct ResumableOptions {
  std::filesystem::path dir;  // the bytes of unfinished uploads, one file each
  std::chrono::milliseconds expiry{24 * 3600'000};
  std::int64_t max_size = 50LL << 20;  // the largest upload (Tus-Max-Size)
};

/// Who asks: the scope of a key or token, or nobody (no credential: the
/// upload's URL, or at creation an upload link, is the proof).
using Caller = std::optional<core::Scope>;

struct NewResumable {
  std::int64_t length = 0;
  std::string metadata;    // Upload-Metadata to keep, the link token left out
  std::string link_token;  // "" when a key authorises
};

/// An upload and how many of its bytes are stored.
struct ResumableState {
  catalog::ResumableUploadRecord record;
  std::int64_t offset = 0;
  bool finished() const noexcept { return !record.image_id.empty(); }
  bool has_all_bytes() const noexcept { return offset == record.length; }
};

class ResumableUploads {
 public:
  ResumableUploads(catalog::Catalog& catalog, ImageService& images, UploadLinks& links, ResumableOptions options);

  /// Exclusive right to append to one upload, held by one request at a time.
  class Writer {
   public:
    Writer(Writer&& o) noexcept;
    Writer& operator=(Writer&& o) noexcept;
    ~Writer();
    const catalog::ResumableUploadRecord& record() const noexcept { return record_; }
    std::int64_t offset() const noexcept { return offset_; }
    bool has_all_bytes() const noexcept { return offset_ == record_.length; }
    /// Appends; payload_too_large past the upload's length (nothing of
    /// `bytes` is written then), unavailable on a full disk.
    void write(std::string_view bytes);
    /// Makes what was written survive a power loss (before it is acknowledged).
    void sync();

   private:
    friend class ResumableUploads;
    Writer(ResumableUploads& owner, catalog::ResumableUploadRecord record, core::UniqueFd fd, std::int64_t offset);
    ResumableUploads* owner_;
    catalog::ResumableUploadRecord record_;
    core::UniqueFd fd_;
    std::int64_t offset_;
  };

  struct Created {
    std::string token;  // the last segment of the upload's URL
    ResumableState state;
  };

  /// A new upload. With `request.link_token`, the link authorises (and one
  /// of its uses is taken: not_found, link_expired); else the caller's scope
  /// (unauthorized without one). payload_too_large over the maximum size or
  /// the link's max_bytes; quota_exceeded when the tenant cannot take it.
  Created create(const Caller& caller, const NewResumable& request);
  /// The upload of a URL token. Throws not_found for an unknown or expired
  /// one, or one of a tenant the caller's key does not see; unauthorized for
  /// an upload made with a key when no key is sent; link_expired when its
  /// link was revoked.
  ResumableState find(std::string_view token, const Caller& caller);
  /// The writer of an upload at `offset`. Throws as find(), and conflict when
  /// the offset is not the upload's, it is finished, or another request is
  /// writing it.
  Writer writer(std::string_view token, const Caller& caller, std::int64_t offset);
  /// The writer of an upload that has all its bytes but no image yet (a crash
  /// came between), or nullopt when there is none or someone else writes it.
  std::optional<Writer> unfinished_writer(const ResumableState& state);
  /// Stores a complete upload as an image (`meta` from its metadata; a link's
  /// terms are applied). A refusal (4xx) removes the upload and gives its
  /// link use back; a failure worth retrying keeps the bytes.
  IngestResult complete(Writer& writer, const UploadMeta& meta);
  /// Removes an upload, finished or not (termination). Throws as find(), and
  /// conflict while a request is writing it.
  void terminate(std::string_view token, const Caller& caller);
  /// Removes expired uploads (bytes and rows; unfinished ones give their
  /// link use back) and files no unfinished upload owns. Returns how many.
  std::size_t sweep(std::int64_t now);

  const ResumableOptions& options() const noexcept { return options_; }

 private:
  static std::string id_of(std::string_view token);
  std::filesystem::path path_of(const std::string& id) const;
  std::int64_t stored_bytes(const std::string& id) const;
  catalog::ResumableUploadRecord authorized(std::string_view token, const Caller& caller);
  /// Removes bytes and row, giving the link use back when nothing was stored.
  void remove(const catalog::ResumableUploadRecord& record);
  bool claim(const std::string& id);
  void release(const std::string& id);
  Writer open_writer(catalog::ResumableUploadRecord record);

  catalog::Catalog& catalog_;
  ImageService& images_;
  UploadLinks& links_;
  ResumableOptions options_;
  std::mutex busy_mutex_;
  std::set<std::string> busy_;  // ids a Writer holds
};

}  // namespace progimage::service
