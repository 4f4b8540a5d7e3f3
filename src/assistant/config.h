// The assistant's configuration: ~/.cove/config.yaml (COVE_HOME overrides the folder, --config
// the file), read with yaml-cpp and validated into the typed structs below.
//
// Validation is all-or-nothing: every problem in the file is collected (unknown key, wrong type,
// bad value, missing model or plugin file, unset environment variable) and reported as one line
// each, "config.yaml:12: models.small.path: file not found: /x.gguf", and no Config is returned
// unless there are none, so nothing starts half-configured.
//
// Relative paths in the file (model files, plugins, the workspace, the database) are resolved
// against the folder holding the config file; "~/" is the user's home folder.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace cove::assistant {

// ---------------------------------------------------------------------------------------------
// Where things live

// COVE_HOME if set and non-empty, else $HOME/.cove.
std::string cove_home();
// cove_home() + "/config.yaml".
std::string default_config_path();

// ---------------------------------------------------------------------------------------------
// Sections

struct ModelConfig {
  enum class Kind { kLocal, kRemote };
  // How the assistant loop gets tool calls from this model (key `tool_calls`):
  //   auto    the model writes calls in its own format, parsed from its text (default)
  //   forced  the first step of each turn is grammar-forced to be a call (models without a
  //           reliable native format, the tiny test models); later steps answer freely
  //   off     tools are never offered to this model
  enum class ToolCalls { kAuto, kForced, kOff };
  std::string name;  // the key under models:
  Kind kind = Kind::kLocal;
  // Local GGUF model.
  std::string path;                // resolved, absolute or relative to the working directory
  std::string precision = "auto";  // model::parse_precision names: auto, f32, f16, q8_0, ...
  // Remote OpenAI-compatible endpoint.
  std::string base_url;     // "http://host:port/v1"
  std::string api_key_env;  // environment variable holding the key ("" = no key)
  std::string remote_name;  // the model name sent to the endpoint (key `model`)
  // Both.
  int64_t context = 0;                // context window in tokens; 0 = the model's own
  int max_concurrent = 0;             // requests at once before the router counts it overloaded
  std::vector<std::string> fallback;  // models to try, in order, when this one fails
  ToolCalls tool_calls = ToolCalls::kAuto;
};

// "auto", "forced", "off".
const char* tool_calls_name(ModelConfig::ToolCalls mode);

// A regex compiled once at load time (PCRE2; implemented in router.cpp, which matches it).
// Shared so Config stays copyable.
class Pattern {
 public:
  static Result<Pattern> compile(const std::string& source);
  // The first match in `text`, or nullopt.
  std::optional<std::string> search(const std::string& text) const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<void> code_;  // pcre2_code_8, freed by its deleter
};

// One routing rule. Every condition that is set must hold; the first matching rule wins.
struct RouteRule {
  std::string name;  // `name`, or "#N" (1-based position) when not given
  std::string model;
  std::optional<int64_t> min_chars, max_chars;
  std::vector<std::string> keywords;  // any one, case-insensitive, as a whole word
  std::optional<Pattern> regex;
  std::optional<double> min_complexity, max_complexity;
  std::optional<bool> tools;  // the request offers tools (true) or does not (false)
};

struct RoutesConfig {
  std::string default_model;  // "" = the first model under models:
  std::vector<RouteRule> rules;
  std::vector<std::string> fallback;  // tried after the chosen model's own fallbacks
};

struct ToolsConfig {
  int max_steps = 8;  // tool calls in one reply before the loop stops
  bool time = true;
  bool calculator = true;
  bool memory = true;
  struct Files {
    bool enabled = false;
    std::string workspace;  // resolved; required when enabled
    int64_t max_bytes = 1 << 20;
  } files;
  struct HttpFetch {
    bool enabled = false;
    std::vector<std::string> allow_hosts;
    int timeout_ms = 10000;
    int64_t max_bytes = 1 << 20;
  } http_fetch;
  struct Shell {
    bool enabled = false;
    std::vector<std::string> allow_commands;
    int timeout_ms = 10000;
    int64_t max_output_bytes = 64 << 10;
  } shell;
};

struct PluginConfig {
  std::string path;  // resolved shared library path
  bool enabled = true;
  std::map<std::string, std::string> settings;  // `config:` scalars handed to the plugin
};

struct McpServerConfig {
  std::string name;
  bool enabled = true;
  // stdio: spawn `command args...` with `env` added; or Streamable HTTP at `url`.
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string url;
  std::map<std::string, std::string> headers;
};

struct StorageConfig {
  std::string database;  // resolved; default cove_home()/cove.db
};

struct ContextConfig {
  std::string system_prompt = "You are cove, a helpful assistant running on the user's machine.";
  int memory_results = 3;       // long-term memory entries injected per prompt
  int64_t reply_reserve = 512;  // tokens of the context kept free for the reply
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key_env;  // clients must send this key as a bearer token ("" = none)
};

struct Config {
  std::string file;                 // the file it was read from
  std::vector<ModelConfig> models;  // in file order
  RoutesConfig routes;
  ToolsConfig tools;
  std::vector<PluginConfig> plugins;
  std::vector<McpServerConfig> mcp_servers;
  StorageConfig storage;
  ContextConfig context;
  ServerConfig server;

  const ModelConfig* find_model(const std::string& name) const;
};

// ---------------------------------------------------------------------------------------------
// Loading

struct ConfigProblem {
  std::string file;
  int line = 0;     // 1-based; 0 when the problem has no place (unreadable file)
  std::string key;  // dotted path: "models.small.path", "routes.rules[2].model"
  std::string message;
  std::string to_string() const;  // "config.yaml:12: models.small.path: file not found: /x"
};

struct LoadOptions {
  // Environment lookup (api_key_env); tests inject their own. Default: getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Check that model and plugin files exist and look right (on by default).
  bool check_files = true;
};

struct ConfigReport {
  std::optional<Config> config;  // set exactly when problems is empty
  std::vector<ConfigProblem> problems;
};

// Parses YAML text as if read from `file` (used in messages and to resolve relative paths).
ConfigReport parse_config(const std::string& yaml_text, const std::string& file,
                          const LoadOptions& options = {});
// Reads and parses a file; an unreadable or missing file is one problem.
ConfigReport check_config_file(const std::string& path, const LoadOptions& options = {});
// The same as a Result: the error lists every problem, one per line.
Result<Config> load_config(const std::string& path, const LoadOptions& options = {});

// The commented starter file `cove init` writes. With a model path, it is configured as the
// model "default"; without, the models section shows a commented example.
std::string starter_config(const std::string& model_path);

}  // namespace cove::assistant
