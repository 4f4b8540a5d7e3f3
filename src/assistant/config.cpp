// Reading and validating config.yaml (see config.h). The YAML is walked section by section with
// a Checker that records every problem with its line and dotted key, and keeps going, so one run
// of `cove config check` lists everything that is wrong.
#include "assistant/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "model/quantizer.h"

namespace cove::assistant {

namespace fs = std::filesystem;

std::string cove_home() {
  const char* home = std::getenv("COVE_HOME");
  if (home != nullptr && *home != '\0') return home;
  const char* user_home = std::getenv("HOME");
  return std::string(user_home != nullptr && *user_home != '\0' ? user_home : ".") + "/.cove";
}

std::string default_config_path() {
  return cove_home() + "/config.yaml";
}

const char* tool_calls_name(ModelConfig::ToolCalls mode) {
  switch (mode) {
    case ModelConfig::ToolCalls::kForced: return "forced";
    case ModelConfig::ToolCalls::kOff: return "off";
    case ModelConfig::ToolCalls::kAuto: break;
  }
  return "auto";
}

const ModelConfig* Config::find_model(const std::string& name) const {
  for (const ModelConfig& m : models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string ConfigProblem::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The checker: typed reads that record problems instead of throwing

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

class Checker {
 public:
  Checker(std::string file, fs::path base_dir, const LoadOptions& options)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), options_(options) {}

  std::vector<ConfigProblem>& problems() { return problems_; }
  const LoadOptions& options() const { return options_; }

  void problem(int line, const std::string& key, const std::string& message) {
    problems_.push_back({file_, line, key, message});
  }

  static int line_of(const YAML::Node& n, int fallback) {
    int line = n.Mark().line;
    return line >= 0 ? line + 1 : fallback;
  }

  using Field = std::function<void(const YAML::Node& value, const std::string& key, int line)>;

  // Walks a mapping: each key goes to its field's handler; unknown and duplicate keys are
  // problems. A null node (an empty section) is an empty mapping.
  void walk(const YAML::Node& node, const std::string& path, int line,
            const std::vector<std::pair<std::string, Field>>& fields) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      problem(line_of(node, line), path,
              std::string("expected a mapping, found ") + kind_name(node));
      return;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int key_line = line_of(it->first, line);
      if (!it->first.IsScalar()) {
        problem(key_line, path, "keys must be plain names");
        continue;
      }
      const std::string name = it->first.Scalar();
      const std::string key = path.empty() ? name : path + "." + name;
      if (!seen.insert(name).second) {
        problem(key_line, key, "duplicate key");
        continue;
      }
      auto field = std::find_if(fields.begin(), fields.end(),
                                [&](const auto& f) { return f.first == name; });
      if (field == fields.end()) {
        std::string expected;
        for (const auto& f : fields) expected += (expected.empty() ? "" : ", ") + f.first;
        problem(key_line, key, "unknown key (expected one of: " + expected + ")");
        continue;
      }
      field->second(it->second, key, key_line);
    }
  }

