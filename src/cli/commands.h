// The `cove` subcommands. Each registers its options on the CLI11 app and returns the function
// that runs it (exit code: 0 success, 1 failure with one error line on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace cove::cli {

using Command = std::function<int()>;

Command add_info_command(CLI::App& app);
Command add_run_command(CLI::App& app);
Command add_score_command(CLI::App& app);
Command add_tokenize_command(CLI::App& app);
Command add_perplexity_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_quantize_command(CLI::App& app);
// The OpenAI-compatible HTTP server (src/server/).
Command add_serve_command(CLI::App& app);
// The assistant's setup and data (config.yaml, routing, long-term memory).
Command add_init_command(CLI::App& app);
Command add_config_command(CLI::App& app);
Command add_route_command(CLI::App& app);
Command add_memory_command(CLI::App& app);
// The assistant in the terminal (src/assistant/assistant.h).
Command add_chat_command(CLI::App& app);

}  // namespace cove::cli
