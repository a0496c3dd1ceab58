#include "storage/s3_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/id.hpp"
#include "core/unique_fd.hpp"
#include "storage/file_blob_store.hpp"  // is_valid_key
#include "storage/local_staging.hpp"

namespace progimage::storage {

namespace fs = std::filesystem;

namespace {

using core::Error;
using core::ErrorCode;
using core::UniqueFd;
using detail::FileSlice;
using detail::S3Request;
using detail::S3Response;

constexpr std::int64_t kMaxParts = 10'000;  // S3's limit per upload

[[noreturn]] void throw_unavailable(std::string_view what, const S3Response& r) {
  std::string msg = "storage: S3 ";
  msg += what;
  msg += ": HTTP " + std::to_string(r.status);
  if (auto code = r.error_code(); !code.empty()) msg += " " + code;
  throw Error(ErrorCode::unavailable, std::move(msg));
}

[[noreturn]] void throw_local(std::string_view what, const fs::path& path, int err) {
  throw Error(ErrorCode::internal,
              "storage: " + std::string(what) + " " + path.filename().string() + ": " + std::strerror(err));
}

bool is_success(const S3Response& r) { return r.status >= 200 && r.status < 300; }

/// The text of the first <tag> element of an XML answer, entities decoded.
std::string xml_text(const std::string& xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  auto from = xml.find(open);
  if (from == std::string::npos) return {};
  from += open.size();
  auto to = xml.find(close, from);
  if (to == std::string::npos) return {};
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (xml[i] != '&') {
      out += xml[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool decoded = false;
    for (auto [entity, c] : kEntities) {
      if (std::string_view(xml).substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        decoded = true;
        break;
      }
    }
    if (!decoded) out += '&';
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

/// The SHA-256 (hex) of bytes of a file, read in 1 MiB pieces: each request
/// signs its payload's hash, so it is taken from the bytes about to be sent.
std::string sha256_of(const FileSlice& slice) {
  core::Sha256 hash;
  std::string buffer(1 << 20, '\0');
  std::int64_t done = 0;
  while (done < slice.length) {
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(slice.length - done, buffer.size()));
    ssize_t n = ::pread(slice.fd, buffer.data(), want, slice.offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(ErrorCode::internal, "storage: the staging file is shorter than what was written");
    hash.update(buffer.data(), static_cast<std::size_t>(n));
    done += n;
  }
  return hash.hex_digest();
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    int value = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16).ptr == s.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool valid_bucket_name(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
}

std::int64_t parse_bytes(const std::string& name, std::string_view v) {
  std::int64_t scale = 1;
  if (!v.empty()) {
    char last = static_cast<char>(v.back() | 0x20);
    if (last == 'k') scale = 1LL << 10;
    else if (last == 'm') scale = 1LL << 20;
    else if (last == 'g') scale = 1LL << 30;
    if (scale != 1) v.remove_suffix(1);
  }
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0)
    throw std::invalid_argument("--storage s3://: " + name + " expects a byte count such as 16M");
  return n * scale;
}

bool parse_flag(const std::string& name, std::string_view v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw std::invalid_argument("--storage s3://: " + name + " expects true or false");
}

fs::path default_staging_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return fs::path(tmp && *tmp ? tmp : "/tmp") / "progimage-s3-staging";
}

/// A downloaded copy of an object, removed with this object.
class DownloadedBlob final : public LocalBlob {
 public:
  explicit DownloadedBlob(fs::path path) : path_(std::move(path)) {}
  ~DownloadedBlob() override { ::unlink(path_.c_str()); }
  const fs::path& path() const override { return path_; }
  std::int64_t size() const override { return size_; }
  void grew(std::int64_t bytes) { size_ += bytes; }

 private:
  fs::path path_;
  std::int64_t size_ = 0;
};

}  // namespace

S3Options parse_s3_url(std::string_view rest, S3Options o) {
  const auto question = rest.find('?');
  o.bucket = std::string(rest.substr(0, question));
  if (!o.bucket.empty() && o.bucket.back() == '/') o.bucket.pop_back();
  if (!valid_bucket_name(o.bucket))
    throw std::invalid_argument("--storage s3://" + o.bucket + ": a bucket name is 3-63 of a-z, 0-9, '-' and '.'");
  std::string_view query = question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    if (name == "endpoint") {
      if (!value.starts_with("http://") && !value.starts_with("https://"))
        throw std::invalid_argument("--storage s3://: endpoint must be an http:// or https:// URL");
      o.endpoint = value;
      while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
    } else if (name == "region") {
      o.region = value;
    } else if (name == "path_style") {
      o.path_style = parse_flag(name, value);
    } else if (name == "prefix") {
      o.prefix = value;
      while (!o.prefix.empty() && o.prefix.front() == '/') o.prefix.erase(0, 1);
      while (!o.prefix.empty() && o.prefix.back() == '/') o.prefix.pop_back();
    } else if (name == "multipart_threshold") {
      o.multipart_threshold = parse_bytes(name, value);
      if (o.multipart_threshold < kS3MinPartSize)
        throw std::invalid_argument("--storage s3://: multipart_threshold must be at least 5M (S3's smallest part)");
    } else if (name == "create_bucket") {
      o.create_bucket = parse_flag(name, value);
    } else if (name == "staging_dir") {
      o.staging_dir = value;
    } else {
      throw std::invalid_argument("--storage s3://: unknown parameter " + name +
                                  " (endpoint, region, path_style, prefix, multipart_threshold, create_bucket, "
                                  "staging_dir)");
    }
  }
  if (o.region.empty()) throw std::invalid_argument("--storage s3://: region must not be empty");
  return o;
}

// ---- staging ---------------------------------------------------------------

/// A local staging file of one S3BlobStore: written here, then streamed up by
/// publish(). The local copy stays readable until this object dies.
class S3BlobStore::Staging final : public LocalStagingFile {
 public:
  Staging(const S3BlobStore* owner, fs::path path, UniqueFd fd)
      : LocalStagingFile(std::move(path), std::move(fd)), owner_(owner) {}
  ~Staging() override {
    fd_.reset();
    ::unlink(path_.c_str());
  }

