// `--no-repack` through the command line: run, score, perplexity and bench accept it, and
// `cove score` gives nearly the same log-probabilities with the weights
// repacked (the default, where the CPU has AVX-512 VNNI) and in the file's layout.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "support/goldens.h"
#include "support/process.h"

namespace cove {
namespace {

nlohmann::json score(const std::string& model, const testing::GoldenCase& c, bool no_repack) {
  std::string ids;
  for (const auto& s : c.steps) ids += (ids.empty() ? "" : " ") + std::to_string(s.id);
  std::vector<std::string> args = {"score", "-m", model, "-p", c.prompt, "--continuation-ids",
                                   ids, "--logprobs", "5", "--json"};
  if (no_repack) args.push_back("--no-repack");
  testing::ProcessResult r = testing::run_cove(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

TEST(RepackCli, ScoreWithAndWithoutRepackingAgree) {
  // tiny-qwen2-Q8_0 has a tied output: its embedding is repacked too and looked up unpacked.
  for (const std::string name :
       {"tiny-llama-Q4_0.gguf", "tiny-llama-Q8_0.gguf", "tiny-qwen2-Q8_0.gguf"}) {
    const std::string path = testing::shared_dir() + "/models/" + name;
    const testing::GoldenCase* first = nullptr;
    std::vector<testing::GoldenCase> cases = testing::load_golden_cases();
    for (const testing::GoldenCase& c : cases) {
      if (c.model == name) {
        first = &c;
        break;
      }
    }
    ASSERT_NE(first, nullptr) << name;
    const nlohmann::json repacked = score(path, *first, false);
    const nlohmann::json file_layout = score(path, *first, true);
    ASSERT_TRUE(repacked.contains("tokens") && file_layout.contains("tokens")) << name;
    ASSERT_EQ(repacked["tokens"].size(), file_layout["tokens"].size());
    for (size_t s = 0; s < repacked["tokens"].size(); ++s) {
      const double a = repacked["tokens"][s]["logprob"], b = file_layout["tokens"][s]["logprob"];
      // The two kernels sum floats in different orders, and 8-bit activation rounding carries
      // such differences through the layers: they stay within the fast path's own distance
      // from exact (about 0.2 at most on these models), far below what a wrong layout gives.
      EXPECT_NEAR(a, b, 0.25) << name << " step " << s;
    }
  }
}

TEST(RepackCli, EveryEngineCommandAcceptsTheFlag) {
  const std::string model = testing::shared_dir() + "/models/tiny-llama-Q4_0.gguf";
  testing::ProcessResult run = testing::run_cove(
      {"run", "-m", model, "-p", "Once upon", "-n", "3", "--temp", "0", "--no-repack"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  testing::ProcessResult bench = testing::run_cove(
      {"bench", "-m", model, "-p", "8", "-n", "2", "-r", "1", "--no-repack", "-o", "json"});
  EXPECT_EQ(bench.exit_code, 0) << bench.err;
  testing::ProcessResult perplexity = testing::run_cove(
      {"perplexity", "-m", model, "-f", testing::shared_dir() + "/README.md", "-c", "64",
       "--no-repack", "--help"});
  EXPECT_EQ(perplexity.exit_code, 0) << perplexity.err;
  EXPECT_NE(perplexity.out.find("--no-repack"), std::string::npos);
}

}  // namespace
}  // namespace cove
