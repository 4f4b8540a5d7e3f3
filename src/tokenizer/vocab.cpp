#include "tokenizer/vocab.h"

#include <algorithm>
#include <string>

namespace cove::tokenizer {

namespace {

constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";

Error key_error(const gguf::File& file, std::string_view key, const std::string& what) {
  return Error{file.name() + ": " + std::string(key) + ": " + what};
}

}  // namespace

void Vocab::add(std::string_view text) {
  text_bytes_.insert(text_bytes_.end(), text.begin(), text.end());
  text_offsets_.push_back(text_bytes_.size());
  max_text_length_ = std::max(max_text_length_, text.size());
}

namespace {

// FNV-1a over the bytes, then a multiply-xorshift finalizer so that the low bits (the slot) and
// the high bits (the tag) are both well mixed. Token texts are short (a few bytes on average).
uint64_t hash_text(std::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : text) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

}  // namespace

void Vocab::build_index() {
  size_t capacity = 16;
  while (capacity < 2 * types_.size()) capacity *= 2;
  index_.assign(capacity, Slot{});
  index_mask_ = capacity - 1;
  for (int32_t id = 0; id < size(); ++id) {
    const std::string_view t = text(id);
    const uint64_t h = hash_text(t);
    const auto tag = static_cast<uint32_t>(h >> 32);
    uint64_t slot = h & index_mask_;
    bool duplicate = false;
    while (index_[slot].id >= 0) {
      if (index_[slot].hash_tag == tag && text(index_[slot].id) == t) {
        duplicate = true;  // the first id keeps the text
        break;
      }
      slot = (slot + 1) & index_mask_;
    }
    if (!duplicate) index_[slot] = {id, tag};
  }
}

int32_t Vocab::find(std::string_view t) const {
  const uint64_t h = hash_text(t);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (uint64_t slot = h & index_mask_; index_[slot].id >= 0; slot = (slot + 1) & index_mask_) {
    if (index_[slot].hash_tag == tag && text(index_[slot].id) == t) return index_[slot].id;
  }
  return -1;
}

Result<Vocab> Vocab::from_tokens(std::vector<std::string_view> texts, std::vector<float> scores,
                                 std::vector<TokenType> types) {
  if (texts.empty()) return Error{"vocab: no tokens"};
  if (!scores.empty() && scores.size() != texts.size()) {
    return Error{"vocab: " + std::to_string(scores.size()) + " scores for " +
                 std::to_string(texts.size()) + " tokens"};
  }
  if (!types.empty() && types.size() != texts.size()) {
    return Error{"vocab: " + std::to_string(types.size()) + " token types for " +
                 std::to_string(texts.size()) + " tokens"};
  }
  Vocab vocab;
  size_t total = 0;
  for (std::string_view t : texts) total += t.size();
  vocab.text_bytes_.reserve(total);
  vocab.text_offsets_.reserve(texts.size() + 1);
  for (std::string_view t : texts) vocab.add(t);
  vocab.scores_ = scores.empty() ? std::vector<float>(texts.size(), 0.0f) : std::move(scores);
  vocab.types_ =
      types.empty() ? std::vector<TokenType>(texts.size(), TokenType::kNormal) : std::move(types);
  vocab.build_index();
  return vocab;
}

Result<Vocab> Vocab::from_gguf(const gguf::File& file) {
  const gguf::Value* tokens_value = file.find(kTokensKey);
  if (!tokens_value) return key_error(file, kTokensKey, "missing");
  const gguf::Array* tokens = tokens_value->as_array();
  if (!tokens || tokens->element_type != gguf::ValueType::STRING) {
    return key_error(file, kTokensKey, "expected an array of strings");
  }
  const size_t n_tokens = tokens->items.size();
  if (n_tokens == 0) return key_error(file, kTokensKey, "empty");
  if (n_tokens > static_cast<size_t>(INT32_MAX)) return key_error(file, kTokensKey, "too many");

  std::vector<std::string_view> texts;
  texts.reserve(n_tokens);
  for (const gguf::Value& item : tokens->items) texts.push_back(*item.as_string());

  std::vector<float> scores;
  if (file.find(kScoresKey)) {
    Result<std::vector<double>> values = file.get_number_array(kScoresKey);
    if (!values) return Error{values.message()};
    if (values->size() != n_tokens) {
      return key_error(
          file, kScoresKey,
          std::to_string(values->size()) + " entries for " + std::to_string(n_tokens) + " tokens");
    }
    scores.assign(values->begin(), values->end());
  }

  std::vector<TokenType> types;
  if (file.find(kTypesKey)) {
    Result<std::vector<double>> values = file.get_number_array(kTypesKey);
    if (!values) return Error{values.message()};
    if (values->size() != n_tokens) {
      return key_error(
          file, kTypesKey,
          std::to_string(values->size()) + " entries for " + std::to_string(n_tokens) + " tokens");
    }
    types.reserve(n_tokens);
    for (size_t i = 0; i < n_tokens; ++i) {
      const double t = (*values)[i];
      if (!(t >= 0 && t <= 6) || t != static_cast<int>(t)) {
        return key_error(file, kTypesKey,
                         "entry " + std::to_string(i) + " is " + std::to_string(t) +
                             ", not a token type (0..6)");
      }
      types.push_back(static_cast<TokenType>(static_cast<int>(t)));
    }
  }
  return from_tokens(std::move(texts), std::move(scores), std::move(types));
}

}  // namespace cove::tokenizer
