// Tests for the GGUF reader and writer.
//
// What they prove: every shared model and vocab file parses, with facts taken from an independent
// reader (counts, architectures, tensor types, shapes, data positions); the Writer round-trips
// every metadata value type and honours general.alignment; and hostile input (truncated at any
// byte, corrupted, or crafted to overflow a count) gives an Error that names the file and the
// problem, never a crash. The sanitizer build runs these same tests, so an out-of-bounds read
// while parsing fails there even when it happens not to crash here.
#include "gguf/gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

namespace cove::gguf {
namespace {

namespace fs = std::filesystem;
using tensor::TensorType;

const fs::path kSharedDir = fs::path(COVE_SOURCE_DIR) / ".." / "shared";

// ---------------------------------------------------------------------------------------------
// Helpers

// Builds GGUF bytes by hand, for inputs the Writer would never produce.
class ByteBuilder {
 public:
  ByteBuilder& u8(uint8_t v) { return put(v); }
  ByteBuilder& u32(uint32_t v) { return put(v); }
  ByteBuilder& u64(uint64_t v) { return put(v); }
  ByteBuilder& raw(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  ByteBuilder& str(std::string_view s) { return u64(s.size()).raw(s); }
  // "GGUF", version, tensor count, key/value count.
  ByteBuilder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  ByteBuilder& key(std::string_view name, ValueType type) {
    return str(name).u32(static_cast<uint32_t>(type));
  }
  ByteBuilder& tensor_info(std::string_view name, const std::vector<uint64_t>& dims,
                           uint32_t type_id, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type_id).u64(offset);
  }
  ByteBuilder& pad_to(size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back(0);
    return *this;
  }
  ByteBuilder& fill(size_t n, uint8_t v = 0) {
    bytes.insert(bytes.end(), n, v);
    return *this;
  }

  std::vector<uint8_t> bytes;

 private:
  template <class T>
  ByteBuilder& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return *this;
  }
};

constexpr uint32_t kF32 = static_cast<uint32_t>(TensorType::F32);

// A file with no metadata and one tensor 't' whose info the caller controls, followed by
// `data_bytes` bytes of tensor data after the 32-byte aligned header.
std::vector<uint8_t> one_tensor_file(const std::vector<uint64_t>& dims, uint32_t type_id,
                                     uint64_t offset, size_t data_bytes = 64) {
  ByteBuilder b;
  b.header(1, 0).tensor_info("t", dims, type_id, offset).pad_to(32).fill(data_bytes, 0xab);
  return b.bytes;
}

// A file with one key 'k' of `type` whose encoded value is `value_bytes`, and no tensors.
std::vector<uint8_t> one_key_file(ValueType type, const std::vector<uint8_t>& value_bytes) {
  ByteBuilder b;
  b.header(0, 1).key("k", type);
  b.bytes.insert(b.bytes.end(), value_bytes.begin(), value_bytes.end());
  return b.bytes;
}

// A key 'k' holding `depth` arrays nested one inside the other, the innermost an empty uint8
// array: depth 2 is an array of (one) arrays of uint8.
std::vector<uint8_t> nested_array_file(int depth) {
  ByteBuilder b;
  b.header(0, 1).key("k", ValueType::ARRAY);
  for (int d = 1; d < depth; ++d) b.u32(static_cast<uint32_t>(ValueType::ARRAY)).u64(1);
  b.u32(static_cast<uint32_t>(ValueType::UINT8)).u64(0);
  return b.bytes;
}

// Parses `bytes` as "hostile.gguf" and checks the Error begins with the file name and contains
// `problem`.
void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& problem) {
  Result<std::unique_ptr<File>> file = File::parse(bytes, "hostile.gguf");
  ASSERT_FALSE(file.is_ok()) << "accepted a file that should fail with: " << problem;
  EXPECT_EQ(file.message().rfind("hostile.gguf: ", 0), 0u) << file.message();
  EXPECT_NE(file.message().find(problem), std::string::npos)
      << "expected '" << problem << "' in: " << file.message();
}

// Reads every metadata value and the first and last byte of every tensor, so that a parse which
// accepted bad offsets or sizes shows up as a sanitizer error. Returns a checksum so the reads
// cannot be optimized away.
uint64_t touch_everything(const File& file) {
  uint64_t sum = 0;
  for (const KeyValue& kv : file.metadata()) sum += kv.key.size() + kv.value.to_string().size();
  for (const TensorInfo& t : file.tensors()) sum += t.data[0] + t.data[t.n_bytes - 1];
  return sum;
}

std::vector<uint8_t> read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// A unique path in the test temp folder (tests may run in parallel, and other checkouts may run
// the same tests on the same machine).
std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "cove_gguf_test_" + std::to_string(::getpid()) + "_" + name;
}

