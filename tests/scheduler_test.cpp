// Continuous batching (runtime/scheduler.h): batched output equals single-sequence output,
// prefix reuse, chunked prefill interleaving, cancellation, timeouts, the bounded queue, drain,
// destruction with requests in flight, and grammar-constrained requests.
//
// Orderings are asserted by counting events on the scheduler thread, never by wall time.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>

#include "model/model.h"
#include "support/goldens.h"

namespace cove::runtime {
namespace {

using Clock = std::chrono::steady_clock;

struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

const Loaded& load(const std::string& name) {
  static std::map<std::string, Loaded> cache;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Loaded l;
  auto m = model::Model::load(testing::shared_dir() + "/models/" + name);
  EXPECT_TRUE(m.is_ok()) << m.message();
  if (!m) return cache[name];
  l.model = std::move(*m);
  auto t = tokenizer::Tokenizer::from_gguf(l.model->file());
  EXPECT_TRUE(t.is_ok()) << t.message();
  if (t) l.tokenizer = std::move(*t);
  return cache[name] = std::move(l);
}

// Everything one request reported, filled on the scheduler thread.
struct Collector {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<int32_t> ids;
  std::string streamed;
  int done_calls = 0;
  RequestResult result;

  RequestCallbacks callbacks() {
    RequestCallbacks c;
    c.on_token = [this](const GeneratedToken& t, std::string_view text) {
      std::lock_guard<std::mutex> lock(mutex);
      ids.push_back(t.id);
      streamed.append(text);
      return true;
    };
    c.on_done = [this](const RequestResult& r) {
      std::lock_guard<std::mutex> lock(mutex);
      result = r;
      ++done_calls;
      cv.notify_all();
    };
    return c;
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [&] { return done_calls > 0; });
  }
};

GenerateOptions greedy(int64_t max_tokens) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling.temperature = 0.0f;
  o.ignore_eos = true;
  return o;
}

std::vector<int32_t> encode(const tokenizer::Tokenizer& tok, const std::string& text) {
  return tok.encode(text, true, false);
}

// The ids generate() produces for the prompt on a fresh single-sequence transformer.
std::vector<int32_t> served_alone(const Loaded& l, const std::vector<int32_t>& prompt,
                                  const GenerateOptions& options) {
  model::TransformerOptions to;
  to.n_ctx = 256;
  to.n_threads = 2;
  model::Transformer t(*l.model, to);
  Result<Generation> g = generate(t, *l.tokenizer, prompt, options);
  EXPECT_TRUE(g.is_ok()) << g.message();
  std::vector<int32_t> ids;
  if (g) {
    for (const GeneratedToken& tok : g->tokens) ids.push_back(tok.id);
  }
  return ids;
}

const std::vector<std::string> kPrompts = {
    "Once upon a time", "The little dog", "Lily and Ben went to the park",
    "One day, a big red ball", "Tom was sad because", "The sun was shining and",
    "A cat sat on the mat. It", "Mom said, \"Let us bake a cake"};

model::TransformerOptions slots(int64_t n_seq, int64_t n_ctx = 256) {
  model::TransformerOptions to;
  to.n_ctx = n_ctx;
  to.n_seq = n_seq;
  to.n_threads = 2;
  return to;
}

// ---------------------------------------------------------------------------------------------
// Correctness of batching

class SchedulerBatchInvariance : public ::testing::TestWithParam<std::string> {};

// Eight concurrent greedy requests (prompts of different lengths, prefilled in chunks while
// others decode) give token for token what generate() gives for each alone.
TEST_P(SchedulerBatchInvariance, ConcurrentGreedyMatchesServedAlone) {
  const Loaded& l = load(GetParam());
  ASSERT_TRUE(l.model && l.tokenizer);
  const GenerateOptions options = greedy(24);
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& p : kPrompts) expected.push_back(served_alone(l, encode(*l.tokenizer, p), options));

  model::Transformer t(*l.model, slots(8));
  SchedulerOptions so;
  so.prefill_chunk = 4;  // prompts span several steps, mixed with other streams' decoding
  Scheduler scheduler(t, *l.tokenizer, so);
  std::vector<Collector> collectors(kPrompts.size());
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    Request r;
    r.prompt = encode(*l.tokenizer, kPrompts[i]);
    r.options = options;
    ASSERT_TRUE(scheduler.submit(std::move(r), collectors[i].callbacks()).is_ok());
  }
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    collectors[i].wait();
    EXPECT_EQ(collectors[i].result.end, RequestEnd::kLength);
    EXPECT_EQ(collectors[i].ids, expected[i]) << "prompt " << i << ": " << kPrompts[i];
    EXPECT_EQ(collectors[i].result.completion_tokens, 24);
    EXPECT_EQ(collectors[i].result.text, collectors[i].streamed);
  }
  scheduler.drain(Clock::now() + std::chrono::minutes(1));
  EXPECT_EQ(scheduler.stats().generated_tokens_total, 8 * 24);
}

