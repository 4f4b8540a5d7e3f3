// What every streaming API route shares for one request in flight (OpenAI SSE, Ollama NDJSON):
// chunks made before the response stream opens are kept and flushed when it opens, and a client
// that disconnects cancels its engine request whether or not the engine has accepted it yet.
//
// Threads: the route's handler opens the stream after a successful submit; the engine's
// callbacks emit chunks from the engine thread; the connection reports disconnects from its own.
// The mutex is held only briefly, never while inferring, and the engine is called outside it
// (its callbacks take the mutex from the engine thread).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http.h"
#include "server/server.h"

namespace cove::server {

struct StreamRelay {
  ResponderPtr responder;
  std::shared_ptr<const ModelService> model;

  std::mutex mutex;  // guards everything below
  bool started = false;              // the stream's header went out
  bool finished = false;             // the final chunks are queued
  std::vector<std::string> pending;  // chunks made before the stream started
  std::optional<runtime::RequestId> engine_id;
  bool cancel_requested = false;
  std::atomic<bool> client_gone{false};

  // Queues a chunk; before the stream opens, keeps it for open_stream. Call under mutex.
  void emit(std::string chunk) {
    if (started) {
      responder->write(std::move(chunk));
    } else {
      pending.push_back(std::move(chunk));
    }
  }

  // No chunk follows: ends the stream now if it is open, else when it opens. Call under mutex.
  void finish() {
    finished = true;
    if (started) responder->end_stream();
  }

  // After a successful submit: opens the stream, writes `first` (if any), then what the engine
  // already produced.
  void open_stream(std::string_view content_type, std::string first = {}) {
    std::lock_guard lock(mutex);
    responder->begin_stream(std::string(content_type));
    if (!first.empty()) responder->write(std::move(first));
    started = true;
    for (std::string& chunk : pending) responder->write(std::move(chunk));
    pending.clear();
    if (finished) responder->end_stream();
  }

  void client_disconnected() {
    client_gone.store(true);
    std::optional<runtime::RequestId> to_cancel;
    {
      std::lock_guard lock(mutex);
      to_cancel = engine_id;
      if (!engine_id) cancel_requested = true;
    }
    if (to_cancel) model->engine->cancel(*to_cancel);
  }

  void submitted_as(runtime::RequestId id) {
    bool cancel_now = false;
    {
      std::lock_guard lock(mutex);
      engine_id = id;
      cancel_now = cancel_requested;
    }
    if (cancel_now) model->engine->cancel(id);
  }
};

}  // namespace cove::server
