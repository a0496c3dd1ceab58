#include "http.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace progimage::detail {
namespace {

constexpr std::size_t kIdleHandles = 32;
// An error answer's body is read for its JSON only; a huge one is cut.
constexpr std::size_t kMaxErrorBody = 1 << 20;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

void ensure_curl_initialised() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) throw std::runtime_error(std::string("curl_global_init: ") + curl_easy_strerror(code));
}

}  // namespace

// ---- Body ----

Body Body::bytes(std::string_view bytes, std::string content_type) {
  Body b;
  b.kind = Kind::memory;
  b.memory = bytes;
  b.content_type = std::move(content_type);
  return b;
}

Body Body::file_range(std::filesystem::path path, std::int64_t offset, std::int64_t length,
                      std::string content_type) {
  Body b;
  b.kind = Kind::file;
  b.file = std::move(path);
  b.offset = offset;
  b.length = length;
  b.content_type = std::move(content_type);
  return b;
}

Body Body::whole_file(const std::filesystem::path& path, std::string content_type) {
  auto size = static_cast<std::int64_t>(std::filesystem::file_size(path));
  return file_range(path, 0, size, std::move(content_type));
}

Body Body::multipart(std::function<curl_mime*(CURL*)> build) {
  Body b;
  b.kind = Kind::form;
  b.form = std::move(build);
  return b;
}

std::int64_t Body::size() const {
  switch (kind) {
    case Kind::none: return 0;
    case Kind::memory: return static_cast<std::int64_t>(memory.size());
    case Kind::file: return length;
    case Kind::form: return -1;
  }
  return 0;
}

std::string Reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

// ---- Transfer ----

Transfer::Transfer(const Settings& settings, const Request& request) : settings_(settings), request_(request) {}

Transfer::~Transfer() {
  if (header_list_) curl_slist_free_all(header_list_);
  if (form_) curl_mime_free(form_);
  if (file_) std::fclose(file_);
}

void Transfer::prepare(CURL* easy) {
  easy_ = easy;
  const std::string url = settings_.base_url + request_.target;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, settings_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.connect_timeout.count()));
  // The idle timeout: fail when under 1 byte/s moved for that long, so large
  // transfers are never cut while they move.
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(settings_.idle_timeout.count() / 1000)));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
  set_method_and_body();
  set_headers();
}

void Transfer::set_method_and_body() {
  const Body& body = request_.body;
  const std::string& method = request_.method;
  if (body.kind == Body::Kind::none) {
    if (method == "GET") {
      curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(easy_, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{0});
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, "");
    } else {
      curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    return;
  }
  switch (body.kind) {
    case Body::Kind::memory:
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.memory.size()));
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, body.memory.data());
      break;
    case Body::Kind::file:
      file_ = std::fopen(body.file.c_str(), "rb");
      if (!file_ || ::fseeko(file_, body.offset, SEEK_SET) != 0)
        throw std::filesystem::filesystem_error("cannot read the body", body.file,
                                                std::error_code(errno, std::generic_category()));
      curl_easy_setopt(easy_, CURLOPT_POST, 1L);
      curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.length));
      curl_easy_setopt(easy_, CURLOPT_READFUNCTION, &Transfer::on_read);
      curl_easy_setopt(easy_, CURLOPT_READDATA, this);
      curl_easy_setopt(easy_, CURLOPT_SEEKFUNCTION, &Transfer::on_seek);
      curl_easy_setopt(easy_, CURLOPT_SEEKDATA, this);
      break;
    case Body::Kind::form:
      form_ = body.form(easy_);
      curl_easy_setopt(easy_, CURLOPT_MIMEPOST, form_);
      break;
    case Body::Kind::none: break;
  }
  if (method != "POST") curl_easy_setopt(easy_, CURLOPT_CUSTOMREQUEST, method.c_str());
}

void Transfer::set_headers() {
  auto append = [this](const std::string& line) {
    curl_slist* next = curl_slist_append(header_list_, line.c_str());
    if (!next) throw std::bad_alloc();
    header_list_ = next;
  };
  for (const auto& h : settings_.headers) append(h);
  for (const auto& h : request_.headers) append(h);
  // No "100 Continue" round trip: the server answers errors early on its own.
  append("Expect:");
  const Body& body = request_.body;
  if (body.kind == Body::Kind::memory || body.kind == Body::Kind::file)
    append("Content-Type: " + (body.content_type.empty() ? std::string("application/octet-stream") : body.content_type));
  else if (body.kind == Body::Kind::none && request_.method == "POST")
    append("Content-Type:");  // not libcurl's form-urlencoded for an empty POST
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, header_list_);
}

