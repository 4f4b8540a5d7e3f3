// Quantizing a model: which tensor type each weight gets (the ecosystem's whole-file "mixes"),
// writing a quantized GGUF file (`cove quantize`), and converting a loaded model's float
// weights in memory (`--precision`).
//
// A mix is named as the ecosystem names it (Q4_K_M, Q8_0, ...) and numbered as its
// `general.file_type` (llama_ftype). Most weight matrices get the mix's base type; the rules
// below, the ecosystem's, give a few tensors more bits (they are facts about the file format's
// conventions, so that a file made here has the types, size and file_type of one made by the
// reference quantizer):
//   - only weights are quantized: tensors with two or more dimensions whose name ends in
//     "weight", except norms, expert gates ("ffn_gate_inp"), position embeddings and token-type
//     embeddings. 1-D tensors (norms, biases) are written as F32; other tensors are copied.
//   - the matrix that produces the logits (output.weight, or token_embd.weight when the output
//     is tied to it) is Q6_K in every quantized mix except Q8_0 (Q8_0 when its rows are not a
//     multiple of 256);
//   - Q4_K_M and Q5_K_M: attn_v and ffn_down are Q6_K in the layers where use_more_bits holds:
//     the first and last eighth of the layers, and every third layer between;
//   - Q4_K_S: attn_v of the first four layers and ffn_down of the first eighth are Q5_K;
//   - Q3_K_M: attn_v of the first two layers and ffn_down of the first sixteenth are Q5_K, the
//     other attn_v and ffn_down and every attn_output are Q4_K; Q3_K_L: those three are Q5_K;
//   - Q2_K: attn_v is Q4_K with four or more query heads per KV head (else Q3_K); ffn_down and
//     attn_output are Q3_K;
//   - a fused attn_qkv is Q4_K in Q3_K_M/L, Q5_K in Q4_K_M, Q6_K in Q5_K_M;
//   - Llama 70B (80 layers, grouped-query): a Q3_K or Q4_K attn_v becomes Q5_K;
//   - a K type needs rows of whole 256-weight super-blocks; other rows fall back to a 32-block
//     type: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and Q2_K/Q3_K -> Q4_0 (the ecosystem uses
//     IQ4_NL, 4.5 bits per weight like Q4_0, which cove cannot write); a row that fits no block
//     becomes F16.
// Not modelled: the rules for mixture-of-experts models (cove does not run them), the IQ and
// TQ mixes, importance matrices, and per-tensor type overrides.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "tensor/tensor_type.h"

