// Tokenizer tests: the shared reference vectors for every vocab family, the real models'
// prompt tokens from the goldens, round trips, streaming, special tokens, metadata errors and
// hostile input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace cove::tokenizer {
namespace {

const std::string kVocabDir = COVE_SOURCE_DIR "/../shared/vocab";
const std::string kModelDir = COVE_SOURCE_DIR "/../shared/models";
const std::string kGoldensPath = COVE_SOURCE_DIR "/../shared/golden/goldens.json";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Loads each file once per process (the large vocabs take tens of milliseconds to index).
// Returns null (and records a failure) when the file does not load.
const Tokenizer* load(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second.get();
  Result<std::unique_ptr<gguf::File>> file = gguf::File::open(path);
  if (!file) {
    ADD_FAILURE() << file.message();
    return nullptr;
  }
  Result<std::unique_ptr<Tokenizer>> tok = Tokenizer::from_gguf(**file);
  if (!tok) {
    ADD_FAILURE() << tok.message();
    return nullptr;
  }
  return cache.emplace(path, std::move(*tok)).first->second.get();
}

const Tokenizer* load_vocab(const std::string& name) {
  return load(kVocabDir + "/ggml-vocab-" + name + ".gguf");
}

// Printable rendering of arbitrary bytes for failure messages.
std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto b = static_cast<uint8_t>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (b < 0x20 || b == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", b);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string ids_string(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : " ") + std::to_string(id);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The shared vocab test vectors: NAME.gguf.inp holds inputs separated by the line
// "__ggml_vocab_test__", NAME.gguf.out the expected ids (no BOS/EOS, no special parsing).

std::vector<std::string> vocab_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kVocabDir, ec)) {
    const std::string file = entry.path().filename().string();
    const std::string prefix = "ggml-vocab-", suffix = ".gguf.inp";
    if (file.starts_with(prefix) && file.ends_with(suffix)) {
      names.push_back(file.substr(prefix.size(), file.size() - prefix.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> split_inputs(const std::string& content) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t start = 0;
  while (true) {
    const size_t end = content.find(separator, start);
    if (end == std::string::npos) break;
    inputs.push_back(content.substr(start, end - start));
    start = end + separator.size();
  }
  if (start < content.size()) inputs.push_back(content.substr(start));
  return inputs;
}

std::vector<std::vector<int32_t>> read_expected(const std::string& content) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<int32_t> ids;
    int64_t id;
    while (fields >> id) ids.push_back(static_cast<int32_t>(id));
    lines.push_back(std::move(ids));
  }
  return lines;
}

TEST(VocabFiles, SharedVectorsArePresent) {
  // The parameterized test below silently runs nothing without the data, so say so here.
  EXPECT_GE(vocab_names().size(), 6u) << "no vocab test vectors under " << kVocabDir;
}

class VocabFileTest : public testing::TestWithParam<std::string> {};

TEST_P(VocabFileTest, EncodesLikeReference) {
  const std::string path = kVocabDir + "/ggml-vocab-" + GetParam() + ".gguf";
  const Tokenizer* tok = load(path);
  ASSERT_NE(tok, nullptr);
  const std::vector<std::string> inputs = split_inputs(read_file(path + ".inp"));
  const std::vector<std::vector<int32_t>> expected = read_expected(read_file(path + ".out"));
  ASSERT_EQ(inputs.size(), expected.size()) << path;
  ASSERT_FALSE(inputs.empty());

  size_t passed = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> got = tok->encode(inputs[i], false, false);
    if (got == expected[i]) {
      ++passed;
      continue;
    }
    ADD_FAILURE() << GetParam() << " input " << i << ": \"" << escaped(inputs[i]) << "\"\n"
                  << "  expected: " << ids_string(expected[i]) << "\n"
                  << "  got:      " << ids_string(got);
  }
  RecordProperty("passed", std::to_string(passed) + "/" + std::to_string(inputs.size()));
  std::printf("[ vocab    ] %s: %zu/%zu inputs match\n", GetParam().c_str(), passed, inputs.size());
}

// GoogleTest names may only hold letters, digits and underscores.
std::string param_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabFileTest, testing::ValuesIn(vocab_names()), param_name);

// ---------------------------------------------------------------------------------------------
// Real models: prompt tokens (BOS as the metadata asks) must match the goldens.

