// libFuzzer target for the tokenizer: arbitrary bytes through every shared vocab family.
//
// For each input and each vocab (SentencePiece, byte-level BPE with three pre-tokenizers,
// WordPiece), with and without special-token parsing: encode with BOS/EOS, check every id is
// in the vocab, decode, and stream the ids through StreamDecoder, which must only ever return
// valid UTF-8. Two exact oracles: GPT-2's byte-level vocab and Llama's SentencePiece vocab
// (byte fallback) represent any bytes, so decoding must give the input back.
//
// Build and run (from the repository root):
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCOVE_FUZZ=ON \
//     -DCOVE_TESTS=OFF -DCOVE_SANITIZE=ON
//   cmake --build build-fuzz --target tokenizer_fuzz
//   ./build-fuzz/tokenizer_fuzz -max_total_time=30 -max_len=512
// The vocab files are read from ../shared/vocab next to the source tree, or from
// $COVE_VOCAB_DIR.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using cove::tokenizer::StreamDecoder;
using cove::tokenizer::Tokenizer;

struct FuzzVocab {
  std::string name;
  std::unique_ptr<Tokenizer> tokenizer;
  bool lossless = false;  // decode(encode(x)) == x for special-free input
};

std::string vocab_dir() {
  if (const char* dir = std::getenv("COVE_VOCAB_DIR")) return dir;
  // __FILE__ is this file's path as the build passed it: <root>/fuzz/tokenizer_fuzz.cpp.
  const std::string file = __FILE__;
  const size_t fuzz = file.rfind("/fuzz/");
  const std::string root = fuzz == std::string::npos ? "." : file.substr(0, fuzz);
  return root + "/../shared/vocab";
}

// Loaded once: the vocabs take a while to index, and every input uses all of them.
const std::vector<FuzzVocab>& vocabs() {
  static const std::vector<FuzzVocab> loaded = [] {
    std::vector<FuzzVocab> out;
    const std::string dir = vocab_dir();
    const struct {
      const char* name;
      bool lossless;
    } wanted[] = {{"llama-spm", true}, {"gpt-2", true},     {"deepseek-llm", false},
                  {"falcon", false},   {"bert-bge", false}, {"phi-3", false}};
    for (const auto& w : wanted) {
      const std::string path = dir + "/ggml-vocab-" + w.name + ".gguf";
      cove::Result<std::unique_ptr<cove::gguf::File>> file = cove::gguf::File::open(path);
      if (!file) {
        std::fprintf(stderr, "tokenizer_fuzz: %s\n", file.message().c_str());
        std::abort();
      }
      cove::Result<std::unique_ptr<Tokenizer>> tok = Tokenizer::from_gguf(**file);
      if (!tok) {
        std::fprintf(stderr, "tokenizer_fuzz: %s\n", tok.message().c_str());
        std::abort();
      }
      out.push_back({w.name, std::move(*tok), w.lossless});
    }
    return out;
  }();
  return loaded;
}

void check(bool ok, const char* what, const std::string& vocab) {
  if (ok) return;
  std::fprintf(stderr, "tokenizer_fuzz: %s (%s)\n", what, vocab.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // SentencePiece decodes a literal '▁' in the input as a space, so that oracle skips it.
  const bool has_space_marker = text.find("\xE2\x96\x81") != std::string_view::npos;

  for (const FuzzVocab& v : vocabs()) {
    const Tokenizer& tok = *v.tokenizer;
    for (const bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true, parse_special);
      for (int32_t id : ids) check(id >= 0 && id < tok.n_vocab(), "id outside the vocab", v.name);

      const std::string decoded = tok.decode(ids);
      if (v.lossless && !parse_special && !has_space_marker) {
        check(decoded == text, "decode(encode(x)) != x", v.name);
      }

      StreamDecoder stream(tok, /*strip_leading_space=*/true);
      std::string streamed;
      for (int32_t id : ids) {
        const std::string chunk = stream.push(id);
        check(cove::tokenizer::is_valid_utf8(chunk), "stream chunk is not UTF-8", v.name);
        streamed += chunk;
      }
      streamed += stream.flush();
      check(cove::tokenizer::is_valid_utf8(streamed), "stream is not UTF-8", v.name);
      if (cove::tokenizer::is_valid_utf8(decoded)) {
        check(streamed == decoded, "stream differs from decode", v.name);
      }
    }
  }
  return 0;
}
