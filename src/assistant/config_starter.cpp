// The commented starter config.yaml that `cove init` writes (config.h: starter_config). Every
// key the validator knows appears here, set to its default or commented out, so the file doubles
// as the reference a user edits.
#include "assistant/config.h"

namespace cove::assistant {

std::string starter_config(const std::string& model_path) {
  std::string models;
  if (model_path.empty()) {
    models =
        "models:\n"
        "  # Add at least one model, then run `cove config check`.\n"
        "  # default:\n"
        "  #   path: models/my-model.gguf    # a local GGUF file (relative to this folder)\n"
        "  #   precision: auto               # auto | f32 | f16 | bf16 | q8_0 | q4_0 | q4_k\n"
        "  #   context: 4096                 # tokens; 0 = the model's own\n";
  } else {
    models =
        "models:\n"
        "  default:\n"
        "    path: " +
        model_path +
        "\n"
        "    precision: auto      # auto | f32 | f16 | bf16 | q8_0 | q4_0 | q4_k\n"
        "    context: 4096        # tokens; 0 = the model's own\n"
        "    max_concurrent: 4    # requests at once before the router counts it overloaded\n";
  }
  return "# cove configuration. Check it with `cove config check`.\n"
         "# Relative paths are relative to this file's folder; ~/ is your home folder.\n"
         "\n" +
         models +
         "  # A remote OpenAI-compatible endpoint (its key is read from the environment):\n"
         "  # remote:\n"
         "  #   base_url: https://api.example.com/v1\n"
         "  #   api_key_env: EXAMPLE_API_KEY\n"
         "  #   model: name-the-endpoint-knows\n"
         "  #   fallback: [default]          # tried when this model fails or is overloaded\n"
         "\n"
         "# Which model answers a request: the first rule whose conditions all hold.\n"
         "routes:\n"
         "  # default: default              # when no rule matches (default: the first model)\n"
         "  # fallback: [default]           # tried after the chosen model's own fallbacks\n"
         "  rules: []\n"
         "  # - name: code\n"
         "  #   regex: \"```|\\\\bdef |#include\"\n"
         "  #   model: remote\n"
         "  # - name: long\n"
         "  #   min_chars: 4000               # also max_chars\n"
         "  #   model: remote\n"
         "  # - name: legal\n"
         "  #   keywords: [contract, lawsuit] # whole words, any case\n"
         "  #   model: remote\n"
         "  # - name: hard\n"
         "  #   min_complexity: 0.6           # 0..1 (length, code, questions, tools); also max_\n"
         "  #   tools: true                   # only requests that offer tools\n"
         "  #   model: remote\n"
         "\n"
         "tools:\n"
         "  max_steps: 8          # tool calls in one reply\n"
         "  time: {enabled: true}\n"
         "  calculator: {enabled: true}\n"
         "  memory: {enabled: true}\n"
         "  files:\n"
         "    enabled: false\n"
         "    # workspace: ~/cove-workspace  # the only folder the model may read and write\n"
         "  http_fetch:\n"
         "    enabled: false\n"
         "    allow_hosts: []\n"
         "  shell:\n"
         "    enabled: false\n"
         "    allow_commands: []\n"
         "    timeout_ms: 10000\n"
         "\n"
         "plugins: []\n"
         "# - path: plugins/libexample.so\n"
         "#   config: {greeting: hello}\n"
         "\n"
         "mcp:\n"
         "  servers: {}\n"
         "  # everything:\n"
         "  #   command: npx\n"
         "  #   args: [-y, \"@modelcontextprotocol/server-everything\"]\n"
         "  # remote-tools:\n"
         "  #   url: http://localhost:3001/mcp\n"
         "\n"
         "context:\n"
         "  system_prompt: \"You are cove, a helpful assistant running on the user's machine.\"\n"
         "  memory_results: 3     # long-term memory entries added to each prompt\n"
         "  reply_reserve: 512    # tokens kept free for the reply\n"
         "\n"
         "storage:\n"
         "  # database: cove.db   # default: cove.db in COVE_HOME\n"
         "\n"
         "server:\n"
         "  host: 127.0.0.1\n"
         "  port: 8080\n"
         "  # api_key_env: COVE_API_KEY   # require this key as a bearer token\n";
}

}  // namespace cove::assistant
