#include "tokenizer/tokenizer.h"

#include <array>
#include <optional>

#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/wordpiece.h"

namespace cove::tokenizer {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

// Texts of control tokens that end a turn in the chat formats we know. Matched exactly.
constexpr std::array<std::string_view, 14> kEndOfTurnTexts = {
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<end_of_turn>",
    "<|END_OF_TURN_TOKEN|>",
    "<EOT>",
    "_<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",  // <｜end▁of▁sentence｜>
    "<|return|>",
    "<|call|>",
    "</s>",
};

std::string key_prefix(const gguf::File& file, std::string_view key) {
  return file.name() + ": " + std::string(key) + ": ";
}

// Reads a token id: absent gives `fallback`; 4294967295 or any negative value means none (-1);
// anything else must lie inside the vocab.
Result<int32_t> read_token_id(const gguf::File& file, std::string_view key, int32_t n_vocab,
                              int32_t fallback) {
  Result<std::optional<int64_t>> value = file.get_int(key);
  if (!value) return value.error();
  if (!value->has_value()) return fallback;
  const int64_t id = **value;
  if (id < 0 || id == 0xFFFFFFFFLL) return -1;
  if (id >= n_vocab) {
    return Error{key_prefix(file, key) + "id " + std::to_string(id) + " is outside the vocab (" +
                 std::to_string(n_vocab) + " tokens)"};
  }
  return static_cast<int32_t>(id);
}

Result<bool> read_flag(const gguf::File& file, std::string_view key, bool fallback) {
  Result<std::optional<bool>> value = file.get_bool(key);
  if (!value) return value.error();
  return value->value_or(fallback);
}

// "<0xAB>" -> 0xAB, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || text[5] != '>') return -1;
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Appends `text` with every '▁' replaced by a space.
void append_unescaped_spaces(std::string_view text, std::string& out) {
  for (size_t pos = 0; pos < text.size();) {
    if (text.substr(pos).starts_with(kSpaceMarker)) {
      out.push_back(' ');
      pos += kSpaceMarker.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab, TokenizerModel model) : vocab_(std::move(vocab)), model_(model) {}

Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const gguf::File& file) {
  constexpr std::string_view kModelKey = "tokenizer.ggml.model";
  constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
  constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";

  Result<std::optional<std::string>> model_name = file.get_string(kModelKey);
  if (!model_name) return model_name.error();
  if (!model_name->has_value()) return Error{key_prefix(file, kModelKey) + "missing"};
  TokenizerModel model;
  if (**model_name == "llama") {
    model = TokenizerModel::kSpm;
  } else if (**model_name == "gpt2") {
    model = TokenizerModel::kBpe;
  } else if (**model_name == "bert") {
    model = TokenizerModel::kWordPiece;
  } else {
    return Error{key_prefix(file, kModelKey) + "unsupported tokenizer model '" + **model_name +
                 "' (supported: llama, gpt2, bert)"};
  }

  Result<Vocab> vocab = Vocab::from_gguf(file);
  if (!vocab) return vocab.error();
  std::unique_ptr<Tokenizer> tok(new Tokenizer(std::move(*vocab), model));
  const int32_t n_vocab = tok->vocab_.size();

  Result<std::optional<std::string>> pre_name = file.get_string(kPreKey);
  if (!pre_name) return pre_name.error();
  if (pre_name->has_value()) tok->pre_name_ = **pre_name;

  // Defaults where the metadata is silent are the family's conventions: Llama's SentencePiece
  // ids and BOS, BERT's [CLS] [SEP] framing; byte-level BPE adds nothing unless asked.
  const bool is_spm = model == TokenizerModel::kSpm;
  const bool is_bert = model == TokenizerModel::kWordPiece;
  struct IdKey {
    std::string_view key;
    int32_t* id;
    int32_t fallback;
  };
  const IdKey id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &tok->bos_id_, is_spm ? 1 : -1},
      {"tokenizer.ggml.eos_token_id", &tok->eos_id_, is_spm ? 2 : -1},
      {"tokenizer.ggml.eot_token_id", &tok->eot_id_, -1},
      {"tokenizer.ggml.eom_token_id", &tok->eom_id_, -1},
      {"tokenizer.ggml.unknown_token_id", &tok->unknown_id_,
       is_spm    ? 0
       : is_bert ? 100
                 : -1},
      {"tokenizer.ggml.padding_token_id", &tok->padding_id_, is_bert ? 0 : -1},
      {"tokenizer.ggml.cls_token_id", &tok->cls_id_, is_bert ? 101 : -1},
      {"tokenizer.ggml.seperator_token_id", &tok->separator_id_, is_bert ? 102 : -1},
      {"tokenizer.ggml.mask_token_id", &tok->mask_id_, is_bert ? 103 : -1},
  };
  for (const IdKey& k : id_keys) {
    // A default is only a guess: it must not point outside a small vocab.
    const int32_t fallback = k.fallback < n_vocab ? k.fallback : -1;
    Result<int32_t> id = read_token_id(file, k.key, n_vocab, fallback);
    if (!id) return id.error();
    *k.id = *id;
  }
  if (is_bert) {
    if (tok->cls_id_ < 0) tok->cls_id_ = tok->bos_id_;
    if (tok->separator_id_ < 0) tok->separator_id_ = tok->eos_id_;
  }

