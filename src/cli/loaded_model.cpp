#include "cli/loaded_model.h"

#include <cstdio>

namespace cove::cli {

Result<LoadedModel> load_model(const std::string& path, bool repack) {
  LoadedModel loaded;
  model::ModelLoadOptions options;
  options.repack = repack;
  Result<std::unique_ptr<model::Model>> m = model::Model::load(path, options);
  if (!m) return m.error();
  loaded.model = std::move(*m);
  Result<std::unique_ptr<tokenizer::Tokenizer>> t =
      tokenizer::Tokenizer::from_gguf(loaded.model->file());
  if (!t) return t.error();
  loaded.tokenizer = std::move(*t);
  if (loaded.tokenizer->n_vocab() != loaded.model->config().n_vocab) {
    return Error{path + ": the tokenizer has " + std::to_string(loaded.tokenizer->n_vocab()) +
                 " tokens but the embedding has " +
                 std::to_string(loaded.model->config().n_vocab) + " rows"};
  }
  return loaded;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

nlohmann::json token_json(const tokenizer::Tokenizer& tok, int32_t id, float logprob,
                          const std::vector<runtime::TokenLogprob>& top) {
  nlohmann::json entry = {{"id", id}, {"text", tok.token_piece(id)}, {"logprob", logprob}};
  nlohmann::json alternatives = nlohmann::json::array();
  for (const runtime::TokenLogprob& t : top) {
    alternatives.push_back({{"id", t.id}, {"logprob", t.logprob}});
  }
  entry["top_logprobs"] = std::move(alternatives);
  return entry;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cove::cli
