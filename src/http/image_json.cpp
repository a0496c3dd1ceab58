#include "http/image_json.hpp"

#include <boost/json.hpp>

#include "core/time.hpp"

namespace progimage::http {

namespace json = boost::json;

json::object image_json(const core::ImageRecord& r, std::optional<bool> duplicate) {
  json::object o;
  o["id"] = r.id;
  o["url"] = "/v1/images/" + r.id;
  o["sha256"] = r.sha256;
  o["format"] = r.format;
  o["width"] = r.width;
  o["height"] = r.height;
  o["size"] = r.size;
  o["frames"] = r.frames;
  o["has_alpha"] = r.has_alpha;
  o["created_at"] = core::format_rfc3339(r.created_at);
  o["name"] = r.name;
  o["description"] = r.description;
  json::array tags;
  for (const auto& t : r.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  if (r.camera_make.empty() && r.camera_model.empty())
    o["camera"] = nullptr;
  else
    o["camera"] = json::object{{"make", r.camera_make}, {"model", r.camera_model}};
  if (r.focus)
    o["focus"] = json::object{{"x", r.focus->x}, {"y", r.focus->y}};
  else
    o["focus"] = nullptr;
  json::object variants;
  for (const auto& [k, v] : r.variants) variants[k] = v;
  o["variants"] = std::move(variants);
  if (duplicate) o["duplicate"] = *duplicate;
  return o;
}

json::object image_info_json(const core::ImageRecord& r) {
  auto o = image_json(r);
  if (r.metadata_json.empty()) return o;
  boost::system::error_code ec;
  auto extra = json::parse(r.metadata_json, ec);
  if (!ec && extra.is_object())
    for (auto& [k, v] : extra.as_object()) o[k] = v;
  return o;
}

}  // namespace progimage::http