  // Walks a mapping whose keys are names the user chooses (models, mcp servers).
  void walk_named(const YAML::Node& node, const std::string& path, int line,
                  const std::function<void(const YAML::Node&, const std::string& name,
                                           const std::string& key, int line)>& each) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      problem(line_of(node, line), path,
              std::string("expected a mapping, found ") + kind_name(node));
      return;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int key_line = line_of(it->first, line);
      if (!it->first.IsScalar() || it->first.Scalar().empty()) {
        problem(key_line, path, "names must be non-empty plain strings");
        continue;
      }
      const std::string name = it->first.Scalar();
      if (!seen.insert(name).second) {
        problem(key_line, path + "." + name, "duplicate name");
        continue;
      }
      each(it->second, name, path + "." + name, key_line);
    }
  }

  bool string(const YAML::Node& n, const std::string& key, int line, std::string& out) {
    if (!n.IsScalar()) {
      problem(line, key, std::string("expected a string, found ") + kind_name(n));
      return false;
    }
    out = n.Scalar();
    return true;
  }

  bool integer(const YAML::Node& n, const std::string& key, int line, int64_t min, int64_t max,
               int64_t& out) {
    int64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
      problem(line, key,
              std::string("expected an integer, found ") +
                  (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
      return false;
    }
    if (v < min || v > max) {
      problem(line, key,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                  std::to_string(v));
      return false;
    }
    out = v;
    return true;
  }

  bool integer(const YAML::Node& n, const std::string& key, int line, int64_t min, int64_t max,
               int& out) {
    int64_t v = 0;
    if (!integer(n, key, line, min, max, v)) return false;
    out = static_cast<int>(v);
    return true;
  }

  bool number(const YAML::Node& n, const std::string& key, int line, double min, double max,
              double& out) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || v != v) {
      problem(line, key,
              std::string("expected a number, found ") +
                  (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
      return false;
    }
    if (v < min || v > max) {
      std::ostringstream s;
      s << "must be between " << min << " and " << max << ", got " << v;
      problem(line, key, s.str());
      return false;
    }
    out = v;
    return true;
  }

  bool boolean(const YAML::Node& n, const std::string& key, int line, bool& out) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      problem(line, key,
              std::string("expected true or false, found ") +
                  (n.IsScalar() ? "'" + n.Scalar() + "'" : kind_name(n)));
      return false;
    }
    out = v;
    return true;
  }

  bool string_list(const YAML::Node& n, const std::string& key, int line,
                   std::vector<std::string>& out) {
    if (!n.IsSequence()) {
      problem(line, key, std::string("expected a list of strings, found ") + kind_name(n));
      return false;
    }
    out.clear();
    bool ok = true;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string s;
      if (string(n[i], key + "[" + std::to_string(i + 1) + "]", line_of(n[i], line), s)) {
        out.push_back(s);
      } else {
        ok = false;
      }
    }
    return ok;
  }

  bool string_map(const YAML::Node& n, const std::string& key, int line,
                  std::map<std::string, std::string>& out) {
    if (n.IsNull()) return true;
    if (!n.IsMap()) {
      problem(line, key, std::string("expected a mapping of strings, found ") + kind_name(n));
      return false;
    }
    bool ok = true;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string name, value;
      const int l = line_of(it->first, line);
      if (!string(it->first, key, l, name)) {
        ok = false;
        continue;
      }
      if (!string(it->second, key + "." + name, l, value)) {
        ok = false;
        continue;
      }
      out[name] = value;
    }
    return ok;
  }

  // "~/x" is the user's home; relative paths are relative to the config file's folder.
  std::string resolve(const std::string& path) const {
    fs::path p = path;
    if (path == "~" || path.rfind("~/", 0) == 0) {
      const char* home = std::getenv("HOME");
      p = fs::path(home != nullptr ? home : "") / path.substr(path.size() > 1 ? 2 : 1);
    } else if (p.is_relative()) {
      p = base_dir_ / p;
    }
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    return (ec ? p : abs).lexically_normal().string();
  }

  std::optional<std::string> env(const std::string& name) const {
    if (options_.getenv) return options_.getenv(name);
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }

  // An environment variable name that must be set (to a non-empty value).
  void require_env(const std::string& name, const std::string& key, int line) {
    if (name.empty()) return;
    std::optional<std::string> v = env(name);
    if (!v || v->empty()) problem(line, key, "environment variable " + name + " is not set");
  }

 private:
  std::string file_;
  fs::path base_dir_;
  const LoadOptions& options_;
  std::vector<ConfigProblem> problems_;
};

bool is_http_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

// Why `path` is not a usable GGUF file, or "" when it is.
std::string gguf_file_problem(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "file not found: " + path;
  if (!fs::is_regular_file(path, ec)) return "not a regular file: " + path;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (!in || !in.read(magic, 4)) return "cannot read: " + path;
  if (std::string(magic, 4) != "GGUF") return "not a GGUF file (no GGUF magic): " + path;
  return "";
}

