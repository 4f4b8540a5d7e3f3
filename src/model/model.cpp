#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "kernels/repack.h"

namespace cove::model {
namespace {

// Binds weights by name, checking shape and type, with errors that name the tensor.
class Binder {
 public:
  explicit Binder(const gguf::File& file) : file_(file) {}

  Result<tensor::Matrix> matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) return Error{file_.name() + ": missing tensor '" + name + "'"};
    if (t->shape.size() > 2 || t->shape[0] != n_cols || t->n_rows() != n_rows) {
      return Error{file_.name() + ": tensor '" + name + "' has shape " + t->shape_string() +
                   ", expected [" + std::to_string(n_cols) + ", " + std::to_string(n_rows) + "]"};
    }
    if (!tensor::traits(t->type).can_dequantize) {
      return Error{file_.name() + ": tensor '" + name + "' has type " +
                   std::string(tensor::type_name(t->type)) + ", which cove cannot compute with yet"};
    }
    return tensor::Matrix{t->type, t->data, n_cols, n_rows, tensor::row_size(t->type, n_cols)};
  }

  // A 1-D F32 vector (norm weights, biases). `optional` tensors may be absent (returns null).
  Result<const float*> vector(const std::string& name, int64_t n, bool optional = false) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (optional) return static_cast<const float*>(nullptr);
      return Error{file_.name() + ": missing tensor '" + name + "'"};
    }
    if (t->n_elements() != n || t->type != tensor::TensorType::F32) {
      return Error{file_.name() + ": tensor '" + name + "' is " + t->shape_string() + " " +
                   std::string(tensor::type_name(t->type)) + ", expected [" + std::to_string(n) +
                   "] F32"};
    }
    if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) != 0) {
      return Error{file_.name() + ": tensor '" + name + "' is not 4-byte aligned"};
    }
    return reinterpret_cast<const float*>(t->data);
  }

 private:
  const gguf::File& file_;
};

#define COVE_TRY_ASSIGN(lhs, expr)        \
  do {                                    \
    auto _result = (expr);                \
    if (!_result) return _result.error(); \
    lhs = std::move(*_result);            \
  } while (0)

Result<int64_t> required_int(const gguf::File& f, const std::string& key) {
  Result<std::optional<int64_t>> v = f.get_int(key);
  if (!v) return v.error();
  if (!*v) return Error{f.name() + ": missing metadata '" + key + "'"};
  if (**v <= 0 || **v > (int64_t{1} << 31)) {
    return Error{f.name() + ": metadata '" + key + "' = " + std::to_string(**v) +
                 " is out of range"};
  }
  return **v;
}

