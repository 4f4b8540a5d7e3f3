// Tensor element types, numbered as in GGUF files (the ggml type ids).
//
// Quantized types store weights in blocks: `block_size` weights share one or more scales and
// take `type_size` bytes. A row of n weights (n a multiple of block_size) takes
// n / block_size * type_size bytes. The block structs themselves are in tensor/blocks.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cove::tensor {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct TypeTraits {
  std::string_view name;  // as the ecosystem spells it: "Q4_K", "F16", ...
  int64_t block_size;     // weights per block
  size_t type_size;       // bytes per block
  bool can_dequantize;    // cove has a reference dequantizer for it (and so can run it)
};

// Traits of a type id read from a file; nullopt for an id cove does not know.
std::optional<TypeTraits> type_traits(uint32_t type_id);
const TypeTraits& traits(TensorType type);

inline std::string_view type_name(TensorType type) { return traits(type).name; }
std::optional<TensorType> type_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n weights; n must be a multiple of the block size.
inline size_t row_size(TensorType type, int64_t n) {
  const TypeTraits& t = traits(type);
  return static_cast<size_t>(n / t.block_size) * t.type_size;
}

}  // namespace cove::tensor
