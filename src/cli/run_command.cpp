// cove run: generate a continuation of a prompt, streamed to stdout or as one JSON object.
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "model/quantizer.h"
#include "model/transformer.h"
#include "runtime/generator.h"

namespace cove::cli {
namespace {

struct RunOptions {
  std::string model_path;
  std::string prompt;
  int64_t n_predict = 256;
  runtime::SamplingParams sampling;
  int64_t seed = -1;
  bool ignore_eos = false;
  int n_logprobs = -1;
  bool json = false;
  bool reference = false;
  bool no_repack = false;
  int n_threads = 0;
  int64_t n_ctx = 0;
  std::string precision;
  std::vector<std::string> stop;
};

int run(const RunOptions& o) {
  Result<LoadedModel> loaded = load_model(o.model_path, !o.no_repack);
  if (!loaded) return fail(loaded.message());
  Result<std::string> converted =
      model::apply_precision_option(*loaded->model, o.precision, o.n_threads);
  if (!converted) return fail(converted.message());
  if (!converted->empty()) std::fprintf(stderr, "%s\n", converted->c_str());
  const tokenizer::Tokenizer& tok = *loaded->tokenizer;
  std::vector<int32_t> prompt = tok.encode(o.prompt, true, true);
  if (prompt.empty()) return fail("the prompt is empty and the model adds no BOS token");

  model::TransformerOptions topts;
  topts.reference = o.reference;
  topts.n_threads = o.n_threads;
  topts.n_ctx = o.n_ctx;
  model::Transformer transformer(*loaded->model, topts);
  if (static_cast<int64_t>(prompt.size()) > transformer.n_ctx()) {
    return fail("the prompt has " + std::to_string(prompt.size()) +
                " tokens but the context holds " + std::to_string(transformer.n_ctx()));
  }

  runtime::GenerateOptions g;
  g.max_tokens = o.n_predict;
  g.sampling = o.sampling;
  g.sampling.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) : std::random_device{}();
  g.ignore_eos = o.ignore_eos;
  g.stop = o.stop;
  g.n_logprobs = std::max(0, o.n_logprobs);

  runtime::TextCallback stream = nullptr;
  if (!o.json) {
    stream = [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  Result<runtime::Generation> result = runtime::generate(transformer, tok, prompt, g, stream);
  if (!result) return fail(result.message());
  if (o.json) {
    nlohmann::json out;
    out["prompt_tokens"] = prompt;
    nlohmann::json tokens = nlohmann::json::array();
    for (const runtime::GeneratedToken& t : result->tokens) {
      tokens.push_back(token_json(tok, t.id, t.logprob, t.top));
    }
    out["tokens"] = std::move(tokens);
    out["text"] = result->text;
    out["finish_reason"] = result->finish == runtime::FinishReason::kStop ? "stop" : "length";
    std::printf("%s\n", dump_json(out).c_str());
  }
  return 0;
}

void add_model_options(CLI::App* sub, std::string& model_path, bool& reference, int& n_threads,
                       int64_t& n_ctx, std::string& precision, bool& no_repack) {
  sub->add_flag("--no-repack", no_repack,
                "Keep the file's weight layout (no load-time repacking for the VNNI kernels)");
  sub->add_option("-m,--model", model_path, "GGUF model file")->required();
  sub->add_flag("--reference-kernels", reference,
                "Compute with the scalar reference kernels, F32 activations and KV cache "
                "(slow, exact)");
  sub->add_option("-t,--threads", n_threads, "Threads (default: all cores)");
  sub->add_option("-c,--ctx", n_ctx, "Context size in tokens (default: the model's, max 4096)");
  sub->add_option("--precision", precision,
                  "Convert F32/F16/BF16 weights in memory on load: auto|f32|f16|bf16|q8_0|q4_0|"
                  "q4_k (default: keep the file's types)");
}

}  // namespace

Command add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Generate text from a prompt");
  add_model_options(sub, o->model_path, o->reference, o->n_threads, o->n_ctx, o->precision,
                    o->no_repack);
  sub->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
  sub->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until EOS or full)");
  sub->add_option("--temp", o->sampling.temperature, "Temperature (0: greedy)");
  sub->add_option("--seed", o->seed, "Random seed (default: random)");
  sub->add_option("--top-k", o->sampling.top_k, "Top-k (0: off)");
  sub->add_option("--top-p", o->sampling.top_p, "Top-p (1: off)");
  sub->add_option("--min-p", o->sampling.min_p, "Min-p (0: off)");
  sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "Repetition penalty (1: off)");
  sub->add_option("--repeat-last-n", o->sampling.repeat_last_n, "Tokens the penalties look at");
  sub->add_option("--frequency-penalty", o->sampling.frequency_penalty, "Frequency penalty");
  sub->add_option("--presence-penalty", o->sampling.presence_penalty, "Presence penalty");
  sub->add_option("--stop", o->stop, "Stop string (repeatable)");
  sub->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
  sub->add_option("--logprobs", o->n_logprobs, "Top log-probabilities per token (with --json)");
  sub->add_flag("--json", o->json, "Print one JSON object instead of streaming text");
  return [o]() { return run(*o); };
}

// --- score -----------------------------------------------------------------------------------

