#include "http/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace progimage::http {
namespace {

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    // Shortest form that reads back exactly: "0.005", "10", "1e+06".
    const auto result = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, result.ptr);
  }
}

void append_value(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// `name_suffix{a="x",b="y",le="0.5"} ` (no braces when there is no label).
void append_series(std::string& out, std::string_view name, std::string_view suffix,
                   const std::vector<std::string>& label_names,
                   const std::vector<std::string>& label_values, std::string_view le = {}) {
  out += name;
  out += suffix;
  if (!label_names.empty() || !le.empty()) {
    out += '{';
    for (std::size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) out += ',';
      out += label_names[i];
      out += "=\"";
      append_escaped(out, label_values[i], true);
      out += '"';
    }
    if (!le.empty()) {
      if (!label_names.empty()) out += ',';
      out += "le=\"";
      out += le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

bool is_name_char(char c, bool allow_colon, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (allow_colon && c == ':') || (!first && c >= '0' && c <= '9');
}

bool is_valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!is_name_char(name[i], allow_colon, i == 0)) return false;
  }
  return true;
}

void validate(const std::string& name, const std::vector<std::string>& label_names) {
  if (!is_valid_name(name, true)) throw std::invalid_argument("invalid metric name: " + name);
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!is_valid_name(label, false) || label.starts_with("__")) {
      throw std::invalid_argument("metric " + name + ": invalid label name: " + label);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == label) {
        throw std::invalid_argument("metric " + name + ": duplicate label name: " + label);
      }
    }
  }
}

std::string_view type_name(const Counter*) { return "counter"; }
std::string_view type_name(const Gauge*) { return "gauge"; }
std::string_view type_name(const Histogram*) { return "histogram"; }

void render_child(std::string& out, const detail::FamilyBase& family,
                  const std::vector<std::string>& values, const Counter& counter) {
  append_series(out, family.name(), {}, family.label_names(), values);
  append_value(out, counter.value());
  out += '\n';
}

void render_child(std::string& out, const detail::FamilyBase& family,
                  const std::vector<std::string>& values, const Gauge& gauge) {
  append_series(out, family.name(), {}, family.label_names(), values);
  append_value(out, gauge.value());
  out += '\n';
}

void render_child(std::string& out, const detail::FamilyBase& family,
                  const std::vector<std::string>& values, const Histogram& histogram) {
  const Histogram::Snapshot snap = histogram.snapshot();
  const std::vector<double>& bounds = histogram.bounds();
  std::string le;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    le.clear();
    append_value(le, i < bounds.size() ? bounds[i] : HUGE_VAL);
    append_series(out, family.name(), "_bucket", family.label_names(), values, le);
    append_value(out, snap.cumulative[i]);
    out += '\n';
  }
  append_series(out, family.name(), "_sum", family.label_names(), values);
  append_value(out, snap.sum);
  out += '\n';
  append_series(out, family.name(), "_count", family.label_names(), values);
  append_value(out, snap.count);
  out += '\n';
}

}  // namespace

void Gauge::set_function(std::function<double()> fn) {
  std::lock_guard lock(function_mutex_);
  function_ = std::move(fn);
  has_function_.store(static_cast<bool>(function_), std::memory_order_release);
}

double Gauge::value() const {
  if (has_function_.load(std::memory_order_acquire)) {
    std::lock_guard lock(function_mutex_);
    if (function_) return function_();
  }
  return value_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  // `le` is inclusive: v lands in the first bucket whose bound is >= v.
  const auto index = std::lower_bound(bounds_->begin(), bounds_->end(), v) - bounds_->begin();
  counts_[static_cast<std::size_t>(index)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.cumulative.reserve(bounds_->size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> buckets, std::function<std::unique_ptr<Metric>()> make)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names), std::move(buckets)),
      make_(std::move(make)) {
  if (this->label_names().empty()) children_.emplace(std::vector<std::string>{}, make_());
}

template <class Metric>
Metric& Family<Metric>::with(std::span<const std::string_view> label_values) {
  if (label_values.size() != label_names().size()) {
    throw std::invalid_argument("metric " + name() + " takes " +
                                std::to_string(label_names().size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = children_.find(label_values);
  if (it == children_.end()) {
    it = children_
             .emplace(std::vector<std::string>(label_values.begin(), label_values.end()), make_())
             .first;
  }
  return *it->second;
}

template <class Metric>
void Family<Metric>::render(std::string& out) const {
  std::lock_guard lock(mutex_);
  if (children_.empty()) return;
  out += "# HELP ";
  out += name();
  out += ' ';
  append_escaped(out, help(), false);
  out += "\n# TYPE ";
  out += name();
  out += ' ';
  out += type_name(static_cast<const Metric*>(nullptr));
  out += '\n';
  for (const auto& [values, child] : children_) render_child(out, *this, values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class Metric>
Family<Metric>& Registry::add(std::string name, std::string help,
                              std::vector<std::string> label_names, std::vector<double> buckets,
                              std::function<std::unique_ptr<Metric>()> make) {
  validate(name, label_names);
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    auto* existing = dynamic_cast<Family<Metric>*>(it->second.get());
    if (existing == nullptr || existing->label_names() != label_names ||
        existing->buckets() != buckets) {
      throw std::invalid_argument("metric " + name +
                                  " is already registered with another type, labels or buckets");
    }
    return *existing;
  }
  std::string key = name;
  auto family = std::make_unique<Family<Metric>>(std::move(name), std::move(help),
                                                 std::move(label_names), std::move(buckets),
                                                 std::move(make));
  Family<Metric>& ref = *family;
  families_.emplace(std::move(key), std::move(family));
  return ref;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  return add<Counter>(std::move(name), std::move(help), std::move(label_names), {},
                      [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  return add<Gauge>(std::move(name), std::move(help), std::move(label_names), {},
                    [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> buckets) {
  if (!buckets.empty() && buckets.back() == HUGE_VAL) buckets.pop_back();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      throw std::invalid_argument("histogram " + name +
                                  ": buckets must be finite and strictly increasing");
    }
  }
  for (const auto& label : label_names) {
    if (label == "le") throw std::invalid_argument("histogram " + name + ": label name le is reserved");
  }
  auto bounds = std::make_shared<const std::vector<double>>(buckets);
  return add<Histogram>(std::move(name), std::move(help), std::move(label_names),
                        std::move(buckets), [bounds] { return std::make_unique<Histogram>(bounds); });
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) family->render(out);
  return out;
}

}  // namespace progimage::http