// Whether a command can be spawned: a path that is an executable file, or a name on PATH.
bool command_exists(const std::string& command) {
  if (command.find('/') != std::string::npos) return ::access(command.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::error_code ec;
    const fs::path candidate = fs::path(dir) / command;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Sections

void read_models(Checker& c, const YAML::Node& node, int line, Config& config) {
  c.walk_named(
      node, "models", line,
      [&](const YAML::Node& n, const std::string& name, const std::string& key, int model_line) {
        ModelConfig m;
        m.name = name;
        int path_line = 0, url_line = 0, precision_line = 0, key_env_line = 0;
        bool has_precision = false;
        c.walk(n, key, model_line,
               {{"path",
                 [&](auto& v, auto& k, int l) {
                   if (c.string(v, k, l, m.path)) path_line = l;
                 }},
                {"precision",
                 [&](auto& v, auto& k, int l) {
                   has_precision = c.string(v, k, l, m.precision);
                   precision_line = l;
                 }},
                {"context",
                 [&](auto& v, auto& k, int l) { c.integer(v, k, l, 0, 1 << 24, m.context); }},
                {"max_concurrent",
                 [&](auto& v, auto& k, int l) { c.integer(v, k, l, 0, 100000, m.max_concurrent); }},
                {"fallback", [&](auto& v, auto& k, int l) { c.string_list(v, k, l, m.fallback); }},
                {"tool_calls",
                 [&](auto& v, auto& k, int l) {
                   std::string mode;
                   if (!c.string(v, k, l, mode)) return;
                   if (mode == "auto") {
                     m.tool_calls = ModelConfig::ToolCalls::kAuto;
                   } else if (mode == "forced") {
                     m.tool_calls = ModelConfig::ToolCalls::kForced;
                   } else if (mode == "off") {
                     m.tool_calls = ModelConfig::ToolCalls::kOff;
                   } else {
                     c.problem(l, k, "unknown tool_calls mode '" + mode +
                                         "' (expected one of: auto, forced, off)");
                   }
                 }},
                {"base_url",
                 [&](auto& v, auto& k, int l) {
                   if (c.string(v, k, l, m.base_url)) url_line = l;
                 }},
                {"api_key_env",
                 [&](auto& v, auto& k, int l) {
                   if (c.string(v, k, l, m.api_key_env)) key_env_line = l;
                 }},
                {"model", [&](auto& v, auto& k, int l) { c.string(v, k, l, m.remote_name); }}});
        if (!n.IsNull() && !n.IsMap()) return;  // already reported
        if (!m.path.empty() && !m.base_url.empty()) {
          c.problem(url_line, key,
                    "path (local model) and base_url (remote endpoint) exclude each other");
        } else if (m.path.empty() && m.base_url.empty()) {
          c.problem(model_line, key,
                    "needs path (a local GGUF file) or base_url (a remote endpoint)");
        } else if (!m.path.empty()) {
          m.kind = ModelConfig::Kind::kLocal;
          m.path = c.resolve(m.path);
          if (c.options().check_files) {
            std::string why = gguf_file_problem(m.path);
            if (!why.empty()) c.problem(path_line, key + ".path", why);
          }
          if (has_precision && !model::parse_precision(m.precision)) {
            std::string names;
            for (const std::string& p : model::precision_names())
              names += (names.empty() ? "" : ", ") + p;
            c.problem(precision_line, key + ".precision",
                      "unknown precision '" + m.precision + "' (expected one of: " + names + ")");
          }
          if (!m.api_key_env.empty() || !m.remote_name.empty()) {
            c.problem(model_line, key,
                      "api_key_env and model apply to remote models (base_url) only");
          }
        } else {
          m.kind = ModelConfig::Kind::kRemote;
          if (!is_http_url(m.base_url)) {
            c.problem(url_line, key + ".base_url",
                      "expected an http:// or https:// URL, got '" + m.base_url + "'");
          }
          if (has_precision)
            c.problem(precision_line, key + ".precision", "applies to local models only");
          c.require_env(m.api_key_env, key + ".api_key_env", key_env_line);
          if (m.remote_name.empty()) m.remote_name = name;
        }
        config.models.push_back(std::move(m));
      });
}

void read_routes(Checker& c, const YAML::Node& node, int line, Config& config,
                 std::vector<std::pair<std::string, int>>& model_refs) {
  RoutesConfig& r = config.routes;
  c.walk(node, "routes", line,
         {{"default",
           [&](auto& v, auto& k, int l) {
             if (c.string(v, k, l, r.default_model))
               model_refs.push_back({k + "|" + r.default_model, l});
           }},
          {"fallback",
           [&](auto& v, auto& k, int l) {
             if (c.string_list(v, k, l, r.fallback)) {
               for (const std::string& f : r.fallback) model_refs.push_back({k + "|" + f, l});
             }
           }},
          {"rules", [&](const YAML::Node& v, const std::string& k, int l) {
             if (!v.IsSequence()) {
               c.problem(l, k, std::string("expected a list of rules, found ") + kind_name(v));
               return;
             }
             for (size_t i = 0; i < v.size(); ++i) {
               RouteRule rule;
               const std::string rk = k + "[" + std::to_string(i + 1) + "]";
               const int rl = Checker::line_of(v[i], l);
               int model_line = rl;
               bool has_condition = false;
               auto cond = [&](bool ok) { has_condition = has_condition || ok; };
               c.walk(v[i], rk, rl,
                      {{"name", [&](auto& x, auto& xk, int xl) { c.string(x, xk, xl, rule.name); }},
                       {"model",
                        [&](auto& x, auto& xk, int xl) {
                          if (c.string(x, xk, xl, rule.model)) model_line = xl;
                        }},
                       {"min_chars",
                        [&](auto& x, auto& xk, int xl) {
                          int64_t n = 0;
                          if (c.integer(x, xk, xl, 0, INT64_MAX, n)) rule.min_chars = n;
                          cond(true);
                        }},
                       {"max_chars",
                        [&](auto& x, auto& xk, int xl) {
                          int64_t n = 0;
                          if (c.integer(x, xk, xl, 0, INT64_MAX, n)) rule.max_chars = n;
                          cond(true);
                        }},
                       {"keywords",
                        [&](auto& x, auto& xk, int xl) {
                          c.string_list(x, xk, xl, rule.keywords);
                          cond(true);
                        }},
                       {"regex",
                        [&](auto& x, auto& xk, int xl) {
                          std::string source;
                          cond(true);
                          if (!c.string(x, xk, xl, source)) return;
                          Result<Pattern> p = Pattern::compile(source);
                          if (!p) {
                            c.problem(xl, xk, p.message());
                          } else {
                            rule.regex = *p;
                          }
                        }},
                       {"min_complexity",
                        [&](auto& x, auto& xk, int xl) {
                          double d = 0;
                          if (c.number(x, xk, xl, 0, 1, d)) rule.min_complexity = d;
                          cond(true);
                        }},
                       {"max_complexity",
                        [&](auto& x, auto& xk, int xl) {
                          double d = 0;
                          if (c.number(x, xk, xl, 0, 1, d)) rule.max_complexity = d;
                          cond(true);
                        }},
                       {"tools", [&](auto& x, auto& xk, int xl) {
                          bool b = false;
                          if (c.boolean(x, xk, xl, b)) rule.tools = b;
                          cond(true);
                        }}});
               if (!v[i].IsMap()) continue;
               if (rule.name.empty()) rule.name = "#" + std::to_string(i + 1);
               if (rule.model.empty()) {
                 c.problem(rl, rk + ".model", "required: the model this rule chooses");
               } else {
                 model_refs.push_back({rk + ".model|" + rule.model, model_line});
               }
               if (!has_condition) {
                 c.problem(rl, rk,
                           "has no condition and would match every request (use routes.default)");
               }
               r.rules.push_back(std::move(rule));
             }
           }}});
}

void read_tools(Checker& c, const YAML::Node& node, int line, Config& config) {
  ToolsConfig& t = config.tools;
  auto enabled_only = [&](bool& flag) {
    return [&](const YAML::Node& v, const std::string& k, int l) {
      c.walk(v, k, l,
             {{"enabled", [&](auto& x, auto& xk, int xl) { c.boolean(x, xk, xl, flag); }}});
    };
  };
  int workspace_line = line;
  c.walk(
      node, "tools", line,
      {{"max_steps", [&](auto& v, auto& k, int l) { c.integer(v, k, l, 1, 100, t.max_steps); }},
       {"time", enabled_only(t.time)},
       {"calculator", enabled_only(t.calculator)},
       {"memory", enabled_only(t.memory)},
       {"files",
        [&](auto& v, auto& k, int l) {
          workspace_line = l;
          c.walk(v, k, l,
                 {{"enabled",
                   [&](auto& x, auto& xk, int xl) { c.boolean(x, xk, xl, t.files.enabled); }},
                  {"workspace",
                   [&](auto& x, auto& xk, int xl) {
                     if (c.string(x, xk, xl, t.files.workspace)) {
                       t.files.workspace = c.resolve(t.files.workspace);
                       workspace_line = xl;
                     }
                   }},
                  {"max_bytes", [&](auto& x, auto& xk, int xl) {
                     c.integer(x, xk, xl, 1, INT64_MAX, t.files.max_bytes);
                   }}});
        }},
       {"http_fetch",
        [&](auto& v, auto& k, int l) {
          c.walk(
              v, k, l,
              {{"enabled",
                [&](auto& x, auto& xk, int xl) { c.boolean(x, xk, xl, t.http_fetch.enabled); }},
               {"allow_hosts", [&](auto& x, auto& xk,
                                   int xl) { c.string_list(x, xk, xl, t.http_fetch.allow_hosts); }},
               {"timeout_ms",
                [&](auto& x, auto& xk, int xl) {
                  c.integer(x, xk, xl, 1, 600000, t.http_fetch.timeout_ms);
                }},
               {"max_bytes", [&](auto& x, auto& xk, int xl) {
                  c.integer(x, xk, xl, 1, INT64_MAX, t.http_fetch.max_bytes);
                }}});
        }},
       {"shell", [&](auto& v, auto& k, int l) {
          c.walk(
              v, k, l,
              {{"enabled",
                [&](auto& x, auto& xk, int xl) { c.boolean(x, xk, xl, t.shell.enabled); }},
               {"allow_commands",
                [&](auto& x, auto& xk, int xl) {
                  c.string_list(x, xk, xl, t.shell.allow_commands);
                }},
               {"timeout_ms", [&](auto& x, auto& xk,
                                  int xl) { c.integer(x, xk, xl, 1, 600000, t.shell.timeout_ms); }},
               {"max_output_bytes", [&](auto& x, auto& xk, int xl) {
                  c.integer(x, xk, xl, 1, INT64_MAX, t.shell.max_output_bytes);
                }}});
        }}});
  if (t.files.enabled) {
    std::error_code ec;
    if (t.files.workspace.empty()) {
      c.problem(workspace_line, "tools.files.workspace", "required when tools.files is enabled");
    } else if (c.options().check_files && !fs::is_directory(t.files.workspace, ec)) {
      c.problem(workspace_line, "tools.files.workspace", "not a directory: " + t.files.workspace);
    }
  }
}

void read_plugins(Checker& c, const YAML::Node& node, int line, Config& config) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    c.problem(Checker::line_of(node, line), "plugins",
              std::string("expected a list of plugins, found ") + kind_name(node));
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    PluginConfig p;
    const std::string key = "plugins[" + std::to_string(i + 1) + "]";
    const int pl = Checker::line_of(node[i], line);
    int path_line = pl;
    c.walk(node[i], key, pl,
           {{"path",
             [&](auto& v, auto& k, int l) {
               if (c.string(v, k, l, p.path)) path_line = l;
             }},
            {"enabled", [&](auto& v, auto& k, int l) { c.boolean(v, k, l, p.enabled); }},
            {"config", [&](auto& v, auto& k, int l) { c.string_map(v, k, l, p.settings); }}});
    if (!node[i].IsMap()) continue;
    if (p.path.empty()) {
      c.problem(pl, key + ".path", "required: the plugin's shared library");
      continue;
    }
    p.path = c.resolve(p.path);
    std::error_code ec;
    if (p.enabled && c.options().check_files && !fs::is_regular_file(p.path, ec)) {
      c.problem(path_line, key + ".path", "file not found: " + p.path);
    }
    config.plugins.push_back(std::move(p));
  }
}

