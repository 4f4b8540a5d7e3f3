// cove synth: a model with a real architecture's dimensions and seeded random weights, written
// as GGUF, for benchmarking realistic shapes offline (model/synthetic.h has the rules).
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "model/synthetic.h"

namespace cove::cli {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : "|") + n;
  return out;
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  struct Options {
    std::string shape;
    std::string type = "Q4_0";
    uint64_t seed = 1;
    std::string output;
    int64_t n_vocab = 0;
    int64_t n_layers = 0;
    int n_threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "synth", "Write a model with a real architecture's shape and seeded random weights");
  sub->add_option("--shape", o->shape, joined(model::synth_shape_names()))->required();
  sub->add_option("--type", o->type, joined(model::synth_type_names()) + " (default Q4_0)");
  sub->add_option("--seed", o->seed,
                  "Random seed (default 1); the same seed gives the same "
                  "weights in every type");
  sub->add_option("-o,--output", o->output, "GGUF file to write")->required();
  sub->add_option("--vocab", o->n_vocab, "Override the vocabulary size")
      ->check(CLI::Range(int64_t{260}, int64_t{1} << 24));
  sub->add_option("--layers", o->n_layers, "Override the layer count (small test models)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("-t,--threads", o->n_threads, "Quantization threads (default: all cores)");
  sub->add_flag("-q,--quiet", o->quiet, "No progress line");
  return [o]() {
    std::optional<model::SynthShape> shape = model::find_synth_shape(o->shape);
    if (!shape) {
      return fail("unknown shape '" + o->shape + "' (known: " + joined(model::synth_shape_names()) +
                  ")");
    }
    std::optional<model::SynthType> type = model::parse_synth_type(o->type);
    if (!type) {
      return fail("unknown type '" + o->type + "' (known: " + joined(model::synth_type_names()) +
                  ")");
    }
    if (o->n_vocab > 0) shape->n_vocab = o->n_vocab;
    if (o->n_layers > 0) shape->n_layers = o->n_layers;

    model::SynthOptions options;
    options.shape = *shape;
    options.type = *type;
    options.seed = o->seed;
    options.n_threads = o->n_threads;
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    Clock::time_point last_report = start;
    if (!o->quiet) {
      // One line, rewritten in place at most a few times a second.
      options.on_progress = [&](const model::SynthProgress& p) {
        const Clock::time_point now = Clock::now();
        const bool done = p.bytes_written == p.file_size;
        if (!done && now - last_report < std::chrono::milliseconds(250)) return;
        last_report = now;
        std::fprintf(stderr, "\rsynth: tensor %zu/%zu %-28s %8.1f / %.1f MB", p.tensor_index + 1,
                     p.n_tensors, p.tensor_name->c_str(), p.bytes_written / 1e6, p.file_size / 1e6);
        if (done) std::fputc('\n', stderr);
        std::fflush(stderr);
      };
    }
    if (Status s = model::write_synthetic_model(options, o->output); !s) return fail(s.message());
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("wrote %s: %s %s, %ld layers, vocab %ld, seed %lu, in %.1f s\n", o->output.c_str(),
                shape->name.c_str(), type->name.c_str(), static_cast<long>(shape->n_layers),
                static_cast<long>(shape->n_vocab), static_cast<unsigned long>(o->seed), seconds);
    return 0;
  };
}

}  // namespace cove::cli
