// The scheduler thread: admission, prefix reuse, batch building, and the end of requests.
//
// Locking: `mutex` guards what submit()/cancel()/drain()/stats() share with the thread (the
// queue, the cancel list, counters, flags). Slots, decoders and the Transformer belong to the
// scheduler thread alone, and no callback ever runs with the mutex held, so callbacks may call
// submit(), cancel() and stats().
#include "runtime/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

#include "runtime/sequence_decoder.h"

namespace cove::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

int64_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

}  // namespace

struct Scheduler::Impl {
  // A submitted request, from the queue until on_done.
  struct Pending {
    RequestId id = 0;
    Request request;
    RequestCallbacks callbacks;
    Clock::time_point submitted;
    Clock::time_point deadline = Clock::time_point::max();
  };

  // One transformer sequence. Its cache holds exactly `tokens` (also after its request ended,
  // for prefix reuse by a later one).
  struct Slot {
    int32_t seq = 0;
    std::vector<int32_t> tokens;
    uint64_t last_used = 0;  // for picking the least recently used free slot
    // The request running here; null when free.
    std::unique_ptr<Pending> pending;
    std::optional<SequenceDecoder> decoder;
    RequestResult result;
    uint64_t admitted = 0;     // admission order: the oldest prefilling request goes first
    int64_t prompt_done = 0;   // prompt tokens in the cache
    bool decoding = false;     // the prompt is done; next_token is fed each step
    int32_t next_token = 0;
    int64_t logits_row = -1;   // this step's row of logits, or -1
    int64_t chunk = 0;         // prompt tokens in this step
    GeneratedToken token;      // reused for every generated token
  };

  Impl(model::Transformer& t, const tokenizer::Tokenizer& tok, const SchedulerOptions& o)
      : transformer(t), tokenizer(tok), options(o), n_vocab(t.model().config().n_vocab) {
    const int64_t n_seq = transformer.n_seq();
    options.prefill_chunk = std::max<int64_t>(1, options.prefill_chunk);
    // Room for every decoder plus at least one prompt token, so prefills always progress.
    options.step_tokens = std::max(options.step_tokens, n_seq + 1);
    options.max_queue = std::max<int64_t>(0, options.max_queue);
    slots.resize(static_cast<size_t>(n_seq));
    for (int64_t s = 0; s < n_seq; ++s) {
      Slot& slot = slots[static_cast<size_t>(s)];
      slot.seq = static_cast<int32_t>(s);
      slot.tokens.reserve(static_cast<size_t>(transformer.n_ctx()));
      transformer.truncate(slot.seq, 0);
    }
    batch.reserve(static_cast<size_t>(n_seq + options.step_tokens));
    prefills.reserve(static_cast<size_t>(n_seq));
    stats.slots = n_seq;
    stats.kv_cells_total = n_seq * transformer.n_ctx();
  }

  void run();
  void wait_for_work(std::unique_lock<std::mutex>& lock);
  void place(std::unique_ptr<Pending> pending);
  void step();
  void sample(Slot& slot, const float* logits);
  void end_request(Slot& slot, RequestEnd end, std::string error = {});
  void end_queued(std::unique_ptr<Pending> pending, RequestEnd end);
  void finish(RequestCallbacks& callbacks, const RequestResult& result);
  const TokenTrie& token_trie();
  void update_stats();

  model::Transformer& transformer;
  const tokenizer::Tokenizer& tokenizer;
  SchedulerOptions options;
  int64_t n_vocab;

  // Shared with the callers of the public methods; guarded by mutex.
  mutable std::mutex mutex;
  std::condition_variable wake;  // the scheduler thread waits for work on it
  std::condition_variable idle;  // drain() waits for in_flight == 0 on it
  std::deque<std::unique_ptr<Pending>> queue;
  std::vector<RequestId> cancel_ids;
  RequestId next_id = 1;
  int64_t n_running = 0;  // admitted, not ended (slots taken)
  int64_t in_flight = 0;  // submitted, on_done not yet returned
  bool stopping = false;  // destructor: cancel everything and exit
  bool draining = false;  // no new requests
  bool cancel_all = false;
  SchedulerStats stats;

