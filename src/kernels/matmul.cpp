#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "kernels/quantized_dot.h"
#include "kernels/repack.h"
#include "tensor/dequantize.h"

namespace cove::kernels {

void matmul_reference(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y) {
  std::vector<float> row(static_cast<size_t>(w.n_cols));
  std::vector<uint8_t> restored(w.repacked ? w.row_bytes : 0);
  for (int64_t r = 0; r < w.n_rows; ++r) {
    const uint8_t* original = w.row(r);
    if (w.repacked) {
      unpack_repacked_rows(w, r, 1, restored.data());
      original = restored.data();
    }
    tensor::dequantize_row(w.type, original, row.data(), w.n_cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * w.n_cols;
      double sum = 0.0;
      for (int64_t c = 0; c < w.n_cols; ++c) sum += static_cast<double>(row[c]) * xt[c];
      y[t * w.n_rows + r] = static_cast<float>(sum);
    }
  }
}

float dot_f32(const float* a, const float* b, int64_t n) {
  // Eight independent accumulators keep the FMA units busy and let the compiler vectorize
  // without reordering a single running sum.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void parallel_for_threads(ThreadPool& pool, int n_threads, int64_t n, int64_t grain,
                          const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n_threads <= 0 || n_threads >= pool.n_threads()) {
    pool.parallel_for(n, grain, fn);
    return;
  }
  // n_threads shares of whole grains; the pool hands one share to each of its first threads.
  grain = std::max<int64_t>(1, grain);
  const int64_t n_grains = (n + grain - 1) / grain;
  const int64_t shares = std::min<int64_t>(n_threads, n_grains);
  pool.parallel_for(shares, 1, [&](int64_t first, int64_t last, int thread) {
    for (int64_t s = first; s < last; ++s) {
      const int64_t per = n_grains / shares, extra = n_grains % shares;
      const int64_t begin = (s * per + std::min(s, extra)) * grain;
      const int64_t end = std::min(n, begin + (per + (s < extra ? 1 : 0)) * grain);
      if (begin < end) fn(begin, end, thread);
    }
  });
}

namespace {

// Tokens whose activations are rounded by one thread: a few tokens' rounding costs less than
// handing it to the pool (decode of a batch of streams rounds ~16K values per matrix inline).
int64_t rounding_grain(int64_t n_cols) {
  return std::max<int64_t>(1, 16384 / n_cols);
}

// A repacked matrix (kernels/repack.h): activations rounded with their block offset terms,
// then 16-row groups split over the threads.
void matmul_repacked(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y,
                     ThreadPool& pool, int n_threads) {
  const int64_t blocks = w.n_cols / 32;
  const size_t n_act = static_cast<size_t>(n_tokens * blocks);
  auto* a = static_cast<Q8Activations*>(
      pool.shared_scratch(n_act * (sizeof(Q8Activations) + 2 * sizeof(int32_t))));
  auto* sums = reinterpret_cast<int32_t*>(a + n_act);
  auto round_tokens = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      quantize_activations(x + t * w.n_cols, a + t * blocks, w.n_cols);
      repacked_activation_offsets(w.type, a + t * blocks, blocks, sums + 2 * t * blocks);
    }
  };
  parallel_for_threads(pool, n_threads, n_tokens, rounding_grain(w.n_cols), round_tokens);
  const int64_t n_groups = (w.n_rows + kRepackRows - 1) / kRepackRows;
  const size_t scratch_bytes = repacked_matmul_scratch_bytes(w);
  parallel_for_threads(pool, n_threads, n_groups, 1, [&](int64_t begin, int64_t end, int thread) {
    repacked_matmul_groups(w, begin, end, a, sums, n_tokens, y, w.n_rows,
                           pool.worker_scratch(thread, scratch_bytes));
  });
}

}  // namespace

void matmul(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            int n_threads) {
  if (w.repacked) {
    matmul_repacked(w, x, n_tokens, y, pool, n_threads);
    return;
  }
  if (has_quantized_dot(w.type)) {
    // Round the activations to Q8 blocks once (split over tokens), then split rows.
    const int64_t blocks = w.n_cols / 32;
    auto* a = static_cast<Q8Activations*>(
        pool.shared_scratch(static_cast<size_t>(n_tokens * blocks) * sizeof(Q8Activations)));
    auto round_tokens = [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        quantize_activations(x + t * w.n_cols, a + t * blocks, w.n_cols);
      }
    };
    parallel_for_threads(pool, n_threads, n_tokens, rounding_grain(w.n_cols), round_tokens);
    const size_t scratch_bytes = quantized_matmul_scratch_bytes(w.type, w.n_cols, n_tokens);
    parallel_for_threads(
        pool, n_threads, w.n_rows, 16, [&](int64_t begin, int64_t end, int thread) {
          void* scratch = scratch_bytes ? pool.worker_scratch(thread, scratch_bytes) : nullptr;
          quantized_matmul_rows(w.type, w.data, w.row_bytes, w.n_cols, begin, end, a, n_tokens, y,
                                w.n_rows, scratch);
        });
    return;
  }
  matmul_float(w, x, n_tokens, y, pool, n_threads);
}

void matmul_float(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y,
                  ThreadPool& pool, int n_threads) {
  // Float types: each row is converted once into a per-thread buffer and used for every token.
  parallel_for_threads(pool, n_threads, w.n_rows, 16, [&](int64_t begin, int64_t end, int thread) {
    auto* row = static_cast<float*>(
        pool.worker_scratch(thread, static_cast<size_t>(w.n_cols) * sizeof(float)));
    for (int64_t r = begin; r < end; ++r) {
      const float* wr;
      if (w.type == tensor::TensorType::F32) {
        wr = reinterpret_cast<const float*>(w.row(r));
      } else {
        tensor::dequantize_row(w.type, w.row(r), row, w.n_cols);
        wr = row;
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        y[t * w.n_rows + r] = dot_f32(wr, x + t * w.n_cols, w.n_cols);
      }
    }
  });
}

}  // namespace cove::kernels
