// cove tokenize: text from stdin to token ids (or pieces).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/commands.h"
#include "cli/loaded_model.h"
#include "gguf/gguf.h"

namespace cove::cli {

Command add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string model_path;
    bool add_special = false;
    bool ids = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("tokenize", "Tokenize all of stdin as one text");
  sub->add_option("-m,--model", o->model_path, "GGUF model or vocab file")->required();
  sub->add_flag("--add-special", o->add_special,
                "Add BOS/EOS as the model asks and parse special-token text");
  sub->add_flag("--ids", o->ids, "Print only the ids, space-separated on one line");
  return [o]() {
    // Vocab-only files have no weights, so only the tokenizer is loaded.
    Result<std::unique_ptr<gguf::File>> file = gguf::File::open(o->model_path);
    if (!file) return fail(file.message());
    Result<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::from_gguf(**file);
    if (!tok) return fail(tok.message());
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::vector<int32_t> ids = (*tok)->encode(text, o->add_special, o->add_special);
    if (o->ids) {
      std::string line;
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0) line += ' ';
        line += std::to_string(ids[i]);
      }
      std::printf("%s\n", line.c_str());
    } else {
      for (int32_t id : ids) {
        std::printf("%8d  %s\n", id, dump_json(nlohmann::json((*tok)->token_piece(id))).c_str());
      }
    }
    return 0;
  };
}

}  // namespace cove::cli
