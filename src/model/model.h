// A loaded model: hyper-parameters read from GGUF metadata and weights bound to the mapped
// tensors (never copied). Supported architectures: `llama` (Llama 2/3/3.x, Mistral, TinyLlama,
// SmolLM) and `qwen2` (Llama-like with Q/K/V biases and NeoX-style rope).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"
#include "tensor/matrix.h"

namespace cove::model {

enum class Architecture { kLlama, kQwen2 };

struct Config {
  Architecture arch = Architecture::kLlama;
  std::string arch_name;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;       // model width
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_heads_kv = 0;   // < n_heads for grouped-query attention
  int64_t head_dim = 0;     // n_embd / n_heads
  int64_t n_ff = 0;         // feed-forward width
  int64_t n_ctx_train = 0;  // context length the model was trained with
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // linear scaling: positions are multiplied by this
  int64_t rope_dim = 0;          // leading dims of each head that rotate
  kernels::RopeStyle rope_style = kernels::RopeStyle::kNormal;
  // Llama 3.x frequency scaling ("llama3"); factors per frequency when present.
  std::vector<float> rope_freq_factors;

  int64_t kv_dim() const { return n_heads_kv * head_dim; }
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // (n_embd)
  tensor::Matrix wq, wk, wv;         // (n_embd -> n_embd), (n_embd -> kv_dim) x2
  const float* bq = nullptr;         // biases (qwen2), null when absent
  const float* bk = nullptr;
  const float* bv = nullptr;
  tensor::Matrix wo;                 // (n_embd -> n_embd)
  const float* ffn_norm = nullptr;   // (n_embd)
  tensor::Matrix w_gate, w_up;       // (n_embd -> n_ff)
  tensor::Matrix w_down;             // (n_ff -> n_embd)
};

struct ModelLoadOptions {
  // Repack the weight matrices (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K) into the rows-in-lanes layout
  // of kernels/repack.h when this CPU runs its kernels (AVX-512 VNNI). Each repacked copy
  // replaces the mapped pages of its tensor, which are released as soon as it is made.
  bool repack = false;
};

class Model {
 public:
  // Loads `path`: parses the GGUF, reads the config, binds every weight. Errors name the file
  // and the missing or malformed tensor or key.
  static Result<std::unique_ptr<Model>> load(const std::string& path,
                                             const ModelLoadOptions& options = {});
  static Result<std::unique_ptr<Model>> from_file(std::unique_ptr<gguf::File> file);

  const Config& config() const { return config_; }
  const gguf::File& file() const { return *file_; }
  const tensor::Matrix& token_embedding() const { return token_embd_; }  // (n_vocab rows)
  const float* output_norm() const { return output_norm_; }
  const tensor::Matrix& output() const { return output_; }  // (n_embd -> n_vocab), maybe tied
  const std::vector<LayerWeights>& layers() const { return layers_; }
  // Bytes of weights one decoded token reads (every matrix once).
  size_t weight_bytes() const;
  // True when the logits come from the token embedding (no output.weight).
  bool tied_output() const { return tied_output_; }

  // Rewriting weights (in-memory precision conversion, model/quantizer.h). for_each_matrix
  // calls fn(tensor name, view) for every weight matrix: the token embedding, the output unless
  // it is tied, then each layer's seven. fn may rebind the view to memory from adopt_buffer;
  // a tied output follows the embedding.
  void for_each_matrix(const std::function<void(const std::string&, tensor::Matrix&)>& fn);
  // Keeps `bytes` alive as long as the model and returns where they are.
  const uint8_t* adopt_buffer(std::vector<uint8_t> bytes);

  // Repacks every matrix that kernels/repack.h supports (not the token embedding, whose rows
  // are looked up, unless it is also the tied output; lookups then restore their row) when
  // repacking pays on this CPU, or always when `force`
  // (tests: the other targets then restore rows from the repacked layout). Matrices bound to
  // the mapped file have their pages released. Returns how many matrices were repacked.
  int repack_weights(bool force = false);
  // Whether the model was loaded with ModelLoadOptions::repack (matrices converted later, e.g.
  // by --precision, are repacked too).
  bool repack_requested() const { return repack_requested_; }

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  Config config_;
  tensor::Matrix token_embd_;
  const float* output_norm_ = nullptr;
  tensor::Matrix output_;
  std::vector<LayerWeights> layers_;
  bool tied_output_ = false;
  bool mapped_ = false;
  bool repack_requested_ = false;  // weights come from File::open's mapping (pages may be released)
  std::vector<std::vector<uint8_t>> owned_buffers_;  // converted weights (adopt_buffer)
  // Repacked weights, each in its own anonymous mapping (page-aligned, and kept out of the
  // heap so that heap holes left by later scratch growth cannot sit under them).
  struct Mapping {
    void* data = nullptr;
    size_t size = 0;
    ~Mapping();
  };
  std::vector<std::unique_ptr<Mapping>> repacked_buffers_;
};

}  // namespace cove::model
