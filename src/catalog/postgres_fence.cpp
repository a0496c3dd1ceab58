#include "catalog/postgres_fence.hpp"

#include <algorithm>

#include "catalog/postgres_db.hpp"
#include "core/id.hpp"

namespace progimage::catalog::postgres {

Fence::~Fence() { fences_.close(token_); }

void Fence::raise(Connection& c) {
  c.query("SELECT pg_notify('progimage', $1)", "fence:" + token_);
  raised_ = true;
}

Fence Fences::open() {
  std::string token = core::new_id();
  std::lock_guard lock(mu_);
  open_[token];
  return Fence(*this, std::move(token));
}

bool Fences::owns(const std::string& token) const {
  std::lock_guard lock(mu_);
  return open_.count(token) > 0;
}

void Fences::acknowledged(const std::string& token, const std::string& node) {
  {
    std::lock_guard lock(mu_);
    silent_.erase(node);  // it answers again
    auto it = open_.find(token);
    if (it == open_.end()) return;  // another process's fence, or one that timed out
    it->second.insert(node);
  }
  answered_.notify_all();
}

std::vector<std::string> Fences::wait(const Fence& fence, const std::vector<std::string>& peers,
                                      std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto missing = [&] {
    std::vector<std::string> out;
    const auto& answered = open_[fence.token()];
    for (const auto& p : peers)
      if (!answered.count(p) && !silent_.count(p)) out.push_back(p);
    return out;
  };
  answered_.wait_for(lock, timeout, [&] { return missing().empty(); });
  auto unanswered = missing();
  silent_.insert(unanswered.begin(), unanswered.end());
  return unanswered;
}

void Fences::close(const std::string& token) {
  std::lock_guard lock(mu_);
  open_.erase(token);
}

}  // namespace progimage::catalog::postgres
