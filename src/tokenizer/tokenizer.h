// Text <-> token ids for a model, configured from its GGUF metadata (tokenizer.ggml.*).
//
// Three families, chosen by tokenizer.ggml.model:
//   llama  SentencePiece-style score merging with byte fallback (spm.h)
//   gpt2   byte-level BPE with a named regex pre-tokenizer, tokenizer.ggml.pre (bpe.h)
//   bert   WordPiece (wordpiece.h)
//
// Encoding first cuts special-token text out of the input (special_tokens.h): user-defined
// tokens always (they are part of the vocabulary's words, as in Hugging Face's added tokens),
// control tokens only when the caller asks (parse_special), so that text typed by a user cannot
// smuggle in "<|im_end|>". The rest goes to the family's algorithm, fragment by fragment.
//
// Decoding maps each id to its bytes (token_piece) and concatenates them; nothing is
// normalized, so for SentencePiece and byte-level vocabs decode(encode(text)) == text for any
// bytes the vocab can represent (all of them, with byte fallback / byte-level mapping).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/vocab.h"

namespace cove::tokenizer {

class SpmEncoder;
class BpeEncoder;
class WordPieceEncoder;

enum class TokenizerModel { kSpm, kBpe, kWordPiece };

class Tokenizer {
 public:
  // Reads tokenizer.ggml.*: model, tokens, scores, token_type, merges, pre, the special ids
  // (bos, eos, unknown, seperator, padding, cls, mask, eot, eom), add_bos_token,
  // add_eos_token, add_space_prefix. An unknown model or pre-tokenizer name, arrays of
  // inconsistent lengths, a malformed merge or an id outside the vocab is an Error naming the
  // file and the key. Ids stored as 4294967295 or -1 mean "none".
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const gguf::File& file);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: add BOS / EOS as the metadata asks (bert: CLS and SEP). parse_special: text
  // equal to a control token's text becomes that token; otherwise it is plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for when decoded: byte tokens <0xAB> give one byte, SentencePiece
  // '▁' gives a space, byte-level BPE characters give their bytes, control tokens give "".
  // Not necessarily valid UTF-8 on its own. Out-of-range ids give "".
  std::string token_piece(int32_t id) const { return std::string(token_piece_view(id)); }
  std::string_view token_piece_view(int32_t id) const {
    return vocab_.contains(id) ? std::string_view(pieces_[id]) : std::string_view();
  }
  // The concatenated pieces. For SentencePiece (with the space prefix) and WordPiece vocabs the
  // leading space of the first non-empty piece is dropped, as SentencePiece decoding does.
  std::string decode(std::span<const int32_t> ids) const;
  // Whether decode drops that leading space (see StreamDecoder).
  bool strips_leading_space() const { return strips_leading_space_; }

  int32_t n_vocab() const { return vocab_.size(); }
  std::string_view token_text(int32_t id) const {
    return vocab_.contains(id) ? vocab_.text(id) : std::string_view();
  }
  TokenType token_type(int32_t id) const {
    return vocab_.contains(id) ? vocab_.type(id) : TokenType::kUndefined;
  }
  const Vocab& vocab() const { return vocab_; }
  TokenizerModel model() const { return model_; }
  // tokenizer.ggml.pre as read ("default" when absent).
  const std::string& pre_tokenizer_name() const { return pre_name_; }

  // Special ids; -1 when the vocab has none.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }
  int32_t unknown_id() const { return unknown_id_; }
  int32_t padding_id() const { return padding_id_; }
  int32_t cls_id() const { return cls_id_; }
  int32_t separator_id() const { return separator_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // True for eos, eot and eom, and for control (or user-defined) tokens whose text is a known
  // end-of-turn marker: <|im_end|>, <|eot_id|>, <|eom_id|>, <|end|>, <|endoftext|>,
  // <end_of_turn>, <|end_of_text|>, <｜end▁of▁sentence｜>, ...
  bool is_end_of_generation(int32_t id) const {
    return vocab_.contains(id) && end_of_generation_[id];
  }

 private:
  Tokenizer(Vocab vocab, TokenizerModel model);
  void encode_text(std::string_view text, bool after_special, std::string& scratch,
                   std::vector<int32_t>& out) const;
  void build_pieces();

  Vocab vocab_;
  TokenizerModel model_;
  std::string pre_name_ = "default";
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeEncoder> bpe_;
  std::unique_ptr<WordPieceEncoder> wordpiece_;
  SpecialTokenMatcher user_defined_;  // always cut out
  SpecialTokenMatcher all_specials_;  // user-defined + control + unknown, for parse_special
  std::vector<std::string> pieces_;   // token_piece of every id
  std::vector<bool> end_of_generation_;

  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, eom_id_ = -1, unknown_id_ = -1;
  int32_t padding_id_ = -1, cls_id_ = -1, separator_id_ = -1, mask_id_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool strips_leading_space_ = false;
};

}  // namespace cove::tokenizer

// Callers that stream generated text get StreamDecoder with the facade. (stream_decoder.h
// includes this header; #pragma once makes either include order work.)
#include "tokenizer/stream_decoder.h"  // IWYU pragma: export