  // The scheduler thread's own.
  std::vector<Slot> slots;
  std::optional<TokenTrie> trie;
  std::vector<model::BatchToken> batch;
  std::vector<Slot*> prefills;  // this step's prefilling slots, oldest first
  std::vector<float> logits;
  std::vector<RequestId> cancels;
  std::vector<std::unique_ptr<Pending>> admitted, ended_cancelled, ended_timeout;
  uint64_t use_counter = 0, admit_counter = 0;
  int64_t prompt_tokens_total = 0, generated_tokens_total = 0, steps_total = 0;
  std::thread thread;
};

// ---------------------------------------------------------------------------------------------
// The scheduler loop

// Waits until there is something to do: a request to admit or run, a cancel, or shutdown.
// (With requests queued, every slot is taken, so the loop is stepping and checks the queued
// requests' deadlines every step.)
void Scheduler::Impl::wait_for_work(std::unique_lock<std::mutex>& lock) {
  wake.wait(lock, [&] {
    return stopping || !cancel_ids.empty() || n_running > 0 || !queue.empty();
  });
}

void Scheduler::Impl::run() {
  // Reserved once so that the steady state does not allocate.
  cancels.reserve(16);
  admitted.reserve(slots.size());
  for (;;) {
    bool cancel_everything = false, exit_after = false;
    Clock::time_point now;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wait_for_work(lock);
      cancels.swap(cancel_ids);
      cancel_ids.clear();
      cancel_everything = stopping || cancel_all;
      exit_after = stopping;
      now = Clock::now();
      // Queued requests that were cancelled or ran out of time leave the queue.
      for (auto it = queue.begin(); it != queue.end();) {
        const bool cancelled = cancel_everything ||
                               std::find(cancels.begin(), cancels.end(), (*it)->id) != cancels.end();
        if (cancelled || now >= (*it)->deadline) {
          (cancelled ? ended_cancelled : ended_timeout).push_back(std::move(*it));
          it = queue.erase(it);
        } else {
          ++it;
        }
      }
      // Admission: as many as there are free slots, in arrival order.
      while (!queue.empty() && n_running < static_cast<int64_t>(slots.size())) {
        admitted.push_back(std::move(queue.front()));
        queue.pop_front();
        ++n_running;
      }
    }
    for (auto& p : ended_cancelled) end_queued(std::move(p), RequestEnd::kCancelled);
    for (auto& p : ended_timeout) end_queued(std::move(p), RequestEnd::kTimeout);
    ended_cancelled.clear();
    ended_timeout.clear();

    // Running requests that were cancelled or ran out of time.
    for (Slot& slot : slots) {
      if (!slot.pending) continue;
      if (cancel_everything ||
          std::find(cancels.begin(), cancels.end(), slot.pending->id) != cancels.end()) {
        end_request(slot, RequestEnd::kCancelled);
      } else if (now >= slot.pending->deadline) {
        end_request(slot, RequestEnd::kTimeout);
      }
    }
    cancels.clear();
    for (auto& p : admitted) place(std::move(p));
    admitted.clear();
    if (exit_after) {
      update_stats();
      return;
    }
    try {
      step();
    } catch (const std::exception& e) {
      // Out of memory or a bug below: end what is running rather than take the process down.
      for (Slot& slot : slots) {
        if (slot.pending) end_request(slot, RequestEnd::kError, std::string("internal error: ") + e.what());
      }
    }
    update_stats();
  }
}

