// Stored conversations as the gateway sees them: the assistant loop (assistant/assistant.h) and
// its store, plus the worker threads that run turns. A turn waits on the model for seconds, so
// it never runs on an I/O thread: the HTTP handler posts it here and returns, and the turn
// answers through its Responder from a worker.
//
// Shutdown (Server::shutdown calls drain): new turns are refused at once; turns in flight get
// until the deadline, then stopping() turns true and they are cancelled at their next piece of
// text (what was generated so far is stored, marked cut short); queued ones are answered 503.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "assistant/assistant.h"
#include "assistant/config.h"
#include "assistant/store.h"

namespace cove::server {

struct ConversationServiceOptions {
  int workers = 4;     // turns running at once (each mostly waits on a model's scheduler)
  int max_queue = 64;  // turns waiting for a worker; more are refused (429)
};

class ConversationService {
 public:
  // `config` may be null (tests); with one, a request's `model` is checked against it.
  ConversationService(assistant::Assistant& assistant, assistant::Store& store,
                      const assistant::Config* config, ConversationServiceOptions options = {});
  ~ConversationService();
  ConversationService(const ConversationService&) = delete;
  ConversationService& operator=(const ConversationService&) = delete;

  assistant::Assistant& assistant() { return assistant_; }
  assistant::Store& store() { return store_; }
  const assistant::Config* config() const { return config_; }

  // A queued turn: run(true) runs it; run(false) when the service stopped before it started
  // (it then only answers its client).
  using Turn = std::function<void(bool run)>;

  // Queues a turn for a worker. False when the queue is full or the service is draining.
  bool post(Turn turn);
  // True once the drain deadline passed: running turns should cancel.
  bool stopping() const;
  // Refuses new turns and waits for running and queued ones until `deadline`; then stopping()
  // turns true. Returns without waiting for the rest: a turn blocked in a model step finishes
  // only when the engines drain, so the server drains them next and then calls wait_idle().
  void drain(std::chrono::steady_clock::time_point deadline);
  // Waits until no turn runs or waits. Idempotent.
  void wait_idle();

 private:
  void work();

  assistant::Assistant& assistant_;
  assistant::Store& store_;
  const assistant::Config* config_;
  ConversationServiceOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;       // workers: a turn arrived, or exit
  std::condition_variable idle_cv_;  // drain: a turn finished
  std::deque<Turn> queue_;
  int running_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  bool exit_ = false;
  std::vector<std::thread> workers_;  // last: they start after everything above exists
};

}  // namespace cove::server