Result<Config> read_config(const gguf::File& f) {
  Config c;
  Result<std::optional<std::string>> arch = f.get_string("general.architecture");
  if (!arch) return arch.error();
  if (!*arch) return Error{f.name() + ": missing metadata 'general.architecture'"};
  c.arch_name = **arch;
  if (c.arch_name == "llama") {
    c.arch = Architecture::kLlama;
    c.rope_style = kernels::RopeStyle::kNormal;
  } else if (c.arch_name == "qwen2") {
    c.arch = Architecture::kQwen2;
    c.rope_style = kernels::RopeStyle::kNeox;
  } else {
    return Error{f.name() + ": unsupported architecture '" + c.arch_name +
                 "' (cove runs llama and qwen2)"};
  }
  const std::string p = c.arch_name + ".";
  COVE_TRY_ASSIGN(c.n_embd, required_int(f, p + "embedding_length"));
  COVE_TRY_ASSIGN(c.n_layers, required_int(f, p + "block_count"));
  COVE_TRY_ASSIGN(c.n_heads, required_int(f, p + "attention.head_count"));
  COVE_TRY_ASSIGN(c.n_ff, required_int(f, p + "feed_forward_length"));
  COVE_TRY_ASSIGN(c.n_ctx_train, required_int(f, p + "context_length"));
  c.n_heads_kv = c.n_heads;
  if (f.find(p + "attention.head_count_kv")) {
    COVE_TRY_ASSIGN(c.n_heads_kv, required_int(f, p + "attention.head_count_kv"));
  }
  if (c.n_embd % c.n_heads != 0 || c.n_heads % c.n_heads_kv != 0) {
    return Error{f.name() + ": head counts (" + std::to_string(c.n_heads) + " heads, " +
                 std::to_string(c.n_heads_kv) + " KV heads) do not divide the width " +
                 std::to_string(c.n_embd)};
  }
  c.head_dim = c.n_embd / c.n_heads;
  if (f.find(p + "attention.key_length")) {
    int64_t key_length = 0;
    COVE_TRY_ASSIGN(key_length, required_int(f, p + "attention.key_length"));
    if (key_length != c.head_dim) {
      return Error{f.name() + ": attention.key_length " + std::to_string(key_length) +
                   " differs from embedding_length / head_count; not supported yet"};
    }
  }
  c.rope_dim = c.head_dim;
  if (f.find(p + "rope.dimension_count")) {
    COVE_TRY_ASSIGN(c.rope_dim, required_int(f, p + "rope.dimension_count"));
    if (c.rope_dim > c.head_dim || c.rope_dim % 2 != 0) {
      return Error{f.name() + ": rope.dimension_count " + std::to_string(c.rope_dim) +
                   " must be even and at most the head size " + std::to_string(c.head_dim)};
    }
  }
  auto read_float = [&](const std::string& key, float& out) -> Status {
    Result<std::optional<double>> v = f.get_double(key);
    if (!v) return v.error();
    if (*v) out = static_cast<float>(**v);
    return {};
  };
  if (Status s = read_float(p + "attention.layer_norm_rms_epsilon", c.rms_eps); !s) return Error{s.message()};
  if (Status s = read_float(p + "rope.freq_base", c.rope_base); !s) return Error{s.message()};
  if (!(c.rms_eps > 0) || !(c.rope_base > 0)) {
    return Error{f.name() + ": rms epsilon and rope base must be positive"};
  }

  // Rope scaling: linear (positions scaled), llama3 (per-frequency factors), or none.
  Result<std::optional<std::string>> scaling_type = f.get_string(p + "rope.scaling.type");
  if (!scaling_type) return scaling_type.error();
  float scaling_factor = 1.0f;
  if (Status s = read_float(p + "rope.scaling.factor", scaling_factor); !s) return Error{s.message()};
  if (f.find(p + "rope.scale_linear")) {
    if (Status s = read_float(p + "rope.scale_linear", scaling_factor); !s) return Error{s.message()};
    if (!*scaling_type) *scaling_type = std::string("linear");
  }
  const std::string scaling = scaling_type->value_or("none");
  if (scaling == "linear") {
    if (!(scaling_factor > 0)) return Error{f.name() + ": rope scaling factor must be positive"};
    c.rope_freq_scale = 1.0f / scaling_factor;
  } else if (scaling == "llama3") {
    float low = 1.0f, high = 4.0f, original = 8192.0f;
    if (Status s = read_float(p + "rope.scaling.low_freq_factor", low); !s) return Error{s.message()};
    if (Status s = read_float(p + "rope.scaling.high_freq_factor", high); !s) return Error{s.message()};
    if (Status s = read_float(p + "rope.scaling.original_context_length", original); !s) return Error{s.message()};
    // Each rotating pair i has wavelength 2*pi / base^(-2i/d). Long wavelengths are slowed by
    // the factor, short ones kept, and the band between is interpolated.
    const double low_wavelen = original / low, high_wavelen = original / high;
    for (int64_t i = 0; i < c.rope_dim / 2; ++i) {
      const double freq = std::pow(c.rope_base, -2.0 * i / static_cast<double>(c.rope_dim));
      const double wavelen = 2.0 * M_PI / freq;
      double factor = 1.0;
      if (wavelen > low_wavelen) {
        factor = scaling_factor;
      } else if (wavelen >= high_wavelen && high != low) {
        const double smooth = (original / wavelen - low) / (high - low);
        factor = 1.0 / ((1.0 - smooth) / scaling_factor + smooth);
      }
      c.rope_freq_factors.push_back(static_cast<float>(factor));
    }
  } else if (scaling != "none" && scaling != "") {
    return Error{f.name() + ": unsupported rope scaling type '" + scaling + "'"};
  }
  return c;
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path,
                                           const ModelLoadOptions& options) {
  Result<std::unique_ptr<gguf::File>> file = gguf::File::open(path);
  if (!file) return file.error();
  Result<std::unique_ptr<Model>> m = from_file(std::move(*file));
  if (!m) return m;
  (*m)->mapped_ = true;
  (*m)->repack_requested_ = options.repack;
  if (options.repack) (*m)->repack_weights();
  return m;
}