// "F16:9 F32:3": how many tensors of each type, by type name.
std::string type_histogram(const File& file) {
  std::map<std::string, int> counts;
  for (const TensorInfo& t : file.tensors()) ++counts[std::string(tensor::type_name(t.type))];
  std::string out;
  for (const auto& [name, n] : counts)
    out += (out.empty() ? "" : " ") + name + ":" + std::to_string(n);
  return out;
}

// Checks two values have the same type and data, recursing into arrays.
void expect_same_value(const Value& want, const Value& got, const std::string& where) {
  ASSERT_EQ(value_type_name(want.type), value_type_name(got.type)) << where;
  ASSERT_EQ(want.data.index(), got.data.index()) << where;
  if (const Array* a = want.as_array()) {
    const Array& b = *got.as_array();
    ASSERT_EQ(value_type_name(a->element_type), value_type_name(b.element_type)) << where;
    ASSERT_EQ(a->items.size(), b.items.size()) << where;
    for (size_t k = 0; k < a->items.size(); ++k) {
      expect_same_value(a->items[k], b.items[k], where + "[" + std::to_string(k) + "]");
    }
    return;
  }
  if (const auto* u = std::get_if<uint64_t>(&want.data)) {
    EXPECT_EQ(*u, std::get<uint64_t>(got.data)) << where;
  } else if (const auto* i = std::get_if<int64_t>(&want.data)) {
    EXPECT_EQ(*i, std::get<int64_t>(got.data)) << where;
  } else if (const auto* d = std::get_if<double>(&want.data)) {
    EXPECT_EQ(*d, std::get<double>(got.data)) << where;
  } else if (const auto* b = std::get_if<bool>(&want.data)) {
    EXPECT_EQ(*b, std::get<bool>(got.data)) << where;
  } else {
    EXPECT_EQ(std::get<std::string>(want.data), std::get<std::string>(got.data)) << where;
  }
}

Value string_array(const std::vector<std::string>& strings) {
  Array a{ValueType::STRING, {}};
  for (const std::string& s : strings) a.items.push_back(Value{ValueType::STRING, s});
  return Value{ValueType::ARRAY, std::move(a)};
}

// A small model: metadata of several types including a string array, and three tensors (F32,
// F16, Q8_0) with exact byte sizes. The Q8_0 tensor comes last and is 16 blocks of 34 bytes =
// 544 bytes, a multiple of the 32-byte alignment, so the file ends exactly where its data ends
// and every shorter prefix is missing some bytes the header promises.
std::vector<uint8_t> small_model_bytes() {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "truncation walk");
  w.set_u32("llama.embedding_length", 32);
  w.set_i32("llama.block_count", -1);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string_array("tokenizer.ggml.tokens",
                     {"<unk>", "<s>", "</s>", "a", "b", "\xe2\x96\x81the", ""});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1.5f, -2.5f, -3.5f, -4.5f});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1});
  auto pattern = [](size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t k = 0; k < n; ++k) v[k] = static_cast<uint8_t>(seed + k * 7);
    return v;
  };
  w.add_tensor("token_embd.weight", {32, 8}, TensorType::F32, pattern(32 * 8 * 4, 1));
  w.add_tensor("output_norm.weight", {32, 3}, TensorType::F16, pattern(32 * 3 * 2, 2));
  w.add_tensor("output.weight", {64, 8}, TensorType::Q8_0, pattern(64 * 8 / 32 * 34, 3));
  return w.to_bytes();
}

// ---------------------------------------------------------------------------------------------
// The shared models and vocab files

// Facts about each shared file, read with an independent GGUF reader.
struct KnownFile {
  const char* path;  // under shared/
  const char* architecture;
  const char* tokenizer_model;
  size_t n_tokens;
  size_t n_tensors;
  size_t n_kv;
  const char* tensor_types;  // type_histogram()
};