INSTANTIATE_TEST_SUITE_P(Models, SchedulerBatchInvariance,
                         ::testing::Values("tiny-llama-Q4_0.gguf", "tiny-llama-Q8_0.gguf",
                                           "tiny-llama-Q4_K_M.gguf", "tiny-llama-Q6_K.gguf",
                                           "stories260K.gguf"),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

// A second request sharing the first one's prompt prefix reuses its cache and still gives
// exactly the served-alone output.
TEST(Scheduler, PrefixReuseFromFinishedSlot) {
  const Loaded& l = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  const std::vector<int32_t> first = encode(*l.tokenizer, "Once upon a time there was a little girl");
  const std::vector<int32_t> second =
      encode(*l.tokenizer, "Once upon a time there was a little girl named Lily. She");
  ASSERT_GT(second.size(), first.size());
  model::Transformer t(*l.model, slots(2));
  Scheduler scheduler(t, *l.tokenizer);
  Collector a, b;
  Request ra;
  ra.prompt = first;
  ra.options = greedy(8);
  ASSERT_TRUE(scheduler.submit(std::move(ra), a.callbacks()).is_ok());
  a.wait();
  EXPECT_EQ(a.result.cached_tokens, 0);
  Request rb;
  rb.prompt = second;
  rb.options = greedy(16);
  ASSERT_TRUE(scheduler.submit(std::move(rb), b.callbacks()).is_ok());
  b.wait();
  EXPECT_EQ(b.result.cached_tokens, static_cast<int64_t>(first.size()));
  EXPECT_EQ(b.ids, served_alone(l, second, greedy(16)));

  // The very same prompt again: all but the last token come from the cache.
  Collector c;
  Request rc;
  rc.prompt = second;
  rc.options = greedy(16);
  ASSERT_TRUE(scheduler.submit(std::move(rc), c.callbacks()).is_ok());
  c.wait();
  EXPECT_EQ(c.result.cached_tokens, static_cast<int64_t>(second.size()) - 1);
  EXPECT_EQ(c.ids, b.ids);
}

// A request arriving while another with the same prefix is still running copies that prefix
// from the busy sequence.
TEST(Scheduler, PrefixReuseFromRunningSlot) {
  const Loaded& l = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  const std::vector<int32_t> shared = encode(*l.tokenizer, "Once upon a time there was a big dog");
  std::vector<int32_t> other = shared;
  other.push_back(l.tokenizer->encode(" who", false, false).front());
  model::Transformer t(*l.model, slots(2));
  Scheduler scheduler(t, *l.tokenizer);
  Collector a, b;
  RequestId a_id = 0;
  std::atomic<bool> submitted{false};
  RequestCallbacks ca = a.callbacks();
  auto record = ca.on_token;
  ca.on_token = [&, record](const GeneratedToken& tok, std::string_view text) {
    record(tok, text);
    if (!submitted.exchange(true)) {  // on the scheduler thread, while A is running
      Request rb;
      rb.prompt = other;
      rb.options = greedy(12);
      EXPECT_TRUE(scheduler.submit(std::move(rb), b.callbacks()).is_ok());
    }
    return true;
  };
  Request ra;
  ra.prompt = shared;
  ra.options = greedy(40);
  auto id = scheduler.submit(std::move(ra), std::move(ca));
  ASSERT_TRUE(id.is_ok());
  a_id = *id;
  b.wait();
  scheduler.cancel(a_id);
  a.wait();
  EXPECT_EQ(b.result.cached_tokens, static_cast<int64_t>(shared.size()));
  EXPECT_EQ(b.ids, served_alone(l, other, greedy(12)));
}

// A long prompt is prefilled a chunk per step while a running stream keeps decoding: the
// running stream gets a token in every step of the prefill.
TEST(Scheduler, ChunkedPrefillInterleavesWithDecoding) {
  const Loaded& l = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2));
  SchedulerOptions so;
  so.prefill_chunk = 8;
  Scheduler scheduler(t, *l.tokenizer, so);
  std::vector<int32_t> long_prompt = encode(*l.tokenizer, kPrompts[2]);
  while (long_prompt.size() < 100) long_prompt.push_back(long_prompt[1 + long_prompt.size() % 7]);
  // Events in scheduler-thread order: 'a' = a token of the running stream, 'B' = the long
  // prompt's first token.
  std::string events;
  Collector a, b;
  RequestCallbacks ca = a.callbacks(), cb = b.callbacks();
  auto record_a = ca.on_token;
  auto record_b = cb.on_token;
  int a_tokens = 0;
  ca.on_token = [&, record_a](const GeneratedToken& tok, std::string_view text) {
    events += 'a';
    if (++a_tokens == 2) {
      events += 'S';  // the long prompt is submitted here
      Request rb;
      rb.prompt = long_prompt;
      rb.options = greedy(2);
      RequestCallbacks copy = cb;
      EXPECT_TRUE(scheduler.submit(std::move(rb), std::move(copy)).is_ok());
    }
    return record_a(tok, text);
  };
  cb.on_token = [&, record_b](const GeneratedToken& tok, std::string_view text) {
    events += 'B';
    return record_b(tok, text);
  };
  Request ra;
  ra.prompt = encode(*l.tokenizer, kPrompts[0]);
  ra.options = greedy(40);
  ASSERT_TRUE(scheduler.submit(std::move(ra), ca).is_ok());
  a.wait();
  b.wait();
  const size_t submit_at = events.find('S');
  const size_t first_b = events.find('B');
  ASSERT_NE(submit_at, std::string::npos);
  ASSERT_NE(first_b, std::string::npos);
  // 100 prompt tokens in chunks of 8 take 13 steps; each of them also decodes stream A.
  const std::string between = events.substr(submit_at + 1, first_b - submit_at - 1);
  EXPECT_EQ(between, std::string(13, 'a')) << events;
  EXPECT_EQ(b.result.end, RequestEnd::kLength);
  EXPECT_EQ(a.result.completion_tokens, 40);
}

