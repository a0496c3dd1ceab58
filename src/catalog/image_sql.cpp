#include "catalog/image_sql.hpp"

#include <algorithm>

#include "catalog/cursor.hpp"
#include "core/tags.hpp"

namespace progimage::catalog {

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

/// The search conditions of `query` on images `i`, as " AND ..." clauses
/// (the cursor and the limit are left to the caller).
std::string image_conditions(const ImageQuery& query, SqlArgs& args) {
  const Dialect& dialect = args.dialect();
  std::string sql;
  if (!query.tenant.empty()) sql += " AND i.tenant = " + args.add(query.tenant);
  if (auto words = dialect.text_search_argument(query.text); !words.empty()) {
    sql += " AND " + dialect.text_search_condition(args.add(std::move(words)));
  }
  if (auto tags = core::normalize_tags(query.tags); !tags.empty()) {
    sql += " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.tag IN (";
    for (std::size_t k = 0; k < tags.size(); ++k) sql += (k ? ", " : "") + args.add(tags[k]);
    sql += "))";
  } else if (std::any_of(query.tags.begin(), query.tags.end(),
                         [](const std::string& t) { return core::normalize_tag(t).size() > core::kMaxTagBytes; })) {
    sql += " AND FALSE";  // it asks only for tags too long for any image to have
  }
  if (!query.format.empty()) sql += " AND i.format = " + args.add(lower_ascii(query.format));
  if (!query.camera.empty()) sql += " AND " + dialect.equals_ignoring_case("i.camera_model", args.add(query.camera));
  if (query.from) sql += " AND i.created_at >= " + args.add(*query.from);
  if (query.to) sql += " AND i.created_at <= " + args.add(*query.to);
  return sql;
}

}  // namespace

std::string SqlArgs::add(SqlValue value) {
  values_.push_back(std::move(value));
  return dialect_->placeholder(values_.size());
}

std::string image_columns(const Dialect& dialect) {
  return std::string(
             "i.id, i.sha256, i.format, i.width, i.height, i.size, i.frames, i.has_alpha, i.created_at, "
             "i.name, i.description, i.camera_make, i.camera_model, i.focus_x, i.focus_y, i.metadata_json, "
             "i.tenant, i.phash, ") +
         dialect.image_tags_json + ", " + dialect.image_variants_json;
}

std::string list_images_sql(const ImageQuery& query, int limit, SqlArgs& args) {
  const auto after = list_cursor_position(query.cursor);
  std::string sql =
      "SELECT " + image_columns(args.dialect()) + " FROM images i WHERE TRUE" + image_conditions(query, args);
  if (after) {
    // Keyset paging: rows inserted meanwhile land before the cursor (they are
    // newer) or keep their place, so pages neither repeat nor skip a row.
    const auto created_at = args.add(after->created_at);  // apart: operands of + run in no set order
    const auto id = args.add(after->id);
    sql += " AND (i.created_at, i.id) < (" + created_at + ", " + id + ")";
  }
  sql += " ORDER BY i.created_at DESC, i.id DESC LIMIT " + args.add(std::int64_t{limit} + 1);
  return sql;
}

std::string insert_found_items_sql(const ImageQuery& selector, const std::string& job_id, int max_attempts,
                                   std::int64_t due_ms, SqlArgs& args) {
  const std::string conditions = image_conditions(selector, args);
  const auto job = args.add(job_id);
  const auto attempts = args.add(std::int64_t{max_attempts});
  const auto due = args.add(due_ms);
  return "INSERT INTO job_items (job_id, position, kind, source, max_attempts, next_attempt_at)"
         " SELECT " + job + ", ROW_NUMBER() OVER (ORDER BY i.created_at DESC, i.id DESC) - 1, 'image', i.id, " +
         attempts + ", " + due + " FROM images i WHERE TRUE" + conditions;
}

}  // namespace progimage::catalog
