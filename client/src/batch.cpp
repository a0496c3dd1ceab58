// upload_many(): many uploads over one curl multi handle, at most
// `concurrency` in flight, each retried by the client's policy on its own.
#include <algorithm>
#include <deque>
#include <memory>
#include <unordered_map>

#include "impl.hpp"
#include "json.hpp"
#include "multipart.hpp"
#include "retry.hpp"

namespace progimage {
namespace {

using Clock = std::chrono::steady_clock;
using detail::Reply;
using detail::Request;
using detail::Transfer;

constexpr std::chrono::milliseconds kMaxPoll{100};

struct MultiDeleter {
  void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};

class BatchUpload {
 public:
  BatchUpload(Client::Impl& impl, const std::vector<UploadItem>& items, const BatchOptions& options)
      : impl_(impl), options_(options), slots_(items.size()), outcomes_(items.size()), multi_(curl_multi_init()) {
    if (!multi_) throw std::bad_alloc();
    progress_.items_total = static_cast<int>(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) prepare_slot(i, items[i]);
  }

  ~BatchUpload() {
    for (auto& [easy, index] : running_) {
      curl_multi_remove_handle(multi_.get(), easy);
      slots_[index].transfer.reset();
      impl_.transport.release(easy);
    }
  }

  std::vector<UploadOutcome> run() {
    while (progress_.items_done < progress_.items_total) {
      start_what_may_start();
      int still_running = 0;
      curl_multi_perform(multi_.get(), &still_running);
      const bool slot_freed = collect_finished();
      report_progress();
      // A freed slot starts the next item at once: waiting first would idle
      // the connection for a whole poll (at concurrency 1, after every item).
      if (!slot_freed && progress_.items_done < progress_.items_total) wait_for_activity();
    }
    return std::move(outcomes_);
  }

 private:
  struct Slot {
    Request request;
    std::unique_ptr<Transfer> transfer;
    std::int64_t size = 0;
    int attempts = 0;
    std::string unreadable;  // why the file cannot be read, "" when it can
  };

  void prepare_slot(std::size_t index, const UploadItem& item) {
    Slot& slot = slots_[index];
    slot.request.method = "POST";
    slot.request.target = "/v1/images";
    slot.request.body = detail::upload_form(item.path, item.bytes, item.options);
    if (item.path.empty()) {
      slot.size = static_cast<std::int64_t>(item.bytes.size());
    } else {
      std::error_code ec;
      slot.size = static_cast<std::int64_t>(std::filesystem::file_size(item.path, ec));
      if (ec) {
        slot.size = 0;
        slot.unreadable = ec.message();  // kept in order; fails as it is reached
      }
    }
    progress_.bytes_total += slot.size;
    queue_.push_back(index);
  }

  void start_what_may_start() {
    const auto now = Clock::now();
    while (static_cast<int>(running_.size()) < std::max(1, options_.concurrency)) {
      std::optional<std::size_t> next = take_due_retry(now);
      if (!next && !queue_.empty()) {
        next = queue_.front();
        queue_.pop_front();
      }
      if (!next) return;
      start(*next);
    }
  }

  std::optional<std::size_t> take_due_retry(Clock::time_point now) {
    auto due = std::find_if(delayed_.begin(), delayed_.end(), [now](const auto& d) { return d.first <= now; });
    if (due == delayed_.end()) return std::nullopt;
    std::size_t index = due->second;
    delayed_.erase(due);
    return index;
  }

  void start(std::size_t index) {
    Slot& slot = slots_[index];
    if (!slot.unreadable.empty()) {
      finish(index, UploadOutcome{std::nullopt, Error(0, "file_unreadable", "cannot read the file: " + slot.unreadable)});
      return;
    }
    CURL* easy = impl_.transport.acquire();
    slot.transfer = std::make_unique<Transfer>(impl_.transport.settings(), slot.request);
    slot.transfer->prepare(easy);
    curl_multi_add_handle(multi_.get(), easy);
    running_[easy] = index;
  }

  /// Settles every transfer that ended; true when any did.
  bool collect_finished() {
    bool any = false;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      const std::size_t index = running_.at(easy);
      Reply reply = slots_[index].transfer->finish(code);
      curl_multi_remove_handle(multi_.get(), easy);
      running_.erase(easy);
      slots_[index].transfer.reset();
      impl_.transport.release(easy);
      settle(index, reply);
      any = true;
    }
    return any;
  }

  /// A finished attempt: the outcome, or another attempt later.
  void settle(std::size_t index, const Reply& reply) {
    Slot& slot = slots_[index];
    ++slot.attempts;
    if (reply.ok()) {
      try {
        finish(index, UploadOutcome{detail::read_single_part_upload(reply), std::nullopt});
      } catch (const Error& e) {
        finish(index, UploadOutcome{std::nullopt, e});
      }
      return;
    }
    auto delay = detail::retry_delay(impl_.options.retry, slot.attempts, reply, detail::resendable(slot.request));
    if (delay) {
      delayed_.emplace_back(Clock::now() + *delay, index);
      return;
    }
    finish(index, UploadOutcome{std::nullopt, detail::to_error(reply)});
  }

  void finish(std::size_t index, UploadOutcome outcome) {
    outcomes_[index] = std::move(outcome);
    bytes_finished_ += slots_[index].size;
    ++progress_.items_done;
    if (options_.on_item) options_.on_item(index, outcomes_[index]);
  }

  void report_progress() {
    std::int64_t in_flight = 0;
    for (const auto& [easy, index] : running_)
      in_flight += std::min(slots_[index].size, slots_[index].transfer->uploaded());
    Progress now = progress_;
    now.bytes_done = bytes_finished_ + in_flight;
    if (!options_.on_progress || (now.bytes_done == last_.bytes_done && now.items_done == last_.items_done &&
                                  reported_))
      return;
    reported_ = true;
    last_ = now;
    options_.on_progress(now);
  }

  void wait_for_activity() {
    auto timeout = kMaxPoll;
    if (running_.empty() && !delayed_.empty()) {
      auto first = std::min_element(delayed_.begin(), delayed_.end())->first;
      timeout = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(first - Clock::now()),
                           std::chrono::milliseconds(0), kMaxPoll);
    }
    curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(timeout.count()), nullptr);
  }

  Client::Impl& impl_;
  const BatchOptions& options_;
  std::vector<Slot> slots_;
  std::vector<UploadOutcome> outcomes_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;
  std::deque<std::size_t> queue_;
  std::vector<std::pair<Clock::time_point, std::size_t>> delayed_;
  std::unordered_map<CURL*, std::size_t> running_;
  Progress progress_;
  Progress last_;
  bool reported_ = false;
  std::int64_t bytes_finished_ = 0;
};

}  // namespace

std::vector<UploadOutcome> Client::upload_many(const std::vector<UploadItem>& items, const BatchOptions& options) {
  return BatchUpload(*impl_, items, options).run();
}

}  // namespace progimage