// ---------------------------------------------------------------------------------------------
// Cancellation, limits, shutdown

TEST(Scheduler, CancelQueuedAndRunning) {
  const Loaded& l = load("tiny-llama-Q4_0.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(1, 2048));
  Scheduler scheduler(t, *l.tokenizer);
  Collector running, queued;
  std::mutex m;
  std::condition_variable cv;
  bool started = false;
  RequestCallbacks cr = running.callbacks();
  auto record = cr.on_token;
  cr.on_token = [&, record](const GeneratedToken& tok, std::string_view text) {
    {
      std::lock_guard<std::mutex> lock(m);
      started = true;
    }
    cv.notify_all();
    return record(tok, text);
  };
  Request r1;
  r1.prompt = encode(*l.tokenizer, kPrompts[0]);
  r1.options = greedy(-1);  // until the context is full: far longer than this test
  auto id1 = scheduler.submit(std::move(r1), cr);
  ASSERT_TRUE(id1.is_ok());
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return started; });
  }
  Request r2;
  r2.prompt = encode(*l.tokenizer, kPrompts[1]);
  r2.options = greedy(4);
  auto id2 = scheduler.submit(std::move(r2), queued.callbacks());
  ASSERT_TRUE(id2.is_ok());
  EXPECT_EQ(scheduler.stats().running, 1);
  scheduler.cancel(*id2);
  queued.wait();
  EXPECT_EQ(queued.result.end, RequestEnd::kCancelled);
  EXPECT_EQ(queued.result.completion_tokens, 0);
  EXPECT_TRUE(queued.ids.empty());
  scheduler.cancel(*id1);
  running.wait();
  EXPECT_EQ(running.result.end, RequestEnd::kCancelled);
  EXPECT_GT(running.result.completion_tokens, 0);
  scheduler.cancel(*id1);  // finished ids and unknown ids are ignored
  scheduler.cancel(12345);
  EXPECT_EQ(running.done_calls, 1);
  EXPECT_EQ(queued.done_calls, 1);
}

