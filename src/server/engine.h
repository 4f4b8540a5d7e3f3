// What the server needs from inference: submit / cancel / drain / stats, as the scheduler
// (runtime/scheduler.h) offers them. Handlers talk to this interface, so the HTTP tests can
// drive the server with a scripted engine and no model, and the real server plugs in the
// continuous-batching scheduler (make_scheduler_engine).
#pragma once

#include <chrono>
#include <memory>

#include "core/result.h"
#include "model/transformer.h"
#include "runtime/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace cove::server {

class Engine {
 public:
  virtual ~Engine() = default;
  // Same contract as runtime::Scheduler::submit: callbacks run on the engine's thread and must
  // not block; on failure none runs (Error::code == runtime::kQueueFull for a full queue).
  virtual Result<runtime::RequestId> submit(runtime::Request request,
                                            runtime::RequestCallbacks callbacks) = 0;
  virtual void cancel(runtime::RequestId id) = 0;
  // Stop taking requests, finish what runs until `deadline`, cancel the rest; returns when idle.
  virtual void drain(std::chrono::steady_clock::time_point deadline) = 0;
  virtual runtime::SchedulerStats stats() const = 0;
};

// The continuous-batching scheduler over `transformer` (which must outlive the engine).
std::unique_ptr<Engine> make_scheduler_engine(model::Transformer& transformer,
                                              const tokenizer::Tokenizer& tokenizer,
                                              const runtime::SchedulerOptions& options);

}  // namespace cove::server
