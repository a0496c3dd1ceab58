#include "jobs/job_json.hpp"

#include <boost/json.hpp>

#include "core/time.hpp"
#include "ops/parse.hpp"
#include "ops/sign.hpp"

namespace progimage::jobs {

namespace json = boost::json;

std::string derivative_url(const std::string& image_id, const std::string& params,
                           const std::string& signing_secret) {
  const std::string path = "/v1/images/" + image_id;
  if (params.empty()) return path;
  if (signing_secret.empty()) return path + "?" + params;
  return path + "?" + ops::signed_query(signing_secret, path, params);
}

std::string output_url(const std::string& job_id, std::int64_t position) {
  return "/v1/jobs/" + job_id + "/results/" + std::to_string(position);
}

json::object job_json(const catalog::JobRecord& job, const catalog::ResultPage& page,
                      const std::string& signing_secret) {
  json::object o;
  o["id"] = job.id;
  o["status"] = catalog::job_status_name(job.status);
  o["total"] = job.total;
  o["done"] = job.done;
  o["failed"] = job.failed;
  o["cancelled"] = job.cancelled;
  o["created_at"] = core::format_rfc3339(job.created_at);
  if (job.finished_at) o["finished_at"] = core::format_rfc3339(*job.finished_at);
  else o["finished_at"] = nullptr;
  o["params"] = job.spec.params;
  o["store"] = job.spec.store;
  if (job.spec.callback_url.empty()) o["callback_url"] = nullptr;
  else o["callback_url"] = job.spec.callback_url;
  json::array results;
  for (const auto& r : page.results) {
    json::object item;
    item["source"] = r.source;
    item["status"] = catalog::item_status_name(r.status);
    item["attempts"] = r.attempts;
    if (!r.image_id.empty()) {
      item["image_id"] = r.image_id;
    } else if (r.output.expires_at_ms != 0) {
      item["url"] = output_url(job.id, r.position);
      item["expires_at"] = core::format_rfc3339(r.output.expires_at_ms / 1000);
    } else if (r.status == catalog::ItemStatus::done && r.kind == catalog::ItemKind::image) {
      item["url"] = derivative_url(r.source, job.spec.params, signing_secret);
    }
    if (r.error) item["error"] = json::object{{"code", r.error->code}, {"message", r.error->message}};
    else item["error"] = nullptr;
    results.push_back(std::move(item));
  }
  o["results"] = std::move(results);
  if (page.next_cursor.empty()) o["next_cursor"] = nullptr;
  else o["next_cursor"] = page.next_cursor;
  return o;
}

}  // namespace progimage::jobs