TEST(TokenizerModels, Stories260KEncodesOnceUponATime) {
  const Tokenizer* tok = load(kModelDir + "/stories260K.gguf");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->encode("Once upon a time", true, false),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  // Its separator and padding ids are stored as 4294967295, meaning none.
  EXPECT_EQ(tok->separator_id(), -1);
  EXPECT_EQ(tok->padding_id(), -1);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
}

TEST(TokenizerModels, PromptTokensMatchGoldens) {
  const nlohmann::json goldens = nlohmann::json::parse(read_file(kGoldensPath));
  const std::set<std::string> models = {"stories260K.gguf", "tiny-qwen2-F16.gguf",
                                        "tiny-llama32k-Q8_0.gguf"};
  size_t checked = 0;
  bool saw_hello = false;
  for (const auto& c : goldens.at("cases")) {
    const std::string model = c.at("model");
    if (!models.count(model)) continue;
    const Tokenizer* tok = load(kModelDir + "/" + model);
    ASSERT_NE(tok, nullptr) << model;
    const std::string prompt = c.at("prompt");
    const auto expected = c.at("prompt_tokens").get<std::vector<int32_t>>();
    EXPECT_EQ(tok->encode(prompt, true, false), expected) << model << ": \"" << prompt << "\"";
    saw_hello = saw_hello || prompt == "Hello! How are you today?";
    ++checked;
  }
  EXPECT_GE(checked, 3u);
  EXPECT_TRUE(saw_hello);
}

// ---------------------------------------------------------------------------------------------
// Round trips: SentencePiece (byte fallback) and byte-level BPE vocabs represent any bytes.

const std::vector<std::string> kRoundTripTexts = {
    "",
    "Hello world",
    " Hello world",
    "  two leading spaces",
    "trailing spaces   ",
    "\n",
    "line one\nline two\r\n\ttabbed",
    "Once upon a time, there was a llama \xF0\x9F\xA6\x99 named Lily.",
    "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F emoji with ZWJ",
    "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",  // 你好，世界
    "\xD0\xBD\xD0\xB5\xD1\x89\xD0\xBE \xD0\xBD\xD0\xB0 \xD0\x91\xD1\x8A\xD0\xBB\xD0\xB3",
    "C\xE1\xBB\xAD"
    "a Vi\xE1\xBB\x87t",
    "numbers 3 33 333 3333 1234567890 \xC2\xBD \xC2\xB2",
    "code: for (int i = 0; i < n; ++i) { x[i] += y[i]; }",
    "<s> and </s> and <|endoftext|> typed as text",
    "invalid \xFF\xFE bytes \xC3 and a lone continuation \x80 end",
    std::string("with\0nul", 8),
};

// Whether decode(encode(text)) can give `text` back with this vocab. Not when a byte has no
// token (Falcon's vocab lacks the byte-level characters of bytes that never occur in UTF-8,
// and of some control bytes; DeepSeek's has them only as user-defined text tokens), nor when a
// SentencePiece text holds a user-defined token's text: the fragment after it gets a '▁' prefix, as
// after any special token in the reference.
bool can_round_trip(const Tokenizer& tok, std::string_view text) {
  if (tok.model() == TokenizerModel::kBpe) {
    for (char c : text) {
      const int32_t id = tok.vocab().find(byte_level_char(static_cast<uint8_t>(c)));
      if (id < 0 || tok.token_type(id) != TokenType::kNormal) return false;
    }
  }
  if (tok.model() == TokenizerModel::kSpm) {
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (tok.token_type(id) == TokenType::kUserDefined &&
          text.find(tok.token_text(id)) != std::string_view::npos) {
        return false;
      }
    }
  }
  return true;
}

class RoundTripTest : public testing::TestWithParam<std::string> {};

TEST_P(RoundTripTest, DecodeOfEncodeIsIdentity) {
  const Tokenizer* tok = load_vocab(GetParam());
  ASSERT_NE(tok, nullptr);
  size_t checked = 0;
  for (const std::string& text : kRoundTripTexts) {
    if (!can_round_trip(*tok, text)) continue;
    ++checked;
    const std::vector<int32_t> ids = tok->encode(text, false, false);
    EXPECT_EQ(tok->decode(ids), text) << GetParam() << ": \"" << escaped(text) << "\"";
    // BOS is a control token: it decodes to nothing and does not change the result.
    std::vector<int32_t> with_bos = tok->encode(text, true, false);
    EXPECT_EQ(tok->decode(with_bos), text)
        << GetParam() << " with BOS: \"" << escaped(text) << "\"";
  }
  EXPECT_GE(checked, kRoundTripTexts.size() - 2);
}