constexpr KnownFile kKnownFiles[] = {
    {"models/llama-2-tiny-random.gguf", "llama", "llama", 32000, 12, 18, "F16:9 F32:3"},
    {"models/stories260K.gguf", "llama", "llama", 512, 48, 19, "F32:48"},
    {"models/tiny-llama-BF16.gguf", "llama", "llama", 512, 39, 23, "BF16:30 F32:9"},
    {"models/tiny-llama-F16.gguf", "llama", "llama", 512, 39, 23, "F16:30 F32:9"},
    {"models/tiny-llama-Q4_0.gguf", "llama", "llama", 512, 39, 23, "F32:9 Q4_0:29 Q6_K:1"},
    {"models/tiny-llama-Q4_K_M.gguf", "llama", "llama", 512, 39, 23, "F32:9 Q4_K:25 Q6_K:5"},
    {"models/tiny-llama-Q5_K_M.gguf", "llama", "llama", 512, 39, 23, "F32:9 Q5_K:25 Q6_K:5"},
    {"models/tiny-llama-Q6_K.gguf", "llama", "llama", 512, 39, 23, "F32:9 Q6_K:30"},
    {"models/tiny-llama-Q8_0.gguf", "llama", "llama", 512, 39, 23, "F32:9 Q8_0:30"},
    {"models/tiny-llama-f32.gguf", "llama", "llama", 512, 39, 22, "F32:39"},
    {"models/tiny-llama32k-Q4_0.gguf", "llama", "llama", 32000, 30, 21, "F32:7 Q4_0:22 Q8_0:1"},
    {"models/tiny-llama32k-Q8_0.gguf", "llama", "llama", 32000, 30, 21, "F32:7 Q8_0:23"},
    {"models/tiny-qwen2-F16.gguf", "qwen2", "gpt2", 50257, 38, 21, "F16:22 F32:16"},
    {"models/tiny-qwen2-Q4_K_M.gguf", "qwen2", "gpt2", 50257, 38, 21, "F32:16 Q5_0:19 Q8_0:3"},
    {"models/tiny-qwen2-Q8_0.gguf", "qwen2", "gpt2", 50257, 38, 21, "F32:16 Q8_0:22"},
    {"vocab/ggml-vocab-bert-bge.gguf", "bert", "bert", 30522, 0, 20, ""},
    {"vocab/ggml-vocab-deepseek-llm.gguf", "llama", "gpt2", 102400, 0, 23, ""},
    {"vocab/ggml-vocab-falcon.gguf", "falcon", "gpt2", 65024, 0, 18, ""},
    {"vocab/ggml-vocab-gpt-2.gguf", "gpt2", "gpt2", 50257, 0, 16, ""},
    {"vocab/ggml-vocab-llama-spm.gguf", "llama", "llama", 32000, 0, 22, ""},
    {"vocab/ggml-vocab-phi-3.gguf", "phi3", "llama", 32064, 0, 26, ""},
};

TEST(GgufSharedFiles, EveryKnownFileHasItsKnownCountsAndTypes) {
  for (const KnownFile& known : kKnownFiles) {
    const std::string path = (kSharedDir / known.path).string();
    SCOPED_TRACE(path);
    Result<std::unique_ptr<File>> file = File::open(path);
    ASSERT_TRUE(file.is_ok()) << file.message();
    const File& f = **file;
    EXPECT_EQ(f.name(), path);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.metadata().size(), known.n_kv);
    EXPECT_EQ(f.tensors().size(), known.n_tensors);
    EXPECT_EQ(f.get_string("general.architecture").value(), known.architecture);
    EXPECT_EQ(f.get_string("tokenizer.ggml.model").value(), known.tokenizer_model);
    Result<std::vector<std::string>> tokens = f.get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.is_ok()) << tokens.message();
    EXPECT_EQ(tokens->size(), known.n_tokens);
    EXPECT_EQ(type_histogram(f), known.tensor_types);
  }
}

// Every .gguf under shared/models and shared/vocab, including files added after this test was
// written: it parses, and each tensor's data lies inside the file at an aligned offset, has the
// exact byte size of its type and shape, overlaps no other tensor, and its data pointer shows the
// same bytes as an independent read of the file at data_offset + offset.
TEST(GgufSharedFiles, EverySharedFileParsesWithTensorsInsideTheFile) {
  size_t n_files = 0;
  for (const char* dir : {"models", "vocab"}) {
    for (const fs::directory_entry& entry : fs::directory_iterator(kSharedDir / dir)) {
      if (entry.path().extension() != ".gguf") continue;
      ++n_files;
      SCOPED_TRACE(entry.path().string());
      Result<std::unique_ptr<File>> file = File::open(entry.path().string());
      ASSERT_TRUE(file.is_ok()) << file.message();
      const File& f = **file;
      const std::vector<uint8_t> bytes = read_whole_file(entry.path());
      ASSERT_EQ(f.file_size(), bytes.size());
      EXPECT_EQ(f.data_offset() % f.alignment(), 0u);

      std::vector<std::pair<uint64_t, uint64_t>> extents;  // [offset, end) within the data
      for (const TensorInfo& t : f.tensors()) {
        SCOPED_TRACE(t.name);
        ASSERT_NE(t.data, nullptr);
        ASSERT_FALSE(t.shape.empty());
        EXPECT_EQ(t.offset % f.alignment(), 0u);
        EXPECT_EQ(t.n_bytes, tensor::row_size(t.type, t.shape[0]) * t.n_rows());
        ASSERT_LE(f.data_offset() + t.offset + t.n_bytes, bytes.size());
        const uint8_t* in_file = bytes.data() + f.data_offset() + t.offset;
        const size_t n_compare = std::min<size_t>(t.n_bytes, 16);
        EXPECT_EQ(std::memcmp(t.data, in_file, n_compare), 0);
        EXPECT_EQ(
            std::memcmp(t.data + t.n_bytes - n_compare, in_file + t.n_bytes - n_compare, n_compare),
            0);
        extents.emplace_back(t.offset, t.offset + t.n_bytes);
      }
      std::sort(extents.begin(), extents.end());
      for (size_t k = 1; k < extents.size(); ++k) {
        EXPECT_LE(extents[k - 1].second, extents[k].first) << "tensors overlap";
      }
    }
  }
  EXPECT_EQ(n_files, std::size(kKnownFiles)) << "a shared file is missing or not in kKnownFiles";
}

