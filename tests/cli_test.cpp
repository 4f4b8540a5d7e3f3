// The command line as a user meets it: exact output on the real tiny model, tokenization of
// every shared vocab test vector, and one clear error line (never a crash) on bad input.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "support/goldens.h"
#include "support/process.h"

namespace cove::cli {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cove-cli-test-" + name)).string();
}

// The golden was recorded with llama2.c at 200 steps, which prints 200 generated tokens (the last
// one sampled from position 199); -n counts generated tokens, so that is -n 200.
TEST(Cli, Stories260KGreedyMatchesLlama2cByteForByte) {
  testing::ProcessResult r = testing::run_cove(
      {"run", "-m", testing::shared_dir() + "/models/stories260K.gguf", "-p", "", "--temp", "0",
       "-n", "200"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected = read_file(testing::shared_dir() + "/golden/stories260K.greedy200.txt");
  ASSERT_FALSE(expected.empty());
  expected.pop_back();  // the file's final newline is not part of the output
  EXPECT_EQ(r.out, expected);
}

TEST(Cli, TokenizeIdsMatchesEveryVocabTestVector) {
  const std::string dir = testing::shared_dir() + "/vocab";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = entry.path().string();
    if (entry.path().extension() != ".gguf") continue;
    const std::string inputs = read_file(path + ".inp");
    const std::string outputs = read_file(path + ".out");
    ASSERT_FALSE(inputs.empty()) << path;
    ++files;
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (size_t pos = 0;;) {
      size_t next = inputs.find(sep, pos);
      if (next == std::string::npos) break;
      texts.push_back(inputs.substr(pos, next - pos));
      pos = next + sep.size();
    }
    std::vector<std::string> expected;
    std::stringstream lines(outputs);
    for (std::string line; std::getline(lines, line);) expected.push_back(line);
    ASSERT_EQ(texts.size(), expected.size()) << path;
    for (size_t i = 0; i < texts.size(); ++i) {
      testing::ProcessResult r = testing::run_cove({"tokenize", "-m", path, "--ids"}, texts[i]);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::string got = r.out;
      if (!got.empty() && got.back() == '\n') got.pop_back();
      // The .out lines hold the ids separated by spaces (with a leading space).
      std::string want = expected[i];
      while (!want.empty() && want.back() == ' ') want.pop_back();
      while (!want.empty() && want.front() == ' ') want.erase(0, 1);
      EXPECT_EQ(got, want) << entry.path().filename() << " input #" << i << ": '" << texts[i]
                           << "'";
    }
  }
  EXPECT_EQ(files, 6);
}

TEST(Cli, ScoreAndRunJsonShapes) {
  const std::string model = testing::shared_dir() + "/models/stories260K.gguf";
  testing::ProcessResult r = testing::run_cove(
      {"run", "-m", model, "-p", "Once upon a time", "-n", "4", "--temp", "0.7", "--seed", "42",
       "--logprobs", "3", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tokens"].size(), 4u);
  for (const auto& t : j["tokens"]) {
    EXPECT_TRUE(t.contains("id") && t.contains("text") && t.contains("logprob"));
    EXPECT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
  }
  // Same seed, same output; the text is the tokens' pieces joined.
  testing::ProcessResult again = testing::run_cove(
      {"run", "-m", model, "-p", "Once upon a time", "-n", "4", "--temp", "0.7", "--seed", "42",
       "--logprobs", "3", "--json"});
  EXPECT_EQ(again.out, r.out);

  testing::ProcessResult s = testing::run_cove({"score", "-m", model, "-p", "Once upon a time",
                                                "--continuation", " there was", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  nlohmann::json sj = nlohmann::json::parse(s.out);
  double sum = 0;
  for (const auto& t : sj["tokens"]) sum += t["logprob"].get<double>();
  EXPECT_NEAR(sj["sum_logprob"].get<double>(), sum, 1e-4);
  EXPECT_EQ(sj["text"].get<std::string>(), " there was");
}

TEST(Cli, SeededSamplingDiffersAcrossSeeds) {
  const std::string model = testing::shared_dir() + "/models/stories260K.gguf";
  auto sample = [&](const std::string& seed) {
    return testing::run_cove({"run", "-m", model, "-p", "Once", "-n", "40", "--temp", "1.5",
                              "--top-k", "0", "--top-p", "1", "--min-p", "0", "--seed", seed})
        .out;
  };
  EXPECT_EQ(sample("1"), sample("1"));
  EXPECT_NE(sample("1"), sample("2"));
}

TEST(Cli, StopStringEndsGenerationBeforeIt) {
  const std::string model = testing::shared_dir() + "/models/stories260K.gguf";
  testing::ProcessResult full = testing::run_cove({"run", "-m", model, "-p", "", "--temp", "0",
                                                   "-n", "60"});
  ASSERT_EQ(full.exit_code, 0);
  const std::string stop = "Lily";
  const size_t at = full.out.find(stop);
  ASSERT_NE(at, std::string::npos) << full.out;
  testing::ProcessResult cut = testing::run_cove(
      {"run", "-m", model, "-p", "", "--temp", "0", "-n", "60", "--stop", stop});
  EXPECT_EQ(cut.out, full.out.substr(0, at));
}

// Bad input: exactly one error line naming the file and the problem, a non-zero exit, no crash.
void expect_clean_failure(const std::vector<std::string>& args, const std::string& must_mention) {
  testing::ProcessResult r = testing::run_cove(args);
  EXPECT_EQ(r.signal, 0) << "crashed: " << r.err;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(must_mention), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, MissingFileNamesIt) {
  expect_clean_failure({"run", "-m", "/nonexistent/model.gguf", "-p", "x"}, "/nonexistent/model.gguf");
  expect_clean_failure({"info", "/nonexistent/model.gguf"}, "/nonexistent/model.gguf");
}

TEST(Cli, NonGgufFileIsRejected) {
  const std::string path = temp_path("not.gguf");
  std::ofstream(path) << "this is not a model\n";
  expect_clean_failure({"run", "-m", path, "-p", "x"}, "not a GGUF file");
  expect_clean_failure({"info", path}, path);
}

TEST(Cli, TruncatedModelIsRejectedAtManyOffsets) {
  const std::string source = read_file(testing::shared_dir() + "/models/stories260K.gguf");
  const std::string path = temp_path("truncated.gguf");
  for (size_t size : {size_t{0}, size_t{3}, size_t{17}, size_t{100}, size_t{5000}, source.size() / 2,
                      source.size() - 1}) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(source.data(), size);
    expect_clean_failure({"run", "-m", path, "-p", "x", "-n", "1"}, path);
  }
}

TEST(Cli, UnknownArchitectureAndMissingTensorAreNamed) {
  gguf::Writer w;
  w.set_string("general.architecture", "mamba9");
  const std::string path = temp_path("arch.gguf");
  ASSERT_TRUE(w.write(path).is_ok());
  expect_clean_failure({"run", "-m", path, "-p", "x"}, "mamba9");

  // A llama model whose first layer lacks its query weights.
  auto file = gguf::File::open(testing::shared_dir() + "/models/stories260K.gguf");
  ASSERT_TRUE(file.is_ok());
  gguf::Writer copy;
  for (const auto& kv : (*file)->metadata()) copy.set(kv.key, kv.value);
  for (const auto& t : (*file)->tensors()) {
    if (t.name == "blk.0.attn_q.weight") continue;
    copy.add_tensor(t.name, t.shape, t.type, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
  }
  const std::string missing = temp_path("missing.gguf");
  ASSERT_TRUE(copy.write(missing).is_ok());
  expect_clean_failure({"run", "-m", missing, "-p", "x"}, "blk.0.attn_q.weight");
}

TEST(Cli, TokenIdOutsideVocabularyIsAnError) {
  expect_clean_failure({"score", "-m", testing::shared_dir() + "/models/stories260K.gguf", "-p",
                        "x", "--continuation-ids", "1 99999"},
                       "99999");
}

}  // namespace
}  // namespace cove::cli