INSTANTIATE_TEST_SUITE_P(SpmAndByteLevel, RoundTripTest,
                         testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm", "falcon"),
                         param_name);

// ---------------------------------------------------------------------------------------------
// Token pieces and decoding

TEST(TokenizerPieces, MapBytesSpacesAndControlTokens) {
  const Tokenizer* spm = load_vocab("llama-spm");
  ASSERT_NE(spm, nullptr);
  EXPECT_EQ(spm->token_piece(spm->vocab().find("<0x41>")), "A");
  EXPECT_EQ(spm->token_piece(spm->vocab().find("<0xF0>")), "\xF0");
  EXPECT_EQ(spm->token_piece(spm->vocab().find("\xE2\x96\x81Hello")), " Hello");
  EXPECT_EQ(spm->token_piece(spm->bos_id()), "");
  EXPECT_EQ(spm->token_piece(-1), "");
  EXPECT_EQ(spm->token_piece(spm->n_vocab()), "");
  EXPECT_EQ(spm->token_text(spm->bos_id()), "<s>");

  const Tokenizer* bpe = load_vocab("gpt-2");
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(bpe->token_piece(bpe->vocab().find("\xC4\xA0the")), " the");  // "Ġthe"
  EXPECT_EQ(bpe->token_piece(bpe->vocab().find("\xC4\x8A")), "\n");       // "Ċ"
  EXPECT_EQ(bpe->token_piece(bpe->eos_id()), "");

  const Tokenizer* bert = load_vocab("bert-bge");
  ASSERT_NE(bert, nullptr);
  const std::vector<int32_t> ids = bert->encode("Hello, world!", true, false);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids.front(), bert->cls_id());
  EXPECT_EQ(ids.back(), bert->separator_id());
  EXPECT_EQ(bert->decode(ids), "hello , world !");
}

TEST(TokenizerPieces, SpmDecodeDropsOnlyTheFirstLeadingSpace) {
  const Tokenizer* tok = load_vocab("llama-spm");
  ASSERT_NE(tok, nullptr);
  const int32_t hello = tok->vocab().find("\xE2\x96\x81Hello");
  const int32_t world = tok->vocab().find("\xE2\x96\x81world");
  ASSERT_GE(hello, 0);
  ASSERT_GE(world, 0);
  const std::vector<int32_t> ids = {tok->bos_id(), hello, world};
  EXPECT_EQ(tok->decode(ids), "Hello world");
}

// ---------------------------------------------------------------------------------------------
// Streaming

// Feeds ids one at a time; every chunk must be whole characters, and all chunks together must
// equal decode().
void expect_stream_matches_decode(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  StreamDecoder stream(tok, /*strip_leading_space=*/true);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string chunk = stream.push(id);
    EXPECT_TRUE(is_valid_utf8(chunk)) << "chunk \"" << escaped(chunk) << "\" after id " << id;
    streamed += chunk;
  }
  streamed += stream.flush();
  EXPECT_EQ(streamed, tok.decode(ids));
}