void read_mcp(Checker& c, const YAML::Node& node, int line, Config& config) {
  c.walk(
      node, "mcp", line,
      {{"servers", [&](const YAML::Node& v, const std::string& k, int l) {
          c.walk_named(
              v, k, l,
              [&](const YAML::Node& n, const std::string& name, const std::string& key,
                  int server_line) {
                McpServerConfig s;
                s.name = name;
                int command_line = server_line, url_line = server_line;
                c.walk(
                    n, key, server_line,
                    {{"enabled",
                      [&](auto& x, auto& xk, int xl) { c.boolean(x, xk, xl, s.enabled); }},
                     {"command",
                      [&](auto& x, auto& xk, int xl) {
                        if (c.string(x, xk, xl, s.command)) command_line = xl;
                      }},
                     {"args", [&](auto& x, auto& xk, int xl) { c.string_list(x, xk, xl, s.args); }},
                     {"env", [&](auto& x, auto& xk, int xl) { c.string_map(x, xk, xl, s.env); }},
                     {"url",
                      [&](auto& x, auto& xk, int xl) {
                        if (c.string(x, xk, xl, s.url)) url_line = xl;
                      }},
                     {"headers",
                      [&](auto& x, auto& xk, int xl) { c.string_map(x, xk, xl, s.headers); }}});
                if (!n.IsMap()) {
                  if (n.IsNull())
                    c.problem(server_line, key, "needs command (stdio) or url (Streamable HTTP)");
                  return;
                }
                if (!s.command.empty() && !s.url.empty()) {
                  c.problem(url_line, key,
                            "command (stdio) and url (Streamable HTTP) exclude each other");
                } else if (s.command.empty() && s.url.empty()) {
                  c.problem(server_line, key, "needs command (stdio) or url (Streamable HTTP)");
                } else if (!s.url.empty() && !is_http_url(s.url)) {
                  c.problem(url_line, key + ".url",
                            "expected an http:// or https:// URL, got '" + s.url + "'");
                } else if (!s.command.empty() && s.enabled && c.options().check_files &&
                           !command_exists(s.command)) {
                  c.problem(command_line, key + ".command", "command not found: " + s.command);
                }
                if (!s.url.empty() && (!s.args.empty() || !s.env.empty())) {
                  c.problem(url_line, key, "args and env apply to stdio servers (command) only");
                }
                config.mcp_servers.push_back(std::move(s));
              });
        }}});
}

