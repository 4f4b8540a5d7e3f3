#include "model/synthetic.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "tensor/quantize.h"

namespace cove::model {
namespace {

using tensor::TensorType;

// ---------------------------------------------------------------------------------------------
// Shapes and types

std::vector<SynthShape> known_shapes() {
  std::vector<SynthShape> shapes;
  {
    SynthShape s;  // SmolLM2-135M
    s.name = "smollm2-135m";
    s.n_embd = 576, s.n_layers = 30, s.n_heads = 9, s.n_heads_kv = 3, s.n_ff = 1536;
    s.n_vocab = 49152, s.n_ctx = 8192, s.tied_output = true, s.rope_base = 100000.0f;
    shapes.push_back(s);
  }
  {
    SynthShape s;  // Qwen2.5-0.5B
    s.name = "qwen2.5-0.5b";
    s.arch = "qwen2";
    s.n_embd = 896, s.n_layers = 24, s.n_heads = 14, s.n_heads_kv = 2, s.n_ff = 4864;
    s.n_vocab = 151936, s.n_ctx = 32768, s.tied_output = true, s.rope_base = 1000000.0f;
    s.rms_eps = 1e-6f;
    shapes.push_back(s);
  }
  {
    SynthShape s;  // TinyLlama-1.1B: the "1b" shape of docs/perf/REFERENCE.md
    s.name = "llama-1b";
    s.n_embd = 2048, s.n_layers = 16, s.n_heads = 32, s.n_heads_kv = 8, s.n_ff = 8192;
    s.n_vocab = 32000, s.n_ctx = 2048, s.tied_output = false, s.rope_base = 10000.0f;
    shapes.push_back(s);
  }
  {
    SynthShape s;  // Llama-3-8B
    s.name = "llama-8b";
    s.n_embd = 4096, s.n_layers = 32, s.n_heads = 32, s.n_heads_kv = 8, s.n_ff = 14336;
    s.n_vocab = 128256, s.n_ctx = 8192, s.tied_output = false, s.rope_base = 500000.0f;
    shapes.push_back(s);
  }
  return shapes;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool is_k_type(TensorType t) {
  return t == TensorType::Q2_K || t == TensorType::Q3_K || t == TensorType::Q4_K ||
         t == TensorType::Q5_K || t == TensorType::Q6_K;
}

bool is_float_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16;
}

// K types need rows of whole 256-weight super-blocks; other rows take a 32-block type with at
// least as many bits per weight, as the ecosystem's quantizer does.
TensorType fallback_for_short_rows(TensorType t) {
  switch (t) {
    case TensorType::Q2_K:
      return TensorType::Q4_0;
    case TensorType::Q3_K:
      return TensorType::Q4_1;
    case TensorType::Q4_K:
      return TensorType::Q5_0;
    case TensorType::Q5_K:
      return TensorType::Q5_1;
    case TensorType::Q6_K:
      return TensorType::Q8_0;
    default:
      return t;
  }
}

// The "_M" mixes give more bits to half of the layers: the first and last eighth (most
// sensitive) and every third layer in between.
bool layer_gets_more_bits(int64_t layer, int64_t n_layers) {
  const int64_t eighth = n_layers / 8;
  return layer < eighth || layer >= 7 * n_layers / 8 || (layer - eighth) % 3 == 2;
}

enum class Role {
  kTokenEmbd,
  kOutput,
  kAttnQ,
  kAttnK,
  kAttnV,
  kAttnOutput,
  kFfnGate,
  kFfnUp,
  kFfnDown
};

TensorType choose_type(const SynthShape& shape, const SynthType& type, Role role, int64_t layer,
                       int64_t row_length) {
  TensorType t = type.base;
  // The matrix that produces the logits: the output, or the token embedding tied to it.
  const bool makes_logits =
      role == Role::kOutput || (role == Role::kTokenEmbd && shape.tied_output);
  if (makes_logits && !is_float_type(t) && t != TensorType::Q8_0) t = TensorType::Q6_K;
  if (type.medium_mix && (role == Role::kAttnV || role == Role::kFfnDown) &&
      layer_gets_more_bits(layer, shape.n_layers)) {
    t = TensorType::Q6_K;
  }
  if (is_k_type(t) && row_length % 256 != 0) t = fallback_for_short_rows(t);
  return t;
}

// general.file_type: the ecosystem's numbering of whole-file types (llama_ftype).
uint32_t file_type_id(const SynthType& type) {
  switch (type.base) {
    case TensorType::F32:
      return 0;
    case TensorType::F16:
      return 1;
    case TensorType::Q4_0:
      return 2;
    case TensorType::Q4_1:
      return 3;
    case TensorType::Q8_0:
      return 7;
    case TensorType::Q5_0:
      return 8;
    case TensorType::Q5_1:
      return 9;
    case TensorType::Q2_K:
      return 10;
    case TensorType::Q3_K:
      return 11;  // "Q3_K_S"
    case TensorType::Q4_K:
      return type.medium_mix ? 15 : 14;  // Q4_K_M : Q4_K_S
    case TensorType::Q5_K:
      return type.medium_mix ? 17 : 16;  // Q5_K_M : Q5_K_S
    case TensorType::Q6_K:
      return 18;
    case TensorType::BF16:
      return 32;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

// A SentencePiece-style vocabulary of exactly n_vocab unique pieces: <unk> <s> </s>, the 256
// byte tokens, "▁", then letter strings alternately with and without the word-start mark
// ("▁a", "a", "▁b", ... "▁aa", "aa", ...). Scores fall with the index so shorter pieces win.
struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};

constexpr int32_t kTokenNormal = 1, kTokenUnknown = 2, kTokenControl = 3, kTokenByte = 6;
constexpr int64_t kMinVocab = 260;  // specials, bytes and "▁"

Vocabulary make_vocabulary(int64_t n_vocab) {
  Vocabulary v;
  auto add = [&](std::string piece, float score, int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, kTokenUnknown);
  add("<s>", 0.0f, kTokenControl);
  add("</s>", 0.0f, kTokenControl);
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    add(hex, 0.0f, kTokenByte);
  }
  const std::string kWordStart = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
  add(kWordStart, -1.0f, kTokenNormal);
  for (int64_t i = 0; static_cast<int64_t>(v.tokens.size()) < n_vocab; ++i) {
    // Bijective base 26: 0 -> "a", 25 -> "z", 26 -> "aa", ...
    std::string word;
    for (int64_t k = i + 1; k > 0; k = (k - 1) / 26) {
      word.insert(word.begin(), static_cast<char>('a' + (k - 1) % 26));
    }
    const float score = -2.0f - static_cast<float>(i);
    add(kWordStart + word, score, kTokenNormal);
    if (static_cast<int64_t>(v.tokens.size()) < n_vocab) add(word, score - 0.5f, kTokenNormal);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Seeded random weights

// splitmix64: a fast, well-mixed 64-bit generator; also used to derive per-row seeds.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_name(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  return h;
}

// How a tensor's values are drawn: mean + scale * (approximately standard normal).
struct Distribution {
  float mean = 0.0f;
  float scale = 0.0f;
};

// Fills one row. Each row has its own stream, seeded from the model seed, the tensor's name and
// the row index, so the values do not depend on the type, the thread count or the chunking:
// the same seed gives the same model in every type (a Q4_0 file is a quantized F32 file).
// The normal deviate is the Irwin-Hall sum of four 16-bit uniforms (integer arithmetic only,
// so identical on every machine), rescaled to unit variance.
void fill_row(uint64_t seed, uint64_t name_hash, int64_t row, const Distribution& dist, float* out,
              int64_t n) {
  uint64_t state = seed ^ name_hash;
  state = splitmix64(state) ^ static_cast<uint64_t>(row);
  splitmix64(state);
  constexpr float kMean = 4 * 65535 / 2.0f;
  const float k_scale = dist.scale / std::sqrt(4.0f * (65536.0f * 65536.0f - 1.0f) / 12.0f);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(state);
    const uint32_t sum = static_cast<uint32_t>(r & 0xffff) +
                         static_cast<uint32_t>((r >> 16) & 0xffff) +
                         static_cast<uint32_t>((r >> 32) & 0xffff) + static_cast<uint32_t>(r >> 48);
    out[i] = dist.mean + (static_cast<float>(sum) - kMean) * k_scale;
  }
}

// Scales chosen so that activations stay of order one at every width and the logits have a
// standard deviation near 2.5 (a sharp-ish distribution, like a trained model's):
//   matrices:  std 0.5 / sqrt(row length), so each product keeps its input's scale within 2x;
//   embedding: std 2.5 / sqrt(n_embd), so norm(x) . row has std 2.5 when tied;
//   norms 1 +- 0.05, biases std 0.02.
Distribution distribution_for(const SynthShape& shape, const std::string& name,
                              int64_t row_length) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("_norm.weight")) return {1.0f, 0.05f};
  if (ends_with(".bias")) return {0.0f, 0.02f};
  if (name == "token_embd.weight" || name == "output.weight") {
    return {0.0f, 2.5f / std::sqrt(static_cast<float>(shape.n_embd))};
  }
  return {0.0f, 0.5f / std::sqrt(static_cast<float>(row_length))};
}

