#pragma once
// The engine-neutral half of upload links and resumable uploads: their
// columns, how a row becomes a record, and the JSON text of the string
// lists a link keeps (formats, tags). Each engine's SQL sits in its own file
// (sqlite_links.cpp).
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/row.hpp"

namespace progimage::catalog {

/// The columns read_upload_link() reads, in its order.
extern const std::string kUploadLinkColumns;
UploadLinkRecord read_upload_link(const Row& row);

/// The columns read_resumable_upload() reads, in its order.
extern const std::string kResumableUploadColumns;
ResumableUploadRecord read_resumable_upload(const Row& row);

/// ["a","b"] for {"a", "b"}.
std::string string_list_json(const std::vector<std::string>& items);
/// The strings of a JSON array text; non-strings and bad text give nothing.
std::vector<std::string> string_list_of(std::string_view json_text);

}  // namespace progimage::catalog