void read_rest(Checker& c, const YAML::Node& root, int line, const std::string& section,
               Config& config) {
  const YAML::Node& v = root;
  if (section == "storage") {
    c.walk(v, "storage", line, {{"database", [&](auto& x, auto& xk, int xl) {
                                   if (c.string(x, xk, xl, config.storage.database)) {
                                     config.storage.database = c.resolve(config.storage.database);
                                   }
                                 }}});
  } else if (section == "context") {
    ContextConfig& cx = config.context;
    c.walk(v, "context", line,
           {{"system_prompt",
             [&](auto& x, auto& xk, int xl) { c.string(x, xk, xl, cx.system_prompt); }},
            {"memory_results",
             [&](auto& x, auto& xk, int xl) { c.integer(x, xk, xl, 0, 50, cx.memory_results); }},
            {"reply_reserve", [&](auto& x, auto& xk, int xl) {
               c.integer(x, xk, xl, 0, 1 << 24, cx.reply_reserve);
             }}});
  } else if (section == "server") {
    ServerConfig& s = config.server;
    c.walk(v, "server", line,
           {{"host", [&](auto& x, auto& xk, int xl) { c.string(x, xk, xl, s.host); }},
            {"port", [&](auto& x, auto& xk, int xl) { c.integer(x, xk, xl, 1, 65535, s.port); }},
            {"api_key_env", [&](auto& x, auto& xk, int xl) {
               if (c.string(x, xk, xl, s.api_key_env)) c.require_env(s.api_key_env, xk, xl);
             }}});
  }
}

}  // namespace