std::size_t Transfer::on_read(char* buffer, std::size_t size, std::size_t count, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::int64_t left = t->request_.body.length - t->file_position_;
  const auto want = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(size * count)));
  if (want == 0) return 0;
  std::size_t got = std::fread(buffer, 1, want, t->file_);
  if (got == 0) return CURL_READFUNC_ABORT;  // the file shrank or failed: never send short
  t->file_position_ += static_cast<std::int64_t>(got);
  return got;
}

int Transfer::on_seek(void* self, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(self);
  if (origin != SEEK_SET || offset < 0 || offset > t->request_.body.length) return CURL_SEEKFUNC_CANTSEEK;
  if (::fseeko(t->file_, t->request_.body.offset + offset, SEEK_SET) != 0) return CURL_SEEKFUNC_FAIL;
  t->file_position_ = offset;
  return CURL_SEEKFUNC_OK;
}

std::size_t Transfer::on_header(char* data, std::size_t size, std::size_t count, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    t->reply_.headers.clear();  // a new answer (after a 1xx): only the final one counts
    return n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    t->reply_.headers.emplace_back(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return n;
}

bool Transfer::answer_is_success() const {
  long code = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
  return code >= 200 && code < 300;
}

std::size_t Transfer::on_write(char* data, std::size_t size, std::size_t count, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t n = size * count;
  const std::string_view chunk(data, n);
  if (t->request_.sink && t->answer_is_success()) {
    if (!t->request_.sink->write(chunk)) {
      t->reply_.stopped_by_sink = true;
      return 0;  // CURLE_WRITE_ERROR ends the transfer
    }
    t->reply_.delivered += static_cast<std::int64_t>(n);
    return n;
  }
  if (t->request_.sink && t->reply_.body.size() + n > kMaxErrorBody) return n;
  t->reply_.body.append(chunk);
  return n;
}

int Transfer::on_progress(void* self, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
                          curl_off_t ul_now) {
  auto* t = static_cast<Transfer*>(self);
  t->uploaded_ = ul_now;
  if (!t->request_.on_progress) return 0;
  const bool sending = t->request_.body.kind != Body::Kind::none;
  Progress p;
  p.bytes_done = sending ? ul_now : dl_now;
  p.bytes_total = sending ? ul_total : dl_total;
  if (p.bytes_done == t->last_reported_) return 0;
  t->last_reported_ = p.bytes_done;
  t->request_.on_progress(p);
  return 0;
}

Reply Transfer::finish(CURLcode code) {
  Reply reply = std::move(reply_);
  reply_ = Reply{};
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  reply.transfer = code;
  // A sink that stopped the transfer had its answer: the stop is not a failure.
  const bool answered = code == CURLE_OK || reply.stopped_by_sink;
  reply.status = answered ? static_cast<int>(status) : 0;
  if (!answered) reply.transfer_error = error_[0] ? error_ : curl_easy_strerror(code);
  return reply;
}

// ---- Transport ----

Transport::Transport(Settings settings) : settings_(std::move(settings)) { ensure_curl_initialised(); }

Transport::~Transport() {
  for (CURL* easy : idle_) curl_easy_cleanup(easy);
}

CURL* Transport::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      CURL* easy = idle_.back();
      idle_.pop_back();
      return easy;
    }
  }
  CURL* easy = curl_easy_init();
  if (!easy) throw std::bad_alloc();
  return easy;
}

void Transport::release(CURL* easy) {
  curl_easy_reset(easy);  // no option points at a finished transfer; connections and caches stay
  std::lock_guard lock(mutex_);
  if (idle_.size() < kIdleHandles) {
    idle_.push_back(easy);
    return;
  }
  curl_easy_cleanup(easy);
}

Reply Transport::perform(const Request& request) {
  CURL* easy = acquire();
  struct Give {
    Transport& t;
    CURL* easy;
    ~Give() { t.release(easy); }
  } give{*this, easy};
  Transfer transfer(settings_, request);
  transfer.prepare(easy);
  return transfer.finish(curl_easy_perform(easy));
}

}  // namespace progimage::detail
