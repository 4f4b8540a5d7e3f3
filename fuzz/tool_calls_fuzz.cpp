// libFuzzer target for text a model writes and the assistant reads: tool-call formats and
// calculator expressions. Any bytes must give a result, never a crash, a hang or a throw, and:
//   - every parsed call has a non-empty name, an id, and arguments that parse as a JSON object;
//   - parsing is the same whichever format is forced, as long as it does not crash;
//   - the calculator returns a finite value or an error that names a column.
// When the bytes are a JSON array, they are also used as an OpenAI tools array for
// tool_call_grammar, whose output (when not empty) must be valid GBNF.
//
// Build with -DCOVE_FUZZ=ON (clang), or by hand:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/chat/tool_calls.cpp src/assistant/tool_calculator.cpp src/assistant/tools.cpp \
//     src/runtime/*.cpp src/tokenizer/utf8.cpp fuzz/tool_calls_fuzz.cpp
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "assistant/tool_calculator.h"
#include "chat/tool_calls.h"
#include "runtime/grammar.h"

namespace {

void check_calls(const cove::chat::ParsedToolCalls& parsed) {
  for (const auto& call : parsed.tool_calls) {
    if (!call.contains("id") || !call["id"].is_string() || call["id"].get<std::string>().empty()) {
      __builtin_trap();
    }
    const auto& function = call["function"];
    if (!function["name"].is_string() || function["name"].get<std::string>().empty()) {
      __builtin_trap();
    }
    const auto arguments = nlohmann::json::parse(function["arguments"].get<std::string>(), nullptr,
                                                 /*allow_exceptions=*/false);
    if (!arguments.is_object()) __builtin_trap();
    // The call must be serializable (the server sends it as JSON).
    (void)call.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  using cove::chat::ToolCallFormat;
  for (ToolCallFormat format : {ToolCallFormat::kAuto, ToolCallFormat::kJson,
                                ToolCallFormat::kHermes, ToolCallFormat::kMistral}) {
    cove::chat::ToolCallParseOptions options;
    options.format = format;
    check_calls(cove::chat::parse_tool_calls(text, options));
  }

  cove::Result<double> value = cove::assistant::evaluate_expression(text);
  if (value.is_ok() && !std::isfinite(*value)) __builtin_trap();
  if (!value.is_ok() && value.message().find("column") == std::string::npos &&
      value.message().find("longer than") == std::string::npos) {
    __builtin_trap();
  }

  if (size < 4096) {
    const nlohmann::ordered_json tools =
        nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (tools.is_array()) {
      const std::string gbnf = cove::chat::tool_call_grammar(tools);
      if (!gbnf.empty()) {
        cove::Result<cove::runtime::Grammar> grammar = cove::runtime::Grammar::parse(gbnf);
        if (!grammar.is_ok() && grammar.message().find("more than") == std::string::npos) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
