#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "kernels/ops.h"
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
      n_batch_(std::max<int64_t>(1, options.n_batch)),
      pool_(options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads()),
      cache_(config_.n_layers, n_ctx_, config_.kv_dim(),
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
  scores_.resize(static_cast<size_t>(pool_.n_threads()));
  for (auto& s : scores_) s.resize(static_cast<size_t>(n_ctx_));
}

void Transformer::truncate(int64_t n_keep) { n_past_ = std::clamp<int64_t>(n_keep, 0, n_past_); }

void Transformer::matmul(const tensor::Matrix& w, const float* x, int64_t n, float* y) {
  if (reference_) {
    kernels::matmul_reference(w, x, n, y);
  } else {
    kernels::matmul(w, x, n, y, pool_);
  }
}

Status Transformer::eval(std::span<const int32_t> tokens, bool all_logits,
                         std::vector<float>& logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return Error{"eval: no tokens"};
  if (n_past_ + n > n_ctx_) {
    return Error{"the sequence needs " + std::to_string(n_past_ + n) +
                 " positions but the context holds " + std::to_string(n_ctx_)};
  }
  for (int32_t id : tokens) {
    if (id < 0 || id >= config_.n_vocab) {
      return Error{"token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                   std::to_string(config_.n_vocab - 1) + ")"};
    }
  }
  // Positions' rope angles, computed in double once per position.
  if (rope_table_positions_ < n_past_ + n) {
    const int64_t half = config_.rope_dim / 2;
    rope_table_.resize(static_cast<size_t>((n_past_ + n) * half * 2));
    for (int64_t p = rope_table_positions_; p < n_past_ + n; ++p) {
      for (int64_t i = 0; i < half; ++i) {
        double theta = p * static_cast<double>(config_.rope_freq_scale) *
                       std::pow(static_cast<double>(config_.rope_base),
                                -2.0 * i / static_cast<double>(config_.rope_dim));
        if (!config_.rope_freq_factors.empty()) theta /= config_.rope_freq_factors[i];
        rope_table_[(p * half + i) * 2] = static_cast<float>(std::cos(theta));
        rope_table_[(p * half + i) * 2 + 1] = static_cast<float>(std::sin(theta));
      }
    }
    rope_table_positions_ = n_past_ + n;
  }
  logits.resize(static_cast<size_t>((all_logits ? n : 1) * config_.n_vocab));
  for (int64_t start = 0; start < n; start += n_batch_) {
    const int64_t chunk = std::min(n_batch_, n - start);
    const bool last_chunk = start + chunk == n;
    float* out = all_logits ? logits.data() + start * config_.n_vocab : logits.data();
    forward_batch(tokens.data() + start, chunk, (all_logits || last_chunk) ? out : nullptr,
                  all_logits);
  }
  return {};
}

void Transformer::forward_batch(const int32_t* tokens, int64_t n, float* logits,
                                bool all_logits) {
  const Config& c = config_;
  const int64_t d = c.n_embd, kv = c.kv_dim();
  float* x = x_.data();
  float* xn = xn_.data();

  for (int64_t t = 0; t < n; ++t) {
    const tensor::Matrix& e = model_.token_embedding();
    tensor::dequantize_row(e.type, e.row(tokens[t]), x + t * d, d);
  }

  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = model_.layers()[static_cast<size_t>(l)];

    // Attention block.
    for (int64_t t = 0; t < n; ++t) kernels::rms_norm(x + t * d, w.attn_norm, c.rms_eps, d, xn + t * d);
    matmul(w.wq, xn, n, q_.data());
    matmul(w.wk, xn, n, k_.data());
    matmul(w.wv, xn, n, v_.data());
    for (int64_t t = 0; t < n; ++t) {
      if (w.bq) kernels::add(q_.data() + t * d, w.bq, d);
      if (w.bk) kernels::add(k_.data() + t * kv, w.bk, kv);
      if (w.bv) kernels::add(v_.data() + t * kv, w.bv, kv);
      const float* angles = rope_table_.data() + (n_past_ + t) * c.rope_dim;
      for (int64_t h = 0; h < c.n_heads; ++h) {
        kernels::rope_apply(q_.data() + t * d + h * c.head_dim, c.rope_dim, c.rope_style, angles);
      }
      for (int64_t h = 0; h < c.n_heads_kv; ++h) {
        kernels::rope_apply(k_.data() + t * kv + h * c.head_dim, c.rope_dim, c.rope_style, angles);
      }
      cache_.store(l, n_past_ + t, k_.data() + t * kv, v_.data() + t * kv);
    }
    attention(l, n, q_.data(), attn_out_.data());
    matmul(w.wo, attn_out_.data(), n, scratch_.data());
    kernels::add(x, scratch_.data(), n * d);

    // Feed-forward block (SwiGLU).
    for (int64_t t = 0; t < n; ++t) kernels::rms_norm(x + t * d, w.ffn_norm, c.rms_eps, d, xn + t * d);
    matmul(w.w_gate, xn, n, gate_.data());
    matmul(w.w_up, xn, n, up_.data());
    kernels::silu_mul(gate_.data(), up_.data(), n * c.n_ff);
    matmul(w.w_down, gate_.data(), n, scratch_.data());
    kernels::add(x, scratch_.data(), n * d);
  }
  n_past_ += n;

  if (logits == nullptr) return;
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t count = n - first;
  for (int64_t t = first; t < n; ++t) {
    kernels::rms_norm(x + t * d, model_.output_norm(), c.rms_eps, d, xn + (t - first) * d);
  }
  matmul(model_.output(), xn, count, logits);
}

// Causal attention for the n newest tokens (positions n_past_ .. n_past_+n-1, already in the
// cache) against every cached position up to their own.
void Transformer::attention(int64_t layer, int64_t n, const float* q, float* out) {
  const Config& c = config_;
  const int64_t d = c.n_embd, hd = c.head_dim;
  const int64_t group = c.n_heads / c.n_heads_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t first_pos = n_past_;
  pool_.parallel_for(n * c.n_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* scores = scores_[static_cast<size_t>(thread)].data();
    for (int64_t job = begin; job < end; ++job) {
      const int64_t t = job / c.n_heads, h = job % c.n_heads;
      const int64_t kv_head = h / group;
      const int64_t n_keys = first_pos + t + 1;
      const float* qh = q + t * d + h * hd;
      for (int64_t p = 0; p < n_keys; ++p) {
        scores[p] = cache_.key_dot(layer, p, kv_head, hd, qh) * scale;
      }
      kernels::softmax(scores, n_keys);
      float* oh = out + t * d + h * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (int64_t p = 0; p < n_keys; ++p) {
        cache_.value_accumulate(layer, p, kv_head, hd, scores[p], oh);
      }
    }
  });
}

}  // namespace cove::model
