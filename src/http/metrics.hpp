#pragma once
// A small, thread-safe Prometheus metrics registry rendering the text
// exposition format 0.0.4. Updates are lock-free atomics; only looking up a
// labelled child takes a (per-family) mutex, so hot paths should look a child
// up once and keep the reference, which stays valid for the registry's life.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace progimage::http {

/// A monotonically increasing count (requests, bytes, cache hits).
class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (queue depth, bytes stored), either set by
/// the program or computed by a callback at each scrape.
class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void dec(double n = 1) noexcept { value_.fetch_sub(n, std::memory_order_relaxed); }
  /// From now on `value()` (and so every scrape) returns `fn()`. `fn` runs
  /// under the registry's locks: it must be quick and must not use the
  /// registry. An empty function goes back to the stored value.
  void set_function(std::function<double()> fn);
  double value() const;

 private:
  std::atomic<double> value_{0};
  std::atomic<bool> has_function_{false};
  mutable std::mutex function_mutex_;
  std::function<double()> function_;
};

/// Observations counted into fixed buckets (`le` upper bounds, inclusive,
/// plus the implicit +Inf), with their sum and count.
class Histogram {
 public:
  /// `bounds` must be finite and strictly increasing (checked by Registry).
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);

  /// Counts `v` into its bucket; NaN is ignored.
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  /// A consistent-enough read for a scrape: `count` always equals the +Inf
  /// bucket; `sum` may lag concurrent observations slightly.
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const noexcept { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

/// Latency buckets in seconds, 0.001 to 10.
std::vector<double> latency_buckets();

namespace detail {

// Orders children by label values; transparent so a lookup with string_views
// allocates nothing.
struct LabelValuesLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             std::vector<double> buckets)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  /// Histogram bucket bounds; empty for other types.
  const std::vector<double>& buckets() const noexcept { return buckets_; }
  /// Appends this family's HELP, TYPE and samples; nothing when it has no child.
  virtual void render(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
};

}  // namespace detail

/// All the metrics of one name, one child per combination of label values.
template <class Metric>
class Family final : public detail::FamilyBase {
 public:
  /// The child for these label values (in the order of the label names),
  /// created on first use. The reference stays valid as long as the
  /// registry. Throws std::invalid_argument on a wrong number of values.
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  Metric& with(std::span<const std::string_view> label_values);

  void render(std::string& out) const override;

  // Made by Registry only.
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets, std::function<std::unique_ptr<Metric>()> make);

 private:
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, detail::LabelValuesLess> children_;
};

/// The set of metric families served on `GET /metrics`.
///
/// Registering a name again with the same type, labels (and buckets)
/// returns the existing family; a conflicting registration, an invalid
/// metric or label name, or bad buckets throw std::invalid_argument.
/// Families without labels have their single child from the start, so they
/// render as 0 before first use. All members are thread-safe.
class Registry {
 public:
  /// Content-Type of `render()`'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  /// `buckets`: finite, strictly increasing upper bounds; +Inf is implicit
  /// (a trailing +Inf is accepted and dropped).
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names = {},
                               std::vector<double> buckets = latency_buckets());

  /// Every family with at least one child, by name, in the Prometheus text
  /// exposition format 0.0.4.
  std::string render() const;

 private:
  template <class Metric>
  Family<Metric>& add(std::string name, std::string help, std::vector<std::string> label_names,
                      std::vector<double> buckets,
                      std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<detail::FamilyBase>, std::less<>> families_;
};

}  // namespace progimage::http