  const S3BlobStore* owner() const { return owner_; }
  void mark_published() { published_ = true; }

 private:
  const S3BlobStore* owner_;
};

// ---- S3BlobStore -----------------------------------------------------------

namespace {

detail::S3Endpoint endpoint_of(const S3Options& o) {
  if (o.bucket.empty()) throw std::invalid_argument("storage: S3 bucket not set");
  detail::S3Endpoint e;
  e.bucket = o.bucket;
  e.region = o.region;
  // A custom endpoint is addressed by path: its host name does not carry buckets.
  e.path_style = o.path_style || !o.endpoint.empty();
  if (!o.endpoint.empty()) e.base = o.endpoint;
  else if (e.path_style) e.base = "https://s3." + o.region + ".amazonaws.com";
  else e.base = "https://" + o.bucket + ".s3." + o.region + ".amazonaws.com";
  return e;
}

}  // namespace

S3BlobStore::S3BlobStore(S3Options options)
    : options_(std::move(options)), client_(endpoint_of(options_), options_.credentials, options_.retry) {
  if (options_.credentials.access_key_id.empty() || options_.credentials.secret_access_key.empty())
    throw std::invalid_argument(
        "storage: S3 credentials missing: set --s3-access-key-id and --s3-secret-access-key "
        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  if (options_.multipart_threshold < kS3MinPartSize) options_.multipart_threshold = kS3MinPartSize;
  if (options_.staging_dir.empty()) options_.staging_dir = default_staging_dir();
  fs::create_directories(options_.staging_dir);
  if (options_.create_bucket) make_bucket();
}

S3BlobStore::~S3BlobStore() = default;

std::string S3BlobStore::object_of(Space space, const std::string& key) const {
  if (!is_valid_key(key)) throw std::invalid_argument("storage: invalid blob key");
  std::string object = options_.prefix.empty() ? std::string() : options_.prefix + "/";
  return object + space_name(space) + "/" + key;
}

void S3BlobStore::make_bucket() {
  S3Request r;
  r.method = "PUT";
  // us-east-1 is the one region that takes no location constraint.
  std::string config;
  if (options_.region != "us-east-1")
    config = "<CreateBucketConfiguration><LocationConstraint>" + xml_escape(options_.region) +
             "</LocationConstraint></CreateBucketConfiguration>";
  r.body = std::string_view(config);
  r.payload_sha256 = core::sha256_hex(config);
  auto answer = client_.send(r);
  if (is_success(answer) || answer.error_code() == "BucketAlreadyOwnedByYou") return;
  // s3rver says BucketAlreadyExists for its own buckets; a bucket we cannot
  // use shows on the first request, and /readyz tells.
  if (answer.status == 409) return;
  throw_unavailable("create bucket " + options_.bucket, answer);
}

std::unique_ptr<StagingFile> S3BlobStore::create_staging() {
  for (int attempt = 0;; ++attempt) {
    fs::path path = options_.staging_dir / (core::new_id() + ".part");
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd) return std::make_unique<Staging>(this, std::move(path), std::move(fd));
    if (errno != EEXIST || attempt == 8) throw_local("create", path, errno);
  }
}

S3BlobStore::Staging& S3BlobStore::own_staging(StagingFile& staged) const {
  auto* file = dynamic_cast<Staging*>(&staged);
  if (file == nullptr || file->owner() != this) throw std::invalid_argument("storage: staging file of another store");
  if (file->published()) throw std::logic_error("storage: staging file published twice");
  if (file->broken()) throw std::logic_error("storage: staging file had a failed write");
  return *file;
}

std::optional<std::int64_t> S3BlobStore::head(const std::string& object) {
  S3Request r;
  r.method = "HEAD";
  r.object = object;
  auto answer = client_.send(r);
  if (answer.status == 404) return std::nullopt;
  if (!is_success(answer)) throw_unavailable("HEAD " + object, answer);
  return answer.content_length.value_or(0);
}

void S3BlobStore::publish(StagingFile& staged, Space space, const std::string& key) {
  const std::string object = object_of(space, key);
  Staging& file = own_staging(staged);
  // Keys name their content: an object already there holds these bytes.
  if (!head(object)) {
    if (file.size() < options_.multipart_threshold) put_whole(object, file.fd(), file.size());
    else put_in_parts(object, file.fd(), file.size());
  }
  file.mark_published();
}

void S3BlobStore::put_whole(const std::string& object, int fd, std::int64_t size) {
  const FileSlice all{fd, 0, size};
  S3Request r;
  r.method = "PUT";
  r.object = object;
  r.body = all;
  r.payload_sha256 = sha256_of(all);
  // Idempotent: the key names the content, so a repeated PUT stores the same bytes.
  auto answer = client_.send(r);
  if (!is_success(answer)) throw_unavailable("PUT " + object, answer);
}

void S3BlobStore::put(Space space, const std::string& key, std::string_view bytes) {
  const std::string object = object_of(space, key);
  S3Request r;
  r.method = "PUT";
  r.object = object;
  r.body = bytes;
  r.payload_sha256 = core::sha256_hex(bytes);
  auto answer = client_.send(r);  // idempotent, as in put_whole()
  if (!is_success(answer)) throw_unavailable("PUT " + object, answer);
}

void S3BlobStore::put_in_parts(const std::string& object, int fd, std::int64_t size) {
  const std::int64_t part_size = std::max(options_.multipart_threshold, (size + kMaxParts - 1) / kMaxParts);
  const std::string upload_id = start_multipart(object);
  try {
    std::vector<std::string> etags;
    for (std::int64_t offset = 0; offset < size; offset += part_size) {
      const FileSlice slice{fd, offset, std::min(part_size, size - offset)};
      etags.push_back(put_part(object, upload_id, static_cast<int>(etags.size()) + 1, slice));
    }
    complete_multipart(object, upload_id, etags, size);
  } catch (...) {
    // An upload left open keeps its parts (and bills them) until aborted.
    abort_multipart(object, upload_id);
    throw;
  }
}

std::string S3BlobStore::start_multipart(const std::string& object) {
  S3Request r;
  r.method = "POST";
  r.object = object;
  r.query = "uploads=";
  r.content_type = "application/octet-stream";
  // Not idempotent: each call opens another upload, and a lost answer would
  // leave one open that nothing aborts.
  r.idempotent = false;
  auto answer = client_.send(r);
  if (!is_success(answer)) throw_unavailable("start multipart upload of " + object, answer);
  std::string id = xml_text(answer.body, "UploadId");
  if (id.empty()) throw Error(ErrorCode::unavailable, "storage: S3 answered a multipart upload without an UploadId");
  return id;
}

std::string S3BlobStore::put_part(const std::string& object, const std::string& upload_id, int number,
                                  FileSlice slice) {
  S3Request r;
  r.method = "PUT";
  r.object = object;
  r.query = "partNumber=" + std::to_string(number) + "&uploadId=" + detail::S3Client::uri_encode(upload_id, false);
  r.body = slice;
  r.payload_sha256 = sha256_of(slice);
  // Idempotent: sending a part again replaces it with the same bytes.
  auto answer = client_.send(r);
  if (!is_success(answer)) throw_unavailable("PUT part " + std::to_string(number) + " of " + object, answer);
  if (answer.etag.empty()) throw Error(ErrorCode::unavailable, "storage: S3 answered a part without an ETag");
  return answer.etag;
}

void S3BlobStore::complete_multipart(const std::string& object, const std::string& upload_id,
                                     const std::vector<std::string>& etags, std::int64_t size) {
  std::string xml = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags.size(); ++i)
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags[i]) +
           "</ETag></Part>";
  xml += "</CompleteMultipartUpload>";
  S3Request r;
  r.method = "POST";
  r.object = object;
  r.query = "uploadId=" + detail::S3Client::uri_encode(upload_id, false);
  r.body = std::string_view(xml);
  r.payload_sha256 = core::sha256_hex(xml);
  r.content_type = "application/xml";
  // Never resent blindly: whether a completion whose answer was lost took
  // effect is asked of the object itself.
  r.idempotent = false;
  std::optional<S3Response> answer;
  try {
    answer = client_.send(r);
  } catch (const Error&) {
    answer.reset();
  }
  // S3 may answer 200 and still report an error in the body.
  if (answer && is_success(*answer) && answer->body.find("<Error>") == std::string::npos) return;
  std::optional<std::int64_t> stored;
  try {
    stored = head(object);
  } catch (const Error&) {
  }
  if (stored && *stored == size) return;
  if (answer) throw_unavailable("complete multipart upload of " + object, *answer);
  throw Error(ErrorCode::unavailable, "storage: S3 did not answer the completion of " + object);
}