TEST(Scheduler, CallbackReturningFalseCancels) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2));
  Scheduler scheduler(t, *l.tokenizer);
  Collector c;
  RequestCallbacks callbacks = c.callbacks();
  auto record = callbacks.on_token;
  int n = 0;
  callbacks.on_token = [&, record](const GeneratedToken& tok, std::string_view text) {
    record(tok, text);
    return ++n < 3;
  };
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options = greedy(50);
  ASSERT_TRUE(scheduler.submit(std::move(r), callbacks).is_ok());
  c.wait();
  EXPECT_EQ(c.result.end, RequestEnd::kCancelled);
  EXPECT_EQ(c.result.completion_tokens, 3);
  EXPECT_EQ(c.ids.size(), 3u);
}

TEST(Scheduler, CallbackThatThrowsEndsWithError) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2));
  Scheduler scheduler(t, *l.tokenizer);
  Collector c, other;
  RequestCallbacks callbacks = c.callbacks();
  callbacks.on_token = [](const GeneratedToken&, std::string_view) -> bool {
    throw std::runtime_error("client went away");
  };
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options = greedy(20);
  ASSERT_TRUE(scheduler.submit(std::move(r), callbacks).is_ok());
  c.wait();
  EXPECT_EQ(c.result.end, RequestEnd::kError);
  EXPECT_NE(c.result.error.find("client went away"), std::string::npos) << c.result.error;
  // The scheduler keeps serving; an on_done that throws does not take it down either.
  RequestCallbacks throwing_done = other.callbacks();
  auto done = throwing_done.on_done;
  throwing_done.on_done = [done](const RequestResult& result) {
    done(result);
    throw std::runtime_error("on_done failed");
  };
  Request r2;
  r2.prompt = encode(*l.tokenizer, kPrompts[1]);
  r2.options = greedy(5);
  ASSERT_TRUE(scheduler.submit(std::move(r2), throwing_done).is_ok());
  other.wait();
  EXPECT_EQ(other.result.end, RequestEnd::kLength);
  EXPECT_EQ(other.result.completion_tokens, 5);
}

TEST(Scheduler, DeadlineWhileQueuedAndWhileRunning) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(1, 512));
  Scheduler scheduler(t, *l.tokenizer);
  // Already past its deadline when it is submitted.
  Collector expired;
  Request r1;
  r1.prompt = encode(*l.tokenizer, kPrompts[0]);
  r1.options = greedy(10);
  r1.deadline = Clock::now() - std::chrono::milliseconds(1);
  ASSERT_TRUE(scheduler.submit(std::move(r1), expired.callbacks()).is_ok());
  expired.wait();
  EXPECT_EQ(expired.result.end, RequestEnd::kTimeout);
  EXPECT_EQ(expired.result.completion_tokens, 0);

  // Running: the first token's callback outlasts the deadline, so the next step ends it.
  Collector running;
  RequestCallbacks callbacks = running.callbacks();
  auto record = callbacks.on_token;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(200);
  callbacks.on_token = [&, record](const GeneratedToken& tok, std::string_view text) {
    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(1));
    return record(tok, text);
  };
  Request r2;
  r2.prompt = encode(*l.tokenizer, kPrompts[1]);
  r2.options = greedy(100);
  r2.deadline = deadline;
  ASSERT_TRUE(scheduler.submit(std::move(r2), callbacks).is_ok());
  running.wait();
  EXPECT_EQ(running.result.end, RequestEnd::kTimeout);
  EXPECT_EQ(running.result.completion_tokens, 1);
}

TEST(Scheduler, FullQueueRejectsWithCode) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(1, 512));
  SchedulerOptions so;
  so.max_queue = 1;
  Scheduler scheduler(t, *l.tokenizer, so);
  Collector a, b;
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options = greedy(-1);
  auto id_a = scheduler.submit(r, a.callbacks());
  auto id_b = scheduler.submit(r, b.callbacks());
  ASSERT_TRUE(id_a.is_ok());
  ASSERT_TRUE(id_b.is_ok());
  Collector c;
  auto id_c = scheduler.submit(r, c.callbacks());
  ASSERT_FALSE(id_c.is_ok());
  EXPECT_EQ(id_c.code(), kQueueFull);
  scheduler.cancel(*id_b);
  scheduler.cancel(*id_a);
  a.wait();
  b.wait();
  EXPECT_EQ(c.done_calls, 0);  // a refused request gets no callback
}