void write_metadata(const SynthOptions& options, gguf::StreamWriter& w) {
  const SynthShape& s = options.shape;
  const std::string a = s.arch + ".";
  w.set_string("general.architecture", s.arch);
  w.set_string("general.name", s.name + " (synthetic)");
  w.set_string("general.description", "cove synth: " + s.name +
                                          " dimensions, seeded random weights (seed " +
                                          std::to_string(options.seed) + "), " + options.type.name);
  w.set_u32("general.file_type", file_type_id(options.type));
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + "context_length", static_cast<uint32_t>(s.n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(s.n_layers));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.n_heads));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(s.n_heads_kv));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_f32(a + "rope.freq_base", s.rope_base);
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(s.n_embd / s.n_heads));
  w.set_u32(a + "vocab_size", static_cast<uint32_t>(s.n_vocab));

  Vocabulary vocab = make_vocabulary(s.n_vocab);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
  w.set_f32_array("tokenizer.ggml.scores", vocab.scores);
  w.set_i32_array("tokenizer.ggml.token_type", vocab.types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace

std::vector<std::string> synth_shape_names() {
  std::vector<std::string> names;
  for (const SynthShape& s : known_shapes()) names.push_back(s.name);
  return names;
}

std::optional<SynthShape> find_synth_shape(std::string_view name) {
  for (SynthShape& s : known_shapes()) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

std::vector<std::string> synth_type_names() {
  return {"F32",  "F16",  "BF16", "Q8_0", "Q4_0", "Q4_1",   "Q5_0",  "Q5_1",
          "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M", "Q5_K_M"};
}

std::optional<SynthType> parse_synth_type(std::string_view name) {
  const std::string u = upper(name);
  for (const std::string& known : synth_type_names()) {
    if (u != known) continue;
    SynthType t;
    t.name = known;
    t.medium_mix = known.ends_with("_M");
    const std::string base = t.medium_mix ? known.substr(0, known.size() - 2) : known;
    std::optional<TensorType> type = tensor::type_from_name(base);
    if (!type || !tensor::can_quantize(*type)) return std::nullopt;
    t.base = *type;
    return t;
  }
  return std::nullopt;
}

Result<std::vector<SynthTensor>> plan_synthetic_tensors(const SynthShape& s,
                                                        const SynthType& type) {
  if (s.n_embd < 1 || s.n_layers < 1 || s.n_heads < 1 || s.n_heads_kv < 1 || s.n_ff < 1 ||
      s.n_embd % s.n_heads != 0 || s.n_heads % s.n_heads_kv != 0) {
    return Error{"shape '" + s.name + "': inconsistent dimensions"};
  }
  if (s.n_vocab < kMinVocab) {
    return Error{"shape '" + s.name + "': vocabulary of " + std::to_string(s.n_vocab) +
                 " is too small (at least " + std::to_string(kMinVocab) + ")"};
  }
  const int64_t kv_dim = s.n_embd / s.n_heads * s.n_heads_kv;
  std::vector<SynthTensor> out;
  auto matrix = [&](std::string name, Role role, int64_t layer, int64_t n_cols, int64_t n_rows) {
    out.push_back({std::move(name), {n_cols, n_rows}, choose_type(s, type, role, layer, n_cols)});
  };
  auto vector = [&](std::string name, int64_t n) {
    out.push_back({std::move(name), {n}, TensorType::F32});
  };
  matrix("token_embd.weight", Role::kTokenEmbd, -1, s.n_embd, s.n_vocab);
  for (int64_t i = 0; i < s.n_layers; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    vector(b + "attn_norm.weight", s.n_embd);
    matrix(b + "attn_q.weight", Role::kAttnQ, i, s.n_embd, s.n_embd);
    if (s.has_qkv_bias()) vector(b + "attn_q.bias", s.n_embd);
    matrix(b + "attn_k.weight", Role::kAttnK, i, s.n_embd, kv_dim);
    if (s.has_qkv_bias()) vector(b + "attn_k.bias", kv_dim);
    matrix(b + "attn_v.weight", Role::kAttnV, i, s.n_embd, kv_dim);
    if (s.has_qkv_bias()) vector(b + "attn_v.bias", kv_dim);
    matrix(b + "attn_output.weight", Role::kAttnOutput, i, s.n_embd, s.n_embd);
    vector(b + "ffn_norm.weight", s.n_embd);
    matrix(b + "ffn_gate.weight", Role::kFfnGate, i, s.n_embd, s.n_ff);
    matrix(b + "ffn_up.weight", Role::kFfnUp, i, s.n_embd, s.n_ff);
    matrix(b + "ffn_down.weight", Role::kFfnDown, i, s.n_ff, s.n_embd);
  }
  vector("output_norm.weight", s.n_embd);
  if (!s.tied_output) matrix("output.weight", Role::kOutput, -1, s.n_embd, s.n_vocab);

  for (const SynthTensor& t : out) {
    const int64_t block = tensor::traits(t.type).block_size;
    if (t.shape[0] % block != 0) {
      return Error{"shape '" + s.name + "': tensor '" + t.name + "' has rows of " +
                   std::to_string(t.shape[0]) + " weights, not a multiple of " +
                   std::string(tensor::type_name(t.type)) + "'s block of " + std::to_string(block)};
    }
  }
  return out;
}

Status write_synthetic_model(const SynthOptions& options, const std::string& path) {
  Result<std::vector<SynthTensor>> plan = plan_synthetic_tensors(options.shape, options.type);
  if (!plan) return plan.error();

  gguf::StreamWriter writer;
  write_metadata(options, writer);
  for (const SynthTensor& t : *plan) writer.add_tensor(t.name, t.shape, t.type);
  if (Status s = writer.begin(path); !s) return s;

  ThreadPool pool(options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads());
  int64_t max_row = 0;
  for (const SynthTensor& t : *plan) max_row = std::max(max_row, t.shape[0]);
  std::vector<std::vector<float>> row_scratch(static_cast<size_t>(pool.n_threads()),
                                              std::vector<float>(static_cast<size_t>(max_row)));
  // Rows are generated and quantized a chunk at a time (about 8 MB of F32 values), in parallel,
  // then written; the chunk is all the tensor data ever held in memory.
  constexpr int64_t kChunkFloats = int64_t{2} << 20;
  std::vector<uint8_t> chunk;
  SynthProgress progress;
  progress.n_tensors = plan->size();
  progress.file_size = writer.file_size();

  for (size_t index = 0; index < plan->size(); ++index) {
    const SynthTensor& t = (*plan)[index];
    const int64_t n_cols = t.shape[0];
    const int64_t n_rows = t.shape.size() > 1 ? t.shape[1] : 1;
    const size_t row_bytes = tensor::row_size(t.type, n_cols);
    const uint64_t name_hash = hash_name(t.name);
    const Distribution dist = distribution_for(options.shape, t.name, n_cols);
    const int64_t rows_per_chunk = std::clamp<int64_t>(kChunkFloats / n_cols, 1, n_rows);
    chunk.resize(static_cast<size_t>(rows_per_chunk) * row_bytes);
    progress.tensor_index = index;
    progress.tensor_name = &t.name;
    for (int64_t first = 0; first < n_rows; first += rows_per_chunk) {
      const int64_t count = std::min(rows_per_chunk, n_rows - first);
      pool.parallel_for(count, 1, [&](int64_t begin, int64_t end, int thread) {
        float* values = row_scratch[static_cast<size_t>(thread)].data();
        for (int64_t r = begin; r < end; ++r) {
          fill_row(options.seed, name_hash, first + r, dist, values, n_cols);
          tensor::quantize_row(t.type, values, chunk.data() + static_cast<size_t>(r) * row_bytes,
                               n_cols);
        }
      });
      Status s = writer.write_tensor_data(
          std::span<const uint8_t>(chunk.data(), static_cast<size_t>(count) * row_bytes));
      if (!s) return s;
      progress.bytes_written = writer.bytes_written();
      if (options.on_progress) options.on_progress(progress);
    }
  }
  return writer.finish();
}

}  // namespace cove::model
