#include "app/periodic.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace progimage::app {

Periodic::Periodic(std::string name, std::chrono::milliseconds interval, std::function<void()> task)
    : name_(std::move(name)), interval_(interval), task_(std::move(task)), thread_([this] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
          lock.unlock();
          run_logged();
          lock.lock();
          wake_.wait_for(lock, interval_, [this] { return stopping_; });
        }
      }) {}

Periodic::~Periodic() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Periodic::run_logged() {
  try {
    task_();
  } catch (const std::exception& e) {
    spdlog::warn("{{\"msg\":\"a periodic task failed; it runs again later\",\"task\":{},\"error\":{}}}",
                 boost::json::serialize(boost::json::string(name_)), boost::json::serialize(boost::json::string(e.what())));
  }
}

}  // namespace progimage::app
