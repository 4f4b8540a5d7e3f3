// The worker threads that run conversation turns (conversation_service.h).
#include "server/conversation_service.h"

#include <algorithm>

namespace cove::server {

ConversationService::ConversationService(assistant::Assistant& assistant, assistant::Store& store,
                                         const assistant::Config* config,
                                         ConversationServiceOptions options)
    : assistant_(assistant), store_(store), config_(config), options_(options) {
  const int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

ConversationService::~ConversationService() {
  drain(std::chrono::steady_clock::now());
  wait_idle();
  {
    std::lock_guard lock(mutex_);
    exit_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

bool ConversationService::post(Turn turn) {
  {
    std::lock_guard lock(mutex_);
    if (draining_ || static_cast<int>(queue_.size()) >= std::max(0, options_.max_queue)) {
      return false;
    }
    queue_.push_back(std::move(turn));
  }
  cv_.notify_one();
  return true;
}

bool ConversationService::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void ConversationService::drain(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  draining_ = true;
  idle_cv_.wait_until(lock, deadline, [this] { return running_ == 0 && queue_.empty(); });
  stopping_ = true;
}

void ConversationService::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_cv_.wait(lock, [this] { return running_ == 0 && queue_.empty(); });
}

void ConversationService::work() {
  while (true) {
    Turn turn;
    bool run = true;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return exit_ || !queue_.empty(); });
      if (queue_.empty()) return;  // exit_
      turn = std::move(queue_.front());
      queue_.pop_front();
      run = !stopping_;
      ++running_;
    }
    turn(run);  // answers its own errors; never throws (see conversation_api.cpp)
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace cove::server