TEST(GgufSharedFiles, Stories260KHasItsKnownHyperparametersAndEmbedding) {
  const std::string path = (kSharedDir / "models/stories260K.gguf").string();
  Result<std::unique_ptr<File>> file = File::open(path);
  ASSERT_TRUE(file.is_ok()) << file.message();
  const File& f = **file;
  EXPECT_EQ(f.get_int("llama.embedding_length").value(), 64);
  EXPECT_EQ(f.get_int("llama.block_count").value(), 5);
  EXPECT_EQ(f.get_int("llama.attention.head_count").value(), 8);
  EXPECT_EQ(f.get_int("llama.attention.head_count_kv").value(), 4);
  EXPECT_EQ(f.get_int("llama.feed_forward_length").value(), 172);
  EXPECT_EQ(f.get_int("llama.context_length").value(), 2048);
  EXPECT_EQ(f.get_double("llama.attention.layer_norm_rms_epsilon").value(),
            static_cast<double>(1e-5f));
  // "None" special tokens are stored as uint32 4294967295 and must not wrap to -1.
  EXPECT_EQ(f.get_int("tokenizer.ggml.padding_token_id").value(), 4294967295);
  EXPECT_EQ(f.find("tokenizer.ggml.padding_token_id")->type, ValueType::UINT32);
  // The wrong type is an error that names the file and the key.
  Result<std::optional<std::string>> not_a_string = f.get_string("llama.block_count");
  ASSERT_FALSE(not_a_string.is_ok());
  EXPECT_NE(not_a_string.message().find(path), std::string::npos);
  EXPECT_NE(not_a_string.message().find("llama.block_count"), std::string::npos);

  std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens").value();
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");

  // The header ends at byte 14152; data starts at the next multiple of 32.
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset(), 14176u);

  const TensorInfo* embd = f.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(embd->shape_string(), "[64, 512]");
  EXPECT_EQ(embd->type, TensorType::F32);
  EXPECT_EQ(embd->offset, 0u);
  EXPECT_EQ(embd->n_bytes, 64u * 512u * 4u);
  EXPECT_EQ(embd->n_elements(), 64 * 512);
  EXPECT_EQ(embd->n_rows(), 512);
  // Blocks 0..4 exist, block 5 does not.
  EXPECT_NE(f.find_tensor("blk.4.attn_q.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("blk.5.attn_q.weight"), nullptr);

  // The data pointer lies inside the mapped file, at data_offset past its start, and the last
  // tensor ends exactly at the end of the file.
  const uint8_t* file_start = embd->data - f.data_offset();
  uint64_t data_end = 0;
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_GE(t.data, file_start + f.data_offset()) << t.name;
    EXPECT_LE(t.data + t.n_bytes, file_start + f.file_size()) << t.name;
    data_end = std::max(data_end, f.data_offset() + t.offset + t.n_bytes);
  }
  EXPECT_EQ(data_end, f.file_size());
  const std::vector<uint8_t> bytes = read_whole_file(path);
  float first_weight = 0;
  std::memcpy(&first_weight, bytes.data() + 14176, 4);
  EXPECT_EQ(reinterpret_cast<const float*>(embd->data)[0], first_weight);
}

TEST(GgufSharedFiles, TinyQwen2Q4KMMixesTensorTypes) {
  Result<std::unique_ptr<File>> file =
      File::open((kSharedDir / "models/tiny-qwen2-Q4_K_M.gguf").string());
  ASSERT_TRUE(file.is_ok()) << file.message();
  std::set<TensorType> types;
  for (const TensorInfo& t : (*file)->tensors()) types.insert(t.type);
  EXPECT_EQ(types, (std::set<TensorType>{TensorType::F32, TensorType::Q5_0, TensorType::Q8_0}));
  const TensorInfo* embd = (*file)->find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->type, TensorType::Q8_0);
  EXPECT_EQ(embd->shape, (std::vector<int64_t>{128, 50257}));
  EXPECT_EQ(embd->n_bytes, 50257u * (128 / 32) * 34);
  EXPECT_EQ((*file)->get_double("qwen2.rope.freq_base").value(), 1000000.0);
}