void S3BlobStore::abort_multipart(const std::string& object, const std::string& upload_id) noexcept {
  try {
    S3Request r;
    r.method = "DELETE";
    r.object = object;
    r.query = "uploadId=" + detail::S3Client::uri_encode(upload_id, false);
    client_.send(r);  // idempotent: aborting twice leaves it aborted
  } catch (...) {
    // The bucket's lifecycle rule for incomplete uploads is the last resort.
  }
}

std::unique_ptr<LocalBlob> S3BlobStore::open(Space space, const std::string& key) {
  const std::string object = object_of(space, key);
  fs::path path = options_.staging_dir / (core::new_id() + ".get");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw_local("create", path, errno);
  auto blob = std::make_unique<DownloadedBlob>(path);  // removes the file on any way out
  S3Request r;
  r.object = object;
  r.sink = [&](std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw_local("write", path, n < 0 ? errno : EIO);
      bytes.remove_prefix(static_cast<std::size_t>(n));
      blob->grew(n);
    }
  };
  auto answer = client_.send(r);
  if (answer.status == 404) return nullptr;
  if (!is_success(answer)) throw_unavailable("GET " + object, answer);
  return blob;
}

std::optional<std::string> S3BlobStore::read(Space space, const std::string& key) {
  const std::string object = object_of(space, key);
  std::string bytes;
  S3Request r;
  r.object = object;
  r.sink = [&bytes](std::string_view piece) { bytes.append(piece); };
  auto answer = client_.send(r);
  if (answer.status == 404) return std::nullopt;
  if (!is_success(answer)) throw_unavailable("GET " + object, answer);
  return bytes;
}

