#include "model/quantizer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/thread_pool.h"
#include "tensor/dequantize.h"
#include "tensor/quantize.h"

namespace cove::model {
namespace {

using tensor::TensorType;

// K types store 256-weight super-blocks.
constexpr int64_t kSuperBlock = 256;

// Rows are converted about this many weights at a time (16 MB of F32): the chunk buffer is all
// the tensor data the quantizer holds, and a chunk gives every thread many rows.
constexpr int64_t kChunkWeights = int64_t{4} << 20;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool is_float_type(TensorType t) {
  return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16;
}

bool is_k_type(TensorType t) {
  return t == TensorType::Q2_K || t == TensorType::Q3_K || t == TensorType::Q4_K ||
         t == TensorType::Q5_K || t == TensorType::Q6_K;
}

// Dimensions as the ecosystem counts them: trailing dimensions of 1 do not count.
size_t n_dims(std::span<const int64_t> shape) {
  size_t n = shape.size();
  while (n > 1 && shape[n - 1] == 1) --n;
  return n;
}

// "blk.12.ffn_down.weight" -> 12; -1 for tensors outside the layers.
int64_t layer_index(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int64_t layer = 0;
  size_t i = 4;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
    layer = layer * 10 + (name[i] - '0');
    if (layer > (int64_t{1} << 30)) return -1;
  }
  return i < name.size() && name[i] == '.' ? layer : -1;
}

// The layers the _M mixes give more bits: the first and last eighth, where quantization hurts
// most, and every third layer between.
bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

// A 32-block type for rows that do not hold whole 256-weight super-blocks, with at least as
// many bits per weight.
TensorType short_row_fallback(TensorType t) {
  switch (t) {
    case TensorType::Q2_K:
    case TensorType::Q3_K:
      return TensorType::Q4_0;  // the ecosystem's IQ4_NL has Q4_0's size; cove cannot write it
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

std::string format_bytes(uint64_t bytes) {
  char text[32];
  if (bytes >= (uint64_t{1} << 30)) {
    std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  } else {
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  }
  return text;
}

// Converts rows [begin, end) of a matrix of n_cols weights from `from` to `to`. `scratch`
// holds n_cols floats for rows that are not F32 already.
void convert_rows(TensorType from, const uint8_t* src, size_t src_row_bytes, TensorType to,
                  uint8_t* dst, size_t dst_row_bytes, int64_t n_cols, int64_t begin, int64_t end,
                  float* scratch) {
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* in = src + static_cast<size_t>(r) * src_row_bytes;
    const float* values = scratch;
    if (from == TensorType::F32 && reinterpret_cast<uintptr_t>(in) % alignof(float) == 0) {
      values = reinterpret_cast<const float*>(in);
    } else {
      tensor::dequantize_row(from, in, scratch, n_cols);
    }
    tensor::quantize_row(to, values, dst + static_cast<size_t>(r) * dst_row_bytes, n_cols);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Mixes

const std::vector<QuantMix>& quant_mixes() {
  static const std::vector<QuantMix> kMixes = {
      {"F32", 0, TensorType::F32},      {"F16", 1, TensorType::F16},
      {"BF16", 32, TensorType::BF16},   {"Q8_0", 7, TensorType::Q8_0},
      {"Q4_0", 2, TensorType::Q4_0},    {"Q4_1", 3, TensorType::Q4_1},
      {"Q5_0", 8, TensorType::Q5_0},    {"Q5_1", 9, TensorType::Q5_1},
      {"Q2_K", 10, TensorType::Q2_K},   {"Q3_K_S", 11, TensorType::Q3_K},
      {"Q3_K_M", 12, TensorType::Q3_K}, {"Q3_K_L", 13, TensorType::Q3_K},
      {"Q4_K_S", 14, TensorType::Q4_K}, {"Q4_K_M", 15, TensorType::Q4_K},
      {"Q5_K_S", 16, TensorType::Q5_K}, {"Q5_K_M", 17, TensorType::Q5_K},
      {"Q6_K", 18, TensorType::Q6_K},
  };
  return kMixes;
}

std::optional<QuantMix> find_quant_mix(std::string_view name) {
  std::string wanted = upper(name);
  if (wanted == "Q3_K" || wanted == "Q4_K" || wanted == "Q5_K") wanted += "_M";
  for (const QuantMix& mix : quant_mixes()) {
    if (mix.name == wanted) return mix;
  }
  return std::nullopt;
}

std::string quant_mix_names() {
  std::string out;
  for (const QuantMix& mix : quant_mixes())
    out += (out.empty() ? "" : ", ") + std::string(mix.name);
  return out;
}

MixContext mix_context(const gguf::File& file) {
  MixContext c;
  std::string arch;
  if (Result<std::optional<std::string>> a = file.get_string("general.architecture"); a && *a) {
    arch = **a;
  }
  auto read_int = [&](const std::string& key) -> std::optional<int64_t> {
    Result<std::optional<int64_t>> v = file.get_int(key);
    return v ? *v : std::nullopt;
  };
  if (std::optional<int64_t> n = read_int(arch + ".block_count"); n && *n > 0) {
    c.n_layers = *n;
  } else {
    for (const gguf::TensorInfo& t : file.tensors()) {
      c.n_layers = std::max(c.n_layers, layer_index(t.name) + 1);
    }
  }
  const std::optional<int64_t> heads = read_int(arch + ".attention.head_count");
  const std::optional<int64_t> heads_kv = read_int(arch + ".attention.head_count_kv");
  if (heads && heads_kv && *heads > 0 && *heads_kv > 0) c.n_gqa = *heads / *heads_kv;
  c.has_output = file.find_tensor("output.weight") != nullptr;
  c.is_llama_70b = arch == "llama" && c.n_layers == 80 && c.n_gqa > 1;
  return c;
}

bool is_quantizable_weight(std::string_view name, std::span<const int64_t> shape) {
  if (!name.ends_with("weight") || n_dims(shape) < 2) return false;
  // Small or precision-critical weights the ecosystem keeps as they are.
  static constexpr std::string_view kKept[] = {"_norm.weight",
                                               "ffn_gate_inp.weight",
                                               "ssm_conv1d.weight",
                                               "time_mix_first.weight",
                                               "time_mix_w1.weight",
                                               "time_mix_w2.weight",
                                               "time_mix_decay_w1.weight",
                                               "time_mix_decay_w2.weight",
                                               "time_mix_lerp_fused.weight"};
  for (std::string_view kept : kKept) {
    if (contains(name, kept)) return false;
  }
  return name != "position_embd.weight" && name != "token_types.weight";
}

TensorType choose_tensor_type(const QuantMix& mix, const MixContext& context, std::string_view name,
                              int64_t row_length, bool* fell_back) {
  if (fell_back) *fell_back = false;
  TensorType t = mix.base;
  if (!is_float_type(t)) {
    const std::string_view m = mix.name;
    const int64_t layer = layer_index(name);
    const int64_t n = context.n_layers;
    const bool makes_logits =
        name == "output.weight" || (!context.has_output && name == "token_embd.weight");
    if (makes_logits) {
      if (row_length % kSuperBlock != 0) {
        t = TensorType::Q8_0;
      } else if (t != TensorType::Q8_0) {
        t = TensorType::Q6_K;
      }
    } else if (contains(name, "attn_v.weight")) {
      if (m == "Q2_K") {
        t = context.n_gqa >= 4 ? TensorType::Q4_K : TensorType::Q3_K;
      } else if (m == "Q3_K_M") {
        t = layer < 2 ? TensorType::Q5_K : TensorType::Q4_K;
      } else if (m == "Q3_K_L") {
        t = TensorType::Q5_K;
      } else if ((m == "Q4_K_M" || m == "Q5_K_M") && use_more_bits(layer, n)) {
        t = TensorType::Q6_K;
      } else if (m == "Q4_K_S" && layer < 4) {
        t = TensorType::Q5_K;
      }
      // With 8 query heads per KV head, attn_v is 8x smaller than attn_q: more bits are cheap.
      if (context.is_llama_70b && (t == TensorType::Q3_K || t == TensorType::Q4_K)) {
        t = TensorType::Q5_K;
      }
    } else if (contains(name, "ffn_down")) {
      if (m == "Q2_K") {
        t = TensorType::Q3_K;
      } else if (m == "Q3_K_M") {
        t = layer < n / 16 ? TensorType::Q5_K : TensorType::Q4_K;
      } else if (m == "Q3_K_L") {
        t = TensorType::Q5_K;
      } else if ((m == "Q4_K_M" || m == "Q5_K_M") && use_more_bits(layer, n)) {
        t = TensorType::Q6_K;
      } else if (m == "Q4_K_S" && layer < n / 8) {
        t = TensorType::Q5_K;
      }
    } else if (contains(name, "attn_output.weight")) {
      if (m == "Q2_K") {
        t = TensorType::Q3_K;
      } else if (m == "Q3_K_M") {
        t = TensorType::Q4_K;
      } else if (m == "Q3_K_L") {
        t = TensorType::Q5_K;
      }
    } else if (contains(name, "attn_qkv.weight")) {
      if (m == "Q3_K_M" || m == "Q3_K_L") {
        t = TensorType::Q4_K;
      } else if (m == "Q4_K_M") {
        t = TensorType::Q5_K;
      } else if (m == "Q5_K_M") {
        t = TensorType::Q6_K;
      }
    }
  }
  if (is_k_type(t) && row_length % kSuperBlock != 0) {
    t = short_row_fallback(t);
    if (fell_back) *fell_back = true;
  }
  if (row_length % tensor::traits(t).block_size != 0) {
    t = TensorType::F16;
    if (fell_back) *fell_back = true;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Quantizing a file

Result<std::vector<TensorPlan>> plan_quantization(const gguf::File& in, const QuantMix& mix) {
  const MixContext context = mix_context(in);
  std::vector<TensorPlan> plan;
  plan.reserve(in.tensors().size());
  for (const gguf::TensorInfo& t : in.tensors()) {
    TensorPlan p{t.name, t.shape, t.type, t.type};
    if (is_quantizable_weight(t.name, t.shape)) {
      p.to = choose_tensor_type(mix, context, t.name, t.shape[0], &p.fell_back);
      p.quantized = true;
    } else if (n_dims(t.shape) == 1 && (t.type == TensorType::F16 || t.type == TensorType::BF16)) {
      p.to = TensorType::F32;  // norms and biases stay in full precision
    }
    if (p.to != p.from && !tensor::traits(p.from).can_dequantize) {
      return Error{in.name() + ": tensor '" + t.name + "' has type " +
                   std::string(tensor::type_name(p.from)) +
                   ", which cove cannot read to convert it to " +
                   std::string(tensor::type_name(p.to))};
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

Result<QuantizeSummary> quantize_file(const std::string& in_path, const std::string& out_path,
                                      const QuantizeOptions& options) {
  Result<std::unique_ptr<gguf::File>> opened = gguf::File::open(in_path);
  if (!opened) return opened.error();
  const gguf::File& in = **opened;
  std::error_code ec;
  if (std::filesystem::equivalent(in_path, out_path, ec)) {
    return Error{out_path + ": this is the input file; write the output to another path"};
  }
  Result<std::vector<TensorPlan>> planned = plan_quantization(in, options.mix);
  if (!planned) return planned.error();
  const std::vector<TensorPlan>& plan = *planned;

  QuantizeSummary summary;
  summary.n_tensors = plan.size();
  std::map<std::string, size_t> requantized_from;
  const TensorPlan* first_fallback = nullptr;
  for (const TensorPlan& p : plan) {
    if (!p.quantized) continue;
    ++summary.n_quantized;
    if (p.to != p.from && !is_float_type(p.from)) {
      ++summary.n_requantized;
      ++requantized_from[std::string(tensor::type_name(p.from))];
    }
    if (p.fell_back) {
      ++summary.n_fell_back;
      if (!first_fallback) first_fallback = &p;
    }
  }
  summary.input_bytes = in.file_size();
  if (options.on_warning && summary.n_requantized > 0) {
    std::string types;
    for (const auto& [name, count] : requantized_from) {
      types += (types.empty() ? "" : ", ") + std::to_string(count) + " " + name;
    }
    options.on_warning(in.name() + ": " + std::to_string(summary.n_requantized) +
                       " tensors are already quantized (" + types +
                       "); they are dequantized and quantized again, which loses more quality "
                       "than quantizing the original F32/F16 weights");
  }
  if (options.on_warning && first_fallback) {
    options.on_warning(std::to_string(summary.n_fell_back) + " tensors have rows that do not fit " +
                       std::string(options.mix.name) +
                       "'s blocks and use another type (first: " + first_fallback->name +
                       " rows of " + std::to_string(first_fallback->shape[0]) + " -> " +
                       std::string(tensor::type_name(first_fallback->to)) + ")");
  }

  gguf::StreamWriter writer;
  for (const gguf::KeyValue& kv : in.metadata()) {
    if (kv.key == "general.file_type" || kv.key == "general.quantization_version") continue;
    writer.set(kv.key, kv.value);
  }
  writer.set_u32("general.quantization_version", 2);
  writer.set_u32("general.file_type", options.mix.file_type);
  for (const TensorPlan& p : plan) writer.add_tensor(p.name, p.shape, p.to);
  if (Status s = writer.begin(out_path); !s) return Error{s.message()};

  // From here on a failure leaves a partial file, which is removed.
  auto fail = [&](const std::string& message) -> Result<QuantizeSummary> {
    std::remove(out_path.c_str());
    return Error{message};
  };

  ThreadPool pool(options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads());
  int64_t max_row = 1;
  for (const TensorPlan& p : plan) max_row = std::max(max_row, p.shape[0]);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.n_threads()),
                                          std::vector<float>(static_cast<size_t>(max_row)));
  std::vector<uint8_t> chunk;
  QuantizeProgress progress;
  progress.n_tensors = plan.size();
  progress.file_size = writer.file_size();
  auto report = [&]() {
    progress.bytes_written = writer.bytes_written();
    if (options.on_progress) options.on_progress(progress);
  };

  for (size_t index = 0; index < plan.size(); ++index) {
    const TensorPlan& p = plan[index];
    const gguf::TensorInfo& t = in.tensors()[index];
    progress.tensor_index = index;
    progress.tensor = &p;
    if (p.to == p.from) {
      // Same type: the bytes are copied as they are, a few MB at a time.
      constexpr uint64_t kPiece = uint64_t{8} << 20;
      for (uint64_t done = 0; done < t.n_bytes; done += kPiece) {
        const size_t n = static_cast<size_t>(std::min(kPiece, t.n_bytes - done));
        if (Status s = writer.write_tensor_data({t.data + done, n}); !s) return fail(s.message());
        report();
      }
      continue;
    }
    const int64_t n_cols = p.shape[0];
    const int64_t n_rows = t.n_rows();
    const size_t src_row_bytes = tensor::row_size(p.from, n_cols);
    const size_t dst_row_bytes = tensor::row_size(p.to, n_cols);
    const int64_t rows_per_chunk = std::clamp<int64_t>(kChunkWeights / n_cols, 1, n_rows);
    chunk.resize(static_cast<size_t>(rows_per_chunk) * dst_row_bytes);
    for (int64_t first = 0; first < n_rows; first += rows_per_chunk) {
      const int64_t count = std::min(rows_per_chunk, n_rows - first);
      const uint8_t* src = t.data + static_cast<size_t>(first) * src_row_bytes;
      pool.parallel_for(count, 1, [&](int64_t begin, int64_t end, int thread) {
        convert_rows(p.from, src, src_row_bytes, p.to, chunk.data(), dst_row_bytes, n_cols, begin,
                     end, scratch[static_cast<size_t>(thread)].data());
      });
      Status s =
          writer.write_tensor_data({chunk.data(), static_cast<size_t>(count) * dst_row_bytes});
      if (!s) return fail(s.message());
      report();
    }
  }
  if (Status s = writer.finish(); !s) return fail(s.message());
  summary.output_bytes = writer.file_size();
  return summary;
}

// ---------------------------------------------------------------------------------------------
// In-memory precision

namespace {

struct PrecisionEntry {
  Precision precision;
  std::string_view name;
  std::string_view mix;  // the QuantMix it converts with
};

constexpr PrecisionEntry kPrecisions[] = {
    {Precision::kAuto, "auto", ""},       {Precision::kF32, "f32", "F32"},
    {Precision::kF16, "f16", "F16"},      {Precision::kBF16, "bf16", "BF16"},
    {Precision::kQ8_0, "q8_0", "Q8_0"},   {Precision::kQ4_0, "q4_0", "Q4_0"},
    {Precision::kQ4_K, "q4_k", "Q4_K_M"},
};

}  // namespace

std::optional<Precision> parse_precision(std::string_view name) {
  const std::string wanted = upper(name);
  for (const PrecisionEntry& e : kPrecisions) {
    if (upper(e.name) == wanted) return e.precision;
  }
  return std::nullopt;
}

std::string_view precision_name(Precision precision) {
  for (const PrecisionEntry& e : kPrecisions) {
    if (e.precision == precision) return e.name;
  }
  return "?";
}

std::vector<std::string> precision_names() {
  std::vector<std::string> names;
  for (const PrecisionEntry& e : kPrecisions) names.emplace_back(e.name);
  return names;
}

std::optional<uint64_t> available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return std::nullopt;
}

PrecisionChoice choose_auto_precision(uint64_t f16_bytes, std::optional<uint64_t> available) {
  if (!available) return {Precision::kQ8_0, "free memory unknown"};
  const std::string sizes =
      "F16 weights " + format_bytes(f16_bytes) + ", " + format_bytes(*available) + " available";
  if (f16_bytes <= *available / 2) return {Precision::kQ8_0, sizes + ": F16 fits in half"};
  return {Precision::kQ4_K, sizes + ": F16 needs more than half"};
}

std::string ConversionSummary::to_string(bool was_auto) const {
  std::string line = "precision ";
  line += was_auto ? "auto -> " + std::string(precision_name(precision)) + " (" + reason + ")"
                   : std::string(precision_name(precision));
  if (n_converted == 0) {
    return line + ": nothing to convert (" + std::to_string(n_kept) +
           " weight matrices already in their type)";
  }
  char timing[64];
  std::snprintf(timing, sizeof timing, " in %.2f s", seconds);
  return line + ": converted " + std::to_string(n_converted) + " of " +
         std::to_string(n_converted + n_kept) + " weight matrices, " + format_bytes(bytes_before) +
         " -> " + format_bytes(bytes_after) + timing;
}

Result<ConversionSummary> convert_precision(Model& model, Precision precision, int n_threads) {
  const auto start = std::chrono::steady_clock::now();
  ConversionSummary summary;
  summary.precision = precision;
  if (precision == Precision::kAuto) {
    uint64_t f16_bytes = 0;
    model.for_each_matrix([&](const std::string&, tensor::Matrix& m) {
      f16_bytes += is_float_type(m.type)
                       ? static_cast<uint64_t>(m.n_cols) * static_cast<uint64_t>(m.n_rows) * 2
                       : m.n_bytes();
    });
    PrecisionChoice choice = choose_auto_precision(f16_bytes, available_memory_bytes());
    summary.precision = choice.precision;
    summary.reason = std::move(choice.reason);
  }
  std::optional<QuantMix> mix;
  for (const PrecisionEntry& e : kPrecisions) {
    if (e.precision == summary.precision) mix = find_quant_mix(e.mix);
  }
  if (!mix) return Error{"unknown precision"};

  const Config& c = model.config();
  MixContext context;
  context.n_layers = c.n_layers;
  context.n_gqa = c.n_heads / c.n_heads_kv;
  context.has_output = !model.tied_output();
  context.is_llama_70b = c.arch == Architecture::kLlama && c.n_layers == 80 && context.n_gqa > 1;

  ThreadPool pool(n_threads > 0 ? n_threads : ThreadPool::default_threads());
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.n_threads()));
  model.for_each_matrix([&](const std::string& name, tensor::Matrix& m) {
    summary.bytes_before += m.n_bytes();
    const TensorType to =
        is_float_type(m.type) ? choose_tensor_type(*mix, context, name, m.n_cols) : m.type;
    if (to == m.type) {
      ++summary.n_kept;
      summary.bytes_after += m.n_bytes();
      return;
    }
    const size_t row_bytes = tensor::row_size(to, m.n_cols);
    std::vector<uint8_t> converted(row_bytes * static_cast<size_t>(m.n_rows));
    for (std::vector<float>& s : scratch) s.resize(static_cast<size_t>(m.n_cols));
    pool.parallel_for(m.n_rows, 4, [&](int64_t begin, int64_t end, int thread) {
      convert_rows(m.type, m.data, m.row_bytes, to, converted.data(), row_bytes, m.n_cols, begin,
                   end, scratch[static_cast<size_t>(thread)].data());
    });
    m = tensor::Matrix{to, model.adopt_buffer(std::move(converted)), m.n_cols, m.n_rows, row_bytes};
    ++summary.n_converted;
    summary.bytes_after += m.n_bytes();
  });
  if (model.repack_requested()) model.repack_weights();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

Result<std::string> apply_precision_option(Model& model, std::string_view value, int n_threads) {
  if (value.empty()) return std::string();
  std::optional<Precision> precision = parse_precision(value);
  if (!precision) {
    std::string known;
    for (const std::string& name : precision_names()) known += (known.empty() ? "" : "|") + name;
    return Error{"--precision: unknown value '" + std::string(value) + "' (" + known + ")"};
  }
  Result<ConversionSummary> summary = convert_precision(model, *precision, n_threads);
  if (!summary) return summary.error();
  return summary->to_string(*precision == Precision::kAuto);
}

}  // namespace cove::model