// Puts an admitted request into a free slot, reusing the longest cached prefix of its prompt.
void Scheduler::Impl::place(std::unique_ptr<Pending> pending) {
  const std::vector<int32_t>& prompt = pending->request.prompt;
  Slot* best = nullptr;
  int64_t best_len = -1;
  for (Slot& slot : slots) {
    if (slot.pending) continue;
    const int64_t len = common_prefix(slot.tokens, prompt);
    if (len > best_len || (len == best_len && slot.last_used < best->last_used)) {
      best = &slot;
      best_len = len;
    }
  }
  // n_running counts this request, so a free slot exists.
  Slot& slot = *best;
  // A busy slot may hold a longer prefix (requests sharing a system prompt arriving together).
  const Slot* source = nullptr;
  for (const Slot& other : slots) {
    if (!other.pending || &other == &slot) continue;
    const int64_t len = common_prefix(other.tokens, prompt);
    if (len > best_len) {
      source = &other;
      best_len = len;
    }
  }
  // At least the last prompt token is evaluated: its logits give the first generated token.
  const int64_t reuse = std::min<int64_t>(best_len, static_cast<int64_t>(prompt.size()) - 1);
  if (source != nullptr) {
    transformer.copy_prefix(source->seq, slot.seq, reuse);
    slot.tokens.assign(source->tokens.begin(), source->tokens.begin() + reuse);
  } else {
    transformer.truncate(slot.seq, reuse);
    slot.tokens.resize(static_cast<size_t>(reuse));
  }

  const Clock::time_point now = Clock::now();
  slot.pending = std::move(pending);
  slot.result = RequestResult{};
  slot.result.prompt_tokens = static_cast<int64_t>(prompt.size());
  slot.result.cached_tokens = reuse;
  slot.result.timings.queued_ms = ms_between(slot.pending->submitted, now);
  slot.admitted = ++admit_counter;
  slot.prompt_done = reuse;
  slot.decoding = false;
  slot.logits_row = -1;
  const Request& request = slot.pending->request;
  try {
    const TokenTrie* vocab = request.grammar ? &token_trie() : nullptr;
    slot.decoder.emplace(tokenizer, prompt, request.options, request.grammar.get(), vocab);
  } catch (const std::exception& e) {
    end_request(slot, RequestEnd::kError, std::string("could not start the request: ") + e.what());
    return;
  }
  if (request.options.max_tokens == 0) end_request(slot, RequestEnd::kLength);
}

// One forward pass: every decoding sequence's next token, plus prompt chunks of the sequences
// still being prefilled, oldest first, up to prefill_chunk prompt tokens in all (so no step
// costs more than one chunk's worth of prompt) and within step_tokens. Several short prompts
// arriving together are thus prefilled in one step instead of one step each.
void Scheduler::Impl::step() {
  batch.clear();
  int64_t rows = 0;
  for (Slot& slot : slots) {
    slot.logits_row = -1;
    slot.chunk = 0;
    if (!slot.pending || !slot.decoding) continue;
    slot.logits_row = rows++;
    batch.push_back({slot.next_token, slot.seq, true});
  }
  prefills.clear();
  for (Slot& slot : slots) {
    if (slot.pending && !slot.decoding) prefills.push_back(&slot);
  }
  std::sort(prefills.begin(), prefills.end(),
            [](const Slot* a, const Slot* b) { return a->admitted < b->admitted; });
  int64_t budget = std::min(options.prefill_chunk,
                            options.step_tokens - static_cast<int64_t>(batch.size()));
  int64_t chunked = 0;
  for (Slot* prefill : prefills) {
    if (budget <= 0) break;
    const std::vector<int32_t>& prompt = prefill->pending->request.prompt;
    const int64_t remaining = static_cast<int64_t>(prompt.size()) - prefill->prompt_done;
    const int64_t chunk = std::min(remaining, budget);
    for (int64_t i = 0; i < chunk; ++i) {
      const bool last = prefill->prompt_done + i + 1 == static_cast<int64_t>(prompt.size());
      batch.push_back({prompt[static_cast<size_t>(prefill->prompt_done + i)], prefill->seq, last});
      if (last) prefill->logits_row = rows++;
    }
    prefill->chunk = chunk;
    budget -= chunk;
    chunked += chunk;
  }
  if (batch.empty()) return;

  if (Status s = transformer.forward(batch, logits); !s) {
    // Nothing changed; end the requests that were in this batch.
    for (Slot& slot : slots) {
      if (slot.pending && (slot.decoding || slot.chunk > 0)) {
        end_request(slot, RequestEnd::kError, s.message());
      }
    }
    return;
  }
  ++steps_total;
  prompt_tokens_total += chunked;
  for (const model::BatchToken& b : batch) slots[static_cast<size_t>(b.seq)].tokens.push_back(b.token);
  for (Slot* prefill : prefills) {
    prefill->prompt_done += prefill->chunk;
    if (prefill->logits_row >= 0) prefill->decoding = true;
  }
  for (Slot& slot : slots) {
    if (slot.pending && slot.logits_row >= 0) {
      sample(slot, logits.data() + slot.logits_row * n_vocab);
    }
  }
}