TEST(StreamDecoder, NeverEmitsHalfACharacterFromByteTokens) {
  const Tokenizer* tok = load_vocab("llama-spm");
  ASSERT_NE(tok, nullptr);
  const std::string text =
      "Llamas \xF0\x9F\xA6\x99 say \xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F and "
      "\xC2\xBFqu\xC3\xA9? \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x9A\x80";
  const std::vector<int32_t> ids = tok->encode(text, true, false);
  // The emoji are not in the vocab, so they really are split across byte tokens.
  size_t lead_bytes = 0;
  for (int32_t id : ids) lead_bytes += tok->token_text(id) == "<0xF0>";
  ASSERT_GE(lead_bytes, 2u);
  expect_stream_matches_decode(*tok, ids);
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(StreamDecoder, NeverEmitsHalfACharacterFromByteLevelTokens) {
  const Tokenizer* tok = load_vocab("gpt-2");
  ASSERT_NE(tok, nullptr);
  const std::vector<int32_t> ids = tok->encode(
      "\xF0\x9F\xA6\x99 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x81 caf\xC3\xA9", false, false);
  expect_stream_matches_decode(*tok, ids);
}

TEST(StreamDecoder, HoldsIncompleteAndReplacesInvalidBytes) {
  const Tokenizer* tok = load_vocab("llama-spm");
  ASSERT_NE(tok, nullptr);
  const auto byte = [&](int b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    return tok->vocab().find(name);
  };
  StreamDecoder stream(*tok, false);
  EXPECT_EQ(stream.push(byte(0xE4)), "");
  EXPECT_EQ(stream.push(byte(0xBD)), "");
  EXPECT_EQ(stream.pending_bytes(), 2u);
  EXPECT_EQ(stream.push(byte(0xA0)), "\xE4\xBD\xA0");  // 你
  // A stray continuation byte can never become valid: replaced at once.
  EXPECT_EQ(stream.push(byte(0x80)), "\xEF\xBF\xBD");
  // A lead byte followed by a non-continuation: replaced as soon as the next piece arrives.
  EXPECT_EQ(stream.push(byte(0xF0)), "");
  EXPECT_EQ(stream.push(byte(0x41)),
            "\xEF\xBF\xBD"
            "A");
  // Incomplete at the end: replaced by flush.
  EXPECT_EQ(stream.push(byte(0xF0)), "");
  EXPECT_EQ(stream.push(byte(0x9F)), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.pending_bytes(), 0u);
}

TEST(StreamDecoder, StripsLeadingSpaceOfFirstPieceOnlyWhenAsked) {
  const Tokenizer* tok = load_vocab("llama-spm");
  ASSERT_NE(tok, nullptr);
  const std::vector<int32_t> ids = tok->encode("Once upon", true, false);
  std::string stripped, kept;
  StreamDecoder strip(*tok, true), keep(*tok, false);
  for (int32_t id : ids) {
    stripped += strip.push(id);
    kept += keep.push(id);
  }
  EXPECT_EQ(stripped, "Once upon");
  EXPECT_EQ(kept, " Once upon");

  // Byte-level BPE spaces are real text: the flag does not remove them.
  const Tokenizer* bpe = load_vocab("gpt-2");
  ASSERT_NE(bpe, nullptr);
  std::string text;
  StreamDecoder bpe_stream(*bpe, true);
  for (int32_t id : bpe->encode(" Once upon", false, false)) text += bpe_stream.push(id);
  EXPECT_EQ(text, " Once upon");
}

// ---------------------------------------------------------------------------------------------
// Special tokens

TEST(TokenizerSpecial, ControlTextIsParsedOnlyWhenAsked) {
  const Tokenizer* tok = load_vocab("llama-spm");
  ASSERT_NE(tok, nullptr);
  const std::vector<int32_t> parsed = tok->encode("<s>Hello</s>", false, true);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0], tok->bos_id());
  EXPECT_EQ(parsed[1], tok->vocab().find("\xE2\x96\x81Hello"));  // space prefix after special
  EXPECT_EQ(parsed[2], tok->eos_id());

  const std::vector<int32_t> plain = tok->encode("<s>Hello</s>", false, false);
  for (int32_t id : plain) {
    EXPECT_NE(id, tok->bos_id());
    EXPECT_NE(id, tok->eos_id());
  }
  EXPECT_EQ(tok->decode(plain), "<s>Hello</s>");

  const Tokenizer* bpe = load_vocab("gpt-2");
  ASSERT_NE(bpe, nullptr);
  EXPECT_EQ(bpe->encode("<|endoftext|>", false, true), std::vector<int32_t>{50256});
  const std::vector<int32_t> bpe_plain = bpe->encode("a<|endoftext|>b", false, false);
  EXPECT_GT(bpe_plain.size(), 3u);
  EXPECT_EQ(bpe->decode(bpe_plain), "a<|endoftext|>b");
  EXPECT_EQ(bpe->encode("a<|endoftext|>b", false, true).at(1), 50256);
}

TEST(TokenizerSpecial, UserDefinedTokensAreAlwaysMatched) {
  // DeepSeek's vocab has user-defined single characters such as "ü" (id 100014).
  const Tokenizer* tok = load_vocab("deepseek-llm");
  ASSERT_NE(tok, nullptr);
  const int32_t u_umlaut = tok->vocab().find("\xC3\xBC");
  ASSERT_EQ(tok->token_type(u_umlaut), TokenType::kUserDefined);
  const std::vector<int32_t> ids = tok->encode("F\xC3\xBChrer", false, false);
  EXPECT_NE(std::find(ids.begin(), ids.end(), u_umlaut), ids.end());
  EXPECT_EQ(tok->decode(ids), "F\xC3\xBChrer");
}

