// Matrix products of weights (any tensor type) with F32 activations: the engine's hot path.
//
// Orientation (see tensor/matrix.h): W has n_rows rows of n_cols contiguous weights.
// x holds n_tokens activation rows of n_cols floats; y receives n_tokens rows of n_rows floats:
//   y[t][r] = dot(W row r, x[t])
#pragma once

#include <cstdint>
#include <functional>

#include "core/thread_pool.h"
#include "tensor/matrix.h"

namespace cove::kernels {

// Scalar reference: every row dequantized exactly, products summed in double. Slow and exact,
// the yardstick for every fast kernel.
void matmul_reference(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y);

// The fast path, split over the first n_threads of the pool's threads by rows (0: all).
void matmul(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            int n_threads = 0);

// Weights converted to F32 row by row, activations kept in F32 (no 8-bit rounding).
void matmul_float(const tensor::Matrix& w, const float* x, int64_t n_tokens, float* y,
                  ThreadPool& pool, int n_threads = 0);

// pool.parallel_for restricted to the first n_threads threads (0 or more than the pool: all),
// so that one pool serves both the prompt's and generation's thread counts (-tb, -t).
void parallel_for_threads(ThreadPool& pool, int n_threads, int64_t n, int64_t grain,
                          const std::function<void(int64_t, int64_t, int)>& fn);

// Float dot product with several accumulators (vectorizes without reassociation flags).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace cove::kernels