// Picks a sequence's next token, streams it, and ends the request when it should end.
void Scheduler::Impl::sample(Slot& slot, const float* row) {
  SequenceDecoder& decoder = *slot.decoder;
  const size_t text_before = decoder.text().size();
  const SequenceDecoder::Step next = decoder.step(row, slot.token);
  if (next.outcome == SequenceDecoder::Outcome::kError) {
    end_request(slot, RequestEnd::kError, decoder.error());
    return;
  }
  RequestResult& result = slot.result;
  ++generated_tokens_total;
  if (++result.completion_tokens == 1) {
    result.timings.first_token_ms = ms_between(slot.pending->submitted, Clock::now());
  }
  std::optional<RequestEnd> end;
  const int64_t max_tokens = slot.pending->request.options.max_tokens;
  if (next.outcome == SequenceDecoder::Outcome::kStop) {
    end = RequestEnd::kStop;
  } else if ((max_tokens >= 0 && result.completion_tokens >= max_tokens) ||
             transformer.seq_length(slot.seq) >= transformer.n_ctx()) {
    end = RequestEnd::kLength;
  }
  if (end) decoder.finish();  // releases held-back text with this last token
  const std::string_view text = std::string_view(decoder.text()).substr(text_before);
  RequestCallbacks& callbacks = slot.pending->callbacks;
  if (callbacks.on_token) {
    bool keep_going = true;
    try {
      keep_going = callbacks.on_token(slot.token, text);
    } catch (const std::exception& e) {
      end_request(slot, RequestEnd::kError, std::string("on_token threw: ") + e.what());
      return;
    } catch (...) {
      end_request(slot, RequestEnd::kError, "on_token threw");
      return;
    }
    if (!keep_going && !end) end = RequestEnd::kCancelled;
  }
  if (end) {
    end_request(slot, *end);
  } else {
    slot.next_token = slot.token.id;
  }
}

void Scheduler::Impl::finish(RequestCallbacks& callbacks, const RequestResult& result) {
  if (callbacks.on_done) {
    try {
      callbacks.on_done(result);
    } catch (...) {
      // Nothing is left to tell: the request is over either way.
    }
  }
  std::lock_guard<std::mutex> lock(mutex);
  --in_flight;
  if (in_flight == 0) idle.notify_all();
}

void Scheduler::Impl::end_request(Slot& slot, RequestEnd end, std::string error) {
  std::unique_ptr<Pending> pending = std::move(slot.pending);
  RequestResult& result = slot.result;
  result.end = end;
  result.error = std::move(error);
  if (slot.decoder) result.text = slot.decoder->text();
  result.timings.total_ms = ms_between(pending->submitted, Clock::now());
  slot.decoder.reset();
  slot.decoding = false;
  slot.logits_row = -1;
  slot.last_used = ++use_counter;
  {
    std::lock_guard<std::mutex> lock(mutex);
    --n_running;
  }
  update_stats();  // before on_done, so that a caller woken by it sees this request counted
  finish(pending->callbacks, result);
}

void Scheduler::Impl::end_queued(std::unique_ptr<Pending> pending, RequestEnd end) {
  RequestResult result;
  result.end = end;
  result.prompt_tokens = static_cast<int64_t>(pending->request.prompt.size());
  const Clock::time_point now = Clock::now();
  result.timings.queued_ms = ms_between(pending->submitted, now);
  result.timings.total_ms = result.timings.queued_ms;
  finish(pending->callbacks, result);
}

