// The forward pass of a decoder-only transformer (llama / qwen2) over a batch of tokens that
// may belong to several sequences (continuous batching).
//
// A Transformer owns the KV cache of up to n_seq sequences of n_ctx positions each and the
// activation buffers. forward() runs a batch: each token names its sequence and must come at
// that sequence's next position, so a batch can mix one sequence's prompt chunk with other
// sequences' single decode tokens. The matrix products run once over the whole batch.
// Per layer:  x += Wo·attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
//             x += Wdown·(silu(Wgate·norm(x)) * Wup·norm(x))
// then logits = Woutput·norm(x) for the tokens that ask for them.
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
  int64_t n_ctx = 0;      // positions per sequence; 0: the model's training context, max 4096
  int64_t n_seq = 1;      // sequences that can be in flight at once
  int64_t n_batch = 512;  // tokens per forward step (larger batches are split)
  int n_threads = 0;        // threads for single-token steps (generation); 0: physical cores
  int n_threads_batch = 0;  // threads for batches of several tokens (prompts); 0: n_threads
  bool reference = false; // scalar reference kernels, F32 KV cache
};

struct BatchToken {
  int32_t token = 0;
  int32_t seq = 0;
  bool logits = false;  // produce this token's logits
};

class Transformer {
 public:
  Transformer(const Model& model, const TransformerOptions& options);

  const Model& model() const { return model_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq() const { return n_seq_; }
  int64_t n_batch() const { return n_batch_; }
  size_t kv_cache_bytes() const { return cache_.n_bytes(); }

  // Positions already cached for a sequence.
  int64_t seq_length(int32_t seq) const { return lengths_[static_cast<size_t>(seq)]; }
  // Forget a sequence's positions from `n_keep` on (0 clears it).
  void truncate(int32_t seq, int64_t n_keep);
  // Makes `dst` start with the first `n` cached positions of `src` (shared prompt prefixes).
  void copy_prefix(int32_t src, int32_t dst, int64_t n);

  // Runs the batch; logits receives n_vocab floats per token that asked, in batch order.
  // Fails with nothing changed on a bad token id or sequence, or a sequence out of room.
  Status forward(std::span<const BatchToken> batch, std::vector<float>& logits);

  // Single-sequence convenience on sequence 0: runs `tokens` after its cached positions. Fills
  // `logits` for the last token, or for every token when all_logits (row-major).
  int64_t n_past() const { return seq_length(0); }
  void truncate(int64_t n_keep) { truncate(0, n_keep); }
  Status eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);

 private:
  void forward_chunk(const BatchToken* batch, const int64_t* positions, int64_t n, float* logits);
  void attention(int64_t layer, const BatchToken* batch, const int64_t* positions, int64_t n);
  // Queries of one sequence against its cached keys and values of the KV head at `offset`.
  void run_attention_queries(int64_t layer, int32_t seq, int64_t offset,
                             const float* const* queries, float* const* outs,
                             const int64_t* n_positions, int64_t count, float scale) const;
  void matmul(const tensor::Matrix& w, const float* x, int64_t n, float* y);
  // One token's n_embd values: the reference kernel or the fast one.
  void rms_norm(const float* x, const float* weight, float* out) const;
  // Threads for a step of n tokens (generation's count for one token, else the batch count).
  int threads_for(int64_t n) const { return n > 1 ? n_threads_batch_ : n_threads_; }
  void ensure_rope_table(int64_t n_positions);
  int64_t cell(int32_t seq, int64_t pos) const { return seq * n_ctx_ + pos; }

  const Model& model_;
  const Config& config_;
  bool reference_;
  int64_t n_ctx_;
  int64_t n_seq_;
  int64_t n_batch_;
  std::vector<int64_t> lengths_;  // per sequence
  int n_threads_;
  int n_threads_batch_;
  int active_threads_ = 0;  // for the step being run
  ThreadPool pool_;  // max(n_threads_, n_threads_batch_) threads
  KvCache cache_;
  // Activations for up to n_batch tokens, allocated once.
  std::vector<float> x_, xn_, q_, k_, v_, attn_out_, gate_, up_, scratch_;
  std::vector<uint8_t> embedding_row_;  // a repacked (tied) embedding row, restored
  std::vector<int64_t> positions_;
  struct Tile {
    int64_t begin, end;  // batch tokens [begin, end) of one sequence
  };
  std::vector<Tile> tiles_;  // attention's jobs, n_batch at most
  std::vector<BatchToken> eval_batch_;
  std::vector<float> rope_table_;  // per position: rope_dim/2 (cos, sin) pairs
  int64_t rope_table_positions_ = 0;
};

}  // namespace cove::model
