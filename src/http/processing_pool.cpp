#include "http/processing_pool.hpp"

#include <thread>

namespace progimage::http {

namespace {
int thread_count(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}
}  // namespace

ProcessingPool::ProcessingPool(int threads, int queue)
    : pool_(static_cast<std::size_t>(thread_count(threads))), capacity_(thread_count(threads) + std::max(0, queue)) {
}

ProcessingPool::~ProcessingPool() { stop(); }

void ProcessingPool::stop() {
  pool_.join();
}

void ProcessingPool::admit() {
  if (pending_.fetch_add(1) >= capacity_) {
    pending_.fetch_sub(1);
    rejected_.fetch_add(1);
    throw core::Error(core::ErrorCode::overloaded, "the server is busy processing images; retry shortly");
  }
}

}  // namespace progimage::http
