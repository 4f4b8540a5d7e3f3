// The shell tool: runs one allowlisted program with arguments, never through a shell.
//
// Off by default. When enabled, a call {"command": "ls -la docs"} (optionally with "args": [..])
// is split on whitespace into argv and, only if every check passes, started with posix_spawn:
//   - argv[0] must be on the allowlist by bare program name ("ls", not "/bin/ls" or "./ls");
//     the executable is looked up in the configured search directories, never via $PATH;
//   - no word may contain a shell metacharacter or quote: ; | & $ ` < > ( ) { } [ ] * ? ~ ! #
//     ' " \ and control characters (newlines included). Because there is no shell, such
//     characters would have no effect anyway; refusing them makes a confused or manipulated
//     model's intent visible instead of passing "rm -rf /" as a literal argument to an allowed
//     program;
//   - programs that run other programs (sh, bash, env, xargs, sudo, ...) cannot be allowlisted:
//     that would reopen everything the allowlist closes (ShellToolOptions::validate says so).
// The child gets stdin from /dev/null, a minimal environment (PATH, LANG=C.UTF-8, HOME), the
// workspace as its working directory and its own process group; stdout and stderr are captured
// together up to max_output_bytes (the rest is read and dropped); after `timeout` the whole
// group is killed with SIGKILL.
//
// Arguments themselves are not confined: an allowlisted `cat` can read any file the process can.
// Allowlist only programs whose every use is acceptable.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct ShellToolOptions {
  bool enabled = false;
  std::vector<std::string> allowed_commands;  // bare program names
  std::vector<std::string> search_dirs = {"/usr/local/bin", "/usr/bin", "/bin"};
  std::filesystem::path working_directory;    // empty: the process's current directory
  std::chrono::milliseconds timeout{10000};
  size_t max_output_bytes = 64 * 1024;
  size_t max_args = 64;

  Status validate() const;
};

struct CommandOutput {
  int exit_code = -1;   // -1 when killed by a signal
  int signal = 0;       // the signal that ended it, if any
  bool timed_out = false;
  bool truncated = false;
  std::string output;   // stdout and stderr, interleaved as written
};

// Splits the command text into words and checks every rule above except program lookup.
Result<std::vector<std::string>> parse_shell_command(std::string_view command,
                                                     const std::vector<std::string>& extra_args,
                                                     const ShellToolOptions& options);

// Runs argv (checked already) and waits for it within the options' limits.
Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const ShellToolOptions& options);

// Tool `shell`: {"command": string, "args"?: [string]}. Refuses everything when !enabled.
ToolDefinition make_shell_tool(ShellToolOptions options);

}  // namespace cove::assistant