TEST(GgufSharedFiles, Gpt2VocabHasItsMergesAndNoTensors) {
  Result<std::unique_ptr<File>> file =
      File::open((kSharedDir / "vocab/ggml-vocab-gpt-2.gguf").string());
  ASSERT_TRUE(file.is_ok()) << file.message();
  EXPECT_TRUE((*file)->tensors().empty());
  std::vector<std::string> merges = (*file)->get_string_array("tokenizer.ggml.merges").value();
  ASSERT_EQ(merges.size(), 50000u);
  EXPECT_EQ(merges[0], "\xc4\xa0 t");  // "Ġ t"
  EXPECT_EQ((*file)->get_int("tokenizer.ggml.bos_token_id").value(), 50256);
}

// ---------------------------------------------------------------------------------------------
// Writer round trips

TEST(GgufWriter, RoundTripsEveryValueTypeIncludingNestedArrays) {
  const double kFloat32Value = static_cast<double>(-3.14159274f);  // exactly representable
  Array nested{ValueType::ARRAY, {}};
  nested.items.push_back(string_array({"a", "bc", ""}));
  nested.items.push_back(string_array({}));
  nested.items.push_back(string_array({std::string("nul\0inside", 10), "\xe2\x96\x81x"}));
  Array u64s{ValueType::UINT64, {}};
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, std::numeric_limits<uint64_t>::max()}) {
    u64s.items.push_back(Value{ValueType::UINT64, v});
  }
  Array bools{ValueType::BOOL, {Value{ValueType::BOOL, true}, Value{ValueType::BOOL, false}}};

  const std::vector<KeyValue> values = {
      {"u8", Value{ValueType::UINT8, uint64_t{255}}},
      {"i8", Value{ValueType::INT8, int64_t{-128}}},
      {"u16", Value{ValueType::UINT16, uint64_t{65535}}},
      {"i16", Value{ValueType::INT16, int64_t{-32768}}},
      {"u32", Value{ValueType::UINT32, uint64_t{4294967295u}}},
      {"i32", Value{ValueType::INT32, int64_t{std::numeric_limits<int32_t>::min()}}},
      {"f32", Value{ValueType::FLOAT32, kFloat32Value}},
      {"bool.true", Value{ValueType::BOOL, true}},
      {"bool.false", Value{ValueType::BOOL, false}},
      {"string", Value{ValueType::STRING, std::string("h\xc3\xa9llo\n\"world\"")}},
      {"string.empty", Value{ValueType::STRING, std::string()}},
      {"u64", Value{ValueType::UINT64, std::numeric_limits<uint64_t>::max()}},
      {"i64", Value{ValueType::INT64, std::numeric_limits<int64_t>::min()}},
      {"f64", Value{ValueType::FLOAT64, 1.0 / 3.0}},
      {"array.u64", Value{ValueType::ARRAY, u64s}},
      {"array.bool", Value{ValueType::ARRAY, bools}},
      {"array.empty", Value{ValueType::ARRAY, Array{ValueType::INT8, {}}}},
      {"array.of.arrays.of.strings", Value{ValueType::ARRAY, nested}},
  };
  Writer w;
  for (const KeyValue& kv : values) w.set(kv.key, kv.value);
  w.set_string("string", "overwritten keeps one key");  // set() replaces, keeping the position

  const std::string path = temp_path("round_trip.gguf");
  ASSERT_TRUE(w.write(path).is_ok());
  Result<std::unique_ptr<File>> file = File::open(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(file.is_ok()) << file.message();
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_TRUE((*file)->tensors().empty());
  ASSERT_EQ((*file)->metadata().size(), values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    const KeyValue& got = (*file)->metadata()[k];
    EXPECT_EQ(got.key, values[k].key);
    if (got.key == "string") {
      EXPECT_EQ(*got.value.as_string(), "overwritten keeps one key");
      continue;
    }
    expect_same_value(values[k].value, got.value, got.key);
  }
  EXPECT_EQ((*file)->get_int("u32").value(), 4294967295);
  EXPECT_FALSE((*file)->get_int("u64").is_ok());  // above INT64_MAX: a wrong-type error
  EXPECT_EQ((*file)->get_double("f32").value(), kFloat32Value);
  EXPECT_EQ((*file)->get_bool("bool.true").value(), true);
  EXPECT_EQ((*file)->find("array.of.arrays.of.strings")->to_string(),
            R"([["a", "bc", ""], [], ["nul\x00inside", "▁x"]])");
}

