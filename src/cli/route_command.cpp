// cove route: which model the router picks for a message, and (--explain) why.
#include <cstdio>
#include <memory>

#include "assistant/config.h"
#include "assistant/router.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"

namespace cove::cli {

Command add_route_command(CLI::App& app) {
  struct Options {
    std::string config_path;
    std::string text;
    std::string model;
    bool explain = false;
    bool tools = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("route", "Show which configured model would answer a message");
  sub->add_option("text", o->text, "The message")->required();
  sub->add_flag("--explain", o->explain, "Print every step of the decision");
  sub->add_option("--config", o->config_path, "Config file (default: COVE_HOME/config.yaml)");
  sub->add_option("--model", o->model, "A model the request names explicitly");
  sub->add_flag("--tools", o->tools, "The request offers tools to the model");
  return [o]() {
    const std::string file =
        o->config_path.empty() ? assistant::default_config_path() : o->config_path;
    Result<assistant::Config> config = assistant::load_config(file);
    if (!config) return fail(config.message());
    assistant::RequestFeatures features = assistant::extract_features(o->text, o->model, o->tools);
    Result<assistant::RouteDecision> d = assistant::route(features, *config);
    if (!d) return fail(d.message());
    if (!o->explain) {
      std::printf("%s\n", d->model.c_str());
      return 0;
    }
    std::printf("model: %s\n", d->model.c_str());
    std::printf("chosen by: %s%s\n", d->chosen_by.c_str(),
                d->rule.empty() ? "" : (" '" + d->rule + "'").c_str());
    std::string fallbacks;
    for (const std::string& f : d->fallbacks) fallbacks += (fallbacks.empty() ? "" : ", ") + f;
    std::printf("fallbacks: %s\n", fallbacks.empty() ? "none" : fallbacks.c_str());
    std::printf("features: %lld chars, %d code block%s, %d question%s, tools %s\n",
                static_cast<long long>(features.chars), features.code_blocks,
                features.code_blocks == 1 ? "" : "s", features.questions,
                features.questions == 1 ? "" : "s",
                features.tools_offered ? "offered" : "not offered");
    std::printf("complexity: %s\n", d->complexity.to_string().c_str());
    std::printf("why:\n");
    for (const std::string& r : d->reasons) std::printf("  - %s\n", r.c_str());
    return 0;
  };
}

}  // namespace cove::cli