TEST(TokenizerSpecial, EndOfGeneration) {
  const Tokenizer* spm = load_vocab("llama-spm");
  ASSERT_NE(spm, nullptr);
  EXPECT_TRUE(spm->is_end_of_generation(spm->eos_id()));
  EXPECT_FALSE(spm->is_end_of_generation(spm->bos_id()));
  EXPECT_FALSE(spm->is_end_of_generation(spm->vocab().find("\xE2\x96\x81the")));
  EXPECT_FALSE(spm->is_end_of_generation(-1));
  EXPECT_FALSE(spm->is_end_of_generation(spm->n_vocab()));

  const Tokenizer* phi3 = load_vocab("phi-3");
  ASSERT_NE(phi3, nullptr);
  EXPECT_TRUE(phi3->is_end_of_generation(phi3->vocab().find("<|end|>")));
  EXPECT_TRUE(phi3->is_end_of_generation(phi3->vocab().find("<|endoftext|>")));
  EXPECT_FALSE(phi3->is_end_of_generation(phi3->vocab().find("<|assistant|>")));
  EXPECT_FALSE(phi3->is_end_of_generation(phi3->vocab().find("<|user|>")));

  const Tokenizer* gpt2 = load_vocab("gpt-2");
  ASSERT_NE(gpt2, nullptr);
  EXPECT_TRUE(gpt2->is_end_of_generation(50256));
  EXPECT_FALSE(gpt2->is_end_of_generation(0));
}

// ---------------------------------------------------------------------------------------------
// Hand-built vocabs: the merge order itself, and errors for bad metadata.

struct BuiltTokenizer {
  std::vector<uint8_t> bytes;  // must outlive the File
  Result<std::unique_ptr<Tokenizer>> tokenizer = Error{"not built"};
};

BuiltTokenizer build(const gguf::Writer& writer) {
  BuiltTokenizer built;
  built.bytes = writer.to_bytes();
  Result<std::unique_ptr<gguf::File>> file = gguf::File::parse(built.bytes, "built.gguf");
  if (!file) {
    built.tokenizer = file.error();
    return built;
  }
  built.tokenizer = Tokenizer::from_gguf(**file);
  return built;
}

gguf::Writer bpe_writer(const std::vector<std::string>& tokens,
                        const std::vector<std::string>& merges) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_string_array("tokenizer.ggml.merges", merges);
  return w;
}

TEST(TokenizerBuilt, BpeMergesApplyInRankOrder) {
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc"};
  // "b c" ranks first, so "abc" becomes a + bc, then abc.
  BuiltTokenizer first_bc = build(bpe_writer(tokens, {"b c", "a b", "a bc"}));
  ASSERT_TRUE(first_bc.tokenizer) << first_bc.tokenizer.message();
  EXPECT_EQ((*first_bc.tokenizer)->encode("abc", false, false), std::vector<int32_t>{5});
  // "a b" ranks first: ab + c, and there is no "ab c" merge.
  BuiltTokenizer first_ab = build(bpe_writer(tokens, {"a b", "b c", "a bc"}));
  ASSERT_TRUE(first_ab.tokenizer) << first_ab.tokenizer.message();
  EXPECT_EQ((*first_ab.tokenizer)->encode("abc", false, false), (std::vector<int32_t>{3, 2}));
}

TEST(TokenizerBuilt, SpmMergesHighestScoreFirstTiesLeftmost) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  w.set_string_array("tokenizer.ggml.tokens",
                     {"<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc", "aa"});
  w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -1, -3, -2, -1});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1, 1});
  BuiltTokenizer built = build(w);
  ASSERT_TRUE(built.tokenizer) << built.tokenizer.message();
  const Tokenizer& tok = **built.tokenizer;
  EXPECT_EQ(tok.encode("abc", false, false), (std::vector<int32_t>{3, 7}));  // a + bc
  EXPECT_EQ(tok.encode("aaa", false, false), (std::vector<int32_t>{8, 3}));  // aa + a
  // No byte tokens: an unknown character is <unk>.
  EXPECT_EQ(tok.encode("axb", false, false), (std::vector<int32_t>{3, 0, 4}));
}

// Builds a vocab with one thing wrong; the error must name the key.
void expect_error_names(const gguf::Writer& w, const std::string& key) {
  BuiltTokenizer built = build(w);
  ASSERT_FALSE(built.tokenizer) << "expected an error about " << key;
  EXPECT_NE(built.tokenizer.message().find(key), std::string::npos) << built.tokenizer.message();
}

