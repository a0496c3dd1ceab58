#pragma once
// Computes each derivative once however many requests miss it at once: the
// first request renders, the others wait on a timer of their own executor
// and get a copy of its result (or its error).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "service/image_service.hpp"

namespace progimage::http {

class SingleFlight {
 public:
  /// Runs `compute` (an awaitable-returning callable) for the first caller of
  /// `key`; concurrent callers of the same key share its outcome.
  template <class Compute>
  boost::asio::awaitable<service::Derivative> run(const std::string& key, Compute compute) {
    namespace asio = boost::asio;
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(mutex_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (leader) {
      std::optional<service::Derivative> result;
      std::exception_ptr error;
      try {
        result = co_await compute();
      } catch (...) {
        error = std::current_exception();
      }
      finish(key, *flight, result, error);
      if (error) std::rethrow_exception(error);
      co_return std::move(*result);
    }
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    bool done;
    {
      std::lock_guard lock(flight->mutex);
      done = flight->done;
      if (!done) flight->waiters.push_back(timer);
    }
    if (!done) co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(flight->mutex);
    if (flight->error) std::rethrow_exception(flight->error);
    service::Derivative copy = *flight->result;
    copy.cache_hit = true;  // served from the shared computation, not rendered for this request
    co_return copy;
  }

 private:
  struct Flight {
    std::mutex mutex;
    bool done = false;
    std::optional<service::Derivative> result;
    std::exception_ptr error;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  };

  void finish(const std::string& key, Flight& f, const std::optional<service::Derivative>& result,
              std::exception_ptr error) {
    {
      std::lock_guard lock(mutex_);
      flights_.erase(key);
    }
    std::lock_guard lock(f.mutex);
    f.done = true;
    f.result = result;
    f.error = error;
    for (auto& w : f.waiters) boost::asio::post(w->get_executor(), [w] { w->cancel(); });
    f.waiters.clear();
  }

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace progimage::http
