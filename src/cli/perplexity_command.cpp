// cove perplexity: how well a model predicts a text file.
//
// The text is tokenized once (BOS as the model asks) and cut into windows of --ctx tokens; each
// window starts from an empty cache with BOS prepended (when the model uses one), and every
// token after the first is scored. Perplexity = exp(mean negative log-likelihood).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "model/quantizer.h"
#include "model/transformer.h"
#include "runtime/sampler.h"

namespace cove::cli {

Command add_perplexity_command(CLI::App& app) {
  struct Options {
    std::string model_path;
    std::string file;
    int64_t n_ctx = 512;
    int n_threads = 0;
    bool reference = false;
    bool no_repack = false;
    std::string precision;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("perplexity", "Perplexity of a model over a text file");
  sub->add_option("-m,--model", o->model_path, "GGUF model file")->required();
  sub->add_option("-f,--file", o->file, "Text file")->required();
  sub->add_option("-c,--ctx", o->n_ctx, "Tokens per window (default 512)")->check(CLI::Range(2, 1 << 20));
  sub->add_option("-t,--threads", o->n_threads, "Threads (default: all cores)");
  sub->add_flag("--reference-kernels", o->reference, "Use the scalar reference kernels");
  sub->add_flag("--no-repack", o->no_repack,
                "Keep the file's weight layout (no load-time repacking for the VNNI kernels)");
  sub->add_option("--precision", o->precision,
                  "Convert F32/F16/BF16 weights in memory on load: auto|f32|f16|bf16|q8_0|q4_0|"
                  "q4_k (default: keep the file's types)");
  return [o]() {
    std::ifstream in(o->file, std::ios::binary);
    if (!in) return fail(o->file + ": cannot open");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Result<LoadedModel> loaded = load_model(o->model_path, !o->no_repack);
    if (!loaded) return fail(loaded.message());
    Result<std::string> converted =
        model::apply_precision_option(*loaded->model, o->precision, o->n_threads);
    if (!converted) return fail(converted.message());
    if (!converted->empty()) std::fprintf(stderr, "%s\n", converted->c_str());
    const tokenizer::Tokenizer& tok = *loaded->tokenizer;
    std::vector<int32_t> ids = tok.encode(text, false, false);
    const bool bos = tok.add_bos() && tok.bos_id() >= 0;
    const int64_t per_window = o->n_ctx - (bos ? 1 : 0);
    if (static_cast<int64_t>(ids.size()) < 2) return fail(o->file + ": too little text to score");

    model::TransformerOptions topts;
    topts.n_ctx = o->n_ctx;
    topts.n_threads = o->n_threads;
    topts.reference = o->reference;
    model::Transformer transformer(*loaded->model, topts);
    const int64_t n_vocab = loaded->model->config().n_vocab;
    const int64_t n_windows = (static_cast<int64_t>(ids.size()) + per_window - 1) / per_window;
    double nll = 0.0;
    int64_t scored = 0;
    std::vector<float> logits;
    std::fprintf(stderr, "%zu tokens in %ld windows of up to %ld\n", ids.size(),
                 static_cast<long>(n_windows), static_cast<long>(o->n_ctx));
    for (int64_t w = 0; w < n_windows; ++w) {
      std::vector<int32_t> window;
      if (bos) window.push_back(tok.bos_id());
      const size_t begin = static_cast<size_t>(w * per_window);
      const size_t end = std::min(ids.size(), begin + static_cast<size_t>(per_window));
      window.insert(window.end(), ids.begin() + begin, ids.begin() + end);
      if (window.size() < 2) break;
      transformer.truncate(0);
      if (Status s = transformer.eval(window, true, logits); !s) return fail(s.message());
      for (size_t i = 1; i < window.size(); ++i) {
        nll -= runtime::token_logprob(logits.data() + (i - 1) * n_vocab, n_vocab, window[i]);
        ++scored;
      }
      std::fprintf(stderr, "[%ld/%ld] perplexity so far %.4f\n", static_cast<long>(w + 1),
                   static_cast<long>(n_windows), std::exp(nll / scored));
    }
    std::printf("perplexity %.4f over %ld tokens\n", std::exp(nll / scored),
                static_cast<long>(scored));
    return 0;
  };
}

}  // namespace cove::cli