// With general.alignment 64 the data section and every tensor offset are multiples of 64. The
// header length is varied through a padding string so that rounding it up to 32 or to 64 gives a
// different data start half of the time; reading back the tensor bytes would then fail if the
// parser ignored the key.
TEST(GgufWriter, HonoursGeneralAlignmentOtherThan32) {
  const std::vector<uint8_t> f32_data(3 * 4, 0x11), f16_data(5 * 2, 0x22), q8_data(34, 0x33);
  for (size_t pad = 0; pad < 64; ++pad) {
    SCOPED_TRACE("padding string of " + std::to_string(pad) + " bytes");
    Writer w;
    w.set_u32("general.alignment", 64);
    w.set_string("padding", std::string(pad, 'x'));
    w.add_tensor("a", {3}, TensorType::F32, f32_data);
    w.add_tensor("b", {5}, TensorType::F16, f16_data);
    w.add_tensor("c", {32}, TensorType::Q8_0, q8_data);
    const std::vector<uint8_t> bytes = w.to_bytes();
    Result<std::unique_ptr<File>> file = File::parse(bytes, "aligned64.gguf");
    ASSERT_TRUE(file.is_ok()) << file.message();
    const File& f = **file;
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.data_offset() % 64, 0u);
    ASSERT_EQ(f.tensors().size(), 3u);
    EXPECT_EQ(f.tensors()[0].offset, 0u);
    EXPECT_EQ(f.tensors()[1].offset, 64u);
    EXPECT_EQ(f.tensors()[2].offset, 128u);
    EXPECT_EQ(bytes.size(), f.data_offset() + 192);
    for (const auto& [t, want] :
         {std::pair{&f.tensors()[0], &f32_data}, std::pair{&f.tensors()[1], &f16_data},
          std::pair{&f.tensors()[2], &q8_data}}) {
      ASSERT_EQ(t->n_bytes, want->size()) << t->name;
      EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->n_bytes), *want) << t->name;
    }
  }
}

TEST(GgufWriter, WriteToAMissingFolderNamesThePath) {
  Writer w;
  const std::string path = "/nonexistent-cove-folder/out.gguf";
  Status st = w.write(path);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
}

// ---------------------------------------------------------------------------------------------
// Hostile input: each case gives an Error naming the file and the problem

TEST(GgufHostile, ControlFilesFromTheHelpersParse) {
  // The hostile cases below change one thing in these files; they must be valid to start with.
  EXPECT_TRUE(File::parse(one_tensor_file({16}, kF32, 0), "control.gguf").is_ok());
  EXPECT_TRUE(File::parse(one_key_file(ValueType::BOOL, {1}), "control.gguf").is_ok());
  EXPECT_TRUE(File::parse(nested_array_file(3), "control.gguf").is_ok());
}

TEST(GgufHostile, MissingFileNamesThePathAndTheReason) {
  const std::string path = "/nonexistent-cove-folder/missing.gguf";
  Result<std::unique_ptr<File>> file = File::open(path);
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.message().rfind(path + ": ", 0), 0u) << file.message();
  EXPECT_NE(file.message().find("No such file"), std::string::npos) << file.message();
}

TEST(GgufHostile, NonGgufFileIsRejectedByItsMagic) {
  const std::string path = (kSharedDir / "vocab/ggml-vocab-gpt-2.gguf.inp").string();
  Result<std::unique_ptr<File>> file = File::open(path);
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.message().rfind(path + ": ", 0), 0u) << file.message();
  EXPECT_NE(file.message().find("not a GGUF file"), std::string::npos) << file.message();
  expect_rejected({}, "too short");
  expect_rejected({'G', 'G'}, "too short");
  expect_rejected({'G', 'G', 'U', 'F'}, "ends inside the header");
}

TEST(GgufHostile, Versions1And4AreRejected) {
  for (uint32_t version : {0u, 1u, 4u, 0xffffffffu}) {
    ByteBuilder b;
    b.header(0, 0, version);
    expect_rejected(b.bytes, "unsupported GGUF version " + std::to_string(version));
  }
  ByteBuilder v2;
  v2.header(0, 0, 2);
  EXPECT_TRUE(File::parse(v2.bytes, "v2.gguf").is_ok());
}

TEST(GgufHostile, StringLengthOf2To60IsRejected) {
  // The bytes after each huge length are enough for the counts before it to look plausible.
  ByteBuilder key;
  key.header(0, 1).u64(uint64_t{1} << 60).raw("a key, and then some");
  expect_rejected(key.bytes, "metadata key length 1152921504606846976 runs past the end");

  ByteBuilder value;
  value.header(0, 1).key("k", ValueType::STRING).u64(uint64_t{1} << 60).raw("abc");
  expect_rejected(value.bytes, "string value length 1152921504606846976 runs past the end");

  ByteBuilder name;
  name.header(1, 0).u64(uint64_t{1} << 60).raw("tensor name bytes, some more of them");
  expect_rejected(name.bytes, "tensor name length");

  ByteBuilder max;
  max.header(0, 1).u64(std::numeric_limits<uint64_t>::max()).raw("a key, and then some");
  expect_rejected(max.bytes, "metadata key length");
}

