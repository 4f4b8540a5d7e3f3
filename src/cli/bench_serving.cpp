#include "cli/bench_serving.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/loaded_model.h"
#include "model/model.h"
#include "runtime/bench.h"
#include "runtime/scheduler_bench.h"
#include "tokenizer/tokenizer.h"

namespace cove::cli {
namespace {

template <class Run, class Field>
double median_of(const std::vector<Run>& runs, Field field) {
  std::vector<double> v;
  for (const Run& r : runs) v.push_back(r.*field);
  return runtime::median(v);
}

}  // namespace

int run_serving_bench(const ServingBenchOptions& o) {
  model::ModelLoadOptions load_options;
  load_options.repack = o.repack;
  Result<std::unique_ptr<model::Model>> loaded = model::Model::load(o.model_path, load_options);
  if (!loaded) return fail(loaded.message());
  Result<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::from_gguf((*loaded)->file());
  if (!tok) return fail(tok.message());
  const bool json = o.output == "json";
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  runtime::ServingBenchConfig config;
  config.n_prompt = o.n_prompt;
  config.n_gen = o.n_gen;
  config.prefill_chunk = o.prefill_chunk;
  config.n_threads = o.n_threads;

  if (!o.concurrency.empty() && !json) {
    std::printf("| streams | prompt | gen | t/s (all streams) | x one stream | ttft p50 ms | ttft p99 ms |\n");
    std::printf("| ------: | -----: | --: | ----------------: | -----------: | ----------: | ----------: |\n");
  }
  double single = 0;
  for (int64_t k : o.concurrency) {
    config.streams = k;
    std::vector<runtime::ConcurrencyRun> runs;
    for (int rep = 0; rep <= o.repetitions; ++rep) {  // rep 0 warms up
      config.seed = 1 + static_cast<uint64_t>(rep) * 1000;
      Result<runtime::ConcurrencyRun> r =
          runtime::run_concurrent_streams(**loaded, **tok, config);
      if (!r) return fail(r.message());
      std::fprintf(stderr, "streams %lld %s %d/%d: %.2f t/s\n", static_cast<long long>(k),
                   rep ? "run" : "warm-up", rep, o.repetitions, r->tokens_per_s);
      if (rep > 0) runs.push_back(*r);
    }
    const double ts = median_of(runs, &runtime::ConcurrencyRun::tokens_per_s);
    if (k == 1) single = ts;
    const double p50 = median_of(runs, &runtime::ConcurrencyRun::ttft_p50_ms);
    const double p99 = median_of(runs, &runtime::ConcurrencyRun::ttft_p99_ms);
    if (json) {
      nlohmann::ordered_json samples = nlohmann::ordered_json::array();
      for (const auto& r : runs) samples.push_back(r.tokens_per_s);
      out.push_back({{"test", "concurrency"}, {"streams", k}, {"n_prompt", o.n_prompt},
                     {"n_gen", o.n_gen}, {"tokens_per_s", ts}, {"samples_ts", samples},
                     {"ttft_p50_ms", p50}, {"ttft_p99_ms", p99},
                     {"load_avg", runtime::load_average()}});
    } else {
      char ratio[32] = "-";
      if (single > 0) std::snprintf(ratio, sizeof ratio, "%.2f", ts / single);
      std::printf("| %7lld | %6lld | %3lld | %17.2f | %12s | %11.1f | %11.1f |\n",
                  static_cast<long long>(k), static_cast<long long>(o.n_prompt),
                  static_cast<long long>(o.n_gen), ts, ratio, p50, p99);
      std::fflush(stdout);
    }
  }

  if (o.stall_prompt > 0) {
    if (!json) {
      std::printf("\n| streams | long prompt | chunk | steady gap ms | gap during prefill ms | max gap ms | long ttft ms |\n");
      std::printf("| ------: | ----------: | ----: | ------------: | --------------------: | ---------: | -----------: |\n");
    }
    // Chunked as configured, then the whole prompt in one step for comparison.
    for (int64_t chunk : {o.prefill_chunk, o.stall_prompt}) {
      config.streams = o.stall_streams;
      config.prefill_chunk = chunk;
      std::vector<runtime::StallRun> runs;
      for (int rep = 0; rep <= o.repetitions; ++rep) {
        config.seed = 7 + static_cast<uint64_t>(rep) * 1000;
        Result<runtime::StallRun> r =
            runtime::run_prefill_stall(**loaded, **tok, config, o.stall_prompt);
        if (!r) return fail(r.message());
        std::fprintf(stderr, "stall chunk %lld %s %d/%d: max gap %.1f ms\n",
                     static_cast<long long>(chunk), rep ? "run" : "warm-up", rep, o.repetitions,
                     r->max_gap_ms);
        if (rep > 0) runs.push_back(*r);
      }
      const double steady = median_of(runs, &runtime::StallRun::steady_gap_ms);
      const double during = median_of(runs, &runtime::StallRun::prefill_gap_ms);
      const double max_gap = median_of(runs, &runtime::StallRun::max_gap_ms);
      const double ttft = median_of(runs, &runtime::StallRun::long_ttft_ms);
      if (json) {
        out.push_back({{"test", "prefill_stall"}, {"streams", o.stall_streams},
                       {"n_long", o.stall_prompt}, {"chunk", chunk}, {"steady_gap_ms", steady},
                       {"prefill_gap_ms", during}, {"max_gap_ms", max_gap},
                       {"long_ttft_ms", ttft}, {"load_avg", runtime::load_average()}});
      } else {
        std::printf("| %7lld | %11lld | %5lld | %13.1f | %21.1f | %10.1f | %12.1f |\n",
                    static_cast<long long>(o.stall_streams),
                    static_cast<long long>(o.stall_prompt), static_cast<long long>(chunk), steady,
                    during, max_gap, ttft);
        std::fflush(stdout);
      }
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace cove::cli