// The vocabulary trie for grammar masks, built on first use (once per scheduler).
const TokenTrie& Scheduler::Impl::token_trie() {
  if (!trie) {
    const int32_t n = tokenizer.n_vocab();
    std::vector<std::string> pieces(static_cast<size_t>(n));
    std::vector<bool> special(static_cast<size_t>(n));
    std::vector<int32_t> end_of_generation;
    for (int32_t id = 0; id < n; ++id) {
      pieces[static_cast<size_t>(id)] = tokenizer.token_piece(id);
      const tokenizer::TokenType type = tokenizer.token_type(id);
      special[static_cast<size_t>(id)] = type == tokenizer::TokenType::kControl ||
                                         type == tokenizer::TokenType::kUnknown ||
                                         type == tokenizer::TokenType::kUnused;
      if (tokenizer.is_end_of_generation(id)) end_of_generation.push_back(id);
    }
    trie.emplace(TokenTrie::build(pieces, special, end_of_generation));
  }
  return *trie;
}

void Scheduler::Impl::update_stats() {
  int64_t cells = 0;
  for (const Slot& slot : slots) cells += transformer.seq_length(slot.seq);
  std::lock_guard<std::mutex> lock(mutex);
  stats.running = n_running;
  stats.queued = static_cast<int64_t>(queue.size());
  stats.kv_cells_used = cells;
  stats.prompt_tokens_total = prompt_tokens_total;
  stats.generated_tokens_total = generated_tokens_total;
  stats.steps_total = steps_total;
}

// ---------------------------------------------------------------------------------------------
// Public interface

Scheduler::Scheduler(model::Transformer& transformer, const tokenizer::Tokenizer& tokenizer,
                     const SchedulerOptions& options)
    : impl_(std::make_unique<Impl>(transformer, tokenizer, options)) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

Result<RequestId> Scheduler::submit(Request request, RequestCallbacks callbacks) {
  Impl& s = *impl_;
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) return Error{"the prompt has no tokens", "invalid_request"};
  if (n_prompt > s.transformer.n_ctx()) {
    return Error{"the prompt has " + std::to_string(n_prompt) + " tokens but the context holds " +
                     std::to_string(s.transformer.n_ctx()),
                 "context_length_exceeded"};
  }
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    const int32_t id = request.prompt[i];
    if (id < 0 || id >= s.n_vocab) {
      return Error{"prompt token " + std::to_string(i) + " has id " + std::to_string(id) +
                       ", outside the vocabulary (0.." + std::to_string(s.n_vocab - 1) + ")",
                   "invalid_request"};
    }
  }
  auto pending = std::make_unique<Impl::Pending>();
  pending->request = std::move(request);
  pending->callbacks = std::move(callbacks);
  pending->submitted = Clock::now();
  if (pending->request.deadline != Clock::time_point{}) {
    pending->deadline = pending->request.deadline;
  }
  if (s.options.request_timeout.count() > 0) {
    pending->deadline = std::min(pending->deadline, pending->submitted + s.options.request_timeout);
  }
  RequestId id = 0;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.stopping || s.draining) {
      return Error{"the scheduler is shutting down", "unavailable"};
    }
    const int64_t free_slots = static_cast<int64_t>(s.slots.size()) - s.n_running;
    if (static_cast<int64_t>(s.queue.size()) >= s.options.max_queue + free_slots) {
      return Error{"the request queue is full (" + std::to_string(s.queue.size()) + " waiting)",
                   kQueueFull};
    }
    id = s.next_id++;
    pending->id = id;
    s.queue.push_back(std::move(pending));
    ++s.in_flight;
    s.stats.queued = static_cast<int64_t>(s.queue.size());
  }
  s.wake.notify_one();
  return id;
}

void Scheduler::cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->cancel_ids.push_back(id);
  }
  impl_->wake.notify_one();
}

void Scheduler::drain(std::chrono::steady_clock::time_point deadline) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mutex);
  s.draining = true;
  // On the scheduler thread (from a callback) waiting would never end: stop taking requests
  // and return.
  if (std::this_thread::get_id() == s.thread.get_id()) return;
  if (!s.idle.wait_until(lock, deadline, [&] { return s.in_flight == 0; })) {
    s.cancel_all = true;
    s.wake.notify_one();
    s.idle.wait(lock, [&] { return s.in_flight == 0; });
  }
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  SchedulerStats out = impl_->stats;
  out.queued = static_cast<int64_t>(impl_->queue.size());
  out.running = impl_->n_running;
  return out;
}

int64_t Scheduler::n_ctx() const { return impl_->transformer.n_ctx(); }

}  // namespace cove::runtime
