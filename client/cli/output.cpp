#include "output.hpp"

#include <boost/json.hpp>

#include "progress.hpp"
#include "units.hpp"

namespace progimage::cli {

namespace json = boost::json;

namespace {

/// The server's object when the SDK kept it and it parses.
std::optional<json::object> parsed(const std::string& text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

json::value optional_string(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }

json::array strings(const std::vector<std::string>& items) { return json::array(items.begin(), items.end()); }

}  // namespace

void Output::write(std::FILE* stream, std::string_view text) {
  if (progress_) {
    progress_->print(stream, text);
    return;
  }
  std::fwrite(text.data(), 1, text.size(), stream);
  std::fputc('\n', stream);
  std::fflush(stream);
}

void Output::emit(const json::value& document) { write(stdout, json::serialize(document)); }
void Output::line(std::string_view text) { write(stdout, text); }
void Output::note(std::string_view text) { write(stderr, text); }

json::object to_json(const Image& image) {
  if (auto o = parsed(image.json)) {
    if (image.duplicate) (*o)["duplicate"] = true;
    return *o;
  }
  json::object o{{"id", image.id},         {"url", image.url},       {"sha256", image.sha256},
                 {"format", image.format}, {"width", image.width},   {"height", image.height},
                 {"size", image.size},     {"frames", image.frames}, {"has_alpha", image.has_alpha},
                 {"created_at", image.created_at}, {"name", image.name}, {"description", image.description},
                 {"tags", strings(image.tags)}};
  if (image.camera_make || image.camera_model)
    o["camera"] = {{"make", optional_string(image.camera_make)}, {"model", optional_string(image.camera_model)}};
  else
    o["camera"] = nullptr;
  if (image.focus) o["focus"] = {{"x", image.focus->x}, {"y", image.focus->y}};
  else o["focus"] = nullptr;
  json::object variants;
  for (const auto& [name, state] : image.variants) variants[name] = state;
  o["variants"] = std::move(variants);
  o["duplicate"] = image.duplicate;
  return o;
}

json::object to_json(const ImageInfo& info) {
  if (auto o = parsed(info.json)) return *o;
  json::object o = to_json(info.image);
  o.erase("duplicate");
  o["icc"] = optional_string(info.icc);
  o["pages"] = info.pages;
  o["phash"] = optional_string(info.phash);
  o["dominant_color"] = optional_string(info.dominant_color);
  o["blurhash"] = optional_string(info.blurhash);
  boost::system::error_code ec;
  json::value exif = json::parse(info.exif_json.empty() ? "null" : info.exif_json, ec);
  o["exif"] = ec ? json::value(nullptr) : exif;
  return o;
}

json::object to_json(const JobResult& r) {
  json::object o{{"position", r.position}, {"source", r.source}, {"status", r.status}, {"attempts", r.attempts}};
  if (!r.image_id.empty()) o["image_id"] = r.image_id;
  if (!r.url.empty()) o["url"] = r.url;
  if (!r.expires_at.empty()) o["expires_at"] = r.expires_at;
  if (r.error_code || r.error_message)
    o["error"] = {{"code", optional_string(r.error_code)}, {"message", optional_string(r.error_message)}};
  else
    o["error"] = nullptr;
  return o;
}

json::object to_json(const Job& job) {
  if (auto o = parsed(job.json)) return *o;
  json::array results;
  for (const auto& r : job.results) results.push_back(to_json(r));
  return {{"id", job.id},
          {"status", job.status},
          {"total", job.total},
          {"done", job.done},
          {"failed", job.failed},
          {"cancelled", job.cancelled},
          {"created_at", job.created_at},
          {"finished_at", optional_string(job.finished_at)},
          {"params", job.params},
          {"store", job.store},
          {"results", std::move(results)},
          {"next_cursor", optional_string(job.next_cursor)}};
}

json::object to_json(const Key& key) {
  json::object o;
  if (auto p = parsed(key.json)) o = *p;
  else {
    o = {{"id", key.id},     {"prefix", key.prefix},         {"role", key.role},
         {"tenant", key.tenant}, {"name", key.name},         {"created_at", key.created_at},
         {"last_used_at", optional_string(key.last_used_at)}};
    if (key.rate_limit) o["rate_limit"] = {{"per_second", key.rate_limit->per_second}, {"burst", key.rate_limit->burst}};
    else o["rate_limit"] = nullptr;
  }
  if (!key.secret.empty()) o["key"] = key.secret;
  return o;
}

json::object to_json(const UploadLink& link) {
  if (auto o = parsed(link.json)) return *o;
  json::object o{{"id", link.id},
                 {"created_at", link.created_at},
                 {"expires_at", link.expires_at},
                 {"max_uploads", link.max_uploads},
                 {"uses", link.uses},
                 {"formats", strings(link.formats)},
                 {"tags", strings(link.tags)},
                 {"status", link.status}};
  o["max_bytes"] = link.max_bytes ? json::value(*link.max_bytes) : json::value(nullptr);
  if (!link.url.empty()) o["url"] = link.url;
  return o;
}

json::value to_json(const Report& report) {
  boost::system::error_code ec;
  json::value v = json::parse(report.json, ec);
  if (ec) return json::value(report.json);
  return v;
}

std::string image_line(const Image& image) {
  std::string out = image.id + "  " + image.format + " " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + "  " + human_bytes(image.size) + "  " + image.created_at;
  if (!image.name.empty()) out += "  " + image.name;
  for (const auto& tag : image.tags) out += "  #" + tag;
  return out;
}

std::string job_counts(const Job& job) {
  return job.status + ": " + std::to_string(job.done) + " done, " + std::to_string(job.failed) + " failed, " +
         std::to_string(job.cancelled) + " cancelled of " + std::to_string(job.total);
}

}  // namespace progimage::cli
