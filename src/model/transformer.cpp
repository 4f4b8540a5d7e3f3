#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/repack.h"
#include "tensor/dequantize.h"

namespace cove::model {
namespace {

int64_t pick_context(const Config& c, int64_t requested) {
  if (requested > 0) return requested;
  return std::min<int64_t>(c.n_ctx_train, 4096);
}

}  // namespace

Transformer::Transformer(const Model& model, const TransformerOptions& options)
    : model_(model),
      config_(model.config()),
      reference_(options.reference),
      n_ctx_(pick_context(model.config(), options.n_ctx)),
      n_seq_(std::max<int64_t>(1, options.n_seq)),
      n_batch_(std::max<int64_t>(1, options.n_batch)),
      lengths_(static_cast<size_t>(n_seq_), 0),
      n_threads_(options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads()),
      n_threads_batch_(options.n_threads_batch > 0 ? options.n_threads_batch : n_threads_),
      pool_(std::max(n_threads_, n_threads_batch_)),
      cache_(config_.n_layers, n_seq_ * n_ctx_, config_.kv_dim(),
             options.reference ? KvType::kF32 : KvType::kF16) {
  const Config& c = config_;
  const size_t b = static_cast<size_t>(n_batch_);
  x_.resize(b * c.n_embd);
  xn_.resize(b * c.n_embd);
  q_.resize(b * c.n_embd);
  k_.resize(b * c.kv_dim());
  v_.resize(b * c.kv_dim());
  attn_out_.resize(b * c.n_embd);
  gate_.resize(b * c.n_ff);
  up_.resize(b * c.n_ff);
  scratch_.resize(b * std::max(c.n_embd, c.n_ff));
  positions_.resize(b);
  tiles_.reserve(b);
}

void Transformer::truncate(int32_t seq, int64_t n_keep) {
  int64_t& length = lengths_[static_cast<size_t>(seq)];
  length = std::clamp<int64_t>(n_keep, 0, length);
}

void Transformer::copy_prefix(int32_t src, int32_t dst, int64_t n) {
  n = std::min(n, seq_length(src));
  if (src != dst && n > 0) cache_.copy_cells(cell(src, 0), cell(dst, 0), n);
  lengths_[static_cast<size_t>(dst)] = n;
}

void Transformer::matmul(const tensor::Matrix& w, const float* x, int64_t n, float* y) {
  if (reference_) {
    kernels::matmul_reference(w, x, n, y);
  } else {
    kernels::matmul(w, x, n, y, pool_, active_threads_);
  }
}

void Transformer::rms_norm(const float* x, const float* weight, float* out) const {
  if (reference_) {
    kernels::rms_norm_reference(x, weight, config_.rms_eps, config_.n_embd, out);
  } else {
    kernels::rms_norm(x, weight, config_.rms_eps, config_.n_embd, out);
  }
}

void Transformer::ensure_rope_table(int64_t n_positions) {
  if (rope_table_positions_ >= n_positions) return;
  // Angles are computed in double once per position: theta = pos * scale * base^(-2i/d),
  // divided by the per-frequency factor when the model has one (llama3 scaling).
  const int64_t half = config_.rope_dim / 2;
  rope_table_.resize(static_cast<size_t>(n_positions * half * 2));
  for (int64_t p = rope_table_positions_; p < n_positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      double theta = p * static_cast<double>(config_.rope_freq_scale) *
                     std::pow(static_cast<double>(config_.rope_base),
                              -2.0 * i / static_cast<double>(config_.rope_dim));
      if (!config_.rope_freq_factors.empty()) theta /= config_.rope_freq_factors[i];
      rope_table_[(p * half + i) * 2] = static_cast<float>(std::cos(theta));
      rope_table_[(p * half + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }
  }
  rope_table_positions_ = n_positions;
}

Status Transformer::forward(std::span<const BatchToken> batch, std::vector<float>& logits) {
  if (batch.empty()) return Error{"forward: empty batch"};
  // Validate everything first so a bad batch changes nothing.
  std::vector<int64_t> room(lengths_);
  int64_t n_logits = 0, max_pos = 0;
  for (const BatchToken& b : batch) {
    if (b.token < 0 || b.token >= config_.n_vocab) {
      return Error{"token id " + std::to_string(b.token) + " is outside the vocabulary (0.." +
                   std::to_string(config_.n_vocab - 1) + ")"};
    }
    if (b.seq < 0 || b.seq >= n_seq_) {
      return Error{"sequence " + std::to_string(b.seq) + " does not exist (0.." +
                   std::to_string(n_seq_ - 1) + ")"};
    }
    int64_t& length = room[static_cast<size_t>(b.seq)];
    if (length >= n_ctx_) {
      return Error{"the sequence needs more than the " + std::to_string(n_ctx_) +
                   " positions the context holds"};
    }
    max_pos = std::max(max_pos, length);
    ++length;
    n_logits += b.logits ? 1 : 0;
  }
  ensure_rope_table(max_pos + 1);
  logits.resize(static_cast<size_t>(n_logits * config_.n_vocab));
  float* out = logits.data();
  for (size_t start = 0; start < batch.size(); start += static_cast<size_t>(n_batch_)) {
    const int64_t n = std::min<int64_t>(n_batch_, static_cast<int64_t>(batch.size() - start));
    const BatchToken* chunk = batch.data() + start;
    int64_t chunk_logits = 0;
    for (int64_t t = 0; t < n; ++t) {
      positions_[static_cast<size_t>(t)] = lengths_[static_cast<size_t>(chunk[t].seq)]++;
      chunk_logits += chunk[t].logits ? 1 : 0;
    }
    forward_chunk(chunk, positions_.data(), n, out);
    out += chunk_logits * config_.n_vocab;
  }
  return {};
}

Status Transformer::eval(std::span<const int32_t> tokens, bool all_logits,
                         std::vector<float>& logits) {
  if (tokens.empty()) return Error{"eval: no tokens"};
  eval_batch_.resize(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    eval_batch_[i] = {tokens[i], 0, all_logits || i + 1 == tokens.size()};
  }
  return forward(eval_batch_, logits);
}

void Transformer::forward_chunk(const BatchToken* batch, const int64_t* positions, int64_t n,
                                float* logits) {
  const Config& c = config_;
  const int64_t d = c.n_embd, kv = c.kv_dim();
  float* x = x_.data();
  float* xn = xn_.data();
  active_threads_ = threads_for(n);

  const tensor::Matrix& e = model_.token_embedding();
  for (int64_t t = 0; t < n; ++t) {
    if (e.repacked) {  // a tied embedding in the VNNI layout: restore the row's blocks first
      embedding_row_.resize(e.row_bytes);
      kernels::unpack_repacked_rows(e, batch[t].token, 1, embedding_row_.data());
      tensor::dequantize_row(e.type, embedding_row_.data(), x + t * d, d);
    } else {
      tensor::dequantize_row(e.type, e.row(batch[t].token), x + t * d, d);
    }
  }

  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = model_.layers()[static_cast<size_t>(l)];

    // Attention block.
    for (int64_t t = 0; t < n; ++t) rms_norm(x + t * d, w.attn_norm, xn + t * d);
    matmul(w.wq, xn, n, q_.data());
    matmul(w.wk, xn, n, k_.data());
    matmul(w.wv, xn, n, v_.data());
    for (int64_t t = 0; t < n; ++t) {
      if (w.bq) kernels::add(q_.data() + t * d, w.bq, d);
      if (w.bk) kernels::add(k_.data() + t * kv, w.bk, kv);
      if (w.bv) kernels::add(v_.data() + t * kv, w.bv, kv);
      const float* angles = rope_table_.data() + positions[t] * c.rope_dim;
      for (int64_t h = 0; h < c.n_heads; ++h) {
        kernels::rope_apply(q_.data() + t * d + h * c.head_dim, c.rope_dim, c.rope_style, angles);
      }
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        kernels::rope_apply(k_.data() + t * kv + h * c.head_dim, c.rope_dim, c.rope_style, angles);
      }
      cache_.store(l, cell(batch[t].seq, positions[t]), k_.data() + t * kv, v_.data() + t * kv);
    }
    attention(l, batch, positions, n);
    matmul(w.wo, attn_out_.data(), n, scratch_.data());
    kernels::add(x, scratch_.data(), n * d);

    // Feed-forward block (SwiGLU).
    for (int64_t t = 0; t < n; ++t) rms_norm(x + t * d, w.ffn_norm, xn + t * d);
    matmul(w.w_gate, xn, n, gate_.data());
    matmul(w.w_up, xn, n, up_.data());
    if (reference_) {
      kernels::silu_mul_reference(gate_.data(), up_.data(), n * c.n_ff);
    } else {
      kernels::silu_mul(gate_.data(), up_.data(), n * c.n_ff);
    }
    matmul(w.w_down, gate_.data(), n, scratch_.data());
    kernels::add(x, scratch_.data(), n * d);
  }