TEST(Scheduler, PromptLongerThanContextNamesBothNumbers) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2, 64));
  Scheduler scheduler(t, *l.tokenizer);
  Request r;
  r.prompt.assign(100, 5);
  Collector c;
  auto id = scheduler.submit(r, c.callbacks());
  ASSERT_FALSE(id.is_ok());
  EXPECT_NE(id.message().find("100"), std::string::npos) << id.message();
  EXPECT_NE(id.message().find("64"), std::string::npos) << id.message();
  r.prompt = {1, 99999};
  id = scheduler.submit(r, c.callbacks());
  ASSERT_FALSE(id.is_ok());
  EXPECT_NE(id.message().find("99999"), std::string::npos) << id.message();
  r.prompt.clear();
  EXPECT_FALSE(scheduler.submit(r, c.callbacks()).is_ok());
  // Exactly the context: one token fits after the prompt is prefilled, then the context is full.
  r.prompt.assign(64, 5);
  r.prompt[0] = 1;
  r.options = greedy(10);
  ASSERT_TRUE(scheduler.submit(r, c.callbacks()).is_ok());
  c.wait();
  EXPECT_EQ(c.result.end, RequestEnd::kLength);
  EXPECT_EQ(c.result.completion_tokens, 1);
}

TEST(Scheduler, DrainFinishesWorkThenRefusesRequests) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2, 512));
  Scheduler scheduler(t, *l.tokenizer);
  std::vector<Collector> cs(4);
  for (size_t i = 0; i < cs.size(); ++i) {
    Request r;
    r.prompt = encode(*l.tokenizer, kPrompts[i]);
    r.options = greedy(8);
    ASSERT_TRUE(scheduler.submit(std::move(r), cs[i].callbacks()).is_ok());
  }
  scheduler.drain(Clock::now() + std::chrono::minutes(5));
  for (Collector& c : cs) {
    EXPECT_EQ(c.done_calls, 1);
    EXPECT_EQ(c.result.end, RequestEnd::kLength);
    EXPECT_EQ(c.result.completion_tokens, 8);
  }
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  auto refused = scheduler.submit(r, {});
  EXPECT_FALSE(refused.is_ok());
  EXPECT_EQ(scheduler.stats().running, 0);
}

TEST(Scheduler, DrainPastDeadlineCancelsTheRest) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(1, 512));
  Scheduler scheduler(t, *l.tokenizer);
  Collector a, b;
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options = greedy(-1);
  ASSERT_TRUE(scheduler.submit(r, a.callbacks()).is_ok());
  ASSERT_TRUE(scheduler.submit(r, b.callbacks()).is_ok());
  scheduler.drain(Clock::now());
  EXPECT_EQ(a.done_calls, 1);
  EXPECT_EQ(b.done_calls, 1);
  EXPECT_EQ(b.result.end, RequestEnd::kCancelled);
}

// Destroying the scheduler with requests queued and running ends every one exactly once.
TEST(Scheduler, DestructionWithRequestsInFlight) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(2, 512));
  std::vector<Collector> cs(6);
  {
    Scheduler scheduler(t, *l.tokenizer);
    for (size_t i = 0; i < cs.size(); ++i) {
      Request r;
      r.prompt = encode(*l.tokenizer, kPrompts[i]);
      r.options = greedy(-1);
      ASSERT_TRUE(scheduler.submit(std::move(r), cs[i].callbacks()).is_ok());
    }
  }
  for (Collector& c : cs) {
    EXPECT_EQ(c.done_calls, 1);
    EXPECT_EQ(c.result.end, RequestEnd::kCancelled);
  }
}