TEST(GgufHostile, CountsThatCannotFitAreRejected) {
  // 2^62 uint64 elements would be 2^65 bytes: the size computation itself overflows.
  ByteBuilder array;
  array.header(0, 1).key("k", ValueType::ARRAY).u32(static_cast<uint32_t>(ValueType::UINT64));
  array.u64(uint64_t{1} << 62).u64(7).u64(8);
  expect_rejected(array.bytes, "array count 4611686018427387904 cannot fit");

  ByteBuilder strings;
  strings.header(0, 1).key("k", ValueType::ARRAY).u32(static_cast<uint32_t>(ValueType::STRING));
  strings.u64(std::numeric_limits<uint64_t>::max()).str("a");
  expect_rejected(strings.bytes, "array count");

  ByteBuilder kvs;
  kvs.header(0, uint64_t{1} << 62).fill(64);
  expect_rejected(kvs.bytes, "metadata count");

  ByteBuilder tensors;
  tensors.header(std::numeric_limits<uint64_t>::max(), 0).fill(64);
  expect_rejected(tensors.bytes, "tensor count");
}

TEST(GgufHostile, UnknownValueTypesAreRejected) {
  expect_rejected(one_key_file(static_cast<ValueType>(13), {0, 0, 0, 0}), "unknown value type 13");
  expect_rejected(one_key_file(static_cast<ValueType>(0xffffffff), {}), "unknown value type");
  ByteBuilder element;
  element.header(0, 1).key("k", ValueType::ARRAY).u32(13).u64(1).u64(0);
  expect_rejected(element.bytes, "unknown element type 13");
}

TEST(GgufHostile, BoolByteOf2IsRejected) {
  expect_rejected(one_key_file(ValueType::BOOL, {2}), "bool value 2 is neither 0 nor 1");
  ByteBuilder in_array;
  in_array.header(0, 1).key("k", ValueType::ARRAY).u32(static_cast<uint32_t>(ValueType::BOOL));
  in_array.u64(3).u8(0).u8(1).u8(0xff);
  expect_rejected(in_array.bytes, "bool value 255");
}

TEST(GgufHostile, ArraysNestedTooDeeplyAreRejected) {
  expect_rejected(nested_array_file(100), "nested too deeply");
  // Far deeper than any stack frame budget: must fail on depth, not overflow the stack.
  expect_rejected(nested_array_file(100000), "nested too deeply");
}

TEST(GgufHostile, UnknownTensorTypeIdIsRejected) {
  expect_rejected(one_tensor_file({16}, 99, 0), "tensor 't' has unknown type 99");
  expect_rejected(one_tensor_file({16}, 4, 0), "unknown type 4");  // Q4_2, long removed
  expect_rejected(one_tensor_file({16}, 0xffffffff, 0), "unknown type 4294967295");
}

TEST(GgufHostile, TensorOffsetOrSizePastTheEndIsRejected) {
  expect_rejected(one_tensor_file({16}, kF32, 1 << 20), "past the file end");
  expect_rejected(one_tensor_file({16}, kF32, 64), "past the file end");  // ends 64 bytes late
  expect_rejected(one_tensor_file({16}, kF32, std::numeric_limits<uint64_t>::max() & ~uint64_t{31}),
                  "past the file end");
  expect_rejected(one_tensor_file({17}, kF32, 0), "past the file end");  // one element too many
  expect_rejected(one_tensor_file({1024, 1024}, kF32, 0), "past the file end");
  // A tensor that needs data when the file ends inside the header padding.
  ByteBuilder no_data;
  no_data.header(1, 0).tensor_info("t", {16}, kF32, 0);
  expect_rejected(no_data.bytes, "file ends before the tensor data begins");
}

TEST(GgufHostile, ZeroOrOverflowingDimensionsAreRejected) {
  expect_rejected(one_tensor_file({0}, kF32, 0), "impossible dimension 0");
  expect_rejected(one_tensor_file({16, 0}, kF32, 0), "impossible dimension 0");
  // The product of four 2^32 dimensions is 2^128; each alone is plausible.
  const uint64_t big = uint64_t{1} << 32;
  expect_rejected(one_tensor_file({big, big, big, big}, kF32, 0), "impossible dimension");
  expect_rejected(one_tensor_file({uint64_t{1} << 63}, kF32, 0), "impossible dimension");
  expect_rejected(one_tensor_file({}, kF32, 0), "0 dimensions");
  expect_rejected(one_tensor_file({1, 1, 1, 1, 1}, kF32, 0), "5 dimensions");
  // A Q8_0 row must hold whole 32-weight blocks.
  expect_rejected(one_tensor_file({16}, static_cast<uint32_t>(TensorType::Q8_0), 0),
                  "not a multiple of the Q8_0 block size 32");
}

