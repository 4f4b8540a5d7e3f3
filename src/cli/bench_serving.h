// cove bench --concurrency / --stall-prompt: serving throughput and prefill stalls through the
// Scheduler (runtime/scheduler_bench.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cove::cli {

struct ServingBenchOptions {
  std::string model_path;
  std::vector<int64_t> concurrency;  // streams per run, e.g. 1,4,8,16
  int64_t n_prompt = 32;             // per stream
  int64_t n_gen = 64;                // per stream
  int64_t stall_prompt = 0;          // > 0: measure the stall a prompt this long causes
  int64_t stall_streams = 4;
  int64_t prefill_chunk = 256;
  int n_threads = 0;
  int repetitions = 3;
  bool repack = true;  // load-time repacking for the VNNI kernels (--no-repack turns it off)
  std::string output = "md";
};

int run_serving_bench(const ServingBenchOptions& options);

}  // namespace cove::cli
