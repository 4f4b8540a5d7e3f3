#include "support/goldens.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

namespace cove::testing {

std::string shared_dir() { return std::string(COVE_SOURCE_DIR) + "/../shared"; }

namespace {

const nlohmann::json& goldens_json() {
  static const nlohmann::json j = [] {
    std::ifstream in(shared_dir() + "/golden/goldens.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

}  // namespace

std::vector<GoldenCase> load_golden_cases() {
  std::vector<GoldenCase> cases;
  for (const auto& c : goldens_json()["cases"]) {
    GoldenCase g;
    g.model = c["model"].get<std::string>();
    g.prompt = c["prompt"].get<std::string>();
    g.prompt_tokens = c["prompt_tokens"].get<std::vector<int32_t>>();
    for (const auto& s : c["steps"]) {
      GoldenStep step;
      step.id = s["id"].get<int32_t>();
      for (const auto& t : s["top"]) step.top.emplace_back(t[0].get<int32_t>(), t[1].get<double>());
      g.steps.push_back(std::move(step));
    }
    cases.push_back(std::move(g));
  }
  return cases;
}

Deviation reference_deviation(const std::string& model) {
  const auto& d = goldens_json()["reference_deviation"][model];
  return {d["mean"].get<double>(), d["max"].get<double>()};
}

Deviation measure_deviation(const std::vector<GoldenCase>& cases,
                            const std::vector<std::vector<std::vector<float>>>& rows) {
  Deviation dev;
  double sum = 0;
  int64_t count = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    for (size_t s = 0; s < cases[c].steps.size(); ++s) {
      for (size_t k = 0; k < 5; ++k) {
        const auto& [id, exact] = cases[c].steps[s].top[k];
        const double delta = std::fabs(rows[c][s][static_cast<size_t>(id)] - exact);
        sum += delta;
        dev.max = std::max(dev.max, delta);
        ++count;
      }
    }
  }
  dev.mean = count ? sum / count : 0;
  return dev;
}

}  // namespace cove::testing
