#include "catalog/transfer.hpp"

#include <boost/json.hpp>

#include <stdexcept>

#include "core/hash.hpp"

namespace progimage::catalog {

namespace {

constexpr auto I = ColumnType::integer;
constexpr auto R = ColumnType::real;
constexpr auto T = ColumnType::text;

constexpr Column kSettings[] = {{"name", T}, {"value", T}};
constexpr Column kTenantQuotas[] = {{"tenant", T}, {"max_bytes", I}, {"max_images", I}};
constexpr Column kTenantTotals[] = {{"tenant", T}, {"images", I}, {"bytes", I}};
constexpr Column kDedupeSavings[] = {{"tenant", T}, {"uploads", I}, {"bytes", I}};
constexpr Column kApiKeys[] = {{"id", T},         {"tenant", T},          {"role", T},       {"name", T},
                               {"prefix", T},     {"hash", T},            {"rate_per_second", R},
                               {"rate_burst", R}, {"created_at", I},      {"last_used_at", I},
                               {"revoked_at", I}};
constexpr Column kUploadLinks[] = {{"id", T},          {"tenant", T},      {"hash", T},       {"created_at", I},
                                   {"expires_at", I},  {"max_uploads", I}, {"uses", I},       {"max_bytes", I},
                                   {"formats", T},     {"tags", T},        {"revoked_at", I}};
constexpr Column kImages[] = {{"id", T},           {"tenant", T},       {"sha256", T},       {"format", T},
                              {"width", I},        {"height", I},       {"size", I},         {"frames", I},
                              {"has_alpha", I},    {"created_at", I},   {"name", T},         {"description", T},
                              {"camera_make", T},  {"camera_model", T}, {"focus_x", R},      {"focus_y", R},
                              {"metadata_json", T}, {"phash", I}};
constexpr Column kImageTags[] = {{"image_id", T}, {"tag", T}};
constexpr Column kImageVariants[] = {{"image_id", T},       {"name", T},       {"status", T},
                                     {"derivative_key", T}, {"error_code", T}, {"error_message", T}};
constexpr Column kJobs[] = {{"id", T},           {"tenant", T},         {"status", T},         {"params", T},
                            {"format", T},       {"store", I},          {"max_attempts", I},   {"total", I},
                            {"done", I},         {"failed", I},         {"cancelled", I},      {"created_at", I},
                            {"finished_at", I},  {"callback_url", T},   {"callback_state", T}, {"callback_attempts", I},
                            {"callback_next_at", I}};
constexpr Column kJobItems[] = {{"id", I},
                                {"job_id", T},
                                {"position", I},
                                {"kind", T},
                                {"source", T},
                                {"variant", T},
                                {"status", T},
                                {"attempts", I},
                                {"max_attempts", I},
                                {"next_attempt_at", I},
                                {"lease_owner", T},
                                {"lease_token", I},
                                {"lease_until", I},
                                {"result_image_id", T},
                                {"result_key", T},
                                {"error_code", T},
                                {"error_message", T},
                                {"finished_at", I},
                                {"result_output_key", T},
                                {"result_format", T},
                                {"result_expires_at", I}};
constexpr Column kUsage[] = {{"day", T},        {"tenant", T},     {"client", T},       {"requests", I},
                             {"bytes_in", I},   {"bytes_out", I},  {"transforms", I},   {"cache_hits", I},
                             {"cache_misses", I}, {"uploads", I}};
constexpr Column kStoredByDay[] = {{"day", T}, {"tenant", T}, {"bytes", I}, {"images", I}};
constexpr Column kResumableUploads[] = {{"id", T},         {"tenant", T},     {"length", I},
                                        {"metadata", T},   {"link_id", T},    {"created_at", I},
                                        {"expires_at", I}, {"image_id", T}};
constexpr Column kDerivatives[] = {{"key", T},        {"tenant", T}, {"sha256", T},     {"params", T},
                                   {"format", T},     {"width", I},  {"height", I},     {"size", I},
                                   {"created_at", I}, {"last_used_at", I}};

constexpr Column kWorkingCopies[] = {{"sha256", T}, {"level", I}, {"key", T},  {"format", T},
                                     {"width", I},  {"height", I}, {"size", I}, {"created_at", I}};

constexpr std::size_t kImagePhash = 17;
constexpr std::size_t kImageMetadata = 16;

/// Images stored before SQLite's catalog had a phash column keep the hash in
/// their metadata only, where SQLite's scan_image_hashes reads it; another
/// engine reads the column. Filled in, so that the similar-image index of
/// the catalog they move to holds them too.
void fill_phash_from_metadata(TableRow& row) {
  if (!std::holds_alternative<std::monostate>(row[kImagePhash])) return;
  const auto* text = std::get_if<std::string>(&row[kImageMetadata]);
  if (!text) return;
  boost::system::error_code ec;
  const auto metadata = boost::json::parse(*text, ec);
  if (ec || !metadata.is_object()) return;
  const auto* hex = metadata.as_object().if_contains("phash");
  if (!hex || !hex->is_string()) return;
  if (auto phash = core::parse_hex64(std::string_view(hex->as_string())))
    row[kImagePhash] = static_cast<std::int64_t>(*phash);
}

const TransferTable kTables[] = {
    {.name = "settings", .columns = kSettings},
    {.name = "tenant_quotas", .columns = kTenantQuotas},
    {.name = "tenant_totals", .columns = kTenantTotals},
    {.name = "dedupe_savings", .columns = kDedupeSavings},
    {.name = "api_keys", .columns = kApiKeys},
    {.name = "upload_links", .columns = kUploadLinks},
    {.name = "images", .columns = kImages, .normalize = fill_phash_from_metadata},
    {.name = "image_tags", .columns = kImageTags, .key_columns = 2},
    {.name = "image_variants", .columns = kImageVariants, .key_columns = 2},
    {.name = "working_copies", .columns = kWorkingCopies, .key_columns = 2},
    {.name = "jobs", .columns = kJobs},
    {.name = "job_items", .columns = kJobItems, .numbered = true},
    {.name = "usage", .columns = kUsage, .key_columns = 3},
    {.name = "stored_by_day", .columns = kStoredByDay, .key_columns = 2},
    {.name = "resumable_uploads", .columns = kResumableUploads, .only = "image_id IS NOT NULL AND image_id <> ''"},
    {.name = "derivatives", .columns = kDerivatives, .cache = true},
};

/// Values of one kind compare as such; of different kinds, by kind (NULL first).
int compare_values(const Value& a, const Value& b) {
  if (a.index() != b.index()) return a.index() < b.index() ? -1 : 1;
  if (const auto* x = std::get_if<std::int64_t>(&a)) {
    const auto y = std::get<std::int64_t>(b);
    return *x < y ? -1 : *x > y;
  }
  if (const auto* x = std::get_if<double>(&a)) {
    const auto y = std::get<double>(b);
    return *x < y ? -1 : *x > y;
  }
  if (const auto* x = std::get_if<std::string>(&a)) {
    const int c = x->compare(std::get<std::string>(b));
    return c < 0 ? -1 : c > 0;
  }
  return 0;
}

std::string column_list(const TransferTable& table, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::string(table.columns[i].name);
  return out;
}

}  // namespace

std::span<const TransferTable> transfer_tables() noexcept { return kTables; }

int compare_keys(const TableRow& a, const TableRow& b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (int c = compare_values(a[i], b[i])) return c;
  return 0;
}

std::size_t column_index(const TransferTable& table, std::string_view column) {
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    if (table.columns[i].name == column) return i;
  throw std::invalid_argument("table " + std::string(table.name) + " has no column " + std::string(column));
}

TableRow read_table_row(const Row& row, const TransferTable& table) {
  TableRow out;
  out.reserve(table.columns.size());
  for (int i = 0; i < static_cast<int>(table.columns.size()); ++i) {
    if (row.is_null(i)) {
      out.emplace_back();
      continue;
    }
    switch (table.columns[i].type) {
      case ColumnType::integer: out.emplace_back(row.int64(i)); break;
      case ColumnType::real: out.emplace_back(row.real(i)); break;
      case ColumnType::text: out.emplace_back(row.text(i)); break;
    }
  }
  if (table.normalize) table.normalize(out);
  return out;
}

std::string export_sql(const TransferTable& table, const Dialect& dialect, bool after) {
  const std::size_t n = table.key_columns;
  std::string where = std::string(table.only);
  if (after) {
    // A row value compares lexicographically, in both engines.
    std::string args;
    for (std::size_t i = 1; i <= n; ++i) args += (i > 1 ? ", " : "") + dialect.placeholder(i);
    const std::string cond = "(" + column_list(table, n) + ") > (" + args + ")";
    where = where.empty() ? cond : "(" + where + ") AND " + cond;
  }
  return "SELECT " + column_list(table, table.columns.size()) + " FROM " + std::string(table.name) +
         (where.empty() ? "" : " WHERE " + where) + " ORDER BY " + column_list(table, n) + " LIMIT " +
         dialect.placeholder(after ? n + 1 : 1);
}

std::string count_sql(const TransferTable& table) {
  return "SELECT COUNT(*) FROM " + std::string(table.name) + (table.only.empty() ? "" : " WHERE " + std::string(table.only));
}

std::string import_sql(const TransferTable& table, const Dialect& dialect) {
  std::string args;
  for (std::size_t i = 1; i <= table.columns.size(); ++i) args += (i > 1 ? ", " : "") + dialect.placeholder(i);
  return "INSERT INTO " + std::string(table.name) + " (" + column_list(table, table.columns.size()) + ") " +
         (table.numbered ? dialect.insert_given_key : "") + "VALUES (" + args + ") ON CONFLICT DO NOTHING";
}

std::string describe_key(const TransferTable& table, const TableRow& row) {
  std::string out(table.name);
  for (std::size_t i = 0; i < table.key_columns && i < row.size(); ++i) {
    out += (i ? ", " : " ") + std::string(table.columns[i].name) + "=";
    if (const auto* s = std::get_if<std::string>(&row[i])) out += *s;
    else if (const auto* n = std::get_if<std::int64_t>(&row[i])) out += std::to_string(*n);
  }
  return out;
}

}  // namespace progimage::catalog
