// cove bench: prompt-processing and generation speed with llama-bench's definitions
// (runtime/bench.h), and the machine's memory read bandwidth.
//
// Output: a markdown table like llama-bench's, or with -o json an array of objects carrying
// llama-bench's field names (n_prompt, n_gen, n_threads, avg_ts, stddev_ts, samples_ts, ...)
// plus cove's own (peak_rss_bytes, weight_bytes, effective_gb_per_s).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/bench_serving.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/transformer.h"
#include "runtime/bench.h"

namespace cove::cli {
namespace {

struct BenchOptions {
  std::string model_path;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int n_threads = 0;
  int n_threads_batch = 0;  // prompt batches; 0: n_threads
  int repetitions = 5;
  std::string output = "md";
  bool bandwidth = false;
  int64_t bandwidth_mib = 1024;
  bool no_repack = false;
};

// One test's result: "pp512" or "tg128".
struct TestResult {
  std::string name;
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  std::vector<double> samples_ns;
  std::vector<double> samples_ts;
  runtime::Summary ts;
  runtime::Summary ns;
};

// The ecosystem's whole-file type names (general.file_type, llama_ftype numbering).
std::string file_type_name(const gguf::File& f) {
  Result<std::optional<int64_t>> id = f.get_int("general.file_type");
  if (!id || !*id) return "?";
  switch (**id) {
    case 0:
      return "F32";
    case 1:
      return "F16";
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 7:
      return "Q8_0";
    case 8:
      return "Q5_0";
    case 9:
      return "Q5_1";
    case 10:
      return "Q2_K";
    case 11:
      return "Q3_K_S";
    case 12:
      return "Q3_K_M";
    case 13:
      return "Q3_K_L";
    case 14:
      return "Q4_K_S";
    case 15:
      return "Q4_K_M";
    case 16:
      return "Q5_K_S";
    case 17:
      return "Q5_K_M";
    case 18:
      return "Q6_K";
    case 32:
      return "BF16";
    default:
      return "type " + std::to_string(**id);
  }
}

std::string params_label(uint64_t n_params) {
  char buf[32];
  if (n_params >= 1000000000ull) {
    std::snprintf(buf, sizeof buf, "%.1fB", n_params / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fM", n_params / 1e6);
  }
  return buf;
}

TestResult summarize_test(std::string name, int64_t n_prompt, int64_t n_gen,
                          const std::vector<double>& seconds) {
  TestResult r;
  r.name = std::move(name);
  r.n_prompt = n_prompt;
  r.n_gen = n_gen;
  const double n_tokens = static_cast<double>(n_prompt + n_gen);
  for (double s : seconds) {
    r.samples_ns.push_back(s * 1e9);
    r.samples_ts.push_back(n_tokens / s);
  }
  r.ts = runtime::summarize(r.samples_ts);
  r.ns = runtime::summarize(r.samples_ns);
  return r;
}

int run_bench(const BenchOptions& o) {
  const bool json = o.output == "json";
  // On a shared machine other processes take the cores and every figure drops; say so.
  const double load = runtime::load_average();
  const int n_cores = static_cast<int>(std::thread::hardware_concurrency());
  if (n_cores > 0 && load > n_cores) {
    std::fprintf(stderr,
                 "warning: the load average is %.1f on %d cores: other processes are running, "
                 "so these figures will be low and noisy\n",
                 load, n_cores);
  }
  std::optional<runtime::Bandwidth> bandwidth;
  if (o.bandwidth) {
    bandwidth =
        runtime::measure_read_bandwidth(static_cast<size_t>(o.bandwidth_mib) << 20, o.n_threads, 5);
    if (bandwidth->samples.empty()) return fail("cannot allocate the bandwidth buffer");
    // The buffer is freed; the model's peak should not include it.
    if (!o.model_path.empty() && !runtime::reset_peak_resident()) {
      std::fprintf(stderr,
                   "warning: cannot reset the peak resident memory: it includes the "
                   "bandwidth buffer\n");
    }
    if (!json) {
      std::printf(
          "memory read bandwidth: %.1f GB/s (median of %zu passes over %zu MiB, %d "
          "threads; passes:",
          bandwidth->median_gb_per_s, bandwidth->samples.size(), bandwidth->buffer_bytes >> 20,
          bandwidth->n_threads);
      for (double s : bandwidth->samples) std::printf(" %.1f", s);
      std::printf(")\n");
      if (bandwidth->cpu_share < 0.9) {
        std::printf(
            "  the threads ran %.0f%% of the time (the machine is busy): this is not the "
            "memory's limit\n",
            100.0 * bandwidth->cpu_share);
      }
      std::fflush(stdout);
    }
  }
  // Fields in a fixed order, llama-bench's first.
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  if (o.model_path.empty()) {
    if (json && bandwidth) {
      out.push_back({{"bandwidth_gb_per_s", bandwidth->median_gb_per_s},
                     {"bandwidth_samples_gb_per_s", bandwidth->samples},
                     {"buffer_bytes", bandwidth->buffer_bytes},
                     {"n_threads", bandwidth->n_threads},
                     {"cpu_share", bandwidth->cpu_share},
                     {"load_avg", load},
                     {"peak_rss_bytes", runtime::peak_resident_bytes()}});
      std::printf("%s\n", out.dump(2).c_str());
    }
    return 0;
  }

  model::ModelLoadOptions load_options;
  load_options.repack = !o.no_repack;
  Result<std::unique_ptr<model::Model>> loaded = model::Model::load(o.model_path, load_options);
  if (!loaded) return fail(loaded.message());
  const model::Model& model = **loaded;
  const model::Config& c = model.config();
  uint64_t model_size = 0, n_params = 0;
  for (const gguf::TensorInfo& t : model.file().tensors()) {
    model_size += t.n_bytes;
    n_params += static_cast<uint64_t>(t.n_elements());
  }
  const std::string model_type =
      c.arch_name + " " + params_label(n_params) + " " + file_type_name(model.file());
  const int n_threads = o.n_threads > 0 ? o.n_threads : ThreadPool::default_threads();

  // As llama-bench: the context holds the prompt and the generated tokens, and the prompt is
  // one batch.
  model::TransformerOptions topts;
  topts.n_ctx = std::max<int64_t>(1, o.n_prompt + o.n_gen);
  topts.n_batch = std::max<int64_t>(1, o.n_prompt);
  topts.n_threads = n_threads;
  topts.n_threads_batch = o.n_threads_batch;
  model::Transformer transformer(model, topts);
  Result<std::optional<int64_t>> bos_id = model.file().get_int("tokenizer.ggml.bos_token_id");
  const int32_t bos = bos_id && *bos_id ? static_cast<int32_t>(**bos_id) : -1;

  char size_text[32], params_text[32];
  std::snprintf(size_text, sizeof size_text, "%.2f %s",
                model_size >= (1ull << 30) ? model_size / 1073741824.0 : model_size / 1048576.0,
                model_size >= (1ull << 30) ? "GiB" : "MiB");
  std::snprintf(params_text, sizeof params_text, "%.2f %s",
                n_params >= 1000000000ull ? n_params / 1e9 : n_params / 1e6,
                n_params >= 1000000000ull ? "B" : "M");
  if (!json) {
    std::printf("| %-24s | %11s | %9s | %7s | %8s | %20s |\n", "model", "size", "params", "threads",
                "test", "t/s");
    std::printf("| %s | %s: | %s: | %s: | %s: | %s: |\n", std::string(24, '-').c_str(),
                std::string(10, '-').c_str(), std::string(8, '-').c_str(),
                std::string(6, '-').c_str(), std::string(7, '-').c_str(),
                std::string(19, '-').c_str());
    std::fflush(stdout);
  }
  auto print_row = [&](const TestResult& r) {
    if (json) return;
    char ts[48];
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.ts.mean, r.ts.stddev);
    // "±" is two bytes but one column: pad by one more.
    std::printf("| %-24s | %11s | %9s | %7d | %8s | %21s |\n", model_type.c_str(), size_text,
                params_text, n_threads, r.name.c_str(), ts);
    std::fflush(stdout);
  };

  std::vector<TestResult> results;
  if (o.n_prompt > 0) {
    const std::vector<int32_t> tokens = runtime::random_tokens(o.n_prompt, c.n_vocab, bos, 1);
    const std::string name = "pp" + std::to_string(o.n_prompt);
    std::vector<double> seconds;
    for (int rep = 0; rep <= o.repetitions; ++rep) {  // rep 0 warms up
      Result<double> s = runtime::time_prompt(transformer, tokens);
      if (!s) return fail(s.message());
      std::fprintf(stderr, "%s: %s %d/%d: %.2f t/s\n", name.c_str(), rep ? "run" : "warm-up", rep,
                   o.repetitions, o.n_prompt / *s);
      if (rep > 0) seconds.push_back(*s);
    }
    results.push_back(summarize_test(name, o.n_prompt, 0, seconds));
    print_row(results.back());
  }
  if (o.n_gen > 0) {
    const std::vector<int32_t> tokens = runtime::random_tokens(o.n_gen, c.n_vocab, bos, 2);
    const std::string name = "tg" + std::to_string(o.n_gen);
    // Warm-up: one decoded token, which reads every weight once (as llama-bench does).
    if (Result<double> s = runtime::time_generation(transformer, std::span(tokens).first(1)); !s) {
      return fail(s.message());
    }
    std::vector<double> seconds;
    for (int rep = 1; rep <= o.repetitions; ++rep) {
      Result<double> s = runtime::time_generation(transformer, tokens);
      if (!s) return fail(s.message());
      std::fprintf(stderr, "%s: run %d/%d: %.2f t/s\n", name.c_str(), rep, o.repetitions,
                   o.n_gen / *s);
      seconds.push_back(*s);
    }
    results.push_back(summarize_test(name, 0, o.n_gen, seconds));
    print_row(results.back());
  }

  const size_t weight_bytes = model.weight_bytes();
  const size_t peak_rss = runtime::peak_resident_bytes();
  if (!json) {
    std::printf("\n");
    for (const TestResult& r : results) {
      if (r.n_gen == 0) continue;
      const double gb_per_s = weight_bytes * r.ts.mean / 1e9;
      std::printf("%s reads %.3f GB of weights per token: %.2f GB/s effective", r.name.c_str(),
                  weight_bytes / 1e9, gb_per_s);
      if (bandwidth) {
        std::printf(" (%.0f%% of the measured %.1f GB/s)",
                    100.0 * gb_per_s / bandwidth->median_gb_per_s, bandwidth->median_gb_per_s);
      }
      std::printf("\n");
    }
    std::printf("peak resident memory: %.1f MiB (file %.1f MiB, KV cache %.1f MiB)\n",
                peak_rss / 1048576.0, model.file().file_size() / 1048576.0,
                transformer.kv_cache_bytes() / 1048576.0);
    return 0;
  }
  for (const TestResult& r : results) {
    nlohmann::ordered_json j = {
        {"model_filename", o.model_path},
        {"model_type", model_type},
        {"model_size", model_size},
        {"model_n_params", n_params},
        {"n_batch", topts.n_batch},
        {"n_threads", n_threads},
        {"n_prompt", r.n_prompt},
        {"n_gen", r.n_gen},
        {"avg_ns", static_cast<uint64_t>(r.ns.mean)},
        {"stddev_ns", static_cast<uint64_t>(r.ns.stddev)},
        {"avg_ts", r.ts.mean},
        {"stddev_ts", r.ts.stddev},
        {"samples_ns", r.samples_ns},
        {"samples_ts", r.samples_ts},
        {"weight_bytes", weight_bytes},
        {"kv_cache_bytes", transformer.kv_cache_bytes()},
        {"peak_rss_bytes", peak_rss},
        {"load_avg", load},
    };
    if (r.n_gen > 0) j["effective_gb_per_s"] = weight_bytes * r.ts.mean / 1e9;
    if (bandwidth) j["bandwidth_gb_per_s"] = bandwidth->median_gb_per_s;
    out.push_back(std::move(j));
  }
  // Invalid UTF-8 (in the file name) becomes U+FFFD rather than an exception.
  std::printf("%s\n",
              out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Prompt and generation speed (llama-bench's definitions); memory bandwidth");
  sub->add_option("-m,--model", o->model_path, "GGUF model file");
  sub->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens, one batch (default 512; 0 skips)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("-n,--n-gen", o->n_gen, "Tokens generated one at a time (default 128; 0 skips)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: all cores)")
      ->check(CLI::Range(0, 4096));
  sub->add_option("--threads-batch", o->n_threads_batch,
                  "Threads for the prompt batch, also -tb (default: -t)")
      ->check(CLI::Range(0, 4096));
  sub->add_option("-r,--repetitions", o->repetitions, "Runs per test after the warm-up (default 5)")
      ->check(CLI::Range(1, 100000));
  sub->add_option("-o,--output", o->output, "md or json (default md)")
      ->check(CLI::IsMember({"md", "json"}));
  sub->add_flag("--no-repack", o->no_repack,
                "Keep the file's weight layout (no load-time repacking for the VNNI kernels)");
  sub->add_flag("--bandwidth", o->bandwidth,
                "Measure the memory read bandwidth with all threads (-t)");
  sub->add_option("--bandwidth-mib", o->bandwidth_mib, "Buffer read by --bandwidth (default 1024)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  // Serving through the Scheduler (cli/bench_serving.h): -n, -t, -r and -o apply to it too.
  auto serving = std::make_shared<ServingBenchOptions>();
  sub->add_option("--concurrency", serving->concurrency,
                  "Concurrent greedy streams through the scheduler, e.g. 1,4,8,16")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--stream-prompt", serving->n_prompt, "Prompt tokens per stream (default 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_option("--stall-prompt", serving->stall_prompt,
                  "Longest gap in other streams when a prompt this long arrives mid-stream")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  sub->add_option("--stall-streams", serving->stall_streams, "Streams decoding (default 4)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--prefill-chunk", serving->prefill_chunk, "Prompt tokens per step (default 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  return [o, serving, sub]() {
    if (!serving->concurrency.empty() || serving->stall_prompt > 0) {
      if (o->model_path.empty()) return fail("give -m MODEL");
      serving->model_path = o->model_path;
      if (sub->count("--n-gen") > 0) serving->n_gen = o->n_gen;
      serving->n_threads = o->n_threads;
      if (sub->count("--repetitions") > 0) serving->repetitions = o->repetitions;
      serving->output = o->output;
      serving->repack = !o->no_repack;
      return run_serving_bench(*serving);
    }
    if (o->model_path.empty() && !o->bandwidth) return fail("give -m MODEL, --bandwidth, or both");
    return run_bench(*o);
  };
}

}  // namespace cove::cli
