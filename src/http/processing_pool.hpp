#pragma once
// The bounded pool that does all image work off the I/O threads. A task that
// finds the pool and its queue full is refused at once (503 overloaded) so
// that memory stays flat under any load.
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <exception>
#include <functional>
#include <type_traits>

#include "core/error.hpp"

namespace progimage::http {

class ProcessingPool {
 public:
  /// `threads` workers; up to `queue` further tasks may wait for one.
  ProcessingPool(int threads, int queue);
  ~ProcessingPool();

  /// Runs `fn` on a pool thread and resumes the caller with its result (or its
  /// exception). Throws core::Error overloaded without running it when full.
  template <class F, class R = std::invoke_result_t<F&>>
  boost::asio::awaitable<R> run(F fn) {
    admit();
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr, R)>(
        [this, fn = std::move(fn)](auto handler) mutable {
          boost::asio::post(pool_, [this, fn = std::move(fn), handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            R result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            release();
            auto ex = boost::asio::get_associated_executor(handler);
            boost::asio::dispatch(ex, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              handler(error, std::move(result));
            });
          });
        },
        boost::asio::use_awaitable);
  }

  int pending() const noexcept { return pending_.load(); }
  int capacity() const noexcept { return capacity_; }
  std::uint64_t rejected() const noexcept { return rejected_.load(); }
  /// Waits for the queued tasks to finish.
  void stop();

 private:
  void admit();
  void release() noexcept { pending_.fetch_sub(1); }

  boost::asio::thread_pool pool_;
  int capacity_;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace progimage::http