namespace {

struct ScoreOptions {
  std::string model_path;
  std::string prompt;
  std::string continuation;
  std::string continuation_ids;
  int n_logprobs = 5;
  bool json = false;
  bool reference = false;
  bool no_repack = false;
  int n_threads = 0;
  int64_t n_ctx = 0;
  std::string precision;
};

Result<std::vector<int32_t>> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == ',' || text[i] == '\t' || text[i] == '\n') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end == i || end - i > 9) {
      return Error{"--continuation-ids: '" + text.substr(i, 12) + "' is not a token id"};
    }
    ids.push_back(std::stoi(text.substr(i, end - i)));
    i = end;
  }
  return ids;
}

int score(const ScoreOptions& o) {
  Result<LoadedModel> loaded = load_model(o.model_path, !o.no_repack);
  if (!loaded) return fail(loaded.message());
  Result<std::string> converted =
      model::apply_precision_option(*loaded->model, o.precision, o.n_threads);
  if (!converted) return fail(converted.message());
  if (!converted->empty()) std::fprintf(stderr, "%s\n", converted->c_str());
  const tokenizer::Tokenizer& tok = *loaded->tokenizer;
  std::vector<int32_t> prompt = tok.encode(o.prompt, true, true);
  if (prompt.empty()) return fail("the prompt is empty and the model adds no BOS token");
  std::vector<int32_t> continuation;
  if (!o.continuation_ids.empty()) {
    Result<std::vector<int32_t>> ids = parse_ids(o.continuation_ids);
    if (!ids) return fail(ids.message());
    continuation = std::move(*ids);
  } else {
    // Tokenize prompt + continuation together so the continuation's tokens are the ones the
    // model would see in context (no second SentencePiece space prefix, merges across the seam);
    // fall back to tokenizing it alone when the prompt's tokens are not a prefix of the whole.
    std::vector<int32_t> whole = tok.encode(o.prompt + o.continuation, true, true);
    if (whole.size() > prompt.size() && std::equal(prompt.begin(), prompt.end(), whole.begin())) {
      continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(prompt.size()), whole.end());
    } else {
      continuation = tok.encode(o.continuation, false, false);
    }
  }
  if (continuation.empty()) return fail("the continuation has no tokens");

  std::vector<int32_t> all = prompt;
  all.insert(all.end(), continuation.begin(), continuation.end());
  all.pop_back();  // the last continuation token is only scored, never fed
  model::TransformerOptions topts;
  topts.reference = o.reference;
  topts.n_threads = o.n_threads;
  topts.n_ctx = o.n_ctx > 0 ? o.n_ctx : static_cast<int64_t>(all.size());
  model::Transformer transformer(*loaded->model, topts);
  std::vector<float> logits;
  if (Status s = transformer.eval(all, true, logits); !s) return fail(s.message());

  const int64_t n_vocab = loaded->model->config().n_vocab;
  nlohmann::json tokens = nlohmann::json::array();
  double sum = 0.0;
  std::string text;
  for (size_t i = 0; i < continuation.size(); ++i) {
    const float* row = logits.data() + (prompt.size() - 1 + i) * n_vocab;
    const int32_t id = continuation[i];
    if (id < 0 || id >= n_vocab) return fail("continuation token id " + std::to_string(id) + " is outside the vocabulary");
    const float lp = runtime::token_logprob(row, n_vocab, id);
    sum += lp;
    tokens.push_back(token_json(tok, id, lp, runtime::top_logprobs(row, n_vocab, o.n_logprobs)));
    text += tok.token_piece(id);
  }
  if (o.json) {
    nlohmann::json out;
    out["prompt_tokens"] = prompt;
    out["tokens"] = std::move(tokens);
    out["text"] = text;
    out["sum_logprob"] = sum;
    std::printf("%s\n", dump_json(out).c_str());
  } else {
    for (const auto& t : tokens) {
      std::printf("%8d %10.6f  %s\n", t["id"].get<int>(), t["logprob"].get<double>(),
                  dump_json(t["text"]).c_str());
    }
    std::printf("sum_logprob %.6f over %zu tokens\n", sum, continuation.size());
  }
  return 0;
}

}  // namespace

Command add_score_command(CLI::App& app) {
  auto o = std::make_shared<ScoreOptions>();
  CLI::App* sub =
      app.add_subcommand("score", "Log-probability of a continuation given a prompt (teacher forcing)");
  add_model_options(sub, o->model_path, o->reference, o->n_threads, o->n_ctx, o->precision,
                    o->no_repack);
  sub->add_option("-p,--prompt", o->prompt, "Prompt text (BOS added as the model asks)")->required();
  auto* text = sub->add_option("--continuation", o->continuation, "Continuation text");
  auto* ids = sub->add_option("--continuation-ids", o->continuation_ids, "Continuation token ids");
  text->excludes(ids);
  sub->add_option("--logprobs", o->n_logprobs, "Top alternatives per token");
  sub->add_flag("--json", o->json, "Print one JSON object");
  sub->callback([text, ids]() {
    if (text->count() == 0 && ids->count() == 0) {
      throw CLI::ValidationError("score", "one of --continuation or --continuation-ids is required");
    }
  });
  return [o]() { return score(*o); };
}

}  // namespace cove::cli