  Result<bool> add_bos = read_flag(file, "tokenizer.ggml.add_bos_token", is_spm || is_bert);
  Result<bool> add_eos = read_flag(file, "tokenizer.ggml.add_eos_token", is_bert);
  Result<bool> add_space_prefix = read_flag(file, "tokenizer.ggml.add_space_prefix", is_spm);
  if (!add_bos) return add_bos.error();
  if (!add_eos) return add_eos.error();
  if (!add_space_prefix) return add_space_prefix.error();
  tok->add_bos_ = *add_bos;
  tok->add_eos_ = *add_eos;
  tok->add_space_prefix_ = *add_space_prefix;

  switch (model) {
    case TokenizerModel::kSpm:
      tok->spm_ = std::make_unique<SpmEncoder>(tok->vocab_, tok->unknown_id_);
      tok->strips_leading_space_ = tok->add_space_prefix_;
      break;
    case TokenizerModel::kWordPiece:
      tok->wordpiece_ = std::make_unique<WordPieceEncoder>(tok->vocab_, tok->unknown_id_);
      tok->strips_leading_space_ = true;
      break;
    case TokenizerModel::kBpe: {
      Result<PreTokenizer> pre = PreTokenizer::for_name(tok->pre_name_);
      if (!pre) return Error{key_prefix(file, kPreKey) + pre.message()};
      const gguf::Value* merges_value = file.find(kMergesKey);
      if (!merges_value) return Error{key_prefix(file, kMergesKey) + "missing"};
      const gguf::Array* merges = merges_value->as_array();
      if (!merges || merges->element_type != gguf::ValueType::STRING) {
        return Error{key_prefix(file, kMergesKey) + "expected an array of strings"};
      }
      std::vector<std::string_view> merge_texts;
      merge_texts.reserve(merges->items.size());
      for (const gguf::Value& item : merges->items) merge_texts.push_back(*item.as_string());
      Result<std::unique_ptr<BpeEncoder>> bpe =
          BpeEncoder::create(tok->vocab_, merge_texts, std::move(*pre), tok->unknown_id_);
      if (!bpe) return Error{key_prefix(file, kMergesKey) + bpe.message()};
      tok->bpe_ = std::move(*bpe);
      break;
    }
  }

  tok->end_of_generation_.assign(n_vocab, false);
  for (int32_t id : {tok->eos_id_, tok->eot_id_, tok->eom_id_}) {
    if (id >= 0) tok->end_of_generation_[id] = true;
  }
  for (int32_t id = 0; id < n_vocab; ++id) {
    const TokenType type = tok->vocab_.type(id);
    const std::string_view text = tok->vocab_.text(id);
    if (type == TokenType::kUserDefined) tok->user_defined_.add(text, id);
    if (type == TokenType::kUserDefined || type == TokenType::kControl ||
        type == TokenType::kUnknown) {
      tok->all_specials_.add(text, id);
    }
    // Some converters mark chat markers user-defined instead of control; they still end a turn.
    if (type == TokenType::kControl || type == TokenType::kUserDefined) {
      for (std::string_view eot : kEndOfTurnTexts) {
        if (text == eot) tok->end_of_generation_[id] = true;
      }
    }
  }
  tok->build_pieces();
  return tok;
}

