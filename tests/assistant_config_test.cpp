// config.yaml validation: every problem reported with file, line and key; nothing half-loaded;
// the example config and the starter config are valid; `cove config check` and `cove init`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "assistant/config.h"
#include "support/goldens.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

std::string tiny_model() {
  return testing::shared_dir() + "/models/tiny-llama-Q4_0.gguf";
}

std::string all_problems(const ConfigReport& r) {
  std::string s;
  for (const ConfigProblem& p : r.problems) s += p.to_string() + "\n";
  return s;
}

TEST(AssistantConfig, ExampleConfigIsValidAndTyped) {
  ConfigReport r = check_config_file(std::string(COVE_SOURCE_DIR) + "/examples/config.yaml");
  ASSERT_TRUE(r.config) << all_problems(r);
  const Config& c = *r.config;
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[0].name, "small");
  EXPECT_EQ(c.models[0].kind, ModelConfig::Kind::kLocal);
  EXPECT_EQ(fs::canonical(c.models[0].path), fs::canonical(tiny_model()));
  EXPECT_EQ(c.models[0].context, 512);
  EXPECT_EQ(c.models[0].max_concurrent, 4);
  EXPECT_EQ(c.models[0].fallback, std::vector<std::string>{"large"});
  EXPECT_EQ(c.routes.default_model, "small");
  ASSERT_EQ(c.routes.rules.size(), 5u);
  EXPECT_EQ(c.routes.rules[0].name, "code");
  ASSERT_TRUE(c.routes.rules[0].regex.has_value());
  EXPECT_EQ(c.routes.rules[1].keywords.size(), 3u);
  EXPECT_EQ(c.routes.rules[3].min_complexity, 0.5);
  EXPECT_FALSE(c.tools.shell.enabled);
  EXPECT_EQ(c.tools.shell.allow_commands, (std::vector<std::string>{"ls", "wc"}));
  ASSERT_EQ(c.mcp_servers.size(), 1u);
  EXPECT_FALSE(c.mcp_servers[0].enabled);
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.context.reply_reserve, 256);
}

TEST(AssistantConfig, MissingModelFileNamesFileLineAndKey) {
  TempDir dir("missing");
  const std::string path = dir.write("config.yaml",
                                     "models:\n"
                                     "  small:\n"
                                     "    path: /nonexistent/x.gguf\n");
  ConfigReport r = check_config_file(path);
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_EQ(r.problems[0].to_string(),
            path + ":3: models.small.path: file not found: /nonexistent/x.gguf");
}

TEST(AssistantConfig, EveryProblemIsListedAndNothingLoads) {
  TempDir dir("many");
  const std::string path = dir.write("c.yaml",
                                     "models:\n"   // 1
                                     "  small:\n"  // 2
                                     "    path: " +
                                         tiny_model() +
                                         "\n"                            // 3
                                         "    context: big\n"            // 4
                                         "    precison: f16\n"           // 5
                                         "routes:\n"                     // 6
                                         "  default: nosuch\n"           // 7
                                         "  rules:\n"                    // 8
                                         "    - model: small\n"          // 9
                                         "      regex: \"(unclosed\"\n"  // 10
                                         "server:\n"                     // 11
                                         "  port: 99999\n"               // 12
                                         "colour: blue\n");              // 13
  ConfigReport r = check_config_file(path);
  EXPECT_FALSE(r.config);
  const std::string all = all_problems(r);
  ASSERT_EQ(r.problems.size(), 6u) << all;
  EXPECT_NE(all.find(path + ":4: models.small.context: expected an integer, found 'big'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(path + ":5: models.small.precison: unknown key"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":7: routes.default: unknown model 'nosuch' (configured: small)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(path + ":10: routes.rules[1].regex: invalid regex"), std::string::npos) << all;
  EXPECT_NE(all.find(path + ":12: server.port: must be between 1 and 65535, got 99999"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(path + ":13: colour: unknown key"), std::string::npos) << all;
}

TEST(AssistantConfig, UnknownTopLevelSectionIsReported) {
  ConfigReport r =
      parse_config("models:\n  m:\n    path: " + tiny_model() + "\ncolour: blue\n", "x.yaml");
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_EQ(r.problems[0].line, 4);
  EXPECT_EQ(r.problems[0].key, "colour");
  EXPECT_NE(r.problems[0].message.find("unknown key"), std::string::npos);
}

TEST(AssistantConfig, WrongShapesAreReportedNotThrown) {
  const char* cases[][2] = {
      {"models: [a, b]\n", "models: expected a mapping, found a list"},
      {"models:\n  m:\n    path: [x]\n", "models.m.path: expected a string, found a list"},
      {"models:\n  m:\n    base_url: http://h/v1\n    fallback: m\n",
       "models.m.fallback: expected a list of strings"},
      {"models:\n  m: {}\n", "models.m: needs path (a local GGUF file) or base_url"},
      {"models:\n  m:\n    base_url: ftp://h\n",
       "models.m.base_url: expected an http:// or https:// URL"},
      {"models:\n  m:\n    path: a.gguf\n    base_url: http://h\n", "exclude each other"},
      {"models:\n  m:\n    base_url: http://h\nroutes:\n  rules:\n    - model: m\n",
       "routes.rules[1]: has no condition"},
      {"models:\n  m:\n    base_url: http://h\ntools:\n  shell: {enabled: maybe}\n",
       "tools.shell.enabled: expected true or false, found 'maybe'"},
      {"models:\n  m:\n    base_url: http://h\nmcp:\n  servers:\n    s: {url: http://x, command: "
       "y}\n",
       "mcp.servers.s: command (stdio) and url (Streamable HTTP) exclude each other"},
      {"models:\n  m:\n    base_url: http://h\n    fallback: [m]\n", "cannot fall back to itself"},
      {"", "models: no models configured"},
      {"models: {m: {base_url: 'http://h'}}\nmodels: {}\n", "models: duplicate key"},
      {"models:\n  m:\n    path: x\n  - y\n", "invalid YAML"},
  };
  for (const auto& c : cases) {
    LoadOptions options;
    options.check_files = false;
    ConfigReport r = parse_config(c[0], "t.yaml", options);
    EXPECT_FALSE(r.config) << c[0];
    EXPECT_NE(all_problems(r).find(c[1]), std::string::npos)
        << "yaml:\n"
        << c[0] << "expected: " << c[1] << "\ngot:\n"
        << all_problems(r);
  }
}

TEST(AssistantConfig, RemoteModelKeyComesFromTheNamedVariable) {
  const std::string yaml =
      "models:\n  hosted:\n    base_url: https://api.example.com/v1\n"
      "    api_key_env: COVE_TEST_KEY\n";
  LoadOptions unset;
  unset.getenv = [](const std::string&) { return std::optional<std::string>(); };
  ConfigReport r = parse_config(yaml, "t.yaml", unset);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].to_string(),
            "t.yaml:4: models.hosted.api_key_env: environment variable COVE_TEST_KEY is not set");
  LoadOptions set;
  set.getenv = [](const std::string& name) {
    return name == "COVE_TEST_KEY" ? std::optional<std::string>("sk-1") : std::nullopt;
  };
  r = parse_config(yaml, "t.yaml", set);
  ASSERT_TRUE(r.config) << all_problems(r);
  EXPECT_EQ(r.config->models[0].kind, ModelConfig::Kind::kRemote);
  EXPECT_EQ(r.config->models[0].remote_name, "hosted");
}