ConfigReport parse_config(const std::string& yaml_text, const std::string& file,
                          const LoadOptions& options) {
  ConfigReport report;
  fs::path base_dir = fs::path(file).parent_path();
  if (base_dir.empty()) base_dir = ".";
  Checker c(file, base_dir, options);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    c.problem(e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "invalid YAML: " + e.msg);
    report.problems = std::move(c.problems());
    return report;
  }
  Config config;
  config.file = file;
  config.storage.database = cove_home() + "/cove.db";
  std::vector<std::pair<std::string, int>> model_refs;  // "key|model name", line
  int models_line = 0;
  try {
    auto section = [&](const std::string& name) {
      return [&, name](const YAML::Node& v, const std::string&, int l) {
        read_rest(c, v, l, name, config);
      };
    };
    c.walk(root, "", 1,
           {{"models",
             [&](auto& v, auto&, int l) {
               models_line = l;
               read_models(c, v, l, config);
             }},
            {"routes", [&](auto& v, auto&, int l) { read_routes(c, v, l, config, model_refs); }},
            {"tools", [&](auto& v, auto&, int l) { read_tools(c, v, l, config); }},
            {"plugins", [&](auto& v, auto&, int l) { read_plugins(c, v, l, config); }},
            {"mcp", [&](auto& v, auto&, int l) { read_mcp(c, v, l, config); }},
            {"storage", section("storage")},
            {"context", section("context")},
            {"server", section("server")}});
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on malformed nodes it could not represent; report rather than crash.
    c.problem(e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "invalid YAML: " + e.msg);
  }
  if (!root.IsNull() && !root.IsMap() && c.problems().empty()) {
    c.problem(1, "", "expected a mapping of sections (models, routes, ...)");
  }
  if (config.models.empty() && c.problems().empty()) {
    c.problem(models_line > 0 ? models_line : 1, "models",
              "no models configured: add a local GGUF file (path) or a remote endpoint (base_url)");
  }
  // Names that must refer to configured models.
  for (const ModelConfig& m : config.models) {
    for (const std::string& f : m.fallback) {
      if (f == m.name) {
        c.problem(models_line, "models." + m.name + ".fallback",
                  "a model cannot fall back to itself");
      } else {
        model_refs.push_back({"models." + m.name + ".fallback|" + f, models_line});
      }
    }
  }
  for (const auto& [ref, line] : model_refs) {
    const size_t bar = ref.rfind('|');
    const std::string key = ref.substr(0, bar), name = ref.substr(bar + 1);
    if (config.find_model(name) == nullptr) {
      std::string known;
      for (const ModelConfig& m : config.models) known += (known.empty() ? "" : ", ") + m.name;
      c.problem(
          line, key,
          "unknown model '" + name + "' (configured: " + (known.empty() ? "none" : known) + ")");
    }
  }
  std::stable_sort(c.problems().begin(), c.problems().end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
  report.problems = std::move(c.problems());
  if (report.problems.empty()) report.config = std::move(config);
  return report;
}

ConfigReport check_config_file(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    ConfigReport r;
    r.problems.push_back({path, 0, "", "config file not found (`cove init` writes a starter one)"});
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (!in || fs::is_directory(path, ec) || !(ss << in.rdbuf())) {
    // An empty file reads as a failed stream insertion too; that is a valid (empty) document.
    if (in && !fs::is_directory(path, ec) && fs::file_size(path, ec) == 0) {
      return parse_config("", path, options);
    }
    ConfigReport r;
    r.problems.push_back({path, 0, "", "cannot read the config file"});
    return r;
  }
  return parse_config(ss.str(), path, options);
}

Result<Config> load_config(const std::string& path, const LoadOptions& options) {
  ConfigReport report = check_config_file(path, options);
  if (report.config) return std::move(*report.config);
  std::string message;
  for (const ConfigProblem& p : report.problems) {
    message += (message.empty() ? "" : "\n") + p.to_string();
  }
  return Error{message, "config"};
}

}  // namespace cove::assistant
