// The forward pass of a decoder-only transformer (llama / qwen2) over one sequence.
//
// A Transformer owns the sequence's KV cache and activation buffers. eval() runs a batch of
// tokens at the next positions: the whole prompt at once (prefill) or one token (decode).
// Per layer:  x += Wo·attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
//             x += Wdown·(silu(Wgate·norm(x)) * Wup·norm(x))
// then logits = Woutput·norm(x).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace cove::model {

struct TransformerOptions {
  int64_t n_ctx = 0;        // 0: the model's training context, at most 4096
  int64_t n_batch = 512;    // prompt tokens per forward step
  int n_threads = 0;        // 0: all cores
  bool reference = false;   // scalar reference kernels, F32 KV cache
};

class Transformer {
 public:
  Transformer(const Model& model, const TransformerOptions& options);

  const Model& model() const { return model_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_past() const { return n_past_; }  // positions already in the KV cache
  size_t kv_cache_bytes() const { return cache_.n_bytes(); }

  // Forget positions from `n_keep` on (0 clears the sequence).
  void truncate(int64_t n_keep);

  // Runs `tokens` at positions n_past() ... and appends them to the cache. Fills `logits` with
  // n_vocab floats for the last token, or for every token when all_logits (row-major).
  // Fails (cache unchanged) on a token id outside the vocabulary or past the context size.
  Status eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

 private:
  void forward_batch(const int32_t* tokens, int64_t n, float* logits, bool all_logits);
  void attention(int64_t layer, int64_t n, const float* q, float* out);
  void matmul(const tensor::Matrix& w, const float* x, int64_t n, float* y);

  const Model& model_;
  const Config& config_;
  bool reference_;
  int64_t n_ctx_;
  int64_t n_batch_;
  int64_t n_past_ = 0;
  ThreadPool pool_;
  KvCache cache_;
  // Activations for up to n_batch tokens, allocated once.
  std::vector<float> x_, xn_, q_, k_, v_, attn_out_, gate_, up_, scratch_;
  std::vector<float> rope_table_;  // per position: rope_dim/2 (cos, sin) pairs, filled lazily
  int64_t rope_table_positions_ = 0;
  std::vector<std::vector<float>> scores_;  // per thread: attention scores of one head
};

}  // namespace cove::model
