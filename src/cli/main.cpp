// cove: a private AI assistant with its own inference engine. This is the command line.
#include <cstdio>
#include <map>
#include <string_view>

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
  add(cove::cli::add_serve_command);
  add(cove::cli::add_init_command);
  add(cove::cli::add_config_command);
  add(cove::cli::add_route_command);
  add(cove::cli::add_memory_command);
  add(cove::cli::add_chat_command);
  // llama.cpp's two-letter short option for the prompt's thread count (CLI11 takes one letter).
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "-tb") argv[i] = const_cast<char*>("--threads-batch");
  }
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
