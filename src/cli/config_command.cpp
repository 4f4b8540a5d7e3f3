// cove config check: validates config.yaml and lists every problem with its line and key.
#include <cstdio>
#include <memory>

#include "assistant/config.h"
#include "cli/commands.h"

namespace cove::cli {

Command add_config_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("config", "Work with config.yaml");
  sub->require_subcommand(1);
  CLI::App* check = sub->add_subcommand(
      "check", "Validate the config (exit 0 when valid; else every problem, one per line)");
  check->add_option("--config", *path, "Config file (default: COVE_HOME/config.yaml)");
  return [path, check]() {
    if (!check->parsed()) return 1;
    const std::string file = path->empty() ? assistant::default_config_path() : *path;
    assistant::ConfigReport report = assistant::check_config_file(file);
    if (!report.config) {
      for (const assistant::ConfigProblem& p : report.problems) {
        std::fprintf(stderr, "%s\n", p.to_string().c_str());
      }
      std::fprintf(stderr, "%s: %zu problem%s\n", file.c_str(), report.problems.size(),
                   report.problems.size() == 1 ? "" : "s");
      return 1;
    }
    const assistant::Config& c = *report.config;
    std::printf("%s: ok (%zu model%s, %zu route rule%s, %zu plugin%s, %zu MCP server%s)\n",
                file.c_str(), c.models.size(), c.models.size() == 1 ? "" : "s",
                c.routes.rules.size(), c.routes.rules.size() == 1 ? "" : "s", c.plugins.size(),
                c.plugins.size() == 1 ? "" : "s", c.mcp_servers.size(),
                c.mcp_servers.size() == 1 ? "" : "s");
    return 0;
  };
}

}  // namespace cove::cli
