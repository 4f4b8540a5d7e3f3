#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <string>

namespace cove::tokenizer {

// ---------------------------------------------------------------------------------------------
// The recipes
//
// The patterns below are the published pre-tokenizer regexes of each model family (from their
// tokenizer.json files), written for PCRE2: `(?i:'s|...)` is spelled with explicit case classes
// so that PCRE2's Unicode case folding (which would also match U+017F for 's') stays out, and
// long literal character ranges use \x{...} escapes.

namespace {

// GPT-2: contractions, optionally space-prefixed runs of letters / digits / other symbols,
// whitespace not followed by a non-space (so "  x" gives " " and " x"), any other whitespace.
constexpr const char* kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";

// Llama 3 (tiktoken cl100k): case-insensitive contractions, letters with one leading
// non-letter, digits in groups of up to three, symbols with trailing newlines, newline runs.
constexpr const char* kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen 2: Llama 3's pattern with every digit on its own.
constexpr const char* kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Tekken (Mistral Nemo): words split at lower-to-upper case changes, single digits.
constexpr const char* kTekken =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// GPT-4o (tiktoken o200k): Tekken's case-aware words with contractions attached, digit triples.
constexpr const char* kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// DeepSeek LLM's sequence: newlines alone; runs of cased letters (DeepSeek's own enumerated
// class, mostly Latin, Greek, Cyrillic, Armenian, Georgian and Cherokee) with one optional
// leading space; runs of ASCII and full-width punctuation; trailing whitespace; CJK and Hangul
// runs; digit runs.
constexpr const char* kDeepseekNewline = R"re([\r\n])re";
constexpr const char* kDeepseekLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr const char* kDeepseekPunctuation =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";
// The published pattern is `\s+$`. Written that way PCRE2 retries it from every position of a
// whitespace run that is not at the end, which is quadratic in the run's length; a leftmost
// match of `\s+$` always starts right after a non-space, so the look-behind gives the same
// matches and makes each run cost one scan.
constexpr const char* kDeepseekTrailingSpace = R"re((?<!\s)\s+$)re";
constexpr const char* kDeepseekCjk =
    R"re([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";

// DeepSeek Coder: newlines, letters and punctuation runs with an optional leading space, CJK and
// Hangul runs, single digits.
constexpr const char* kDeepseekCoderLetters = R"re(\s?\p{L}+)re";
constexpr const char* kDeepseekCoderPunctuation = R"re(\s?\p{P}+)re";

// DeepSeek V3 / R1: digit triples, CJK and kana runs, then one pattern for words (an ASCII
// punctuation mark may lead ASCII letters), symbol runs and whitespace.
constexpr const char* kDeepseekV3Digits = R"re(\p{N}{1,3})re";
constexpr const char* kDeepseekV3Cjk =
    R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";
constexpr const char* kDeepseekV3Words =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Falcon: runs of punctuation (Unicode P plus the ASCII symbols Rust counts as punctuation),
// then GPT-2's pattern, then digit runs as seen after the byte-to-unicode mapping (a stage of
// its own, below), then ASCII digit triples.
constexpr const char* kFalconPunctuation = R"re([\p{P}$+<=>^`|~]+)re";
constexpr const char* kDigitTriples = R"re([0-9][0-9][0-9])re";

// StarCoder, Refact, Command-R, SmolLM...: every digit alone, then GPT-2's pattern.
constexpr const char* kSingleDigit = R"re(\p{N})re";
constexpr const char* kDigitRun = R"re(\p{N}+)re";

// Bytes whose GPT-2 byte-to-unicode character is numeric: ASCII digits and 0xB2 0xB3 0xB9
// 0xBC 0xBD 0xBE, which map to themselves (² ³ ¹ ¼ ½ ¾). Falcon's tokenizer splits digit runs
// after that mapping, so these bytes split off even when they are the second byte of a
// character such as 'н' (D0 BD).
bool is_byte_level_numeric(uint8_t b) {
  return (b >= '0' && b <= '9') || b == 0xB2 || b == 0xB3 || b == 0xB9 || (b >= 0xBC && b <= 0xBE);
}

enum class StageKind { kRegex, kByteLevelDigitRuns };

struct StageSpec {
  StageKind kind;
  const char* pattern;  // for kRegex
};

struct Recipe {
  std::vector<std::string_view> names;
  std::vector<StageSpec> stages;
  bool ignore_merges = false;
};

StageSpec regex(const char* pattern) {
  return {StageKind::kRegex, pattern};
}

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> kRecipes = {
      // "default" for a gpt2-model vocab means GPT-2's own pre-tokenizer.
      {{"default", "gpt-2", "gpt2", "phi-2", "mpt", "olmo", "gpt-neox", "roberta-bpe", "jina-v1-en",
        "jina-v2-code", "jina-v2-es", "jina-v2-de", "jina-es", "jina-de"},
       {regex(kGpt2)}},
      {{"llama3", "llama-bpe", "llama-v3"}, {regex(kLlama3)}, /*ignore_merges=*/true},
      {{"dbrx", "smaug-bpe", "falcon3", "chatglm-bpe", "glm4"}, {regex(kLlama3)}},
      {{"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"}, {regex(kQwen2)}},
      {{"tekken", "pixtral"}, {regex(kTekken)}, /*ignore_merges=*/true},
      {{"gpt-4o"}, {regex(kGpt4o)}, /*ignore_merges=*/true},
      {{"deepseek-llm"},
       {regex(kDeepseekNewline), regex(kDeepseekLetters), regex(kDeepseekPunctuation),
        regex(kDeepseekTrailingSpace), regex(kDeepseekCjk), regex(kDigitRun)}},
      {{"deepseek-coder"},
       {regex(kDeepseekNewline), regex(kDeepseekCoderLetters), regex(kDeepseekCoderPunctuation),
        regex(kDeepseekCjk), regex(kSingleDigit)}},
      {{"deepseek-v3"}, {regex(kDeepseekV3Digits), regex(kDeepseekV3Cjk), regex(kDeepseekV3Words)}},
      {{"falcon"},
       {regex(kFalconPunctuation),
        regex(kGpt2),
        {StageKind::kByteLevelDigitRuns, nullptr},
        regex(kDigitTriples)}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {regex(kSingleDigit), regex(kGpt2)}},
  };
  return kRecipes;
}

// A regex can, on adversarial text, backtrack far more than its input's length. Past this many
// steps in one search the rest of the piece is left unsplit: the result is still a lossless
// split, and no input can hang the tokenizer.
constexpr uint32_t kMatchLimit = 20'000'000;

// Match data and JIT stack are per thread: a PreTokenizer is shared by concurrent encodes.
struct ThreadMatchState {
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* match_context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ThreadMatchState() {
    match_data = pcre2_match_data_create(1, nullptr);  // only the whole match is needed
    match_context = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(match_context, kMatchLimit);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    if (jit_stack) pcre2_jit_stack_assign(match_context, nullptr, jit_stack);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(match_context);
    pcre2_match_data_free(match_data);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

ThreadMatchState& thread_match_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

struct PreTokenizer::Stage {
  StageKind kind = StageKind::kRegex;
  pcre2_code* code = nullptr;
  ~Stage() { pcre2_code_free(code); }

  // Appends the pieces of `text` to `out`: matches and the gaps between them.
  void split(std::string_view text, std::vector<std::string_view>& out) const {
    if (kind == StageKind::kByteLevelDigitRuns) {
      split_digit_runs(text, out);
      return;
    }
    ThreadMatchState& state = thread_match_state();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t gap_start = 0, offset = 0;
    while (offset < text.size()) {
      const int rc =
          pcre2_match(code, subject, text.size(), offset, 0, state.match_data, state.match_context);
      // No match, or a search over its step budget (kMatchLimit): the rest is one gap.
      if (rc < 0) break;
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data);
      const size_t start = ovector[0], end = ovector[1];
      if (end <= start) {  // an empty match splits nothing; step past it
        offset = start + 1;
        continue;
      }
      if (start > gap_start) out.push_back(text.substr(gap_start, start - gap_start));
      out.push_back(text.substr(start, end - start));
      gap_start = offset = end;
    }
    if (gap_start < text.size()) out.push_back(text.substr(gap_start));
  }

  static void split_digit_runs(std::string_view text, std::vector<std::string_view>& out) {
    size_t run_start = 0;
    for (size_t i = 1; i <= text.size(); ++i) {
      if (i == text.size() || is_byte_level_numeric(static_cast<uint8_t>(text[i])) !=
                                  is_byte_level_numeric(static_cast<uint8_t>(text[i - 1]))) {
        out.push_back(text.substr(run_start, i - run_start));
        run_start = i;
      }
    }
  }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

namespace {

Result<pcre2_code*> compile(const std::string& pattern) {
  // UTF + UCP: \s \p{L} \p{N} use Unicode properties. MATCH_INVALID_UTF: invalid UTF-8 in the
  // subject is allowed and simply never matches. DOLLAR_ENDONLY: `$` means the end of the
  // piece, as in Rust's and Oniguruma's defaults, not also "before a final newline".
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error_code, &error_offset, nullptr);
  if (!code) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(error_code, message.data(), message.size());
    return Error{"pre-tokenizer regex /" + pattern + "/ at offset " + std::to_string(error_offset) +
                 ": " + reinterpret_cast<const char*>(message.data())};
  }
  // JIT is an optimisation only: without it (unsupported CPU, or a PCRE2 built without JIT)
  // pcre2_match interprets the pattern with the same results.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return code;
}

}  // namespace

Result<PreTokenizer> PreTokenizer::from_patterns(const std::vector<std::string>& patterns) {
  PreTokenizer pre;
  for (const std::string& pattern : patterns) {
    Result<pcre2_code*> code = compile(pattern);
    if (!code) return code.error();
    auto stage = std::make_unique<Stage>();
    stage->code = *code;
    pre.stages_.push_back(std::move(stage));
  }
  return pre;
}

Result<PreTokenizer> PreTokenizer::for_name(std::string_view name) {
  for (const Recipe& recipe : recipes()) {
    for (std::string_view n : recipe.names) {
      if (n != name) continue;
      PreTokenizer pre;
      pre.ignore_merges_ = recipe.ignore_merges;
      for (const StageSpec& spec : recipe.stages) {
        auto stage = std::make_unique<Stage>();
        stage->kind = spec.kind;
        if (spec.kind == StageKind::kRegex) {
          Result<pcre2_code*> code = compile(spec.pattern);
          if (!code) return code.error();
          stage->code = *code;
        }
        pre.stages_.push_back(std::move(stage));
      }
      return pre;
    }
  }
  return Error{"unknown pre-tokenizer '" + std::string(name) + "'"};
}

std::vector<std::string_view> PreTokenizer::known_names() {
  std::vector<std::string_view> names;
  for (const Recipe& recipe : recipes()) {
    names.insert(names.end(), recipe.names.begin(), recipe.names.end());
  }
  return names;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  pieces.clear();
  if (text.empty()) return;
  pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& stage : stages_) {
    next.clear();
    for (std::string_view piece : pieces) stage->split(piece, next);
    pieces.swap(next);
  }
}

}  // namespace cove::tokenizer
