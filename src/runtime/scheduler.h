// Continuous batching: many generation requests share one Transformer and its KV cache.
//
// One scheduler thread owns the Transformer. Each step it builds one batch out of every running
// sequence's next decode token plus, while the token budget allows, up to one chunk of prompt
// tokens, taken from the waiting prompts oldest first (long prompts are prefilled in chunks
// interleaved with the others' decoding, so no stream stalls for more than one chunk; short
// prompts arriving together share one chunk). Requests join the running batch between steps and
// leave it when they finish, are cancelled, or time out. A request whose prompt starts with the
// tokens cached for an idle or finished slot reuses them (prefix reuse).
//
// Callbacks run on the scheduler thread, one request's in order, and must not block: the server
// posts them to its own executor. They may call submit(), cancel(), stats() and drain() (which
// then does not wait), but must not destroy the Scheduler. A callback that throws ends its
// request with kError (an on_done that throws is ignored).
//
// A request whose text is cut short (cancel, timeout, a callback returning false) keeps only the
// text already streamed; held-back bytes (a partial UTF-8 character, a possible stop-string
// start) are released only when it ends by kStop or kLength.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "model/transformer.h"
#include "runtime/generator.h"
#include "runtime/grammar.h"
#include "tokenizer/tokenizer.h"

namespace cove::runtime {

using RequestId = uint64_t;

enum class RequestEnd {
  kStop,       // end-of-generation token or a stop string
  kLength,     // max_tokens reached, or the sequence's context is full
  kCancelled,  // cancel() or a callback returned false
  kTimeout,    // the request's deadline passed
  kError,      // see RequestResult::error
};

struct RequestTimings {
  double queued_ms = 0;        // submit to first batch
  double first_token_ms = 0;   // submit to first generated token
  double total_ms = 0;         // submit to end
};

struct RequestResult {
  RequestEnd end = RequestEnd::kStop;
  std::string error;             // kError: what went wrong
  int64_t prompt_tokens = 0;     // as submitted
  int64_t cached_tokens = 0;     // of them, reused from an earlier request's cache
  int64_t completion_tokens = 0;
  std::string text;              // everything emitted (stop string excluded)
  RequestTimings timings;
};

struct RequestCallbacks {
  // A generated token and the text it completed (may be empty while a UTF-8 character or a
  // possible stop string is pending). Return false to cancel.
  std::function<bool(const GeneratedToken& token, std::string_view text)> on_token;
  // Called exactly once, last.
  std::function<void(const RequestResult& result)> on_done;
};

struct Request {
  std::vector<int32_t> prompt;  // already tokenized (chat template applied)
  GenerateOptions options;      // max_tokens, sampling, stop strings, ignore_eos, n_logprobs
  // Constrained decoding: tokens that cannot continue the grammar are masked; the request ends
  // (kStop) when the grammar is complete and cannot continue. Null: unconstrained.
  std::shared_ptr<const Grammar> grammar;
  // Zero: no deadline (SchedulerOptions::request_timeout still applies when set).
  std::chrono::steady_clock::time_point deadline{};
};

struct SchedulerOptions {
  int64_t max_queue = 64;        // waiting requests beyond the running ones; then kQueueFull
  int64_t prefill_chunk = 256;   // prompt tokens per step at most (all requests together)
  int64_t step_tokens = 512;     // tokens per forward step in all (<= transformer n_batch)
  std::chrono::milliseconds request_timeout{0};  // 0: none
};

struct SchedulerStats {
  int64_t running = 0;            // sequences in the batch (prefilling or decoding)
  int64_t queued = 0;             // waiting for a slot
  int64_t slots = 0;              // transformer sequences
  int64_t kv_cells_used = 0;      // cached positions over all slots
  int64_t kv_cells_total = 0;
  int64_t prompt_tokens_total = 0;     // since start, prefilled (cached ones excluded)
  int64_t generated_tokens_total = 0;  // since start
  int64_t steps_total = 0;
};

// Error code of submit() when the queue is full; the server answers 429 with Retry-After.
inline constexpr const char* kQueueFull = "queue_full";

class Scheduler {
 public:
  // Uses transformer sequences 0 .. n_seq-1 as slots. Starts the scheduler thread.
  Scheduler(model::Transformer& transformer, const tokenizer::Tokenizer& tokenizer,
            const SchedulerOptions& options = {});
  // Cancels everything still running (on_done with kCancelled) and joins the thread.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Fails without calling any callback when the prompt is empty or does not
  // fit the context (message gives both numbers; code "context_length_exceeded"), a token id
  // is out of range (code "invalid_request"), the queue is full (code kQueueFull), or after
  // drain() or during destruction (code "unavailable"). Thread-safe, also from callbacks.
  Result<RequestId> submit(Request request, RequestCallbacks callbacks);

  // Ends a request (queued or running) with kCancelled; unknown or finished ids are ignored.
  void cancel(RequestId id);

  // Stops taking requests (submit then fails with code "unavailable"); lets running and queued
  // ones finish until `deadline`, then cancels what is left. Returns when nothing is in flight
  // (every on_done has returned). Called from a callback (on the scheduler thread) it only stops
  // taking requests and returns at once.
  void drain(std::chrono::steady_clock::time_point deadline);

  SchedulerStats stats() const;
  int64_t n_ctx() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cove::runtime
