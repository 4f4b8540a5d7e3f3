#include "gguf/gguf.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <fstream>
#include <limits>

namespace cove::gguf {

// ---------------------------------------------------------------------------------------------
// Values

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool Value::is_integer() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}

std::optional<int64_t> Value::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&data)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&data)) return *i;
  return std::nullopt;
}

std::optional<double> Value::as_double() const {
  if (const auto* d = std::get_if<double>(&data)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (const auto* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

namespace {

void append_quoted(std::string& out, const std::string& s, size_t max_chars = 200) {
  out += '"';
  size_t n = 0;
  for (unsigned char c : s) {
    if (n++ == max_chars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

}  // namespace

std::string Value::to_string(size_t max_items) const {
  std::string out;
  if (const auto* u = std::get_if<uint64_t>(&data)) return std::to_string(*u);
  if (const auto* i = std::get_if<int64_t>(&data)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&data)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", *d);
    return buf;
  }
  if (const auto* b = std::get_if<bool>(&data)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&data)) {
    append_quoted(out, *s);
    return out;
  }
  const Array& array = std::get<Array>(data);
  out = "[";
  for (size_t k = 0; k < array.items.size(); ++k) {
    if (k == max_items) {
      out += ", ... (" + std::to_string(array.items.size()) + " " +
             std::string(value_type_name(array.element_type)) + "s)";
      break;
    }
    if (k > 0) out += ", ";
    out += array.items[k].to_string(max_items);
  }
  return out + "]";
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_string() const {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k > 0) out += ", ";
    out += std::to_string(shape[k]);
  }
  return out + "]";
}

// ---------------------------------------------------------------------------------------------
// Reading

// Reads the header with a cursor that checks every read against the end of the bytes.
class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  Status parse(File& file);

 private:
  static constexpr uint64_t kMaxArrayDepth = 8;
  static constexpr uint64_t kMaxDims = 4;

  Error fail(const std::string& what) const {
    return Error{name_ + ": " + what + " (at byte " + std::to_string(pos_) + ")"};
  }
  bool has(uint64_t n) const { return n <= bytes_.size() - pos_; }

  template <class T>
  bool read(T& out) {
    if (!has(sizeof(T))) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  Status read_string(std::string& out, const char* what);
  Status read_value(ValueType type, Value& out, int depth);

  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

Status Parser::read_string(std::string& out, const char* what) {
  uint64_t length = 0;
  if (!read(length)) return fail(std::string("file ends inside the length of ") + what);
  if (!has(length)) {
    return fail(std::string(what) + " length " + std::to_string(length) +
                " runs past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
  }
  out.assign(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
  pos_ += length;
  return {};
}

namespace {

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::FLOAT64); }

// Smallest encoded size of one element of `type`, used to reject array counts that cannot fit.
uint64_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

}  // namespace

Status Parser::read_value(ValueType type, Value& out, int depth) {
  out.type = type;
  switch (type) {
    case ValueType::UINT8: {
      uint8_t v;
      if (!read(v)) break;
      out.data = uint64_t{v};
      return {};
    }
    case ValueType::INT8: {
      int8_t v;
      if (!read(v)) break;
      out.data = int64_t{v};
      return {};
    }
    case ValueType::UINT16: {
      uint16_t v;
      if (!read(v)) break;
      out.data = uint64_t{v};
      return {};
    }
    case ValueType::INT16: {
      int16_t v;
      if (!read(v)) break;
      out.data = int64_t{v};
      return {};
    }
    case ValueType::UINT32: {
      uint32_t v;
      if (!read(v)) break;
      out.data = uint64_t{v};
      return {};
    }
    case ValueType::INT32: {
      int32_t v;
      if (!read(v)) break;
      out.data = int64_t{v};
      return {};
    }
    case ValueType::UINT64: {
      uint64_t v;
      if (!read(v)) break;
      out.data = v;
      return {};
    }
    case ValueType::INT64: {
      int64_t v;
      if (!read(v)) break;
      out.data = v;
      return {};
    }
    case ValueType::FLOAT32: {
      float v;
      if (!read(v)) break;
      out.data = static_cast<double>(v);
      return {};
    }
    case ValueType::FLOAT64: {
      double v;
      if (!read(v)) break;
      out.data = v;
      return {};
    }
    case ValueType::BOOL: {
      uint8_t v;
      if (!read(v)) break;
      if (v > 1) return fail("bool value " + std::to_string(v) + " is neither 0 nor 1");
      out.data = v == 1;
      return {};
    }
    case ValueType::STRING: {
      std::string s;
      if (Status st = read_string(s, "string value"); !st) return st;
      out.data = std::move(s);
      return {};
    }
    case ValueType::ARRAY: {
      if (depth >= static_cast<int>(kMaxArrayDepth)) return fail("arrays nested too deeply");
      uint32_t element_type = 0;
      uint64_t count = 0;
      if (!read(element_type) || !read(count)) break;
      if (!valid_value_type(element_type)) {
        return fail("array has unknown element type " + std::to_string(element_type));
      }
      Array array;
      array.element_type = static_cast<ValueType>(element_type);
      const uint64_t remaining = bytes_.size() - pos_;
      if (count > remaining / min_encoded_size(array.element_type)) {
        return fail("array count " + std::to_string(count) + " cannot fit in the " +
                    std::to_string(remaining) + " bytes left in the file");
      }
      array.items.resize(count);
      for (uint64_t k = 0; k < count; ++k) {
        if (Status st = read_value(array.element_type, array.items[k], depth + 1); !st) return st;
      }
      out.data = std::move(array);
      return {};
    }
  }
  return fail("file ends inside a " + std::string(value_type_name(type)) + " value");
}

Status Parser::parse(File& file) {
  uint32_t magic = 0;
  if (!read(magic)) return fail("too short to be a GGUF file");
  if (std::memcmp(&magic, "GGUF", 4) != 0) return fail("not a GGUF file (bad magic)");
  if (!read(file.version_)) return fail("file ends inside the header");
  if (file.version_ < 2 || file.version_ > 3) {
    return fail("unsupported GGUF version " + std::to_string(file.version_) +
                " (cove reads versions 2 and 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  if (!read(n_tensors) || !read(n_kv)) return fail("file ends inside the header");
  // Each key/value takes at least 13 bytes, each tensor info at least 28.
  if (n_kv > (bytes_.size() - pos_) / 13) {
    return fail("metadata count " + std::to_string(n_kv) + " cannot fit in the file");
  }
  if (n_tensors > (bytes_.size() - pos_) / 28) {
    return fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file");
  }

  file.metadata_.resize(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    KeyValue& kv = file.metadata_[k];
    if (Status st = read_string(kv.key, "metadata key"); !st) return st;
    uint32_t type = 0;
    if (!read(type)) return fail("file ends inside the type of key '" + kv.key + "'");
    if (!valid_value_type(type)) {
      return fail("key '" + kv.key + "' has unknown value type " + std::to_string(type));
    }
    if (Status st = read_value(static_cast<ValueType>(type), kv.value, 0); !st) {
      return Error{st.message() + " [key '" + kv.key + "']"};
    }
  }

  if (const Value* a = file.find("general.alignment")) {
    std::optional<int64_t> alignment = a->as_int();
    if (!alignment || *alignment <= 0 || (*alignment & (*alignment - 1)) != 0 ||
        *alignment > (1 << 20)) {
      return fail("general.alignment " + a->to_string() + " is not a power of two");
    }
    file.alignment_ = static_cast<uint64_t>(*alignment);
  }

  file.tensors_.resize(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo& t = file.tensors_[k];
    if (Status st = read_string(t.name, "tensor name"); !st) return st;
    uint32_t n_dims = 0;
    if (!read(n_dims)) return fail("file ends inside tensor '" + t.name + "'");
    if (n_dims == 0 || n_dims > kMaxDims) {
      return fail("tensor '" + t.name + "' has " + std::to_string(n_dims) +
                  " dimensions (1 to 4 allowed)");
    }
    t.shape.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (!read(dim)) return fail("file ends inside tensor '" + t.name + "'");
      if (dim == 0 || dim > (uint64_t{1} << 40) || n_elements > (uint64_t{1} << 50) / dim) {
        return fail("tensor '" + t.name + "' has an impossible dimension " + std::to_string(dim));
      }
      n_elements *= dim;
      t.shape[d] = static_cast<int64_t>(dim);
    }
    uint32_t type_id = 0;
    if (!read(type_id) || !read(t.offset)) {
      return fail("file ends inside tensor '" + t.name + "'");
    }
    std::optional<tensor::TypeTraits> traits = tensor::type_traits(type_id);
    if (!traits) {
      return fail("tensor '" + t.name + "' has unknown type " + std::to_string(type_id));
    }
    t.type = static_cast<tensor::TensorType>(type_id);
    if (t.shape[0] % traits->block_size != 0) {
      return fail("tensor '" + t.name + "' row length " + std::to_string(t.shape[0]) +
                  " is not a multiple of the " + std::string(traits->name) + " block size " +
                  std::to_string(traits->block_size));
    }
    t.n_bytes = n_elements / traits->block_size * traits->type_size;
    if (t.offset % file.alignment_ != 0) {
      return fail("tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                  " is not a multiple of the alignment " + std::to_string(file.alignment_));
    }
  }

  const uint64_t header_end = pos_;
  file.data_offset_ = (header_end + file.alignment_ - 1) / file.alignment_ * file.alignment_;
  if (file.data_offset_ > bytes_.size() && n_tensors > 0) {
    return Error{name_ + ": file ends before the tensor data begins (byte " +
                 std::to_string(file.data_offset_) + ")"};
  }
  const uint64_t data_size = bytes_.size() > file.data_offset_ ? bytes_.size() - file.data_offset_ : 0;
  for (TensorInfo& t : file.tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      return Error{name_ + ": tensor '" + t.name + "' (" + t.shape_string() + " " +
                   std::string(tensor::type_name(t.type)) + ", " + std::to_string(t.n_bytes) +
                   " bytes at data offset " + std::to_string(t.offset) + ") ends at byte " +
                   std::to_string(file.data_offset_ + t.offset + t.n_bytes) +
                   ", past the file end (" + std::to_string(bytes_.size()) + ")"};
    }
    t.data = bytes_.data() + file.data_offset_ + t.offset;
  }
  return {};
}

Result<std::unique_ptr<File>> File::parse(std::span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<File> file(new File());
  file->bytes_ = bytes;
  file->name_ = std::move(name);
  Parser parser(bytes, file->name_);
  if (Status st = parser.parse(*file); !st) return Error{st.message()};
  return file;
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  Result<std::unique_ptr<FileMap>> map = FileMap::open(path);
  if (!map) return map.error();
  std::span<const uint8_t> bytes = (*map)->bytes();
  Result<std::unique_ptr<File>> file = parse(bytes, path);
  if (!file) return file.error();
  (*file)->map_ = std::move(*map);
  return file;
}

const Value* File::find(std::string_view key) const {
  for (const KeyValue& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

namespace {

Error wrong_type(const std::string& file, std::string_view key, const Value& v, const char* want) {
  return Error{file + ": metadata '" + std::string(key) + "' is " +
               std::string(value_type_name(v.type)) + ", expected " + want};
}

}  // namespace

Result<std::optional<int64_t>> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<int64_t>();
  std::optional<int64_t> i = v->as_int();
  if (!i) return wrong_type(name_, key, *v, "an integer");
  return i;
}

Result<std::optional<double>> File::get_double(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<double>();
  std::optional<double> d = v->as_double();
  if (!d) return wrong_type(name_, key, *v, "a number");
  return d;
}

Result<std::optional<std::string>> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<std::string>();
  if (!v->as_string()) return wrong_type(name_, key, *v, "a string");
  return std::optional<std::string>(*v->as_string());
}

Result<std::optional<bool>> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::optional<bool>();
  std::optional<bool> b = v->as_bool();
  if (!b) return wrong_type(name_, key, *v, "a bool");
  return b;
}

Result<std::vector<std::string>> File::get_string_array(std::string_view key) const {
  std::vector<std::string> out;
  const Value* v = find(key);
  if (!v) return out;
  const Array* a = v->as_array();
  if (!a || a->element_type != ValueType::STRING) {
    return wrong_type(name_, key, *v, "an array of strings");
  }
  out.reserve(a->items.size());
  for (const Value& item : a->items) out.push_back(*item.as_string());
  return out;
}

Result<std::vector<double>> File::get_number_array(std::string_view key) const {
  std::vector<double> out;
  const Value* v = find(key);
  if (!v) return out;
  const Array* a = v->as_array();
  if (!a || a->element_type == ValueType::STRING || a->element_type == ValueType::ARRAY ||
      a->element_type == ValueType::BOOL) {
    return wrong_type(name_, key, *v, "an array of numbers");
  }
  out.reserve(a->items.size());
  for (const Value& item : a->items) out.push_back(*item.as_double());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

void MetadataBuilder::set(std::string key, Value value) {
  if (key == "general.alignment") {
    if (std::optional<int64_t> a = value.as_int()) alignment_ = static_cast<uint64_t>(*a);
  }
  for (KeyValue& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({std::move(key), std::move(value)});
}

void MetadataBuilder::set_string(std::string key, std::string value) {
  set(std::move(key), Value{ValueType::STRING, std::move(value)});
}
void MetadataBuilder::set_u32(std::string key, uint32_t value) {
  set(std::move(key), Value{ValueType::UINT32, uint64_t{value}});
}
void MetadataBuilder::set_i32(std::string key, int32_t value) {
  set(std::move(key), Value{ValueType::INT32, int64_t{value}});
}
void MetadataBuilder::set_f32(std::string key, float value) {
  set(std::move(key), Value{ValueType::FLOAT32, static_cast<double>(value)});
}
void MetadataBuilder::set_bool(std::string key, bool value) {
  set(std::move(key), Value{ValueType::BOOL, value});
}
void MetadataBuilder::set_string_array(std::string key, const std::vector<std::string>& values) {
  Array a{ValueType::STRING, {}};
  a.items.reserve(values.size());
  for (const std::string& s : values) a.items.push_back(Value{ValueType::STRING, s});
  set(std::move(key), Value{ValueType::ARRAY, std::move(a)});
}
void MetadataBuilder::set_f32_array(std::string key, const std::vector<float>& values) {
  Array a{ValueType::FLOAT32, {}};
  a.items.reserve(values.size());
  for (float f : values) a.items.push_back(Value{ValueType::FLOAT32, static_cast<double>(f)});
  set(std::move(key), Value{ValueType::ARRAY, std::move(a)});
}
void MetadataBuilder::set_i32_array(std::string key, const std::vector<int32_t>& values) {
  Array a{ValueType::INT32, {}};
  a.items.reserve(values.size());
  for (int32_t i : values) a.items.push_back(Value{ValueType::INT32, int64_t{i}});
  set(std::move(key), Value{ValueType::ARRAY, std::move(a)});
}

void Writer::add_tensor(std::string name, std::vector<int64_t> shape, tensor::TensorType type,
                        std::vector<uint8_t> data) {
  tensors_.push_back({std::move(name), std::move(shape), type, std::move(data)});
}

namespace {

class ByteSink {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put(uint64_t{s.size()});
    out.insert(out.end(), s.begin(), s.end());
  }
  void put_value(const Value& v) {
    switch (v.type) {
      case ValueType::UINT8: put(static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT8: put(static_cast<int8_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT16: put(static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT16: put(static_cast<int16_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT32: put(static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::INT32: put(static_cast<int32_t>(std::get<int64_t>(v.data))); break;
      case ValueType::UINT64: put(std::get<uint64_t>(v.data)); break;
      case ValueType::INT64: put(std::get<int64_t>(v.data)); break;
      case ValueType::FLOAT32: put(static_cast<float>(std::get<double>(v.data))); break;
      case ValueType::FLOAT64: put(std::get<double>(v.data)); break;
      case ValueType::BOOL: put(static_cast<uint8_t>(std::get<bool>(v.data) ? 1 : 0)); break;
      case ValueType::STRING: put_string(std::get<std::string>(v.data)); break;
      case ValueType::ARRAY: {
        const Array& a = std::get<Array>(v.data);
        put(static_cast<uint32_t>(a.element_type));
        put(uint64_t{a.items.size()});
        for (const Value& item : a.items) put_value(item);
        break;
      }
    }
  }
  void pad_to(uint64_t alignment) {
    while (out.size() % alignment != 0) out.push_back(0);
  }
  std::vector<uint8_t> out;
};

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
  ByteSink sink;
  sink.out.insert(sink.out.end(), {'G', 'G', 'U', 'F'});
  sink.put(uint32_t{3});
  sink.put(uint64_t{tensors_.size()});
  sink.put(uint64_t{metadata_.size()});
  for (const KeyValue& kv : metadata_) {
    sink.put_string(kv.key);
    sink.put(static_cast<uint32_t>(kv.value.type));
    sink.put_value(kv.value);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    sink.put_string(t.name);
    sink.put(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.put(static_cast<uint64_t>(d));
    sink.put(static_cast<uint32_t>(t.type));
    sink.put(offset);
    offset = align_up(offset + t.data.size(), alignment_);
  }
  sink.pad_to(alignment_);
  for (const PendingTensor& t : tensors_) {
    sink.out.insert(sink.out.end(), t.data.begin(), t.data.end());
    sink.pad_to(alignment_);
  }
  return sink.out;
}

Status Writer::write(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Error{path + ": cannot create file"};
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Error{path + ": write failed"};
  return {};
}

// ---------------------------------------------------------------------------------------------
// Streaming writer

StreamWriter::~StreamWriter() {
  if (file_) std::fclose(file_);
}

void StreamWriter::add_tensor(std::string name, std::vector<int64_t> shape,
                              tensor::TensorType type) {
  tensors_.push_back({std::move(name), std::move(shape), type});
}

uint64_t StreamWriter::tensor_bytes(size_t i) const {
  const DeclaredTensor& t = tensors_[i];
  uint64_t rows = 1;
  for (size_t d = 1; d < t.shape.size(); ++d) rows *= static_cast<uint64_t>(t.shape[d]);
  return tensor::row_size(t.type, t.shape[0]) * rows;
}

Status StreamWriter::write_raw(const void* data, size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, file_) != n) {
    return Error{path_ + ": write failed at byte " + std::to_string(bytes_written_) + ": " +
                 std::strerror(errno)};
  }
  bytes_written_ += n;
  return {};
}

Status StreamWriter::pad_to_alignment() {
  static constexpr uint8_t kZeros[256] = {};
  while (bytes_written_ % alignment_ != 0) {
    const uint64_t n = std::min<uint64_t>(alignment_ - bytes_written_ % alignment_, sizeof kZeros);
    if (Status s = write_raw(kZeros, static_cast<size_t>(n)); !s) return s;
  }
  return {};
}

Status StreamWriter::begin(const std::string& path) {
  if (file_) return Error{path + ": begin() called twice"};
  path_ = path;
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    return Error{path + ": alignment " + std::to_string(alignment_) + " is not a power of two"};
  }
  for (const DeclaredTensor& t : tensors_) {
    bool dims_ok = !t.shape.empty();
    for (int64_t d : t.shape) dims_ok = dims_ok && d >= 1;
    if (!dims_ok) return Error{path + ": tensor '" + t.name + "' has an empty dimension"};
    const int64_t block = tensor::traits(t.type).block_size;
    if (t.shape[0] % block != 0) {
      return Error{path + ": tensor '" + t.name + "' has rows of " + std::to_string(t.shape[0]) +
                   " weights, not a multiple of " + std::string(tensor::type_name(t.type)) +
                   "'s block of " + std::to_string(block)};
    }
  }
  // The header and tensor table are small next to the data; they are built in memory.
  ByteSink sink;
  sink.out.insert(sink.out.end(), {'G', 'G', 'U', 'F'});
  sink.put(uint32_t{3});
  sink.put(uint64_t{tensors_.size()});
  sink.put(uint64_t{metadata_.size()});
  for (const KeyValue& kv : metadata_) {
    sink.put_string(kv.key);
    sink.put(static_cast<uint32_t>(kv.value.type));
    sink.put_value(kv.value);
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const DeclaredTensor& t = tensors_[i];
    sink.put_string(t.name);
    sink.put(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) sink.put(static_cast<uint64_t>(d));
    sink.put(static_cast<uint32_t>(t.type));
    sink.put(offset);
    offset = align_up(offset + tensor_bytes(i), alignment_);
  }
  sink.pad_to(alignment_);
  file_size_ = sink.out.size() + offset;

  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) return Error{path + ": cannot create file: " + std::strerror(errno)};
  bytes_written_ = 0;
  current_ = 0;
  current_written_ = 0;
  if (Status s = write_raw(sink.out.data(), sink.out.size()); !s) return s;
  // Tensors of zero bytes cannot occur (every dimension is >= 1), so current_ names a tensor
  // that still expects data, or the end.
  return {};
}

Status StreamWriter::write_tensor_data(std::span<const uint8_t> bytes) {
  if (!file_) return Error{path_ + ": write_tensor_data() before begin() or after finish()"};
  if (bytes.empty()) return {};
  if (current_ >= tensors_.size()) {
    return Error{path_ + ": " + std::to_string(bytes.size()) + " bytes past the last tensor"};
  }
  const uint64_t expected = tensor_bytes(current_);
  if (current_written_ + bytes.size() > expected) {
    return Error{path_ + ": tensor '" + tensors_[current_].name + "' takes " +
                 std::to_string(expected) + " bytes; got " +
                 std::to_string(current_written_ + bytes.size())};
  }
  if (Status s = write_raw(bytes.data(), bytes.size()); !s) return s;
  current_written_ += bytes.size();
  if (current_written_ == expected) {
    if (Status s = pad_to_alignment(); !s) return s;
    ++current_;
    current_written_ = 0;
  }
  return {};
}

Status StreamWriter::finish() {
  if (!file_) return Error{path_ + ": finish() before begin()"};
  if (current_ < tensors_.size()) {
    return Error{path_ + ": tensor '" + tensors_[current_].name + "' has " +
                 std::to_string(current_written_) + " of its " +
                 std::to_string(tensor_bytes(current_)) + " bytes"};
  }
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) return Error{path_ + ": write failed: " + std::strerror(errno)};
  return {};
}

}  // namespace cove::gguf
