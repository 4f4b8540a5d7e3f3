// cove quantize IN.gguf OUT.gguf TYPE: write a model's weights in a quantized mix (Q4_K_M,
// Q8_0, ...) with the ecosystem's per-tensor rules (model/quantizer.h has them).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "model/quantizer.h"

namespace cove::cli {

Command add_quantize_command(CLI::App& app) {
  struct Options {
    std::string input;
    std::string output;
    std::string type;
    int n_threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "quantize", "Write a GGUF model's weights in a quantized type (the ecosystem's mixes)");
  sub->add_option("input", o->input, "GGUF model to read (F32, F16 or BF16 weights)")->required();
  sub->add_option("output", o->output, "GGUF file to write")->required();
  sub->add_option("type", o->type, model::quant_mix_names())->required();
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: all cores)")
      ->check(CLI::Range(1, 4096));
  sub->add_flag("-q,--quiet", o->quiet, "No progress lines");
  return [o]() {
    std::optional<model::QuantMix> mix = model::find_quant_mix(o->type);
    if (!mix) {
      return fail("unknown quantization type '" + o->type +
                  "' (known: " + model::quant_mix_names() + ")");
    }
    model::QuantizeOptions options;
    options.mix = *mix;
    options.n_threads = o->n_threads;
    options.on_warning = [](const std::string& message) {
      std::fprintf(stderr, "warning: %s\n", message.c_str());
    };
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    Clock::time_point last_report = start;
    size_t last_tensor = SIZE_MAX;
    const bool terminal = isatty(fileno(stderr)) != 0;
    if (!o->quiet) {
      // On a terminal one line is rewritten in place a few times a second; otherwise (a log)
      // each tensor gets one line when its first rows are written.
      options.on_progress = [&](const model::QuantizeProgress& p) {
        const bool done = p.bytes_written == p.file_size;
        const Clock::time_point now = Clock::now();
        if (terminal ? (!done && now - last_report < std::chrono::milliseconds(100))
                     : (p.tensor_index == last_tensor)) {
          return;
        }
        last_report = now;
        last_tensor = p.tensor_index;
        const std::string types = std::string(tensor::type_name(p.tensor->from)) + " -> " +
                                  std::string(tensor::type_name(p.tensor->to));
        std::fprintf(
            stderr, "%squantize: [%4zu/%zu] %-32s %-14s %3.0f%%%s", terminal ? "\r" : "",
            p.tensor_index + 1, p.n_tensors, p.tensor->name.c_str(), types.c_str(),
            100.0 * static_cast<double>(p.bytes_written) / static_cast<double>(p.file_size),
            terminal ? "" : "\n");
        if (terminal && done) std::fputc('\n', stderr);
        std::fflush(stderr);
      };
    }
    Result<model::QuantizeSummary> summary = model::quantize_file(o->input, o->output, options);
    if (!summary) return fail(summary.message());
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf(
        "wrote %s: %.*s (file_type %u), %zu tensors, %zu quantized (%zu with a fallback type), "
        "%.2f MB -> %.2f MB in %.1f s\n",
        o->output.c_str(), static_cast<int>(mix->name.size()), mix->name.data(), mix->file_type,
        summary->n_tensors, summary->n_quantized, summary->n_fell_back,
        static_cast<double>(summary->input_bytes) / 1e6,
        static_cast<double>(summary->output_bytes) / 1e6, seconds);
    return 0;
  };
}

}  // namespace cove::cli
