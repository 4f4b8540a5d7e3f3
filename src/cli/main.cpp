// cove: a private AI assistant with its own inference engine. This is the command line.
#include <cstdio>
#include <map>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"cove: run open-weight language models (GGUF) on this machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cove 0.1.0");
  std::map<CLI::App*, cove::cli::Command> commands;
  auto add = [&](cove::cli::Command (*adder)(CLI::App&)) {
    cove::cli::Command command = adder(app);
    commands[app.get_subcommands({}).back()] = std::move(command);
  };
  add(cove::cli::add_info_command);
  add(cove::cli::add_run_command);
  add(cove::cli::add_score_command);
  add(cove::cli::add_tokenize_command);
  add(cove::cli::add_perplexity_command);
  add(cove::cli::add_synth_command);
  add(cove::cli::add_bench_command);
  add(cove::cli::add_quantize_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, command] : commands) {
    if (sub->parsed()) return command();
  }
  return 1;
}
