// The model router: a table of requests against one config, each with the model and the rule
// that must be chosen; the fallback chain under failure and overload; `cove route --explain` on
// the README's example config.
#include <gtest/gtest.h>

#include "assistant/config.h"
#include "assistant/router.h"
#include "support/process.h"

namespace cove::assistant {
namespace {

// Remote models need no files, so the table does not depend on the machine.
Config routing_config() {
  const char* yaml = R"(
models:
  small: {base_url: "http://localhost:1/v1", max_concurrent: 2, fallback: [medium]}
  medium: {base_url: "http://localhost:2/v1", max_concurrent: 1}
  large: {base_url: "http://localhost:3/v1", fallback: [medium]}
  coder: {base_url: "http://localhost:4/v1"}
routes:
  default: small
  fallback: [small]
  rules:
    - name: code
      regex: "```|\\bdef "
      model: coder
    - name: legal
      keywords: [contract, lawsuit]
      model: large
    - name: long
      min_chars: 1000
      model: large
    - name: hard-with-tools
      min_complexity: 0.3
      tools: true
      model: large
    - name: medium-band
      min_chars: 100
      max_chars: 999
      model: medium
)";
  LoadOptions options;
  options.check_files = false;
  ConfigReport r = parse_config(yaml, "routes.yaml", options);
  EXPECT_TRUE(r.config) << (r.problems.empty() ? "" : r.problems[0].to_string());
  return r.config ? *r.config : Config{};
}

struct Case {
  const char* what;
  std::string text;
  std::string explicit_model;
  bool tools;
  std::string model;  // expected
  std::string rule;   // expected ("" = explicit or default)
};

TEST(AssistantRouter, RulesTable) {
  const Config config = routing_config();
  ASSERT_EQ(config.models.size(), 4u);
  const std::string long_text(1200, 'a');
  const std::string mid_text(300, 'b');
  const std::vector<Case> cases = {
      {"short chat goes to the default", "hi there", "", false, "small", ""},
      {"explicit model wins over every rule", "```py\nx\n```", "medium", false, "medium", ""},
      {"fenced code matches the regex", "fix this:\n```\nint x;\n```", "", false, "coder", "code"},
      {"python def matches the regex", "def f(): pass", "", false, "coder", "code"},
      {"keyword, any case", "Review this CONTRACT please", "", false, "large", "legal"},
      {"keyword only as a whole word", "my contractor is late", "", false, "small", ""},
      {"long message", long_text, "", false, "large", "long"},
      {"earlier rule wins: code inside a long message", long_text + "```", "", false, "coder",
       "code"},
      {"complexity with tools", "Why? How? When?" + std::string(200, ' '), "", true, "large",
       "hard-with-tools"},
      {"same text without tools falls to the length band",
       "Why? How? When?" + std::string(200, ' '), "", false, "medium", "medium-band"},
      {"length band", mid_text, "", false, "medium", "medium-band"},
      {"band is inclusive at its upper edge", std::string(999, 'c'), "", false, "medium",
       "medium-band"},
      {"utf-8 counts code points, not bytes",
       std::string(600, 'x') +
           [] {
             std::string s;
             for (int i = 0; i < 300; ++i) s += "\xc3\xa9";  // é, 2 bytes each
             return s;
           }(),
       "", false, "medium", "medium-band"},
  };
  for (const Case& c : cases) {
    Result<RouteDecision> d = route(extract_features(c.text, c.explicit_model, c.tools), config);
    ASSERT_TRUE(d) << c.what << ": " << d.message();
    EXPECT_EQ(d->model, c.model) << c.what;
    EXPECT_EQ(d->rule, c.rule) << c.what;
    ASSERT_FALSE(d->reasons.empty()) << c.what;
    EXPECT_EQ(d->reasons.back(), "using '" + c.model + "'") << c.what;
  }
}

TEST(AssistantRouter, ReasonsSayWhichRulesWereSkippedAndWhy) {
  const Config config = routing_config();
  Result<RouteDecision> d = route(extract_features(std::string(400, 'b')), config);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->reasons.size(), 6u);
  EXPECT_EQ(d->reasons[0], "rule 'code' skipped: regex /```|\\bdef / did not match");
  EXPECT_EQ(d->reasons[1], "rule 'legal' skipped: no keyword found");
  EXPECT_EQ(d->reasons[2], "rule 'long' skipped: 400 chars < min_chars 1000");
  EXPECT_EQ(d->reasons[3], "rule 'hard-with-tools' skipped: complexity 0.06 < min_complexity 0.30");
  EXPECT_EQ(d->reasons[4],
            "rule 'medium-band' matched (400 chars >= min_chars 100; 400 chars <= max_chars 999) "
            "-> 'medium'");
}

