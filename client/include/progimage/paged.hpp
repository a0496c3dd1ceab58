#pragma once
/// @file
/// A range over a paginated list, fetching the next page as it is walked.
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace progimage {

/// One page of a list and the cursor of the next (nullopt on the last).
template <typename T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

/// An input range over every item of a paginated list:
///
/// @code
/// for (const progimage::Image& image : client.search({.tags = {"beach"}})) { ... }
/// @endcode
///
/// Pages are requested only as the walk reaches them (an error throws from
/// the increment that needed the page). A range is walked once.
template <typename T>
class Paged {
 public:
  using Fetch = std::function<Page<T>(const std::optional<std::string>& cursor)>;
  explicit Paged(Fetch fetch) : state_(std::make_shared<State>(std::move(fetch))) {}

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    iterator() = default;
    explicit iterator(std::shared_ptr<typename Paged::State> state) : state_(std::move(state)) {
      if (!state_->ensure()) state_.reset();
    }
    reference operator*() const { return state_->page.items[state_->index]; }
    pointer operator->() const { return &**this; }
    iterator& operator++() {
      ++state_->index;
      if (!state_->ensure()) state_.reset();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& other) const { return state_ == other.state_; }

   private:
    std::shared_ptr<typename Paged::State> state_;
  };

  iterator begin() { return iterator(state_); }
  iterator end() { return iterator(); }

  /// Every item, all pages fetched.
  std::vector<T> all() {
    std::vector<T> out;
    for (const T& item : *this) out.push_back(item);
    return out;
  }

 private:
  struct State {
    explicit State(Fetch f) : fetch(std::move(f)) {}
    /// True when `index` is on an item, fetching pages (empty ones too) as needed.
    bool ensure() {
      while (!started || index >= page.items.size()) {
        if (started && !page.next_cursor) return false;
        page = fetch(started ? page.next_cursor : std::nullopt);
        started = true;
        index = 0;
      }
      return true;
    }
    Fetch fetch;
    Page<T> page;
    std::size_t index = 0;
    bool started = false;
  };
  friend class iterator;
  std::shared_ptr<State> state_;
};

}  // namespace progimage