Result<std::unique_ptr<Model>> Model::from_file(std::unique_ptr<gguf::File> file) {
  std::unique_ptr<Model> m(new Model());
  const gguf::File& f = *file;
  COVE_TRY_ASSIGN(m->config_, read_config(f));
  Config& c = m->config_;

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return Error{f.name() + ": missing tensor 'token_embd.weight'"};
  if (embd->shape.size() != 2) {
    return Error{f.name() + ": tensor 'token_embd.weight' has shape " + embd->shape_string()};
  }
  c.n_vocab = embd->shape[1];
  Binder bind(f);
  COVE_TRY_ASSIGN(m->token_embd_, bind.matrix("token_embd.weight", c.n_embd, c.n_vocab));
  COVE_TRY_ASSIGN(m->output_norm_, bind.vector("output_norm.weight", c.n_embd));
  if (f.find_tensor("output.weight")) {
    COVE_TRY_ASSIGN(m->output_, bind.matrix("output.weight", c.n_embd, c.n_vocab));
  } else {
    m->output_ = m->token_embd_;  // tied embeddings
    m->tied_output_ = true;
  }
  if (const gguf::TensorInfo* freqs = f.find_tensor("rope_freqs.weight")) {
    const float* factors = nullptr;
    COVE_TRY_ASSIGN(factors, bind.vector("rope_freqs.weight", c.rope_dim / 2));
    if (freqs) c.rope_freq_factors.assign(factors, factors + c.rope_dim / 2);
  }

  const int64_t kv_dim = c.kv_dim();
  m->layers_.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = m->layers_[static_cast<size_t>(i)];
    const std::string b = "blk." + std::to_string(i) + ".";
    const bool biases = c.arch == Architecture::kQwen2;
    COVE_TRY_ASSIGN(l.attn_norm, bind.vector(b + "attn_norm.weight", c.n_embd));
    COVE_TRY_ASSIGN(l.wq, bind.matrix(b + "attn_q.weight", c.n_embd, c.n_embd));
    COVE_TRY_ASSIGN(l.wk, bind.matrix(b + "attn_k.weight", c.n_embd, kv_dim));
    COVE_TRY_ASSIGN(l.wv, bind.matrix(b + "attn_v.weight", c.n_embd, kv_dim));
    COVE_TRY_ASSIGN(l.bq, bind.vector(b + "attn_q.bias", c.n_embd, !biases));
    COVE_TRY_ASSIGN(l.bk, bind.vector(b + "attn_k.bias", kv_dim, !biases));
    COVE_TRY_ASSIGN(l.bv, bind.vector(b + "attn_v.bias", kv_dim, !biases));
    COVE_TRY_ASSIGN(l.wo, bind.matrix(b + "attn_output.weight", c.n_embd, c.n_embd));
    COVE_TRY_ASSIGN(l.ffn_norm, bind.vector(b + "ffn_norm.weight", c.n_embd));
    COVE_TRY_ASSIGN(l.w_gate, bind.matrix(b + "ffn_gate.weight", c.n_embd, c.n_ff));
    COVE_TRY_ASSIGN(l.w_up, bind.matrix(b + "ffn_up.weight", c.n_embd, c.n_ff));
    COVE_TRY_ASSIGN(l.w_down, bind.matrix(b + "ffn_down.weight", c.n_ff, c.n_embd));
  }
  m->file_ = std::move(file);
  return m;
}

