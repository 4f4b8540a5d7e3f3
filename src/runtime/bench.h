// Measuring speed the way llama-bench defines it, and the machine's memory read bandwidth.
//
//   pp (prompt processing): n_prompt tokens evaluated as one batch from an empty cache;
//   tg (text generation):   n_gen tokens evaluated one at a time, from an empty cache.
// Each sample is tokens / seconds; a test reports the mean and the sample standard deviation
// (n - 1) of its samples, taken after a warm-up. Token ids are random (BOS first when the model
// has one), as llama-bench feeds them: the speed of a forward pass does not depend on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/result.h"
#include "model/transformer.h"

namespace cove::runtime {

// Mean and sample standard deviation (0 for fewer than two samples).
struct Summary {
  double mean = 0.0;
  double stddev = 0.0;
};
Summary summarize(std::span<const double> samples);
double median(std::vector<double> samples);

// n token ids drawn uniformly from [0, n_vocab) with `seed`, the first replaced by `bos` when it
// is >= 0.
std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, int32_t bos, uint64_t seed);

// Seconds to evaluate `tokens` as one batch on sequence 0 from an empty cache (the
// transformer's n_batch must hold them all, and n_ctx too).
Result<double> time_prompt(model::Transformer& transformer, std::span<const int32_t> tokens);
// Seconds to evaluate `tokens` one at a time on sequence 0 from an empty cache.
Result<double> time_generation(model::Transformer& transformer, std::span<const int32_t> tokens);

struct Bandwidth {
  double median_gb_per_s = 0.0;  // 1 GB = 1e9 bytes
  std::vector<double> samples;   // GB/s of each pass
  size_t buffer_bytes = 0;
  int n_threads = 0;
  // CPU time the process got during the timed passes / (wall time x threads). Well below 1, the
  // threads were waiting for cores (other load on the machine) and the figure is not the
  // memory's limit.
  double cpu_share = 0.0;
};

// Reads a buffer of `buffer_bytes` (make it much larger than the caches) `passes` times with
// `n_threads` threads, each summing its share with the widest loads the CPU has.
Bandwidth measure_read_bandwidth(size_t buffer_bytes, int n_threads, int passes);

// Wrapping sum of n words: the bandwidth kernel, dispatched to the best SIMD target, and its
// scalar reference.
uint64_t sum_words(const uint64_t* data, size_t n);
uint64_t sum_words_reference(const uint64_t* data, size_t n);

// User + system CPU seconds this process has used, all threads together.
double process_cpu_seconds();
// The 1-minute load average of the machine; negative when unknown.
double load_average();

// The process's peak resident memory (VmHWM of /proc/self/status) in bytes; 0 when unknown.
size_t peak_resident_bytes();
// Lowers the peak to the current resident memory (Linux 4.0+), so that a later peak does not
// count what was freed before (the bandwidth buffer). False when the kernel refuses.
bool reset_peak_resident();

}  // namespace cove::runtime