  // Final norm and output projection, only for the tokens that want logits.
  int64_t count = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!batch[t].logits) continue;
    rms_norm(x + t * d, model_.output_norm(), xn + count * d);
    ++count;
  }
  if (count > 0) matmul(model_.output(), xn, count, logits);
}

// Causal attention of each batch token (already in the cache) against its own sequence's
// cached positions up to its own.
//
// Fast path: the work is split into jobs of (run of up to kTileTokens consecutive tokens of one
// sequence, a KV head, some of the query heads that share it), and each job runs all its
// queries through attention_queries_*, which streams a block of keys and values once for all
// of them. A prompt chunk's tokens thus share their (long) key and value rows instead of each
// reading them from memory again. Each query's arithmetic is that of a query alone, so the
// result does not depend on how the batch was cut into jobs.
void Transformer::attention(int64_t layer, const BatchToken* batch, const int64_t* positions,
                            int64_t n) {
  const Config& c = config_;
  const int64_t d = c.n_embd, hd = c.head_dim;
  const int64_t group = c.n_heads / c.n_heads_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const size_t stride = static_cast<size_t>(c.kv_dim());
  const float* q = q_.data();
  float* out = attn_out_.data();
  if (reference_) {
    kernels::parallel_for_threads(pool_, active_threads_, n * c.n_heads, 1,
                                  [&](int64_t begin, int64_t end, int) {
      for (int64_t job = begin; job < end; ++job) {
        const int64_t t = job / c.n_heads, h = job % c.n_heads;
        const int64_t offset = (h / group) * hd;  // this head's KV head within a cache row
        const int64_t first = cell(batch[t].seq, 0);
        kernels::attention_head_reference(q + t * d + h * hd,
                                          cache_.keys_f32(layer, first) + offset,
                                          cache_.values_f32(layer, first) + offset, stride,
                                          positions[t] + 1, hd, scale, out + t * d + h * hd);
      }
    });
    return;
  }

  // Runs of consecutive tokens of one sequence, cut into tiles.
  constexpr int64_t kQueriesPerJob = 32;
  const int64_t tile_tokens = std::max<int64_t>(1, kQueriesPerJob / group);
  tiles_.clear();
  for (int64_t t = 0; t < n;) {
    int64_t end = t + 1;
    while (end < n && end - t < tile_tokens && batch[end].seq == batch[t].seq) ++end;
    tiles_.push_back({t, end});
    t = end;
  }
  const int64_t n_tiles = static_cast<int64_t>(tiles_.size());
  // Whole KV groups per job when there are enough jobs for the threads, else single heads
  // (one decode token alone has only n_heads_kv groups).
  int64_t heads_per_job = group;
  while (heads_per_job > 1 &&
         (group % heads_per_job != 0 ||
          n_tiles * (c.n_heads / heads_per_job) < 4 * static_cast<int64_t>(active_threads_))) {
    --heads_per_job;
  }
  const int64_t jobs_per_tile = c.n_heads / heads_per_job;
  const int64_t n_jobs = n_tiles * jobs_per_tile;
  kernels::parallel_for_threads(pool_, active_threads_, n_jobs, 1,
                                [&](int64_t begin, int64_t end, int) {
    constexpr int64_t kMaxQueries = 64;
    const float* queries[kMaxQueries];
    float* outs[kMaxQueries];
    int64_t n_positions[kMaxQueries];
    for (int64_t index = begin; index < end; ++index) {
      // Jobs alternate from both ends, so that each thread's contiguous share mixes a prompt
      // chunk's early tokens (few positions) with its late ones (many).
      const int64_t job = index % 2 == 0 ? index / 2 : n_jobs - 1 - index / 2;
      const Tile& tile = tiles_[static_cast<size_t>(job / jobs_per_tile)];
      const int64_t head0 = (job % jobs_per_tile) * heads_per_job;
      const int64_t offset = (head0 / group) * hd;  // the KV head within a cache row
      int64_t count = 0;
      for (int64_t t = tile.begin; t < tile.end; ++t) {
        for (int64_t h = head0; h < head0 + heads_per_job; ++h) {
          if (count == kMaxQueries) {  // more queries than one call takes: flush
            run_attention_queries(layer, batch[tile.begin].seq, offset, queries, outs,
                                  n_positions, count, scale);
            count = 0;
          }
          queries[count] = q + t * d + h * hd;
          outs[count] = out + t * d + h * hd;
          n_positions[count] = positions[t] + 1;
          ++count;
        }
      }
      run_attention_queries(layer, batch[tile.begin].seq, offset, queries, outs, n_positions,
                            count, scale);
    }
  });
}

void Transformer::run_attention_queries(int64_t layer, int32_t seq, int64_t offset,
                                        const float* const* queries, float* const* outs,
                                        const int64_t* n_positions, int64_t count,
                                        float scale) const {
  const Config& c = config_;
  const size_t stride = static_cast<size_t>(c.kv_dim());
  const int64_t first = cell(seq, 0);
  if (cache_.type() == KvType::kF16) {
    kernels::attention_queries_f16(queries, outs, n_positions, count,
                                   cache_.keys_f16(layer, first) + offset,
                                   cache_.values_f16(layer, first) + offset, stride, c.head_dim,
                                   scale);
  } else {
    kernels::attention_queries_f32(queries, outs, n_positions, count,
                                   cache_.keys_f32(layer, first) + offset,
                                   cache_.values_f32(layer, first) + offset, stride, c.head_dim,
                                   scale);
  }
}

}  // namespace cove::model