void Tokenizer::build_pieces() {
  pieces_.resize(vocab_.size());
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const std::string_view text = vocab_.text(id);
    std::string& piece = pieces_[id];
    const TokenType type = vocab_.type(id);
    if (type == TokenType::kControl || type == TokenType::kUnused) continue;
    if (type == TokenType::kByte) {
      const int byte = parse_byte_token(text);
      if (byte >= 0) {
        piece.push_back(static_cast<char>(byte));
        continue;
      }
    }
    switch (model_) {
      case TokenizerModel::kSpm:
        if (type == TokenType::kUnknown) {
          piece = " \xE2\x81\x87 ";  // SentencePiece renders <unk> as " ⁇ "
        } else if (type == TokenType::kUserDefined) {
          piece = text;
        } else {
          append_unescaped_spaces(text, piece);
        }
        break;
      case TokenizerModel::kBpe:
        if (type == TokenType::kUnknown) break;
        if (type == TokenType::kUserDefined) {
          piece = text;  // added tokens are stored as plain text, not byte-mapped
        } else {
          append_byte_level_decoded(text, piece);
        }
        break;
      case TokenizerModel::kWordPiece:
        if (type == TokenType::kUnknown) break;
        if (wordpiece_->marking() == WordPieceEncoder::Marking::kWordStartPrefix) {
          if (text.starts_with(kSpaceMarker)) {
            piece = " ";
            piece.append(text.substr(kSpaceMarker.size()));
          } else {
            piece = text;
          }
        } else if (text.size() > 2 && text.starts_with("##")) {
          piece = text.substr(2);
        } else {
          piece = " ";
          piece.append(text);
        }
        break;
    }
  }
}

void Tokenizer::encode_text(std::string_view text, bool after_special, std::string& scratch,
                            std::vector<int32_t>& out) const {
  switch (model_) {
    case TokenizerModel::kSpm:
      // SentencePiece normalization for Llama: spaces become '▁', and the text (the first
      // fragment, or one right after a special token) gets a '▁' prefix marking a word start.
      scratch.clear();
      if (add_space_prefix_ && after_special) scratch.append(kSpaceMarker);
      for (char c : text) {
        if (c == ' ') {
          scratch.append(kSpaceMarker);
        } else {
          scratch.push_back(c);
        }
      }
      spm_->encode(scratch, out);
      break;
    case TokenizerModel::kBpe:
      bpe_->encode(text, out);
      break;
    case TokenizerModel::kWordPiece:
      wordpiece_->encode(text, out);
      break;
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  const bool is_bert = model_ == TokenizerModel::kWordPiece;
  const int32_t first = is_bert ? cls_id_ : bos_id_;
  const int32_t last = is_bert ? separator_id_ : eos_id_;
  if (add_special && add_bos_ && first >= 0) out.push_back(first);

  std::vector<Fragment> fragments;
  (parse_special ? all_specials_ : user_defined_).split(text, fragments);
  std::string scratch;
  bool after_special = true;
  for (const Fragment& fragment : fragments) {
    if (fragment.token >= 0) {
      out.push_back(fragment.token);
      after_special = true;
    } else {
      encode_text(fragment.text, after_special, scratch, out);
      after_special = false;
    }
  }

  if (add_special && add_eos_ && last >= 0) out.push_back(last);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  bool strip_space = strips_leading_space_;
  for (int32_t id : ids) {
    std::string_view piece = token_piece_view(id);
    if (piece.empty()) continue;
    if (strip_space && piece.front() == ' ') piece.remove_prefix(1);
    strip_space = false;
    text.append(piece);
  }
  return text;
}

}  // namespace cove::tokenizer