namespace cove::model {

// ---------------------------------------------------------------------------------------------
// Mixes

struct QuantMix {
  std::string_view name;    // "Q4_K_M"
  uint32_t file_type = 0;   // general.file_type: 15 for Q4_K_M, 7 for Q8_0, ...
  tensor::TensorType base;  // the type most weight matrices get
};

// Every mix `cove quantize` writes: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M
// Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K.
const std::vector<QuantMix>& quant_mixes();
// Case-insensitive; also accepts "Q3_K", "Q4_K", "Q5_K" for their _M mix, as the ecosystem does.
std::optional<QuantMix> find_quant_mix(std::string_view name);
std::string quant_mix_names();  // "F32, F16, ..., Q6_K" for messages and help

// What the rules look at besides a tensor's name and row length.
struct MixContext {
  int64_t n_layers = 0;    // block_count
  int64_t n_gqa = 1;       // query heads per KV head
  bool has_output = true;  // false when the logits come from the tied token embedding
  bool is_llama_70b = false;
};

// Reads the context from a file's metadata and tensor names (missing keys give defaults).
MixContext mix_context(const gguf::File& file);

// True for the tensors a mix quantizes (see the header comment). `shape` is in ggml order.
bool is_quantizable_weight(std::string_view name, std::span<const int64_t> shape);

// The type a quantizable weight gets. `row_length` is shape[0]. `fell_back`, when given, is set
// when the row length forced a smaller-block type than the rules asked for.
tensor::TensorType choose_tensor_type(const QuantMix& mix, const MixContext& context,
                                      std::string_view name, int64_t row_length,
                                      bool* fell_back = nullptr);

// ---------------------------------------------------------------------------------------------
// Quantizing a file

struct TensorPlan {
  std::string name;
  std::vector<int64_t> shape;  // ggml order
  tensor::TensorType from;     // type in the input
  tensor::TensorType to;       // type written
  bool quantized = false;      // chosen by the mix (false: copied, or a 1-D tensor made F32)
  bool fell_back = false;      // see choose_tensor_type
};

// The type of every tensor of `in`, in file order. Fails, naming the tensor, when a tensor must
// change type but cove cannot read its current type.
Result<std::vector<TensorPlan>> plan_quantization(const gguf::File& in, const QuantMix& mix);

struct QuantizeProgress {
  size_t tensor_index = 0;  // the tensor being written
  size_t n_tensors = 0;
  const TensorPlan* tensor = nullptr;
  uint64_t bytes_written = 0;  // of the output file, header included
  uint64_t file_size = 0;
};

struct QuantizeOptions {
  QuantMix mix;
  int n_threads = 0;  // 0: all cores
  // Called after each written piece (at most a few MB); may be empty.
  std::function<void(const QuantizeProgress&)> on_progress;
  // Non-fatal notes (requantizing already-quantized tensors, fallbacks); may be empty.
  std::function<void(const std::string&)> on_warning;
};

struct QuantizeSummary {
  size_t n_tensors = 0;
  size_t n_quantized = 0;    // tensors whose type the mix chose
  size_t n_requantized = 0;  // of those, converted from another quantized type
  size_t n_fell_back = 0;
  uint64_t input_bytes = 0;   // size of the input file
  uint64_t output_bytes = 0;  // size of the output file
};

// Reads `in_path`, writes `out_path` as a GGUF v3 file with every metadata key of the input
// (general.file_type and general.quantization_version = 2 set for the mix) and the tensors in
// the input's order and shapes, quantized by the mix. Rows are quantized by a pool of threads a
// chunk (about 4M weights) at a time, so memory stays at a few tens of MB whatever the model's
// size. On failure the partial output is removed. Errors name the file and the tensor.
Result<QuantizeSummary> quantize_file(const std::string& in_path, const std::string& out_path,
                                      const QuantizeOptions& options);

// ---------------------------------------------------------------------------------------------
// In-memory precision (--precision)

// What a loaded model's F32/F16/BF16 weight matrices are converted to. Already-quantized
// matrices stay as they are. q4_0 and q4_k follow the Q4_0 and Q4_K_M mixes (the logits matrix
// in Q6_K, and for q4_k attn_v/ffn_down in Q6_K where the mix says so).
enum class Precision { kAuto, kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K };

std::optional<Precision> parse_precision(std::string_view name);  // "auto", "f32", "q4_k", ...
std::string_view precision_name(Precision precision);
std::vector<std::string> precision_names();

// MemAvailable from /proc/meminfo, in bytes; nullopt when it cannot be read.
std::optional<uint64_t> available_memory_bytes();

struct PrecisionChoice {
  Precision precision = Precision::kQ8_0;
  std::string reason;  // one clause for the user: "F16 weights 270 MB <= half of 12.1 GB free"
};

// The rule behind `auto`, for a model whose float matrices would take `f16_bytes` in F16 (plus
// the already-quantized ones), given `available` bytes of free memory:
//   - q8_0 when that F16 size is at most half of the available memory: nearly lossless, and
//     half the bytes per token of F16 (decoding reads every weight once per token and is bound
//     by memory bandwidth, so fewer bytes is faster on every CPU);
//   - q4_k (the Q4_K_M mix) when it is more: a quarter of F16's size, to leave room for the
//     KV cache and the rest of the system;
//   - q8_0 when the free memory is unknown.
// CPU features do not change the pick: every SIMD target has integer kernels for both types.
PrecisionChoice choose_auto_precision(uint64_t f16_bytes, std::optional<uint64_t> available);

struct ConversionSummary {
  Precision precision = Precision::kQ8_0;  // resolved (never kAuto)
  std::string reason;                      // why auto picked it; empty when asked for
  size_t n_converted = 0;                  // matrices converted
  size_t n_kept = 0;                       // matrices left as they were
  uint64_t bytes_before = 0;               // all weight matrices
  uint64_t bytes_after = 0;
  double seconds = 0;

  std::string to_string(bool was_auto) const;  // one line for stderr
};

// Converts `model`'s F32/F16/BF16 weight matrices to `precision` in memory, row-parallel on
// n_threads (0: all cores). The model owns the new buffers and its views point at them; tensors
// of the file are not touched. Call before building a Transformer on the model.
Result<ConversionSummary> convert_precision(Model& model, Precision precision, int n_threads = 0);

// The commands' --precision option: "" leaves the model as loaded; a name converts it and
// returns the line to show on stderr (what was picked and converted).
Result<std::string> apply_precision_option(Model& model, std::string_view value, int n_threads);

}  // namespace cove::model