TEST(TokenizerBuilt, BadMetadataIsAnErrorNamingTheKey) {
  const std::vector<std::string> tokens = {"a", "b", "ab"};
  expect_error_names(bpe_writer(tokens, {"a b", "ab"}), "tokenizer.ggml.merges");
  expect_error_names(bpe_writer(tokens, {"a b", ""}), "tokenizer.ggml.merges");
  {
    gguf::Writer w = bpe_writer(tokens, {});
    w.set_i32_array("tokenizer.ggml.merges", {1, 2});
    expect_error_names(w, "tokenizer.ggml.merges");
  }
  {
    gguf::Writer w = bpe_writer(tokens, {"a b"});
    w.set_string("tokenizer.ggml.model", "t5-unigram");
    expect_error_names(w, "tokenizer.ggml.model");
  }
  {
    gguf::Writer w = bpe_writer(tokens, {"a b"});
    w.set_string("tokenizer.ggml.pre", "no-such-pre-tokenizer");
    expect_error_names(w, "tokenizer.ggml.pre");
  }
  {
    gguf::Writer w = bpe_writer(tokens, {"a b"});
    w.set_f32_array("tokenizer.ggml.scores", {0, 0});
    expect_error_names(w, "tokenizer.ggml.scores");
  }
  {
    gguf::Writer w = bpe_writer(tokens, {"a b"});
    w.set_i32_array("tokenizer.ggml.token_type", {1, 1, 1, 1});
    expect_error_names(w, "tokenizer.ggml.token_type");
  }
  {
    gguf::Writer w = bpe_writer(tokens, {"a b"});
    w.set_u32("tokenizer.ggml.bos_token_id", 3);
    expect_error_names(w, "tokenizer.ggml.bos_token_id");
  }
  {
    gguf::Writer w = bpe_writer({}, {});
    expect_error_names(w, "tokenizer.ggml.tokens");
  }
}

TEST(TokenizerBuilt, AllOnesIdMeansNone) {
  gguf::Writer w = bpe_writer({"a", "b", "ab"}, {"a b"});
  w.set_u32("tokenizer.ggml.eos_token_id", 4294967295u);
  w.set_i32("tokenizer.ggml.bos_token_id", -1);
  BuiltTokenizer built = build(w);
  ASSERT_TRUE(built.tokenizer) << built.tokenizer.message();
  EXPECT_EQ((*built.tokenizer)->eos_id(), -1);
  EXPECT_EQ((*built.tokenizer)->bos_id(), -1);
  EXPECT_EQ((*built.tokenizer)->encode("ab", true, false), std::vector<int32_t>{2});
}

// ---------------------------------------------------------------------------------------------
// Hostile input: arbitrary bytes and huge runs must neither crash nor take super-linear time
// (a quadratic regex on these inputs would run for minutes).

TEST(TokenizerHostile, ArbitraryBytesAndLongRunsRoundTrip) {
  std::mt19937 rng(1234);
  std::vector<std::string> inputs;
  for (int i = 0; i < 20; ++i) {
    std::string s(1 + rng() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    inputs.push_back(std::move(s));
  }
  inputs.push_back(std::string(20000, ' ') + "\xF0\x9F\x9A\x80" + std::string(20000, ' ') + "x");
  inputs.push_back(std::string(20000, 'a'));
  inputs.push_back(std::string(20000, '\n') + std::string(20000, '\t'));
  inputs.push_back(std::string(20000, '\xF0'));
  inputs.push_back(std::string(20000, '\0'));
  std::string digits;
  for (int i = 0; i < 20000; ++i) digits.push_back(static_cast<char>('0' + i % 10));
  inputs.push_back(digits);

  for (const std::string name :
       {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "falcon", "bert-bge"}) {
    const Tokenizer* tok = load_vocab(name);
    ASSERT_NE(tok, nullptr);
    for (const std::string& input : inputs) {
      const bool lossless =
          tok->model() != TokenizerModel::kWordPiece && can_round_trip(*tok, input);
      for (bool parse_special : {false, true}) {
        const std::vector<int32_t> ids = tok->encode(input, true, parse_special);
        for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab()) << name;
        if (lossless && !parse_special) {
          EXPECT_EQ(tok->decode(ids), input) << name << ": input of " << input.size() << " bytes";
        }
      }
    }
  }
}

}  // namespace
}  // namespace cove::tokenizer
