// Synthetic models: real architectures' dimensions with seeded random weights, written as GGUF
// files that cove and llama.cpp both load, so that anyone can benchmark realistic shapes offline
// (speed does not depend on the weights' values).
//
// Tensor types follow the rules of the ecosystem's quantizer, so that a synthetic file has the
// size of a real one of the same type (and so reads the same bytes per token):
//   - norms and biases are F32;
//   - with a quantized base type other than Q8_0, the output matrix (or the token embedding when
//     the output is tied to it) is Q6_K;
//   - the "_M" mixes (Q4_K_M, Q5_K_M) store attn_v and ffn_down in Q6_K in half of the layers:
//     the first and last eighth, and every third layer between;
//   - a K type on rows whose length is not a multiple of 256 falls back to a 32-block type of at
//     least as many bits: Q2_K -> Q4_0, Q3_K -> Q4_1, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0.
// TODO(quantize): `cove quantize` will own the exact mixes; this file should then ask it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tensor/tensor_type.h"

namespace cove::model {

// The hyper-parameters of a model family, as written to the GGUF metadata.
struct SynthShape {
  std::string name;            // "smollm2-135m"
  std::string arch = "llama";  // "llama" or "qwen2" (Q/K/V biases, NeoX rope)
  int64_t n_embd = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;
  int64_t n_ff = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx = 0;         // training context written to the metadata
  bool tied_output = false;  // the output matrix is the token embedding
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;

  bool has_qkv_bias() const { return arch == "qwen2"; }
};

// The shapes `cove synth --shape` knows: smollm2-135m, qwen2.5-0.5b, llama-1b, llama-8b.
std::vector<std::string> synth_shape_names();
std::optional<SynthShape> find_synth_shape(std::string_view name);

// What the weight matrices are stored as: a single tensor type, or an "_M" mix of K types.
struct SynthType {
  std::string name;  // as given: "Q4_0", "Q4_K_M"
  tensor::TensorType base = tensor::TensorType::F32;
  bool medium_mix = false;
};

// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, Q4_K_M, Q5_K_M (case-insensitive).
std::optional<SynthType> parse_synth_type(std::string_view name);
std::vector<std::string> synth_type_names();

// One tensor of the file, in the order written.
struct SynthTensor {
  std::string name;            // "blk.3.attn_v.weight"
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  tensor::TensorType type;
};

// Every tensor of a model of `shape` stored as `type`, with the types chosen by the rules above.
// Fails when a row length is not a multiple of its type's block size.
Result<std::vector<SynthTensor>> plan_synthetic_tensors(const SynthShape& shape,
                                                        const SynthType& type);

struct SynthProgress {
  size_t tensor_index = 0;  // the tensor being written
  size_t n_tensors = 0;
  const std::string* tensor_name = nullptr;
  uint64_t bytes_written = 0;
  uint64_t file_size = 0;
};

struct SynthOptions {
  SynthShape shape;
  SynthType type;
  uint64_t seed = 0;
  int n_threads = 0;  // quantization threads; 0: all cores
  // Called after each written piece (a few MB); may be empty.
  std::function<void(const SynthProgress&)> on_progress;
};

// Writes the model to `path`, streaming: memory stays at a few MB per thread whatever the model
// size. The same options give the same bytes, whatever the thread count.
Status write_synthetic_model(const SynthOptions& options, const std::string& path);

}  // namespace cove::model