// Cancels racing with admission, decoding and the end of requests, from another thread.
TEST(Scheduler, CancelRacesAreHarmless) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  model::Transformer t(*l.model, slots(3, 512));
  Scheduler scheduler(t, *l.tokenizer);
  std::vector<Collector> cs(24);
  std::vector<RequestId> ids;
  for (size_t i = 0; i < cs.size(); ++i) {
    Request r;
    r.prompt = encode(*l.tokenizer, kPrompts[i % kPrompts.size()]);
    r.options = greedy(static_cast<int64_t>(i % 5) * 3);
    auto id = scheduler.submit(std::move(r), cs[i].callbacks());
    ASSERT_TRUE(id.is_ok());
    ids.push_back(*id);
  }
  std::thread canceller([&] {
    for (size_t i = 0; i < ids.size(); i += 2) scheduler.cancel(ids[ids.size() - 1 - i]);
  });
  canceller.join();
  for (Collector& c : cs) c.wait();
  for (Collector& c : cs) EXPECT_EQ(c.done_calls, 1);
  scheduler.drain(Clock::now() + std::chrono::minutes(1));
  EXPECT_EQ(scheduler.stats().running, 0);
  EXPECT_EQ(scheduler.stats().queued, 0);
}

// ---------------------------------------------------------------------------------------------
// Grammar-constrained requests

TEST(Scheduler, GrammarConstrainedOutputMatchesGrammar) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  Result<Grammar> g = Grammar::parse(R"(root ::= "yes" | "no")");
  ASSERT_TRUE(g.is_ok()) << g.message();
  auto grammar = std::make_shared<const Grammar>(*g);
  model::Transformer t(*l.model, slots(4, 256));
  Scheduler scheduler(t, *l.tokenizer);
  std::vector<Collector> cs(6);
  for (size_t i = 0; i < cs.size(); ++i) {
    Request r;
    r.prompt = encode(*l.tokenizer, kPrompts[i]);
    r.options.max_tokens = 20;
    r.options.sampling.temperature = 1.5f;  // a free model would wander off at once
    r.options.sampling.top_k = 0;
    r.options.sampling.min_p = 0;
    r.options.sampling.seed = i + 1;
    r.grammar = grammar;
    ASSERT_TRUE(scheduler.submit(std::move(r), cs[i].callbacks()).is_ok());
  }
  for (Collector& c : cs) {
    c.wait();
    EXPECT_EQ(c.result.end, RequestEnd::kStop) << c.result.error;
    EXPECT_TRUE(c.result.text == "yes" || c.result.text == "no") << "'" << c.result.text << "'";
    EXPECT_EQ(c.streamed, c.result.text);
  }
  // Unconstrained, the same sampling does not produce these words.
  Collector free_run;
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options.max_tokens = 20;
  r.options.sampling.temperature = 1.5f;
  r.options.sampling.seed = 1;
  ASSERT_TRUE(scheduler.submit(std::move(r), free_run.callbacks()).is_ok());
  free_run.wait();
  EXPECT_NE(free_run.result.text, "yes");
  EXPECT_NE(free_run.result.text, "no");
}

// Stop strings end the request and are never streamed, also in the batched path.
TEST(Scheduler, StopStringMatchesGenerate) {
  const Loaded& l = load("stories260K.gguf");
  ASSERT_TRUE(l.model && l.tokenizer);
  GenerateOptions options = greedy(60);
  Generation alone;
  {
    model::TransformerOptions to;
    to.n_ctx = 256;
    model::Transformer t(*l.model, to);
    auto g = generate(t, *l.tokenizer, encode(*l.tokenizer, kPrompts[0]), options);
    ASSERT_TRUE(g.is_ok());
    alone = *g;
  }
  ASSERT_GT(alone.text.size(), 20u);
  // A stop string from the middle of the free-running text.
  options.stop = {alone.text.substr(12, 5)};
  model::TransformerOptions to;
  to.n_ctx = 256;
  model::Transformer single(*l.model, to);
  auto expected = generate(single, *l.tokenizer, encode(*l.tokenizer, kPrompts[0]), options);
  ASSERT_TRUE(expected.is_ok());
  model::Transformer t(*l.model, slots(2, 256));
  Scheduler scheduler(t, *l.tokenizer);
  Collector c;
  Request r;
  r.prompt = encode(*l.tokenizer, kPrompts[0]);
  r.options = options;
  ASSERT_TRUE(scheduler.submit(std::move(r), c.callbacks()).is_ok());
  c.wait();
  EXPECT_EQ(c.result.end, RequestEnd::kStop);
  EXPECT_EQ(c.result.text, expected->text);
  EXPECT_EQ(c.streamed, expected->text);
  EXPECT_EQ(c.result.text.find(options.stop[0]), std::string::npos);
}

}  // namespace
}  // namespace cove::runtime