TEST(AssistantRouter, ComplexityScoreParts) {
  RequestFeatures f = extract_features("a?? b? ```x``` ```y", "", true);
  EXPECT_EQ(f.questions, 2);
  EXPECT_EQ(f.code_blocks, 2);  // one closed, one unclosed
  Complexity c = complexity_of(f);
  EXPECT_DOUBLE_EQ(c.code, 0.3);
  EXPECT_NEAR(c.questions, 0.2 * 2 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(c.tools, 0.2);
  EXPECT_NEAR(c.length, 0.3 * f.chars / 2000.0, 1e-12);
  EXPECT_DOUBLE_EQ(complexity_of(extract_features(std::string(5000, 'z'))).total(), 0.3);
}

TEST(AssistantRouter, FallbackChainSkipsFailedAndOverloadedModels) {
  const Config config = routing_config();
  const RequestFeatures legal = extract_features("a lawsuit about a contract");
  // large -> its own fallback medium -> global fallback small.
  Result<RouteDecision> d = route(legal, config);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->model, "large");
  EXPECT_EQ(d->fallbacks, (std::vector<std::string>{"medium", "small"}));

  ModelLoads loads;
  loads["large"].failed = true;
  loads["large"].error = "endpoint refused the connection";
  loads["medium"].active = 1;  // at its max_concurrent of 1
  d = route(legal, config, loads);
  ASSERT_TRUE(d) << d.message();
  EXPECT_EQ(d->model, "small");
  EXPECT_TRUE(d->fallbacks.empty());
  EXPECT_NE(std::find(d->reasons.begin(), d->reasons.end(),
                      "'large' is failed: endpoint refused the connection, trying 'medium'"),
            d->reasons.end());
  EXPECT_NE(std::find(d->reasons.begin(), d->reasons.end(),
                      "'medium' is overloaded (1/1 requests in flight), trying 'small'"),
            d->reasons.end());
  EXPECT_EQ(d->reasons.back(), "using 'small' (fallback 2 of 2)");

  // An unlimited model (max_concurrent 0) is never overloaded.
  loads.clear();
  loads["coder"].active = 1000;
  d = route(extract_features("```"), config, loads);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->model, "coder");

  // Everything down: an error naming each model.
  loads.clear();
  loads["large"].failed = true;
  loads["medium"].failed = true;
  loads["small"].active = 2;
  d = route(legal, config, loads);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.code(), "no_model_available");
  EXPECT_NE(d.message().find("small overloaded (2/2"), std::string::npos) << d.message();
}

TEST(AssistantRouter, UnknownExplicitModelIsAnError) {
  Result<RouteDecision> d = route(extract_features("hi", "gpt-9"), routing_config());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.code(), "unknown_model");
  EXPECT_NE(d.message().find("configured: small, medium, large, coder"), std::string::npos);
}

TEST(AssistantRouterCli, ExplainOnTheExampleConfig) {
  const std::string config = std::string(COVE_SOURCE_DIR) + "/examples/config.yaml";
  testing::ProcessResult r =
      testing::run_cove({"route", "--explain", "Please review this contract for liability issues",
                         "--config", config});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model: large\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chosen by: rule 'legal'\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fallbacks: small\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule 'code' skipped: regex"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule 'legal' matched (keyword 'contract') -> 'large'"), std::string::npos)
      << r.out;

  r = testing::run_cove({"route", "--explain", "What time is it?", "--config", config});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("model: small\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rule 'short' matched (16 chars <= max_chars 200)"), std::string::npos)
      << r.out;

  r = testing::run_cove({"route", "int main() {}\n```", "--config", config});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "large\n");

  r = testing::run_cove({"route", "hi", "--model", "nosuch", "--config", config});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown model 'nosuch'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace cove::assistant