bool S3BlobStore::exists(Space space, const std::string& key) { return head(object_of(space, key)).has_value(); }

std::optional<std::int64_t> S3BlobStore::size_of(Space space, const std::string& key) {
  return head(object_of(space, key));
}

bool S3BlobStore::read_range(Space space, const std::string& key, std::int64_t offset, std::int64_t length,
                             const std::function<void(std::string_view)>& sink) {
  if (offset < 0 || length < 0) throw std::invalid_argument("storage: negative range");
  const std::string object = object_of(space, key);
  if (length == 0) return head(object).has_value();
  S3Request r;
  r.object = object;
  r.range_first = offset;
  r.range_last = offset + length - 1;
  r.sink = sink;
  auto answer = client_.send(r);
  if (answer.status == 404) return false;
  if (answer.status == 416) return true;  // the object is shorter than offset: nothing to send
  if (!is_success(answer)) throw_unavailable("GET " + object + " (range)", answer);
  return true;
}

void S3BlobStore::remove(Space space, const std::string& key) {
  const std::string object = object_of(space, key);
  S3Request r;
  r.method = "DELETE";
  r.object = object;
  auto answer = client_.send(r);
  if (!is_success(answer) && answer.status != 404) throw_unavailable("DELETE " + object, answer);
}

std::size_t S3BlobStore::sweep_staging() {
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(options_.staging_dir)) {
    std::error_code ec;
    if (fs::remove_all(entry.path(), ec) > 0 && !ec) ++removed;
  }
  return removed;
}

bool S3BlobStore::healthy() {
  try {
    S3Request r;
    r.query = "list-type=2&max-keys=1";
    r.probe = true;
    return is_success(client_.send(r));
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace progimage::storage
