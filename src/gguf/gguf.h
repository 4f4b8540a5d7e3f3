// GGUF files: metadata key/values and a table of tensors, read over a memory mapping.
//
// Layout (all little-endian; v2 and v3 are identical, v1 is not supported):
//   "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv x { string key, u32 value_type, value }
//   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
//   padding to `general.alignment` (default 32), then the tensor data; each tensor's offset is
//   relative to the start of the data and is a multiple of the alignment.
// A string is a u64 byte length followed by the bytes (no terminator). An array value is a
// u32 element type, a u64 count, then the elements (arrays may nest).
//
// Every count, length, dimension, type and offset is checked against the file size before it
// is used, so a hostile file gives an Error that names the file and the problem.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/file_map.h"
#include "core/result.h"
#include "tensor/tensor_type.h"

namespace cove::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);

struct Value;

struct Array {
  ValueType element_type = ValueType::UINT8;
  std::vector<Value> items;
};

// One metadata value. Integers keep their signedness in `data` (uint64_t or int64_t) and their
// exact width in `type`; FLOAT32 and FLOAT64 are both held as double.
struct Value {
  ValueType type = ValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

  bool is_integer() const;
  bool is_float() const { return type == ValueType::FLOAT32 || type == ValueType::FLOAT64; }
  // Integers as int64 (a uint64 above INT64_MAX fails); floats are not integers.
  std::optional<int64_t> as_int() const;
  // Integers and floats as double.
  std::optional<double> as_double() const;
  const std::string* as_string() const { return std::get_if<std::string>(&data); }
  const Array* as_array() const { return std::get_if<Array>(&data); }
  std::optional<bool> as_bool() const;

  // A one-line rendering; arrays longer than `max_items` are abbreviated.
  std::string to_string(size_t max_items = 8) const;
};

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length (contiguous)
  tensor::TensorType type = tensor::TensorType::F32;
  uint64_t offset = 0;   // from the start of the data section
  uint64_t n_bytes = 0;  // exact size of the tensor's data
  const uint8_t* data = nullptr;

  int64_t n_elements() const;
  int64_t n_rows() const { return shape.empty() ? 0 : n_elements() / shape[0]; }
  std::string shape_string() const;  // "[256, 768]"
};

class File {
 public:
  // Maps and parses `path`. Errors begin with the path.
  static Result<std::unique_ptr<File>> open(const std::string& path);
  // Parses bytes owned by the caller (they must outlive the File). `name` prefixes errors.
  static Result<std::unique_ptr<File>> parse(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return bytes_.size(); }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  // Typed look-ups: a missing key gives nullopt or the fallback; a key of the wrong type gives
  // an Error that names the key and both types.
  Result<std::optional<int64_t>> get_int(std::string_view key) const;
  Result<std::optional<double>> get_double(std::string_view key) const;
  Result<std::optional<std::string>> get_string(std::string_view key) const;
  Result<std::optional<bool>> get_bool(std::string_view key) const;
  // Arrays of strings / numbers. Missing key gives an empty vector and `found` false.
  Result<std::vector<std::string>> get_string_array(std::string_view key) const;
  Result<std::vector<double>> get_number_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  std::unique_ptr<FileMap> map_;  // null when parsing caller-owned bytes
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;

  friend class Parser;
};

// Builds a GGUF v3 file in memory and writes it. Tensors are written in the order added.
// The metadata half of a file being written, shared by Writer and StreamWriter: typed setters
// in order of first use; a repeated key replaces the earlier value in place, and
// "general.alignment" also sets the alignment the tensors are written with.
class MetadataBuilder {
 public:
  void set(std::string key, Value value);
  void set_string(std::string key, std::string value);
  void set_u32(std::string key, uint32_t value);
  void set_i32(std::string key, int32_t value);
  void set_f32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, const std::vector<std::string>& values);
  void set_f32_array(std::string key, const std::vector<float>& values);
  void set_i32_array(std::string key, const std::vector<int32_t>& values);

 protected:
  std::vector<KeyValue> metadata_;
  uint64_t alignment_ = 32;
};

class Writer : public MetadataBuilder {
 public:
  // `data` must hold exactly the tensor's bytes for `type` and `shape` (ggml order).
  void add_tensor(std::string name, std::vector<int64_t> shape, tensor::TensorType type,
                  std::vector<uint8_t> data);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    std::vector<int64_t> shape;
    tensor::TensorType type;
    std::vector<uint8_t> data;
  };
  std::vector<PendingTensor> tensors_;
};

// Writes a GGUF v3 file too large to hold in memory (a multi-gigabyte model), with the same
// bytes Writer would produce for the same metadata and tensors. Everything about the file is
// declared first (metadata, then each tensor's name, shape and type); begin() writes the header
// and tensor table, and the tensors' bytes are then appended in declaration order, in as many
// pieces as the caller likes. Each tensor is padded to the alignment after its last byte.
class StreamWriter : public MetadataBuilder {
 public:
  StreamWriter() = default;
  ~StreamWriter();
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;

  // Metadata: MetadataBuilder's setters.

  // Declares the next tensor. Its data comes later, through write_tensor_data.
  void add_tensor(std::string name, std::vector<int64_t> shape, tensor::TensorType type);

  // Creates `path` and writes the header and the tensor table. Fails (naming the tensor) when a
  // declared shape is empty, has a dimension < 1, or a row length that is not a multiple of its
  // type's block size. Nothing may be declared after.
  Status begin(const std::string& path);
  // Appends the next bytes of the current tensor. A piece may not run past the end of the
  // tensor it belongs to; the padding after a tensor is written when its last byte arrives.
  Status write_tensor_data(std::span<const uint8_t> bytes);
  // Checks that every tensor was written in full, then flushes and closes the file.
  Status finish();

  size_t n_tensors() const { return tensors_.size(); }
  // The tensor the next bytes belong to (n_tensors() when all are written).
  size_t current_tensor() const { return current_; }
  // Bytes of the declared tensor `i` (padding excluded).
  uint64_t tensor_bytes(size_t i) const;
  uint64_t bytes_written() const { return bytes_written_; }  // header included
  uint64_t file_size() const { return file_size_; }          // known after begin()

 private:
  struct DeclaredTensor {
    std::string name;
    std::vector<int64_t> shape;
    tensor::TensorType type;
  };
  Status write_raw(const void* data, size_t n);
  Status pad_to_alignment();

  std::vector<DeclaredTensor> tensors_;
  std::string path_;
  std::FILE* file_ = nullptr;
  size_t current_ = 0;
  uint64_t current_written_ = 0;  // bytes of the current tensor so far
  uint64_t bytes_written_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace cove::gguf