TEST(AssistantConfig, NonGgufModelFileIsRejected) {
  TempDir dir("notgguf");
  dir.write("model.gguf", "hello, not a model");
  ConfigReport r = parse_config("models:\n  m:\n    path: model.gguf\n", dir.file("config.yaml"));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("not a GGUF file"), std::string::npos)
      << r.problems[0].message;
  EXPECT_NE(r.problems[0].message.find(dir.file("model.gguf")), std::string::npos);  // resolved
}

TEST(AssistantConfig, UnreadableOrMissingFileIsOneProblem) {
  TempDir dir("unreadable");
  ConfigReport r = check_config_file(dir.file("nope.yaml"));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("not found"), std::string::npos);
  r = check_config_file(dir.path().string());  // a folder
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("cannot read"), std::string::npos);
}

TEST(AssistantConfig, StarterConfigWithAModelIsValid) {
  TempDir dir("starter");
  ConfigReport with_model = parse_config(starter_config(tiny_model()), dir.file("config.yaml"));
  ASSERT_TRUE(with_model.config) << all_problems(with_model);
  EXPECT_EQ(with_model.config->models[0].name, "default");
  // Without a model the only problem is the missing model.
  ConfigReport without = parse_config(starter_config(""), dir.file("config.yaml"));
  ASSERT_EQ(without.problems.size(), 1u) << all_problems(without);
  EXPECT_EQ(without.problems[0].key, "models");
}

TEST(AssistantConfigCli, CheckExitsZeroOnValidAndOneWithProblems) {
  testing::ProcessResult ok = testing::run_cove(
      {"config", "check", "--config", std::string(COVE_SOURCE_DIR) + "/examples/config.yaml"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok (2 models, 5 route rules"), std::string::npos) << ok.out;

  TempDir dir("cli");
  const std::string bad =
      dir.write("bad.yaml", "models:\n  m:\n    path: /no/such.gguf\n    ctx: 1\n");
  testing::ProcessResult r = testing::run_cove({"config", "check", "--config", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":3: models.m.path: file not found: /no/such.gguf"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(bad + ":4: models.m.ctx: unknown key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 problems"), std::string::npos) << r.err;
}

TEST(AssistantConfigCli, InitWritesAValidStarterAndRefusesToOverwrite) {
  TempDir dir("init");
  const std::string home = dir.file("home");
  setenv("COVE_HOME", home.c_str(), 1);
  testing::ProcessResult first = testing::run_cove({"init", "--model", tiny_model()});
  testing::ProcessResult again = testing::run_cove({"init"});
  testing::ProcessResult check = testing::run_cove({"config", "check"});
  testing::ProcessResult forced = testing::run_cove({"init", "--force"});
  testing::ProcessResult check_forced = testing::run_cove({"config", "check"});
  unsetenv("COVE_HOME");
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(fs::exists(home + "/config.yaml"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(check_forced.exit_code, 1);  // the model-less starter asks for a model
  EXPECT_NE(check_forced.err.find("models: no models configured"), std::string::npos)
      << check_forced.err;
}

}  // namespace
}  // namespace cove::assistant
