// What every engine command loads: the model's weights and its tokenizer, from one GGUF file.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "model/model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace cove::cli {

struct LoadedModel {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

// `repack`: weights in the repacked layout of kernels/repack.h where the CPU runs its kernels
// (the default; --no-repack keeps the file's layout).
Result<LoadedModel> load_model(const std::string& path, bool repack = true);

// Prints "error: MESSAGE" on stderr and returns 1, the exit code of a failed command.
int fail(const std::string& message);

// One token entry of the --json output: id, text, logprob and top_logprobs.
nlohmann::json token_json(const tokenizer::Tokenizer& tok, int32_t id, float logprob,
                          const std::vector<runtime::TokenLogprob>& top);

// Serializes without throwing on invalid UTF-8 (byte tokens): bad bytes become U+FFFD.
std::string dump_json(const nlohmann::json& j);

}  // namespace cove::cli
