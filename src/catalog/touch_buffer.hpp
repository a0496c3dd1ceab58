#pragma once
// Derivative "last used" times merged in memory and written in batches, for
// every engine: a cache hit must not cost a commit.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace progimage::catalog {

class TouchBuffer {
 public:
  using Batch = std::unordered_map<std::string, std::int64_t>;  // key -> newest last_used_at

  /// Records a use; true when a batch is due (full, or a second old).
  bool record(const std::string& key, std::int64_t now) {
    std::lock_guard lock(mu_);
    auto& t = touches_[key];
    t = std::max(t, now);
    return touches_.size() >= kBatch || std::chrono::steady_clock::now() - last_take_ >= kInterval;
  }
  /// The buffered use of `key` not written yet, or 0.
  std::int64_t pending(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = touches_.find(key);
    return it == touches_.end() ? 0 : it->second;
  }
  /// Everything buffered, to be written now.
  Batch take() {
    std::lock_guard lock(mu_);
    Batch batch;
    batch.swap(touches_);
    last_take_ = std::chrono::steady_clock::now();
    return batch;
  }
  /// Puts back a batch whose write failed.
  void restore(const Batch& batch) {
    std::lock_guard lock(mu_);
    for (const auto& [key, when] : batch) {
      auto& t = touches_[key];
      t = std::max(t, when);
    }
  }

 private:
  static constexpr std::size_t kBatch = 256;
  static constexpr auto kInterval = std::chrono::seconds(1);

  mutable std::mutex mu_;
  Batch touches_;
  std::chrono::steady_clock::time_point last_take_ = std::chrono::steady_clock::now();
};

}  // namespace progimage::catalog