TEST(GgufHostile, MisalignedTensorOffsetIsRejected) {
  expect_rejected(one_tensor_file({4}, kF32, 4), "offset 4 is not a multiple of the alignment 32");
  // With general.alignment 64 an offset of 32 is misaligned too.
  ByteBuilder b;
  b.header(1, 1).key("general.alignment", ValueType::UINT32).u32(64);
  b.tensor_info("t", {4}, kF32, 32).pad_to(64).fill(128);
  expect_rejected(b.bytes, "offset 32 is not a multiple of the alignment 64");
}

TEST(GgufHostile, AlignmentThatIsNotAPowerOfTwoIsRejected) {
  for (uint32_t alignment : {0u, 3u, 48u}) {
    ByteBuilder b;
    b.header(0, 1).key("general.alignment", ValueType::UINT32).u32(alignment);
    expect_rejected(b.bytes, "general.alignment " + std::to_string(alignment));
  }
}

// ---------------------------------------------------------------------------------------------
// Truncation and mutation walks

TEST(GgufTruncation, SmallModelFailsCleanlyAtEveryTruncation) {
  const std::vector<uint8_t> bytes = small_model_bytes();
  ASSERT_GT(bytes.size(), 1500u);
  Result<std::unique_ptr<File>> whole = File::parse(bytes, "small.gguf");
  ASSERT_TRUE(whole.is_ok()) << whole.message();
  ASSERT_EQ((*whole)->tensors().size(), 3u);
  const TensorInfo& last = (*whole)->tensors().back();
  ASSERT_EQ((*whole)->data_offset() + last.offset + last.n_bytes, bytes.size());

  for (size_t n = 0; n < bytes.size(); ++n) {
    // An exact-size copy, so a read past the end is a sanitizer error rather than a quiet read
    // of the next byte.
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    Result<std::unique_ptr<File>> file = File::parse(prefix, "small.gguf");
    ASSERT_FALSE(file.is_ok()) << "truncated to " << n << " of " << bytes.size() << " bytes";
    ASSERT_EQ(file.message().rfind("small.gguf: ", 0), 0u)
        << "truncated to " << n << ": " << file.message();
  }
}

TEST(GgufTruncation, Stories260KFailsCleanlyWhenTruncated) {
  const fs::path path = kSharedDir / "models/stories260K.gguf";
  const std::vector<uint8_t> bytes = read_whole_file(path);
  Result<std::unique_ptr<File>> whole = File::parse(bytes, "stories260K.gguf");
  ASSERT_TRUE(whole.is_ok()) << whole.message();
  const uint64_t data_offset = (*whole)->data_offset();
  ASSERT_GT(data_offset, 10000u);

  // Every byte of the header, then every 4096th byte of the data (the last tensor ends at the
  // end of the file, so every prefix lacks some tensor's bytes).
  std::vector<size_t> cuts;
  for (size_t n = 0; n <= data_offset; ++n) cuts.push_back(n);
  for (size_t n = data_offset + 4096; n < bytes.size(); n += 4096) cuts.push_back(n);
  cuts.push_back(bytes.size() - 1);
  for (size_t n : cuts) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    Result<std::unique_ptr<File>> file = File::parse(prefix, "stories260K.gguf");
    ASSERT_FALSE(file.is_ok()) << "truncated to " << n << " of " << bytes.size() << " bytes";
    ASSERT_EQ(file.message().rfind("stories260K.gguf: ", 0), 0u)
        << "truncated to " << n << ": " << file.message();
  }
}

TEST(GgufMutation, FlippingAnyHeaderByteNeverCrashes) {
  const std::vector<uint8_t> original = small_model_bytes();
  Result<std::unique_ptr<File>> whole = File::parse(original, "small.gguf");
  ASSERT_TRUE(whole.is_ok()) << whole.message();
  const size_t header_size = (*whole)->data_offset();

  size_t n_accepted = 0, n_rejected = 0;
  uint64_t checksum = 0;
  std::vector<uint8_t> bytes = original;
  for (size_t pos = 0; pos < header_size; ++pos) {
    const uint8_t b = original[pos];
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x7f}, uint8_t(b ^ 0x01),
                      uint8_t(b ^ 0x10), uint8_t(b + 1), uint8_t(b - 1)}) {
      if (v == b) continue;
      bytes[pos] = v;
      Result<std::unique_ptr<File>> file = File::parse(bytes, "mutated.gguf");
      if (file.is_ok()) {
        ++n_accepted;
        checksum += touch_everything(**file);
      } else {
        ++n_rejected;
        ASSERT_EQ(file.message().rfind("mutated.gguf: ", 0), 0u) << file.message();
      }
    }
    bytes[pos] = b;
  }
  // Changing a value's contents (a string's letters, a float) leaves a valid file; changing a
  // length or a type does not. Both must have happened for the walk to mean anything.
  EXPECT_GT(n_accepted, 100u);
  EXPECT_GT(n_rejected, 100u);
  EXPECT_GT(checksum, 0u);
}

}  // namespace
}  // namespace cove::gguf