size_t Model::weight_bytes() const {
  size_t total = output_.n_bytes() + token_embd_.row_bytes;  // one embedding row per token
  for (const LayerWeights& l : layers_) {
    total += l.wq.n_bytes() + l.wk.n_bytes() + l.wv.n_bytes() + l.wo.n_bytes() +
             l.w_gate.n_bytes() + l.w_up.n_bytes() + l.w_down.n_bytes();
  }
  return total;
}

void Model::for_each_matrix(
    const std::function<void(const std::string&, tensor::Matrix&)>& fn) {
  fn("token_embd.weight", token_embd_);
  if (tied_output_) {
    output_ = token_embd_;
  } else {
    fn("output.weight", output_);
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    LayerWeights& l = layers_[i];
    const std::string b = "blk." + std::to_string(i) + ".";
    fn(b + "attn_q.weight", l.wq);
    fn(b + "attn_k.weight", l.wk);
    fn(b + "attn_v.weight", l.wv);
    fn(b + "attn_output.weight", l.wo);
    fn(b + "ffn_gate.weight", l.w_gate);
    fn(b + "ffn_up.weight", l.w_up);
    fn(b + "ffn_down.weight", l.w_down);
  }
}

int Model::repack_weights(bool force) {
  if (!force && !kernels::repack_pays()) return 0;
  int n_repacked = 0;
  const long page = sysconf(_SC_PAGESIZE);
  for_each_matrix([&](const std::string& name, tensor::Matrix& m) {
    // The embedding is only looked up row by row, unless it is also the (tied) output matrix,
    // the largest product of a small model: then it is repacked and lookups unpack their row.
    const bool lookup_only = name == "token_embd.weight" && !tied_output_;
    if (lookup_only || m.repacked || !kernels::repack_supported(m.type)) return;
    auto buffer = std::make_unique<Mapping>();
    buffer->size = kernels::repacked_bytes(m.type, m.n_rows, m.n_cols);
    void* p = mmap(nullptr, buffer->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return;  // out of memory: this matrix keeps the file's layout
    buffer->data = p;
    const int64_t n_groups = (m.n_rows + kernels::kRepackRows - 1) / kernels::kRepackRows;
    kernels::repack_groups(m, 0, n_groups, static_cast<uint8_t*>(p));
    const tensor::Matrix original = m;
    m.data = static_cast<const uint8_t*>(p);
    m.repacked = true;
    repacked_buffers_.push_back(std::move(buffer));
    ++n_repacked;
    bool owned_copy = false;  // a converted copy (--precision), not the mapped file
    for (std::vector<uint8_t>& owned : owned_buffers_) {
      if (!owned.empty() && owned.data() == original.data) {
        std::vector<uint8_t>().swap(owned);
        owned_copy = true;
      }
    }
    if (mapped_ && !owned_copy && page > 0) {
      // The original's whole pages go back to the page cache: resident memory holds one copy.
      const auto begin = reinterpret_cast<uintptr_t>(original.data);
      const uintptr_t first = (begin + page - 1) / page * page;
      const uintptr_t last = (begin + original.n_bytes()) / page * page;
      if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
  });
  return n_repacked;
}

Model::Mapping::~Mapping() {
  if (data) munmap(data, size);
}

const uint8_t* Model::adopt_buffer(std::vector<uint8_t> bytes) {
  owned_buffers_.push_back(std::move(bytes));  // moving a vector keeps its data where it is
  return owned_buffers_.back().data();
}

}  // namespace cove::model
