#pragma once
// Cache fences between nodes. A write that makes other nodes' memory stale
// (a patched or deleted image, purged derivatives, a revoked key) sends its
// NOTIFY and then "fence:TOKEN" in the same transaction; each other node's
// listener handles the notifications in order and answers "fenced:TOKEN:NODE"
// once it has dropped what they name. The writer answers its client only
// after every live node has answered, so a DELETE that returned is a 404 on
// every node at once, not a moment later. Private to the catalog module.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace progimage::catalog::postgres {

class Connection;
class Fences;

/// How long a write waits for the other nodes: the bound within which every
/// node drops what a write made stale (docs/DEPLOY.md), answered or not.
inline constexpr std::chrono::milliseconds kFenceTimeout{1000};

/// One write's fence: open while the write runs, closed when it goes.
class Fence {
 public:
  Fence(Fences& fences, std::string token) : fences_(fences), token_(std::move(token)) {}
  ~Fence();
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;

  /// Adds "fence:TOKEN" to the transaction on `c`, after its other NOTIFYs.
  void raise(Connection& c);
  bool raised() const noexcept { return raised_; }
  const std::string& token() const noexcept { return token_; }

 private:
  Fences& fences_;
  std::string token_;
  bool raised_ = false;
};

class Fences {
 public:
  /// A new fence with a random token; acknowledgements are collected from now.
  Fence open();
  /// Whether this process opened `token` (it needs no answer from itself).
  bool owns(const std::string& token) const;
  /// `node` answered `token`: its listener has handled every notification before it.
  void acknowledged(const std::string& token, const std::string& node);
  /// Waits until each of `peers` has answered, or `timeout`. A peer that does
  /// not answer (killed, or its listener cut off) is not waited for again
  /// until it answers a later fence, so a dead node costs one timeout, not one
  /// per write. Returns the peers that did not answer.
  std::vector<std::string> wait(const Fence& fence, const std::vector<std::string>& peers,
                                std::chrono::milliseconds timeout);

 private:
  friend class Fence;
  void close(const std::string& token);

  mutable std::mutex mu_;
  std::condition_variable answered_;
  std::map<std::string, std::set<std::string>> open_;  // token -> nodes that answered
  std::set<std::string> silent_;
};

}  // namespace progimage::catalog::postgres
