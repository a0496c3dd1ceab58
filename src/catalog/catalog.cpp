#include "catalog/catalog.hpp"

#include <initializer_list>

namespace progimage::catalog {

namespace {

/// The value among `all` whose name is `s`.
template <class E, class Name>
std::optional<E> parse_name(std::string_view s, std::initializer_list<E> all, Name name) noexcept {
  for (E e : all)
    if (name(e) == s) return e;
  return std::nullopt;
}

}  // namespace

std::string_view job_status_name(JobStatus s) noexcept {
  switch (s) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
    case JobStatus::partial: return "partial";
    case JobStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<JobStatus> parse_job_status(std::string_view s) noexcept {
  return parse_name(s,
                    {JobStatus::queued, JobStatus::running, JobStatus::completed, JobStatus::failed,
                     JobStatus::partial, JobStatus::cancelled},
                    job_status_name);
}

std::string_view item_kind_name(ItemKind k) noexcept {
  switch (k) {
    case ItemKind::image: return "image";
    case ItemKind::url: return "url";
    case ItemKind::variant: return "variant";
  }
  return "image";
}

std::optional<ItemKind> parse_item_kind(std::string_view s) noexcept {
  return parse_name(s, {ItemKind::image, ItemKind::url, ItemKind::variant}, item_kind_name);
}

std::string_view item_status_name(ItemStatus s) noexcept {
  switch (s) {
    case ItemStatus::queued: return "queued";
    case ItemStatus::running: return "running";
    case ItemStatus::done: return "done";
    case ItemStatus::failed: return "failed";
    case ItemStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<ItemStatus> parse_item_status(std::string_view s) noexcept {
  return parse_name(s,
                    {ItemStatus::queued, ItemStatus::running, ItemStatus::done, ItemStatus::failed,
                     ItemStatus::cancelled},
                    item_status_name);
}

}  // namespace progimage::catalog
